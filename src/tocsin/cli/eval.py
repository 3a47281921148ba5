"""`tocsin eval`: measure the detectors against labelled captures (recall, false positives)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from tocsin.detect.correlate.config import ConfigError, CorrelateConfig, load_config
from tocsin.detect.correlate.registry import RegistryError
from tocsin.eval.expectations import ExpectationsError, load
from tocsin.eval.report import CaptureResult, render_console, to_json, to_markdown
from tocsin.eval.runner import REPO_ROOT, default_corpus, run


def _error(message: str) -> None:
    sys.stderr.write(f"tocsin: {message}\n")
    sys.stderr.flush()


def eval_(
    expectations: Path = typer.Argument(
        REPO_ROOT / "eval" / "expectations.yaml",
        help="The expectations file (default: eval/expectations.yaml of the repository).",
    ),
    corpus: Path | None = typer.Option(
        None,
        "--corpus",
        help="Root of the capture corpus (default: $TOCSIN_CORPUS, else ../shared/corpus).",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON."),
    markdown_out: Path | None = typer.Option(
        None, "--markdown", help="Also write the report as Markdown tables."
    ),
    only: str | None = typer.Option(
        None, "--only", help="Only the captures whose path matches this glob (or contains it)."
    ),
    detect_config: Path | None = typer.Option(
        None, "--detect-config", help="Detector settings (YAML), as for 'tocsin analyze'."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line per capture."),
) -> None:
    """Run every labelled capture through the pipeline and judge the detectors' alerts:
    per detector expected / found / missed / extra, precision and recall; per capture what
    was missed and which alerts were extra; the totals against the targets.

    Exit status: 0 when the targets are met (recall and false positives per capture),
    1 when not, 2 when the expectations or the detector settings cannot be used.
    """
    err = Console(stderr=True)
    out = Console()
    try:
        exp = load(expectations)
        cfg = load_config(detect_config) if detect_config is not None else CorrelateConfig()
    except (ExpectationsError, ConfigError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    root = corpus or default_corpus()

    def progress(r: CaptureResult) -> None:
        if not quiet:
            state = r.status if not r.ran else f"{len(r.alerts)} alerts, {r.seconds:.1f} s"
            err.print(f"  {r.spec.capture}: {state}", markup=False, highlight=False)

    try:
        rep = run(exp, root, config=cfg, only=only, on_capture=progress)
    except (ExpectationsError, ConfigError, RegistryError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    if not rep.captures:
        _error(f"--only {only!r}: no capture of {expectations} matches")
        raise typer.Exit(2)
    for r in rep.skipped:
        _error(f"{r.spec.capture}: {r.status}: {r.message}")
    for r in rep.ran:
        if r.message:
            _error(f"{r.spec.capture}: {r.message}")
    render_console(out, rep)
    try:
        if json_out is not None:
            json_out.write_text(json.dumps(to_json(rep), indent=2) + "\n", encoding="utf-8")
        if markdown_out is not None:
            markdown_out.write_text(to_markdown(rep), encoding="utf-8")
    except OSError as e:
        _error(f"cannot write the report: {e}")
        raise typer.Exit(2) from None
    raise typer.Exit(0 if rep.passed else 1)
