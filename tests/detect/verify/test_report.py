"""How `tocsin rules test` prints results: lines, summary, tables, Markdown."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tocsin.detect.verify import Report, TestResult, discover, run_tests
from tocsin.detect.verify.report import (
    print_report,
    print_result,
    print_summary,
    result_line,
    summary_line,
    to_markdown,
)

from .svkit import alert, fake_run, make_test

CHECKS = """
checks:
  - filter: {count: 1, match: {event_type: alert, alert.signature_id: 1}}
  - filter: {count: 1, match: {event_type: alert, alert.signature_id: 2}}
  - filter: {count: 1, match: {event_type: alert, alert.signature_id: 3}}
"""


def sample(tmp_path: Path) -> Report:
    rules = "alert ip any any -> any any (sid:1;)\n"
    make_test(
        tmp_path, "dns-ok", CHECKS, rules=rules, fake={"events": [alert(1), alert(2), alert(3)]}
    )
    make_test(
        tmp_path,
        "tls-bad",
        CHECKS,
        rules=rules,
        fake={"events": [alert(1), alert(2)], "outcome": {"ran": True, "warnings": ["slow | odd"]}},
    )
    make_test(tmp_path, "lua-x", "requires:\n  features: [HAVE_LUA]\n")
    return run_tests(discover([tmp_path]), fake_run)


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


def test_result_lines(tmp_path: Path) -> None:
    report = sample(tmp_path)
    lines = [result_line(r) for r in report.results]
    assert lines == [
        "PASS dns-ok",
        "SKIP lua-x: requires Suricata features Tocsin lacks: HAVE_LUA",
        "FAIL tls-bad: check 3: alert sid 3: expected 1, got 0",
    ]
    assert summary_line(report) == "1 passed, 1 failed, 1 skipped"


def test_printed_report(tmp_path: Path) -> None:
    report = sample(tmp_path)
    con, out = console()
    print_report(con, report, verbose=True)
    text = out.getvalue()
    assert "FAIL tls-bad: check 3: alert sid 3: expected 1, got 0" in text
    assert "nearest of 2 alert events differs in alert.signature_id" in text  # verbose detail
    assert "warning: slow | odd" in text
    assert "By family" in text and "Why tests were skipped" in text
    assert "feature" in text and "HAVE_LUA" in text
    assert text.rstrip().splitlines()[-1].startswith("1 passed, 1 failed, 1 skipped")


def test_names_are_not_markup() -> None:
    con, out = console()
    print_result(con, TestResult("[bold]x[/bold]", "other", "skip", "needs [red]y[/red]"))
    assert out.getvalue().strip() == "SKIP [bold]x[/bold]: needs [red]y[/red]"
    con, out = console()
    print_summary(con, Report([]))
    assert out.getvalue().startswith("0 passed, 0 failed, 0 skipped")


def test_markdown(tmp_path: Path) -> None:
    md = to_markdown(sample(tmp_path), title="Results")
    assert md.startswith("# Results\n\n**1 passed, 1 failed, 1 skipped**")
    assert "| dns | 1 | 1 | 0 | 0 | 100 % |" in md
    assert "| tls | 1 | 0 | 1 | 0 | 0 % |" in md
    assert "| feature | 1 | requires Suricata features Tocsin lacks: HAVE_LUA |" in md
    assert "- `tls-bad` (tls): check 3: alert sid 3: expected 1, got 0" in md
    assert "| `lua-x` | detect | SKIP |" in md
