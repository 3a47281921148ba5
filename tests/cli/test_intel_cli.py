"""`tocsin analyze --intel/--allowlist/--no-warninglists`: errors are one line and exit 2; the
loaded indicators are summarised on stderr; alerts come out."""

from __future__ import annotations

import json
from pathlib import Path

from cli.test_analyze import assert_no_traceback, assert_one_line_error, tocsin

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "samples" / "web-browsing.pcap"
FIX = ROOT / "tests" / "fixtures" / "intel"


def test_missing_intel_path_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "nope.txt"
    proc = tocsin("analyze", SAMPLE, "--eve", tmp_path / "e.json", "-q", "--intel", bad)
    assert_one_line_error(
        proc, 2, f"tocsin: {bad}: indicator source not found (a file or a directory)"
    )


def test_bad_json_and_missing_allowlist_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    proc = tocsin("analyze", SAMPLE, "--eve", tmp_path / "e.json", "-q", "--intel", bad)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"tocsin: {bad}: not valid JSON")
    proc = tocsin(
        "analyze", SAMPLE, "-e", tmp_path / "e.json", "-q", "--intel", FIX / "plain.txt",
        "--allowlist", tmp_path / "none.txt",
    )  # fmt: skip
    assert_one_line_error(
        proc, 2, f"tocsin: {tmp_path / 'none.txt'}: allow-list not found (a plain list or CSV file)"
    )


def test_intel_summary_line_and_alerts(tmp_path: Path) -> None:
    eve = tmp_path / "e.json"
    proc = tocsin(
        "analyze", SAMPLE, "-e", eve, "--no-progress", "--no-warninglists",
        "--intel", FIX / "web-browsing-intel.txt", "--intel", FIX / "plain.txt",
    )  # fmt: skip
    assert_no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in (proc.stderr + proc.stdout).splitlines() if x.startswith("intel: ")]
    assert len(lines) == 1
    assert lines[0].startswith("intel: 9 indicators from 2 sources (1 skipped")
    alerts = [json.loads(x) for x in eve.read_text().splitlines() if '"alert"' in x]
    dets = {a["alert"]["metadata"]["detector"][0] for a in alerts if a["alert"]["gid"] == 8}
    assert {"intel.domain", "intel.ip"} <= dets
