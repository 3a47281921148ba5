"""A worker process of `--workers N`: its share of the packets through a pipeline.

Forked from the main process (it inherits the loaded rules, intel and compiled kernels), a
worker runs the ordinary `Pipeline` with a `ShardWriter` (`runtime.shard`): its EVE lines go
to its spill file, and its shipments — where the lines are, the flows and events the
correlator keeps, its stats points — go to the main process (`runtime.workers`) through a
queue, pickled; at the end it sends `Finished` (what the summary needs), or `Failed` with its
error. On a capture (`work`) every worker reads the whole file and keeps its shard, in
stretches of at most 1 s of packet time; on an interface (`runtime.live`) the kernel's
FANOUT group shares the packets out.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tocsin.applayer.registry import Registry
from tocsin.capture import open_capture
from tocsin.decode.decoder import Decoder
from tocsin.decode.layout import new_packets
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.output.sink import EveSink
from tocsin.output.writer import EveWriter
from tocsin.runtime.analyze import anomaly_counts
from tocsin.runtime.pipeline import Pipeline, PipelineConfig, RunTotals
from tocsin.runtime.rollup import Counters
from tocsin.runtime.shard import Balancer, ShardWriter, share, spill_path, stretches
from tocsin.runtime.talkers import TopTalkers

# a batch is processed and shipped in stretches of at most this much packet time and this
# many packets (see `shard.stretches`): the correlator's view of time is that fine
_STRETCH_US = 1_000_000
_STRETCH_PACKETS = 16_384
_IDLE_STRETCHES = 16  # a worker with nothing to ship still reports its progress this often


@dataclass(slots=True)
class Finished:
    """A worker's last message: what the run summary needs of it."""

    worker: int
    packets: int
    totals: RunTotals
    talkers: TopTalkers
    anomalies: dict[str, int]
    counters: tuple[Counters, Counters]  # final (flat, extra), uptime included
    errors: list[str] = field(default_factory=list)  # capture errors (worker 0 only)
    skipped: dict[str, int] = field(default_factory=dict)  # reader skips (worker 0 only)
    detect_timings: dict[str, float] = field(default_factory=dict)
    top_alerts: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    cpu_s: float = 0.0  # the worker's CPU time (for the summary: how even the shares were)


@dataclass(slots=True)
class Failed:
    worker: int
    message: str
    trace: str


@dataclass(slots=True)
class Job:
    paths: list[str]
    config: PipelineConfig
    workers: int
    batch_packets: int
    registry: Registry | None
    detect: DetectEngine | None
    correlate: Correlator | None
    spill_dir: str = ""  # where workers write their EVE lines (see `shard.spill_path`)


def work(job: Job, k: int, q: mp.Queue[bytes], credits: Any) -> None:
    """A worker's life: its shard of every batch through a pipeline, then `Finished`."""
    serve(q, k, lambda send: run_file_worker(job, k, send), credits)


def megabytes(data: bytes) -> int:
    return 1 + (len(data) >> 20)


def serve(
    q: mp.Queue[bytes],
    k: int,
    body: Callable[[Callable[[Any], None]], Finished],
    credits: Any = None,
) -> None:
    """Run a worker's `body(send)` and send its `Finished`, or `Failed` with the error: the
    main process says what went wrong. Signals are the main process's to act on. With
    `credits` (a semaphore of megabytes), a message waits until the main process has taken
    enough of the earlier ones."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def send(msg: Any) -> None:
        data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        if credits is not None:
            for _ in range(megabytes(data)):
                credits.acquire()
        q.put(data)

    try:
        send(body(send))
    except BaseException as exc:  # shipped, so the main process can say what went wrong
        send(Failed(k, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
    q.close()
    q.join_thread()


def spill_dir() -> str:
    """A new directory for the workers' EVE lines: in memory (/dev/shm) where there is one.
    Segments are deleted as they are copied; the caller deletes the directory."""
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="tocsin-workers-", dir=base)


def worker_pipeline(job: Job, k: int, send: Callable[[Any], None]) -> tuple[Pipeline, ShardWriter]:
    """A worker's pipeline, writing through a `ShardWriter` that ships with `send`."""
    sink = EveSink(spill_path(job.spill_dir, k, 0), buffer_bytes=1 << 20)
    tees: list[ShardWriter] = []

    def tee(writer: EveWriter) -> ShardWriter:
        tees.append(ShardWriter(writer, sink, job.correlate, send, k, job.spill_dir))
        return tees[0]

    pipeline = Pipeline(job.config, sink, job.registry, job.detect, None, tee=tee)
    out = tees[0]
    out.position = lambda: pipeline.position
    return pipeline, out


def finished(
    k: int,
    pipeline: Pipeline,
    out: ShardWriter,
    errors: list[str] | None = None,
    skipped: dict[str, int] | None = None,
) -> Finished:
    """The worker's last message, after `out.ending = True; pipeline.finish()`."""
    det = pipeline.detect
    assert out.final is not None, "finish() writes the final stats"
    return Finished(
        worker=k,
        packets=pipeline.packets,
        totals=pipeline.totals,
        talkers=pipeline.talkers,
        anomalies=anomaly_counts(pipeline),
        counters=out.final,
        errors=errors or [],
        skipped=skipped or {},
        detect_timings=det.timings() if det is not None else {},
        top_alerts=det.top_alerts(n=1 << 30) if det is not None else [],
        cpu_s=time.process_time(),
    )


def run_file_worker(job: Job, k: int, send: Callable[[Any], None]) -> Finished:
    pipeline, out = worker_pipeline(job, k, send)
    splitter = Decoder(job.config.vxlan_port)  # decodes whole batches to share them out
    balancer = Balancer(job.workers)  # the same in every worker: they see the same packets
    pk = new_packets(0)
    base = 0  # capture packets read before this batch
    idle = 0  # stretches since the last shipment
    with open_capture(job.paths, batch_packets=job.batch_packets) as captures:
        for batch in captures.batches():
            if pk.shape[0] < batch.n:
                pk = new_packets(batch.n)
            mine = np.flatnonzero(balancer.owners(splitter.decode(batch, into=pk)) == k)
            at = 0
            for end in stretches(batch.ts_us, _STRETCH_US, _STRETCH_PACKETS):
                lo, hi = np.searchsorted(mine, [at, end]).tolist()
                rows = mine[lo:hi]
                clock = (int(batch.ts_us[at]), int(batch.ts_us[end - 1]))
                pipeline.process(share(batch, rows), pcnt=rows + (base + 1), clock=clock)
                pipeline.position = base + end
                idle = 0 if out.ship() else idle + 1
                if idle >= _IDLE_STRETCHES:  # nothing to ship for a while: say how far it is
                    out.ship(always=True)
                    idle = 0
                at = end
            base += batch.n
            if k == 0:  # every worker reads the same file: one of them reports its problems
                pipeline.capture_errors_met(captures.errors)
            pipeline.position = base
            out.bytes_read, out.bytes_total = captures.bytes_read, captures.bytes_total
            out.ship(always=True)
        if k == 0:
            pipeline.capture_errors_met(captures.errors)
        out.ending = True
        pipeline.finish()
        errors = [str(e) for e in captures.errors] if k == 0 else []
        skipped = dict(captures.skipped_packets) if k == 0 else {}
    return finished(k, pipeline, out, errors, skipped)
