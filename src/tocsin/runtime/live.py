"""`run_live`: the pipeline on a network interface until told to stop.

The driver `tocsin sensor --iface` uses: batches from `capture.live.LiveCapture` (one per
retired ring block) go through the same `Pipeline` as a file's, with the kernel's counters
(`capture.kernel_packets`, `capture.kernel_drops`, `capture.kernel_ifdrops`: ring freezes)
read after every block and written in every `stats` event, and load is shed when the
sensor falls behind the wire (`runtime.shed`). It stops after `duration_s` of
wall time, after `max_packets` packets, or when `stop()` returns true (a signal handler
sets it), then ends every flow as a file's end would and returns the `AnalysisResult`.
`run_live_sharded` does the same with several worker processes in a FANOUT group.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tocsin.applayer.registry import Registry
from tocsin.capture.live import LiveCapture
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.output.sink import EveSink
from tocsin.runtime.analyze import AnalysisResult, _fill
from tocsin.runtime.pipeline import Pipeline, PipelineConfig
from tocsin.runtime.shed import ShedConfig, Shedder
from tocsin.runtime.worker import Finished, Job, finished, serve, spill_dir, worker_pipeline
from tocsin.runtime.workers import Merger


def run_live(
    capture: LiveCapture,
    eve_path: str | Path,
    config: PipelineConfig,
    *,
    duration_s: float | None = None,
    max_packets: int | None = None,
    stop: Callable[[], bool] = lambda: False,
    registry: Registry | None = None,
    detect: DetectEngine | None = None,
    correlate: Correlator | None = None,
    shed: ShedConfig | None = ShedConfig(),
    health: dict[str, Any] | None = None,
) -> AnalysisResult:
    """Watch `capture` through the pipeline until `stop()`, `duration_s` or `max_packets`.
    EVE lines reach the file within a second (followers see them); `health`, if given, is
    kept current (packets, drops, emergency: what the uplink's heartbeats report)."""
    t0 = time.monotonic()
    sink = EveSink(eve_path, flush_s=1.0)
    pipeline = Pipeline(config, sink, registry, detect, correlate)
    result = AnalysisResult(files=[f"iface:{capture.iface}"])

    def done() -> bool:
        if stop():
            return True
        if duration_s is not None and time.monotonic() - t0 >= duration_s:
            return True
        return max_packets is not None and pipeline.packets >= max_packets

    keep_up = _keep_up(pipeline, shed)
    next_health = 0.0
    while not done():
        for batch in capture.batches(timeout_s=0.2):
            _read_kernel_counters(capture, pipeline)
            pipeline.process(batch)
            keep_up()
            if done():
                break
        if health is not None and time.monotonic() >= next_health:
            _read_kernel_counters(capture, pipeline)
            _health(health, pipeline.packets, [pipeline.counters()[0]])
            next_health = time.monotonic() + 1.0
    _read_kernel_counters(capture, pipeline)
    pipeline.finish()
    sink.close()
    _fill(result, pipeline, sink, {})
    result.wall_s = time.monotonic() - t0
    if health is not None:  # the last heartbeat says the final counts
        _health(health, result.packets, [result.counters])
    return result


@dataclass(frozen=True, slots=True)
class LiveSource:
    """How each worker opens the interface (every socket joins `fanout_group`)."""

    iface: str
    ring_mb: int
    promisc: bool
    fanout_group: int
    bpf: str | None

    def check(self) -> None:
        """Open the interface (and compile the filter) once and close it: what would stop
        the capture — not root, no such interface, a bad filter — is raised now
        (`CaptureError`, `BpfError`), before anything else starts."""
        with LiveCapture(self.iface, ring_mb=1, promisc=False, bpf=self.bpf):
            pass


def run_live_sharded(
    source: LiveSource,
    eve_path: str | Path,
    config: PipelineConfig,
    workers: int,
    *,
    duration_s: float | None = None,
    max_packets: int | None = None,
    stop: Callable[[], bool] = lambda: False,
    registry: Registry | None = None,
    detect: DetectEngine | None = None,
    correlate: Correlator | None = None,
    on_ready: Callable[[], None] = lambda: None,
    shed: ShedConfig | None = ShedConfig(),
    health: dict[str, Any] | None = None,
) -> AnalysisResult:
    """`run_live` over `workers` processes, each with its own ring in one AF_PACKET FANOUT
    group hashing flows (the kernel shares the packets out, both directions of a flow to
    the same socket, fragments reassembled first); this process writes, correlates and
    rolls the stats up (see `runtime.workers`). Errors opening the interface raise
    `CaptureError` here, before any worker starts; `on_ready()` is called once every
    worker's ring is open (what is sent from then on is seen)."""
    t0 = time.monotonic()
    source.check()  # before any worker starts
    sink = EveSink(eve_path, flush_s=1.0)
    spill = spill_dir()
    job = Job([], config, workers, 0, registry, detect, correlate, spill)
    ctx = mp.get_context("fork")
    q: mp.Queue[bytes] = ctx.Queue(64 * workers)
    halt = ctx.Event()
    ready = ctx.Semaphore(0)
    bodies = [partial(_live_worker, job, k, source, shed, halt, ready) for k in range(workers)]
    procs = [
        ctx.Process(target=serve, args=(q, k, body), name=f"tocsin-worker-{k}")
        for k, body in enumerate(bodies)
    ]
    for p in procs:
        p.start()

    def done(packets: int) -> bool:
        if health is not None:
            _health(health, packets, merger.latest_counters())
        if stop():
            return True
        if duration_s is not None and time.monotonic() - t0 >= duration_s:
            return True
        return max_packets is not None and packets >= max_packets

    merger = Merger(job, sink, procs, [q], None, aligned=False)
    try:
        opened = 0
        while opened < workers:  # a worker that fails to open its ring says why in q
            if ready.acquire(timeout=0.2):
                opened += 1
            elif not all(p.is_alive() for p in procs) or not q.empty():
                break
        else:
            on_ready()
        merger.run_arrivals(q, halt, done)
    finally:
        halt.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
        q.close()
        merger.close()
        shutil.rmtree(spill, ignore_errors=True)
    sink.close()
    result = AnalysisResult(files=[f"iface:{source.iface}"])
    merger.summarize(result)
    result.wall_s = time.monotonic() - t0
    if health is not None:  # the last heartbeat says the final counts
        _health(health, result.packets, [result.counters])
    return result


def _live_worker(
    job: Job,
    k: int,
    source: LiveSource,
    shed: ShedConfig | None,
    halt: Any,
    ready: Any,
    send: Callable[[Any], None],
) -> Finished:
    pipeline, out = worker_pipeline(job, k, send)
    keep_up = _keep_up(pipeline, shed)
    with LiveCapture(
        source.iface,
        ring_mb=source.ring_mb,
        promisc=source.promisc,
        fanout_group=source.fanout_group,
        bpf=source.bpf,
    ) as capture:
        ready.release()

        while not halt.is_set():
            for batch in capture.batches(timeout_s=0.2):
                _read_kernel_counters(capture, pipeline)
                pipeline.process(batch)
                keep_up()
                out.ship()
                if halt.is_set():
                    break
            out.ship(always=True)  # how many packets so far (for --count)
        _read_kernel_counters(capture, pipeline)
        out.ending = True
        pipeline.finish()
    return finished(k, pipeline, out)


def _health(health: dict[str, Any], packets: int, flats: list[dict[str, int]]) -> None:
    """What a heartbeat says of the capture: packets, kernel drops, emergency mode."""
    health["packets"] = packets
    health["drops"] = sum(f.get("capture.kernel_drops", 0) for f in flats)
    health["emergency"] = any(f.get("flow.emergency", 0) for f in flats)


def _read_kernel_counters(capture: LiveCapture, pipeline: Pipeline) -> None:
    """The kernel's counters into the pipeline's, Suricata's names (ring freezes as
    `capture.kernel_ifdrops`)."""
    capture.stats()
    counters = pipeline.capture_counters
    counters["capture.kernel_packets"] = capture.totals.packets
    counters["capture.kernel_drops"] = capture.totals.drops
    counters["capture.kernel_ifdrops"] = capture.totals.freezes


def _keep_up(pipeline: Pipeline, config: ShedConfig | None) -> Callable[[], None]:
    """After each batch: shed load by how far the newest packet is behind the wall clock
    (see `runtime.shed`); nothing with `config` None."""
    if config is None:
        return lambda: None
    pipeline.shedding.config = config
    shedder = Shedder(config)
    started: list[float] = []  # wall time of the first packet

    def keep_up() -> None:
        last = pipeline.totals.last_ts
        if last is None:
            return
        now = time.time()
        if not started:
            started.append(now)
        if now - started[0] >= config.grace_s:
            pipeline.shed(shedder.level_for(now - last / 1e6), last)

    return keep_up
