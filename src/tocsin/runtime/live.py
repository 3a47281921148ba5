"""`run_live`: the pipeline on a network interface until told to stop.

The driver `tocsin sensor --iface` uses: batches from `capture.live.LiveCapture` (one per
retired ring block) go through the same `Pipeline` as a file's, with the kernel's counters
(`capture.kernel_packets`, `capture.kernel_drops`, `capture.kernel_ifdrops`: ring freezes)
read after every block and written in every `stats` event. It stops after `duration_s` of
wall time, after `max_packets` packets, or when `stop()` returns true (a signal handler
sets it), then ends every flow as a file's end would and returns the `AnalysisResult`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tocsin.applayer.registry import Registry
from tocsin.capture.live import LiveCapture
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.output.sink import EveSink
from tocsin.runtime.analyze import AnalysisResult, _fill
from tocsin.runtime.pipeline import Pipeline, PipelineConfig


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
) -> AnalysisResult:
    t0 = time.monotonic()
    sink = EveSink(eve_path)
    pipeline = Pipeline(config, sink, registry, detect, correlate)
    result = AnalysisResult(files=[f"iface:{capture.iface}"])
    counters = pipeline.capture_counters

    def done() -> bool:
        if stop():
            return True
        if duration_s is not None and time.monotonic() - t0 >= duration_s:
            return True
        return max_packets is not None and pipeline.packets >= max_packets

    def read_stats() -> None:
        capture.stats()
        counters["capture.kernel_packets"] = capture.totals.packets
        counters["capture.kernel_drops"] = capture.totals.drops
        counters["capture.kernel_ifdrops"] = capture.totals.freezes

    while not done():
        for batch in capture.batches(timeout_s=0.2):
            read_stats()
            pipeline.process(batch)
            if done():
                break
    read_stats()
    pipeline.finish()
    sink.close()
    _fill(result, pipeline, sink, {})
    result.wall_s = time.monotonic() - t0
    return result
