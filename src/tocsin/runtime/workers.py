"""`analyze --workers N`: N processes share a capture by flow hash; this one writes and correlates.

Each worker (a forked process: it inherits the loaded rules, intel and compiled kernels)
reads the whole capture, keeps the packets of its shard (`runtime.shard`), runs the ordinary
`Pipeline` on them and ships its EVE lines, the correlator's share of its events and its
stats points. This process merges the shipments in capture order (`Shipment.key`, then
worker number), writes the lines, runs the correlator on every worker's flows and events —
so a scan spread over flows of several workers is still one scan — writes its alerts, and
writes one `stats` event per interval with the workers' counters rolled up.

The output holds the same events as one process's (flow ids included: they derive from
packet numbers); only the order of lines within a stretch of packets may differ.

A worker that fails ships its error and the run stops with `WorkerError`; a worker that
dies without a word (killed) is noticed within a second.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import shutil
import signal
import tempfile
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.applayer.registry import Registry
from tocsin.capture import open_capture
from tocsin.decode.decoder import Decoder
from tocsin.decode.layout import new_packets
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.model.exercise import ExerciseMark
from tocsin.model.flows import FlowBatch
from tocsin.output.eve_flow import FlowFormatter
from tocsin.output.sink import EveSink
from tocsin.output.writer import EveWriter
from tocsin.runtime.analyze import AnalysisResult, Progress, anomaly_counts, summarize
from tocsin.runtime.clock import monotonic, process_age_s
from tocsin.runtime.pipeline import Pipeline, PipelineConfig, RunTotals
from tocsin.runtime.rollup import Counters, roll_up
from tocsin.runtime.shard import (
    ShardWriter,
    Shipment,
    decode_events,
    owners,
    share,
    spill_path,
    stretches,
)
from tocsin.runtime.stats import stats_events
from tocsin.runtime.talkers import TopTalkers

# what a worker may have in flight before it waits: room to run ahead of the other workers
# through a stretch of the capture that is heavier for it (the merge waits for the slowest)
_QUEUE_DEPTH = 4096  # shipments
_QUEUE_MB = 256  # their size
# a batch is processed and shipped in stretches of at most this much packet time and this
# many packets (see `shard.stretches`): the correlator's view of time is that fine
_STRETCH_US = 1_000_000
_STRETCH_PACKETS = 16_384
_IDLE_STRETCHES = 16  # a worker with nothing to ship still reports its progress this often


class WorkerError(Exception):
    """A worker process failed or died: names the worker and the reason."""


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


def analyze_sharded(
    paths: Sequence[str | Path],
    eve_path: str | Path,
    config: PipelineConfig,
    workers: int,
    *,
    batch_packets: int = 65_536,
    progress: Callable[[Progress], None] | None = None,
    registry: Registry | None = None,
    detect: DetectEngine | None = None,
    correlate: Correlator | None = None,
    mark: ExerciseMark | None = None,
) -> AnalysisResult:
    """`runtime.analyze.analyze` over `workers` processes (at least 2). Capture and EVE
    errors at open raise before any worker starts, as `analyze` does."""
    if workers < 2:
        raise ValueError(f"analyze_sharded needs at least 2 workers, not {workers}")
    t0 = monotonic() - process_age_s()
    with open_capture(paths, batch_packets=batch_packets) as probe:  # errors at open, here
        files = [str(p) for p in probe.files]
    sink = EveSink(eve_path, mark=mark)
    spill = spill_dir()
    job = Job(files, config, workers, batch_packets, registry, detect, correlate, spill)
    ctx = mp.get_context("fork")
    queues: list[mp.Queue[bytes]] = [ctx.Queue(_QUEUE_DEPTH) for _ in range(workers)]
    credits = [ctx.Semaphore(_QUEUE_MB) for _ in range(workers)]
    procs = [
        ctx.Process(target=_work, args=(job, k, queues[k], credits[k]), name=f"tocsin-worker-{k}")
        for k in range(workers)
    ]
    for p in procs:
        p.start()
    merger = Merger(job, sink, procs, queues, progress)
    merger.credits = credits
    try:
        t_first = merger.run()
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join()
        for q in queues:
            q.close()
        merger.close()
        shutil.rmtree(spill, ignore_errors=True)
    sink.close()
    result = AnalysisResult(files=files)
    merger.summarize(result)
    t_end = monotonic()
    result.wall_s = t_end - t0
    result.startup_s = (t_first - t0) if t_first is not None else result.wall_s
    if t_first is not None and t_end > t_first:
        result.steady_pps = result.packets / (t_end - t_first)
    return result


class Merger:
    """The main process's side: merge, write, correlate, roll up."""

    def __init__(
        self,
        job: Job,
        sink: EveSink,
        procs: Sequence[BaseProcess],
        queues: list[mp.Queue[bytes]],
        progress: Callable[[Progress], None] | None,
    ) -> None:
        self.job = job
        self.sink = sink
        self.procs = procs
        self.queues = queues
        self.progress = progress
        self.corr = job.correlate
        self.out = EveWriter(sink, FlowFormatter(job.config.community_id_seed), threaded=False)
        self.finished: dict[int, Finished] = {}
        # a capture's workers share its clock: one stats event per point, once all reached it
        self.aligned = True
        self._points: dict[int, dict[int, tuple[Counters, Counters]]] = {}
        self._latest: dict[int, tuple[Counters, Counters]] = {}
        self._fds: dict[int, dict[int, int]] = {}  # worker -> spill segment -> fd
        self.credits: list[Any] | None = None  # a worker's MB in flight (see `serve`)

    def _recv(self, k: int) -> Shipment | Finished:
        while True:
            try:
                data = self.queues[k].get(timeout=1.0)
            except queue.Empty:
                p = self.procs[k]
                if not p.is_alive():
                    raise WorkerError(
                        f"worker {k} died (exit code {p.exitcode}) before finishing"
                    ) from None
                continue
            if self.credits is not None:
                for _ in range(_megabytes(data)):
                    self.credits[k].release()
            msg = pickle.loads(data)
            if isinstance(msg, Failed):
                raise WorkerError(f"worker {msg.worker} failed: {msg.message}\n{msg.trace}")
            assert isinstance(msg, Shipment | Finished)
            return msg

    def run(self) -> float | None:
        """Merge until every worker finished; returns when the first shipment arrived."""
        n = self.job.workers
        heads: list[Shipment | None] = [None] * n
        t_first: float | None = None
        while len(self.finished) < n:
            for k in range(n):
                while heads[k] is None and k not in self.finished:
                    msg = self._recv(k)
                    if isinstance(msg, Finished):
                        self.finished[k] = msg
                    else:
                        heads[k] = msg
            live = [h for h in heads if h is not None]
            if not live:
                continue
            s = min(live, key=lambda h: (h.key, h.worker))
            heads[s.worker] = None
            if t_first is None:
                t_first = monotonic()
            self._handle(s)
        self._end()
        return t_first

    def run_arrivals(self, q: mp.Queue[bytes], stop: Any, done: Callable[[int], bool]) -> None:
        """A live run: shipments from one queue, handled as they come (the workers' packets
        share no clock to merge by), stats written when any worker reaches a stats point,
        with every worker's latest counters. `done(packets so far)` true, or `stop` set by
        someone else, tells the workers to finish."""
        n = self.job.workers
        latest: dict[int, int] = {}
        while len(self.finished) < n:
            if not stop.is_set() and done(sum(latest.values())):
                stop.set()
            try:
                msg = pickle.loads(q.get(timeout=0.2))
            except queue.Empty:
                for k, p in enumerate(self.procs):
                    if k not in self.finished and not p.is_alive():
                        raise WorkerError(
                            f"worker {k} died (exit code {p.exitcode}) before finishing"
                        ) from None
                continue
            if isinstance(msg, Failed):
                raise WorkerError(f"worker {msg.worker} failed: {msg.message}\n{msg.trace}")
            if isinstance(msg, Finished):
                self.finished[msg.worker] = msg
                continue
            latest[msg.worker] = msg.key
            self._handle(msg)
        self._end()

    def _handle(self, s: Shipment) -> None:
        segment, start, end = s.eve
        self.sink.copy_from(self._spill(s.worker, segment), start, end - start, s.counts)
        corr = self.corr
        if corr is not None and s.corr:
            alerts: list[Any] = []
            for it in s.corr:
                if isinstance(it, np.ndarray):
                    alerts += corr.flows(FlowBatch.from_records(it, ALPROTO_NAMES))
                else:
                    alerts += corr.events(decode_events(it))
            alerts += corr.flush()
            if alerts:
                self.out.sequence([alerts])
        for now, flat, extra in s.stats:
            if self.aligned:
                got = self._points.setdefault(now, {})
                got[s.worker] = (flat, extra)
                if len(got) == self.job.workers:  # every worker reached this stats point
                    del self._points[now]
                    self._write_stats(now, [got[k] for k in sorted(got)])
            else:  # a live run: each worker's latest counters, whenever one reaches a point
                self._latest[s.worker] = (flat, extra)
                self._write_stats(now, [self._latest[k] for k in sorted(self._latest)])
        if self.progress is not None and s.worker == 0:
            self.progress(Progress(s.bytes_read, s.bytes_total, s.key, ""))

    def _spill(self, k: int, segment: int) -> int:
        """The file descriptor of worker `k`'s spill segment; the segments before it are
        copied: closed and deleted."""
        fds = self._fds.setdefault(k, {})
        fd = fds.get(segment)
        if fd is None:
            for old in [n for n in fds if n < segment]:
                os.close(fds.pop(old))
                Path(spill_path(self.job.spill_dir, k, old)).unlink(missing_ok=True)
            fd = fds[segment] = os.open(spill_path(self.job.spill_dir, k, segment), os.O_RDONLY)
        return fd

    def close(self) -> None:
        """Close the spill files (the caller deletes their directory)."""
        for fds in self._fds.values():
            for fd in fds.values():
                os.close(fd)
        self._fds = {}

    def _write_stats(self, now: int, parts: list[tuple[Counters, Counters]]) -> None:
        flat, extra = roll_up(parts)
        if self.corr is not None:
            extra.update(self.corr.counter_dict())
        for ev in stats_events(now, flat, extra):
            self.out.event(ev)

    def _end(self) -> None:
        done = [self.finished[k] for k in sorted(self.finished)]
        last = max((f.totals.last_ts or 0) for f in done)
        if self.corr is not None:
            alerts = self.corr.finish(last)
            if alerts:
                self.out.sequence([alerts])
        self._write_stats(last, [f.counters for f in done])
        self.out.close()

    def summarize(self, result: AnalysisResult) -> None:
        done = [self.finished[k] for k in sorted(self.finished)]
        flat, extra = roll_up([f.counters for f in done])
        flat.pop("uptime", None)
        if self.corr is not None:
            extra.update(self.corr.counter_dict())
        totals = RunTotals()
        talkers = TopTalkers()
        anomalies: dict[str, int] = {}
        for f in done:
            t = f.totals
            totals.flows += t.flows
            for into, src in (
                (totals.flows_by_proto, t.flows_by_proto),
                (totals.bytes_by_proto, t.bytes_by_proto),
                (totals.flows_by_app, t.flows_by_app),
                (anomalies, f.anomalies),
            ):
                for name, v in src.items():
                    into[name] = into.get(name, 0) + v
            if t.first_ts is not None:
                totals.first_ts = min(totals.first_ts or t.first_ts, t.first_ts)
            if t.last_ts is not None:
                totals.last_ts = max(totals.last_ts or t.last_ts, t.last_ts)
            talkers.merge(f.talkers)
        summarize(
            result,
            flat,
            extra,
            packets=sum(f.packets for f in done),
            totals=totals,
            talkers=talkers,
            anomalies=anomalies,
            events=self.sink.counts,
            skipped=done[0].skipped,
        )
        result.errors = done[0].errors
        if self.job.detect is not None:
            timings: dict[str, float] = {}
            by_rule: dict[tuple[int, int, str, int], int] = {}
            for f in done:
                for step, secs in f.detect_timings.items():
                    timings[step] = timings.get(step, 0.0) + secs
                for gid, sid, msg, prio, count in f.top_alerts:
                    by_rule[(gid, sid, msg, prio)] = by_rule.get((gid, sid, msg, prio), 0) + count
            result.detect_timings = timings
            result.rules_loaded = len(self.job.detect.rules)
            top = sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0][:2]))[:10]
            result.top_alerts = [(g, s, m, p, c) for (g, s, m, p), c in top]
        if self.corr is not None:
            result.detectors_loaded = len(self.corr.detectors)
            result.detector_alerts = dict(sorted(self.corr.alerts.items()))


