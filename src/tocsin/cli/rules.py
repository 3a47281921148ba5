"""`tocsin rules ...`: Suricata rule files. `check` says which rules load and why the others
do not (file:line, sid, keyword, reason), per file and as a summary by keyword.

Exit status of `check`: 0 when every file was read (skipped rules are reported, not an
error), 2 for a file that cannot be read or a bad option (one line on stderr).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tocsin.detect.model import RuleSet, Skipped
from tocsin.detect.rules.errors import RuleFileError
from tocsin.detect.rules.loader import load_rules
from tocsin.detect.varsfile import VarsFileError, read_vars_file

_QUOTED = re.compile(r"'[^']*'")  # values quoted in reasons: the summary groups without them

rules_app = typer.Typer(
    name="rules",
    help=(
        "Suricata rule files: check which rules load and why the others do not; test rules "
        "with suricata-verify style tests."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _error(message: str) -> None:
    """One plain line on stderr (never wrapped or styled: people grep these)."""
    sys.stderr.write(f"tocsin: {message}\n")
    sys.stderr.flush()


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for its `*.rules` files (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.rules"))
            if not found:
                _error(f"{p}: no .rules files in this directory")
                raise typer.Exit(2)
            out.extend(found)
        else:
            out.append(p)
    return out


def _where(s: Skipped) -> str:
    sid = s.sid if s.sid is not None else "?"
    return f"{s.file}:{s.line} sid={sid} {s.keyword or '(syntax)'}: {s.reason}"


def _print_text(console: Console, rs: RuleSet, seconds: float, verbose: bool) -> None:
    by_file: dict[str, list[Skipped]] = {}
    for s in rs.skipped:
        by_file.setdefault(s.file, []).append(s)
    for f in rs.files:
        loaded = rs.per_file.get(f, (0, 0))[1]
        skipped = by_file.get(f, [])
        console.print(
            f"{f}: {loaded:,} rules loaded, {len(skipped):,} skipped",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for s in skipped:
            console.print("  " + _where(s), markup=False, highlight=False, soft_wrap=True)
            if verbose:
                console.print("    " + s.text, markup=False, highlight=False, soft_wrap=True)
    files = f"{len(rs.files)} file" + ("s" if len(rs.files) != 1 else "")
    console.print(
        f"Total: {len(rs.rules):,} rules loaded, {len(rs.skipped):,} skipped, from {files} "
        f"in {seconds:,.2f} s.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if not rs.skipped:
        return
    counts = Counter(s.keyword for s in rs.skipped)
    reasons: dict[str, Counter[str]] = {}
    for s in rs.skipped:
        reasons.setdefault(s.keyword, Counter())[_QUOTED.sub("'…'", s.reason)] += 1
    t = Table(title="Skipped rules by keyword", title_justify="left")
    t.add_column("keyword")
    t.add_column("rules", justify="right")
    t.add_column("most common reason")
    for kw, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        reason = reasons[kw].most_common(1)[0][0]
        others = len(reasons[kw]) - 1
        more = f" (and {others} other reason{'s' if others > 1 else ''})" if others else ""
        t.add_row(kw or "(syntax)", f"{n:,}", reason + more)
    console.print(t)


def _report(rs: RuleSet, seconds: float, verbose: bool) -> dict[str, object]:
    by_file = Counter(s.file for s in rs.skipped)
    skipped: list[dict[str, object]] = []
    for s in rs.skipped:
        row: dict[str, object] = {
            "file": s.file,
            "line": s.line,
            "sid": s.sid,
            "keyword": s.keyword,
            "reason": s.reason,
        }
        if verbose:
            row["text"] = s.text
        skipped.append(row)
    return {
        "files": [
            {
                "file": f,
                "rules": rs.per_file.get(f, (0, 0))[0],
                "loaded": rs.per_file.get(f, (0, 0))[1],
                "skipped": by_file.get(f, 0),
            }
            for f in rs.files
        ],
        "loaded": len(rs.rules),
        "skipped": skipped,
        "skipped_by_keyword": dict(Counter(s.keyword for s in rs.skipped).most_common()),
        "seconds": round(seconds, 3),
    }


@rules_app.command("check")
def check(
    files: list[Path] = typer.Argument(
        ...,
        help="Rule files, or directories (their *.rules files).",
        show_default=False,
    ),
    vars_file: Path | None = typer.Option(
        None,
        "--vars",
        help=(
            "suricata.yaml (or any YAML with a 'vars:' section) giving HOME_NET, HTTP_PORTS... "
            "Default: suricata.yaml's defaults."
        ),
    ),
    classification: Path | None = typer.Option(
        None,
        "--classification",
        help="classification.config for classtypes. Default: Suricata's own list.",
    ),
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also print the text of each skipped rule."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Load rule files as the sensor would: per file, rules loaded and skipped, and for each
    skipped rule where it is (file:line, sid), the keyword at fault and why.

    Exit status: 0 when every file was read (skipped rules are not an error), 2 when a file
    cannot be read or an option is wrong.
    """
    paths = _expand(files)
    try:
        rule_vars = read_vars_file(vars_file) if vars_file is not None else None
        start = time.perf_counter()
        rs = load_rules(paths, rule_vars, classification)
        seconds = time.perf_counter() - start
    except (RuleFileError, VarsFileError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(_report(rs, seconds, verbose), indent=2) + "\n")
        return
    _print_text(Console(), rs, seconds, verbose)
