"""`replay`: a generated capture through the real pipeline, every event marked as exercise,
then scored against its truth file.

The capture is read as fast as the machine goes (accelerated time: packet time drives every
detector, so an hour of traffic replays in seconds and judges exactly as live). The
correlator runs with the configuration given (default: every built-in detector at its
default thresholds) on the site's own networks from the truth file unless the configuration
sets `home_net`, and detectors with a learning period learn from the background before the
first attack step (`learning`). Every EVE line carries `"exercise": {...}`
(`model.exercise`): nothing downstream may take it for a real alert. Signatures run too when
rules are given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.detect.engine import DetectEngine
from tocsin.detect.intel import IntelSet
from tocsin.exercise.learning import learned_before_attack
from tocsin.exercise.score import ScoreSheet, SeenAlert, score, seen_alert
from tocsin.exercise.truth import Truth
from tocsin.model.exercise import ExerciseMark
from tocsin.runtime.analyze import AnalysisResult, analyze
from tocsin.runtime.pipeline import PipelineConfig


@dataclass(frozen=True, slots=True)
class Replay:
    mark: ExerciseMark
    result: AnalysisResult
    sheet: ScoreSheet


def exercise_id(truth: Truth, now: datetime | None = None) -> str:
    """`<profile>-<seed>-<UTC time of the replay>`: tells replays of one capture apart."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{truth.profile}-{truth.seed}-{stamp}"


def replay(
    capture: Path,
    truth: Truth,
    eve: Path,
    *,
    config: CorrelateConfig | None = None,
    intel: IntelSet | None = None,
    detect: DetectEngine | None = None,
    pipeline: PipelineConfig | None = None,
) -> Replay:
    """Run `capture` through the pipeline into `eve` (marked) and score its alerts. Raises
    what `runtime.analyze.analyze` raises (`CaptureError`, `EveSinkError`)."""
    cfg = config or CorrelateConfig()
    if cfg.home_net == CorrelateConfig().home_net:
        cfg = dataclasses.replace(cfg, home_net=tuple(truth.home_net))
    cfg = learned_before_attack(cfg, truth)
    correlate = build_correlator(cfg, intel=intel)
    mark = ExerciseMark(
        id=exercise_id(truth), capture=capture.name, profile=truth.profile, seed=truth.seed
    )
    result = analyze(
        [capture],
        eve,
        pipeline or PipelineConfig(),
        detect=detect,
        correlate=correlate,
        mark=mark,
    )
    return Replay(mark, result, score(truth, read_alerts(eve)))


def read_alerts(eve: Path) -> list[SeenAlert]:
    """The `alert` events of an EVE file (other lines skipped without being decoded)."""
    out = []
    dec = msgspec.json.Decoder()
    with eve.open("rb") as f:
        for line in f:
            if b'"event_type":"alert"' not in line:
                continue
            a = seen_alert(dec.decode(line))
            if a is not None:
                out.append(a)
    return out
