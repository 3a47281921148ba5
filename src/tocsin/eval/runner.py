"""Run labelled captures through the whole pipeline and judge the detectors' alerts.

For each capture of an `Expectations`: resolve its path (corpus root, or the repository for
`repo:` paths); a missing file is `skipped` with a message, a file the pipeline cannot open is
`error` (both are left out of the totals and shown). Otherwise run
`tocsin.runtime.analyze.analyze` in-process (no writer thread, EVE to a temporary directory)
with a fresh correlator built from the detector configuration (`--detect-config`, or the
defaults), the capture's `home_net` and `thresholds` when it gives them (so that a truth
produced under a lowered limit is judged under the same limit), and the indicator sources (global
`intel:` plus the capture's), then read back the alerts of gid 8 and `score` them.

Indicator sources are passed through `CorrelateConfig.intel` (paths, corpus-relative in the
file, made absolute here, after those of `--detect-config`); a capture whose source does not
exist is skipped with a message, like a missing capture.

Nothing here reads the wall clock except to time each capture for the report.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tocsin.capture import CaptureError
from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.eval.expectations import CaptureSpec, Expectations
from tocsin.eval.report import Alert, CaptureResult, Report, score
from tocsin.output.sink import EveSinkError
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

REPO_ROOT = Path(__file__).resolve().parents[3]


def default_corpus() -> Path:
    """`$TOCSIN_CORPUS`, else `<repo>/../shared/corpus`."""
    env = os.environ.get("TOCSIN_CORPUS")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "corpus"


def _config_for(
    spec: CaptureSpec, exp: Expectations, base: CorrelateConfig, corpus: Path
) -> CorrelateConfig | str:
    """The correlator settings for one capture, or why it cannot run (a missing source)."""
    cfg = base
    if spec.home_net is not None:
        cfg = dataclasses.replace(cfg, home_net=spec.home_net)
    if spec.thresholds:
        merged = {k: dict(v) for k, v in cfg.detectors.items()}
        for name, values in spec.thresholds.items():
            merged[name] = {**merged.get(name, {}), **values}
        cfg = dataclasses.replace(cfg, detectors=merged, source=f"{exp.source}: {spec.capture}")
    paths = []
    for s in (*exp.intel, *spec.intel):
        p = REPO_ROOT / s[len("repo:") :] if s.startswith("repo:") else corpus / s
        if not p.exists():
            return f"intel source {p} not found"
        paths.append(str(p))
    if paths:
        cfg = dataclasses.replace(cfg, intel=(*cfg.intel, *paths))
    return cfg


def run_capture(
    spec: CaptureSpec,
    exp: Expectations,
    corpus: Path,
    base: CorrelateConfig,
    workdir: Path,
) -> CaptureResult:
    path = spec.path(corpus, REPO_ROOT)
    if not path.is_file():
        return CaptureResult(spec=spec, status="skipped", message=f"{path} not found")
    cfg = _config_for(spec, exp, base, corpus)
    if isinstance(cfg, str):
        return CaptureResult(spec=spec, status="skipped", message=cfg)
    eve = workdir / "eve.json"
    t0 = time.perf_counter()
    try:
        analyze(
            [str(path)],
            eve,
            PipelineConfig(writer_thread=False),
            correlate=build_correlator(cfg),
        )
    except (CaptureError, EveSinkError) as e:
        return CaptureResult(spec=spec, status="error", message=str(e))
    alerts = []
    with eve.open(encoding="utf-8") as fh:
        for line in fh:
            if '"alert"' not in line:
                continue
            ev = json.loads(line)
            if ev.get("event_type") == "alert" and ev.get("alert", {}).get("gid") == 8:
                alerts.append(Alert.from_eve(ev))
    result = score(spec, alerts)
    result.seconds = time.perf_counter() - t0
    return result


def run(
    exp: Expectations,
    corpus: Path,
    *,
    config: CorrelateConfig | None = None,
    only: str | None = None,
    on_capture: Callable[[CaptureResult], None] | None = None,
) -> Report:
    """Every capture of `exp` (those whose path matches the glob `only`, when given).

    Raises the correlator's `ConfigError` / `RegistryError` for detector
    settings or indicator files that cannot be used.
    """
    base = config or CorrelateConfig()
    specs = [
        s
        for s in exp.captures
        if only is None or fnmatch.fnmatch(s.capture, only) or only in s.capture
    ]
    results = []
    with tempfile.TemporaryDirectory(prefix="tocsin-eval-") as tmp:
        for spec in specs:
            r = run_capture(spec, exp, corpus, base, Path(tmp))
            results.append(r)
            if on_capture is not None:
                on_capture(r)
    return Report(expectations=exp, captures=results)
