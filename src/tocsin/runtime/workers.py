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
import time
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import numpy as np

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.applayer.registry import Registry
from tocsin.capture import open_capture
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.model.events import SensorEvent, SensorInfo
from tocsin.model.exercise import ExerciseMark
from tocsin.model.flows import FlowBatch
from tocsin.model.selfalerts import FLOW_EMERGENCY, alert_event
from tocsin.output.eve_flow import FlowFormatter
from tocsin.output.sink import EveSink
from tocsin.output.timefmt import eve_timestamp
from tocsin.output.writer import EveWriter
from tocsin.runtime.analyze import AnalysisResult, Progress, summarize
from tocsin.runtime.clock import monotonic, process_age_s
from tocsin.runtime.pipeline import PipelineConfig, RunTotals
from tocsin.runtime.rollup import Counters, roll_up
from tocsin.runtime.shard import (
    Shipment,
    decode_events,
    spill_path,
)
from tocsin.runtime.stats import stats_events
from tocsin.runtime.talkers import TopTalkers
from tocsin.runtime.worker import Failed, Finished, Job, megabytes, spill_dir, work

# what a worker may have in flight before it waits: room to run ahead of the other workers
# through a stretch of the capture that is heavier for it (the merge waits for the slowest)
_QUEUE_DEPTH = 4096  # shipments
_QUEUE_MB = 256  # their size


class WorkerError(Exception):
    """A worker process failed or died: names the worker and the reason."""


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
        ctx.Process(target=work, args=(job, k, queues[k], credits[k]), name=f"tocsin-worker-{k}")
        for k in range(workers)
    ]
    for p in procs:
        p.start()
    merger = Merger(job, sink, procs, queues, progress, credits=credits)
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
        *,
        credits: Sequence[Any] | None = None,
        aligned: bool = True,
    ) -> None:
        """`credits`: each worker's megabytes in flight (see `worker.serve`), given back as
        its messages are taken; `aligned`: the workers share the capture's clock (one stats
        event per point, once all reached it), false on a live interface."""
        self.job = job
        self.sink = sink
        self.procs = procs
        self.queues = queues
        self.progress = progress
        self.corr = job.correlate
        self.out = EveWriter(sink, FlowFormatter(job.config.community_id_seed), threaded=False)
        self.finished: dict[int, Finished] = {}
        self.aligned = aligned
        self.credits = credits
        self._points: dict[int, dict[int, tuple[Counters, Counters]]] = {}
        self._latest: dict[int, tuple[Counters, Counters]] = {}
        self._emergency: set[int] = set()  # workers whose flow table is in emergency mode
        self._fds: dict[int, dict[int, int]] = {}  # worker -> spill segment -> fd

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
                for _ in range(megabytes(data)):
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

    def latest_counters(self) -> list[dict[str, int]]:
        """Each worker's counters at its latest stats point (a live run)."""
        return [flat for flat, _ in self._latest.values()]

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
        for now, entered, counters in s.emergency:
            self._emergency_seen(s.worker, now, entered, counters)
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

    def _emergency_seen(self, k: int, now: int, entered: bool, counters: Counters) -> None:
        """The sensor is in emergency mode while any worker's flow table is: one self-alert
        when the first enters, one `emergency_over` event when the last leaves."""
        was = bool(self._emergency)
        if entered:
            self._emergency.add(k)
        else:
            self._emergency.discard(k)
        if not was and self._emergency:
            self.out.sequence([[alert_event(eve_timestamp(now), FLOW_EMERGENCY)]])
        elif was and not self._emergency:
            info = SensorInfo(
                kind="emergency_over",
                message="every worker's flow table back under its recovery level: normal timeouts",
                counters=counters,
            )
            self.out.sequence([[SensorEvent(timestamp=eve_timestamp(now), sensor=info)]])

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
        result.workers = [(f.packets, f.cpu_s) for f in done]
        result.main_cpu_s = time.process_time()
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
