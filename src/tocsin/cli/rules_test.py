"""`tocsin rules test DIR...`: run suricata-verify style tests of rules with Tocsin's engine."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from tocsin.detect.verify import SURICATA_VERSION, discover, run_tests
from tocsin.detect.verify.engine_run import run_plan
from tocsin.detect.verify.report import print_result, print_summary, to_markdown


def _error(message: str) -> None:
    sys.stderr.write(f"tocsin: {message}\n")
    sys.stderr.flush()


def test(
    dirs: list[Path] = typer.Argument(
        ...,
        help=(
            "Directories searched recursively for test folders: each holds a test.yaml "
            "(suricata-verify's format: pcap, rules, args, checks), its capture and its rules."
        ),
        show_default=False,
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Tests run at once (processes)."),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Every failing check in full, and rule warnings."
    ),
    failures_only: bool = typer.Option(
        False, "--failures", help="Print only failing tests (and the summary)."
    ),
    version: str = typer.Option(
        SURICATA_VERSION,
        "--version-as",
        help="The Suricata version whose expectations apply (tests' requires: min-version...).",
    ),
    ignore_versions: bool = typer.Option(
        False,
        "--ignore-versions",
        help="Run tests whatever Suricata version they require (checks' own requires still apply).",
    ),
    lenient_rules: bool = typer.Option(
        False,
        "--lenient-rules",
        help="A rule that does not load is a warning, not a failure of its test.",
    ),
    alerts_only: bool = typer.Option(
        False,
        "--alerts-only",
        help="Judge only the checks on alerts (the others are reported as skipped checks).",
    ),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the results as a markdown report here."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Also write the results as JSON here."
    ),
    keep: Path | None = typer.Option(
        None, "--keep-eve", help="Keep each test's eve.json under this directory."
    ),
) -> None:
    """Run suricata-verify style rule tests: each test's capture through Tocsin with its rules,
    then its checks on the EVE output. Prints PASS / FAIL (with the failing check) / SKIP (with
    why: Lua, IPS, shell checks...) per test, then 'N passed, M failed, K skipped'.

    Exit status: 0 when no test failed, 1 when some failed, 2 for a bad option or directory.
    """
    for d in dirs:
        if not d.is_dir():
            _error(f"{d}: not a directory")
            raise typer.Exit(2)
    if jobs < 1:
        _error("--jobs must be at least 1")
        raise typer.Exit(2)
    cases = discover(dirs)
    if not cases:
        _error(f"no test.yaml found under {', '.join(str(d) for d in dirs)}")
        raise typer.Exit(2)
    out = Console(highlight=False)

    def show(r: object) -> None:
        from tocsin.detect.verify.runner import TestResult

        assert isinstance(r, TestResult)
        if failures_only and r.status != "fail":
            return
        print_result(out, r, verbose=verbose)

    report = run_tests(
        cases,
        run_plan,
        jobs=jobs,
        version=version,
        test_versions=not ignore_versions,
        strict_rules=not lenient_rules,
        alerts_only=alerts_only,
        output_dir=keep,
        on_result=show,
    )
    print_summary(out, report, tables=len(cases) > 1)
    try:
        if markdown is not None:
            markdown.write_text(to_markdown(report))
        if json_out is not None:
            json_out.write_text(report.to_json())
    except OSError as exc:
        _error(f"cannot write report: {exc}")
        raise typer.Exit(2) from None
    if report.failed:
        raise typer.Exit(1)
