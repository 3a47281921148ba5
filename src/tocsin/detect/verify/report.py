"""How `tocsin rules test` shows its results: one line per test, tallies, tables, Markdown.

- `result_line(r)`: `PASS name`, `FAIL name: check 3: alert sid 2: expected 1, got 0`,
  `SKIP name: reason` (plain text: test names and reasons are never read as markup);
- `print_result(console, r)` prints that line (coloured status word), with the failure's
  detail and warnings when `verbose`; meant as `run_tests(on_result=...)`;
- `print_summary(console, report)`: the by-family table, the skip reasons table and the
  final `N passed, M failed, K skipped` line;
- `to_markdown(report)`: the same for a results file, with every failure listed and the full
  per-test list in a collapsed block.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tocsin.detect.verify.runner import Report, TestResult

_WORD = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}
_STYLE = {"pass": "green", "fail": "bold red", "skip": "yellow"}


def result_line(r: TestResult) -> str:
    """`PASS name`, `FAIL name: reason`, `SKIP name: reason`."""
    return f"{_WORD[r.status]} {r.name}" + (f": {r.reason}" if r.reason else "")


def summary_line(report: Report) -> str:
    return f"{report.passed} passed, {report.failed} failed, {report.skipped} skipped"


def print_result(console: Console, r: TestResult, *, verbose: bool = False) -> None:
    """One test's line; with `verbose`, a failure's detail and the warnings under it."""
    line = Text(_WORD[r.status], style=_STYLE[r.status])
    line.append(f" {r.name}" + (f": {r.reason}" if r.reason else ""))
    console.print(line, soft_wrap=True, highlight=False)
    if verbose:
        extra = [r.detail] if r.status == "fail" and r.detail else []
        extra += [f"warning: {w}" for w in r.warnings]
        for text in extra:
            for sub in text.rstrip().splitlines():
                console.print(Text("    " + sub, style="dim"), soft_wrap=True, highlight=False)


def family_table(report: Report) -> Table:
    t = Table(title="By family", title_justify="left")
    t.add_column("family")
    for col in ("tests", "passed", "failed", "skipped", "pass rate of run"):
        t.add_column(col, justify="right")
    for fam, n in report.by_family().items():
        t.add_row(fam, *_family_cells(n))
    total = {"pass": report.passed, "fail": report.failed, "skip": report.skipped}
    t.add_row("all", *_family_cells(total), style="bold")
    return t


def _family_cells(n: dict[str, int]) -> list[str]:
    ran = n["pass"] + n["fail"]
    rate = f"{100 * n['pass'] / ran:.0f} %" if ran else "–"
    return [f"{sum(n.values()):,}", f"{n['pass']:,}", f"{n['fail']:,}", f"{n['skip']:,}", rate]


def skip_table(report: Report) -> Table:
    t = Table(title="Why tests were skipped", title_justify="left")
    t.add_column("category")
    t.add_column("tests", justify="right")
    t.add_column("most common reason", overflow="fold")
    for category, n, example in report.skip_reasons():
        t.add_row(category, f"{n:,}", example)
    return t


def print_summary(console: Console, report: Report, *, tables: bool = True) -> None:
    """The tables (unless `tables` is False), then `N passed, M failed, K skipped`."""
    if tables and report.results:
        console.print(family_table(report))
        if report.skipped:
            console.print(skip_table(report))
    console.print(
        f"{summary_line(report)} (judged as {report.judged_as}; {report.seconds:,.1f} s)",
        markup=False,
        highlight=False,
    )


def print_report(console: Console, report: Report, *, verbose: bool = False) -> None:
    """Every test's line, then the summary (for a report not printed as it ran)."""
    for r in report.results:
        print_result(console, r, verbose=verbose)
    print_summary(console, report)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report, *, title: str = "tocsin rules test") -> str:
    """A results file: summary, tables, failures, and every test in a collapsed block."""
    out = [
        f"# {title}",
        "",
        f"**{summary_line(report)}** — judged as {report.judged_as}, {report.seconds:,.1f} s.",
        "",
        "## By family",
        "",
        "| family | tests | passed | failed | skipped | pass rate of run |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for fam, n in report.by_family().items():
        out.append(f"| {_cell(fam)} | " + " | ".join(_family_cells(n)) + " |")
    if report.skipped:
        out += [
            "",
            "## Why tests were skipped",
            "",
            "| category | tests | most common reason |",
            "|---|---:|---|",
        ]
        out += [f"| {c} | {n} | {_cell(ex)} |" for c, n, ex in report.skip_reasons()]
    failed = [r for r in report.results if r.status == "fail"]
    if failed:
        out += ["", "## Failures", ""]
        for r in failed:
            out.append(f"- `{r.name}` ({r.family}): {_cell(r.reason)}")
            if r.detail:
                out.append(f"  - {_cell(r.detail.strip().splitlines()[-1])}")
    out += [
        "",
        "<details><summary>Every test</summary>",
        "",
        "| test | family | result | why |",
        "|---|---|---|---|",
    ]
    out += [
        f"| `{r.name}` | {r.family} | {_WORD[r.status]} | {_cell(r.reason)} |"
        for r in report.results
    ]
    out += ["", "</details>", ""]
    return "\n".join(out)
