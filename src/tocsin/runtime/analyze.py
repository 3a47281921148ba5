"""`analyze`: read captures through the pipeline and report what was seen.

The driver around `Pipeline`: opens the captures, feeds batches, reports progress through a
callback, records capture errors met mid-run (what was read before them is still analysed),
and returns an `AnalysisResult` for the CLI's summary. Errors at open (unreadable file, wrong
magic, unsupported link type, unwritable EVE path) raise `CaptureError` / `EveSinkError`
before any output is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tocsin.applayer.registry import Registry
from tocsin.capture import open_capture
from tocsin.decode.layout import ANOMALY_NAMES
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.model.exercise import ExerciseMark
from tocsin.output.sink import EveSink
from tocsin.runtime.clock import monotonic, process_age_s
from tocsin.runtime.pipeline import Pipeline, PipelineConfig, RunTotals
from tocsin.runtime.talkers import TopTalkers


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report: on-disk bytes consumed of the total, packets so far, current file."""

    bytes_read: int
    bytes_total: int
    packets: int
    current_file: str


@dataclass(slots=True)
class AnalysisResult:
    """What a person reads at the end of a run (and `--summary-json` writes)."""

    files: list[str]
    packets: int = 0
    bytes: int = 0
    flows: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    events: dict[str, int] = field(default_factory=dict)
    flows_by_proto: dict[str, int] = field(default_factory=dict)
    bytes_by_proto: dict[str, int] = field(default_factory=dict)
    flows_by_app: dict[str, int] = field(default_factory=dict)
    top_talkers: list[tuple[str, int, int]] = field(default_factory=list)
    anomalies: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    detect_timings: dict[str, float] = field(default_factory=dict)  # seconds, by step
    rules_loaded: int | None = None  # None: no rules
    top_alerts: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    detector_alerts: dict[str, int] = field(default_factory=dict)  # by detector name
    detectors_loaded: int | None = None
    wall_s: float = 0.0
    startup_s: float = 0.0
    # with --workers: each worker's packets and CPU seconds, and the main process's
    workers: list[tuple[int, float]] = field(default_factory=list)
    main_cpu_s: float = 0.0
    steady_pps: float = 0.0


def analyze(
    paths: Sequence[str | Path],
    eve_path: str | Path,
    config: PipelineConfig,
    *,
    batch_packets: int = 65_536,
    progress: Callable[[Progress], None] | None = None,
    registry: Registry | None = None,
    detect: DetectEngine | None = None,
    correlate: Correlator | None = None,
    mark: ExerciseMark | None = None,
) -> AnalysisResult:
    t0 = monotonic() - process_age_s()
    captures = open_capture(paths, batch_packets=batch_packets)
    sink = EveSink(eve_path, mark=mark)
    result = AnalysisResult(files=[str(p) for p in captures.files])
    pipeline = Pipeline(config, sink, registry, detect, correlate)
    t_first: float | None = None
    first_packets = 0

    with captures:
        for batch in captures.batches():
            pipeline.process(batch)
            if t_first is None:
                t_first = monotonic()
                first_packets = pipeline.packets
            pipeline.capture_errors_met(captures.errors)
            if progress is not None:
                progress(
                    Progress(
                        captures.bytes_read,
                        captures.bytes_total,
                        pipeline.packets,
                        str(captures.current_file or ""),
                    )
                )
        pipeline.capture_errors_met(captures.errors)
        pipeline.finish()
        skipped = captures.skipped_packets
        result.errors = [str(e) for e in captures.errors]
    sink.close()
    t_end = monotonic()
    _fill(result, pipeline, sink, skipped)
    result.wall_s = t_end - t0
    result.startup_s = (t_first - t0) if t_first is not None else result.wall_s
    steady_time = t_end - t_first if t_first is not None else 0.0
    if steady_time > 0:
        result.steady_pps = (pipeline.packets - first_packets) / steady_time
    return result


def _fill(
    result: AnalysisResult, pipeline: Pipeline, sink: EveSink, skipped: dict[str, int]
) -> None:
    flat, extra = pipeline.counters()
    summarize(
        result,
        flat,
        extra,
        packets=pipeline.packets,
        totals=pipeline.totals,
        talkers=pipeline.talkers,
        anomalies=anomaly_counts(pipeline),
        events=sink.counts,
        skipped=skipped,
    )
    if pipeline.detect is not None:
        result.detect_timings = pipeline.detect.timings()
        result.rules_loaded = len(pipeline.detect.rules)
        result.top_alerts = pipeline.detect.top_alerts()
    if pipeline.correlate is not None:
        result.detectors_loaded = len(pipeline.correlate.detectors)
        result.detector_alerts = dict(sorted(pipeline.correlate.alerts.items()))


def anomaly_counts(pipeline: Pipeline) -> dict[str, int]:
    """Decoder anomalies and other packet events seen, by name."""
    out = {
        name: int(pipeline.decoder.events[code])
        for code, name in enumerate(ANOMALY_NAMES)
        if code and pipeline.decoder.events[code]
    }
    for name, n in pipeline.other_events.items():
        out[name] = out.get(name, 0) + n
    return out


def summarize(
    result: AnalysisResult,
    flat: dict[str, int],
    extra: dict[str, int],
    *,
    packets: int,
    totals: RunTotals,
    talkers: TopTalkers,
    anomalies: dict[str, int],
    events: dict[str, int],
    skipped: dict[str, int],
) -> None:
    """Fill `result` from a run's counters and totals (one pipeline's, or all workers')."""
    result.packets = packets
    result.bytes = flat["decoder.bytes"]
    result.flows = totals.flows
    result.first_ts = totals.first_ts
    result.last_ts = totals.last_ts
    result.events = dict(events)
    result.flows_by_proto = dict(totals.flows_by_proto)
    result.bytes_by_proto = dict(totals.bytes_by_proto)
    result.flows_by_app = dict(totals.flows_by_app)
    result.top_talkers = talkers.top(10)
    result.anomalies = dict(anomalies)
    drops = {
        "packets not decodable (decoder.invalid)": flat["decoder.invalid"],
        "flows evicted early, table full (flow.mgr.flows_evicted)": flat["flow.mgr.flows_evicted"],
        "emergency mode entered (flow.emerg_mode_entered)": flat["flow.emerg_mode_entered"],
        "fragment trackers timed out incomplete (defrag.*.timeouts)": flat["defrag.ipv4.timeouts"]
        + flat["defrag.ipv6.timeouts"],
        "fragment trackers evicted, cache full (defrag.tracker_hard_reuse)": flat.get(
            "defrag.tracker_hard_reuse", 0
        ),
        "capture errors (truncated / corrupt files)": flat["capture.errors"],
        "packets dropped by the kernel, ring full (capture.kernel_drops)": flat.get(
            "capture.kernel_drops", 0
        ),
        "fragments dropped by an internal error (a bug: please report)": extra.get(
            "tocsin.internal_errors.defrag", 0
        ),
    }
    for reason, count in skipped.items():
        drops[f"packets skipped by the reader: {reason}"] = count
    result.drops = {k: v for k, v in drops.items() if v}
    result.counters = {**flat, **extra}