# -- the worker process ---------------------------------------------------------------------


def _work(job: Job, k: int, q: mp.Queue[bytes], credits: Any) -> None:
    """A worker's life: its shard of every batch through a pipeline, then `Finished`."""
    serve(q, k, lambda send: _run_worker(job, k, send), credits)


def _megabytes(data: bytes) -> int:
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
            for _ in range(_megabytes(data)):
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
    )


def _run_worker(job: Job, k: int, send: Callable[[Any], None]) -> Finished:
    pipeline, out = worker_pipeline(job, k, send)
    splitter = Decoder(job.config.vxlan_port)  # decodes whole batches to share them out
    pk = new_packets(0)
    base = 0  # capture packets read before this batch
    errors_seen = 0
    idle = 0  # stretches since the last shipment
    with open_capture(job.paths, batch_packets=job.batch_packets) as captures:
        for batch in captures.batches():
            if pk.shape[0] < batch.n:
                pk = new_packets(batch.n)
            mine = np.flatnonzero(owners(splitter.decode(batch, into=pk), job.workers) == k)
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
                for err in captures.errors[errors_seen:]:
                    pipeline.capture_error(err.problem, str(err.path), pipeline.totals.last_ts)
                errors_seen = len(captures.errors)
            pipeline.position = base
            out.bytes_read, out.bytes_total = captures.bytes_read, captures.bytes_total
            out.ship(always=True)
        if k == 0:
            for err in captures.errors[errors_seen:]:
                pipeline.capture_error(err.problem, str(err.path), pipeline.totals.last_ts)
        out.ending = True
        pipeline.finish()
        errors = [str(e) for e in captures.errors] if k == 0 else []
        skipped = dict(captures.skipped_packets) if k == 0 else {}
    return finished(k, pipeline, out, errors, skipped)
