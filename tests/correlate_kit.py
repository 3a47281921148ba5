"""Helpers for detector tests: feed records to one detector, or run captures end to end.

- `feed(detector, items)`: items are `FlowBatch`es (see `model.flows.FlowRow`) and app-layer
  event records, in time order; returns the EVE alerts (the correlator's folding applies).
- `flows(*rows)`: a `FlowBatch` from `FlowRow`s.
- `analyze_alerts(captures, tmp_path, only=...)`: the whole pipeline on capture files with the
  selected detectors; returns the detector alerts (gid 8) as EVE dicts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.correlate.netclass import HomeNet
from tocsin.detect.correlate.plugin import Detector
from tocsin.model.events import AlertEvent
from tocsin.model.flows import FlowBatch, FlowRow
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig


def flows(*rows: FlowRow) -> FlowBatch:
    return FlowBatch.from_rows(list(rows))


def feed(
    detector: Detector,
    items: Iterable[Any],
    *,
    home: Sequence[str] | None = None,
    realert_s: int = 3600,
    end_us: int | None = None,
) -> list[AlertEvent]:
    corr = Correlator([detector], HomeNet(home) if home else HomeNet(), realert_s=realert_s)
    out: list[AlertEvent] = []
    for it in items:
        out += corr.flows(it) + corr.flush() if isinstance(it, FlowBatch) else corr.event(it)
    out += corr.finish(end_us if end_us is not None else corr.now_us)
    return out


def analyze_alerts(
    captures: Sequence[str | Path],
    tmp_path: Path,
    *,
    only: Sequence[str] = (),
    config: CorrelateConfig | None = None,
    eve_name: str = "eve.json",
) -> list[dict[str, Any]]:
    cfg = config or CorrelateConfig()
    if only:
        cfg = replace(cfg, enable=tuple(only))
    eve = tmp_path / eve_name
    analyze(
        [str(c) for c in captures],
        eve,
        PipelineConfig(writer_thread=False),
        correlate=build_correlator(cfg),
    )
    out = []
    for line in eve.read_text().splitlines():
        ev = json.loads(line)
        if ev.get("event_type") == "alert" and ev["alert"]["gid"] == 8:
            out.append(ev)
    return out


def names(alerts: Iterable[Any]) -> list[str]:
    """Detector names of alerts (EVE dicts or `AlertEvent`s), in order."""
    out = []
    for a in alerts:
        meta = a["alert"]["metadata"] if isinstance(a, dict) else a.alert.metadata
        out.append(meta["detector"][0])
    return out
