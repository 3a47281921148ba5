"""The signature commands as a user runs them: `analyze --rules`, `rules test`, the rule cache."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
SAMPLES = ROOT / "samples"
DEMO_RULES = ROOT / "rules" / "demo.rules"
SV = ROOT / "tests" / "fixtures" / "sv_selected" / "tests"


def _tocsin(*args: str, cache: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOCSIN_CACHE_DIR": str(cache), "COLUMNS": "200"}
    return subprocess.run(
        [TOCSIN, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def test_demo_rules_alert_on_the_samples(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    summary = tmp_path / "s.json"
    p = _tocsin(
        "analyze", str(SAMPLES), "--rules", str(DEMO_RULES), "--eve", str(eve),
        "--summary-json", str(summary), "--no-progress", cache=tmp_path / "c",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert "rules: 5 loaded" in p.stderr
    assert "Alerts: 5 (5 rules loaded), by signature" in p.stdout
    sids = sorted(
        json.loads(line)["alert"]["signature_id"]
        for line in eve.read_text().splitlines()
        if '"event_type":"alert"' in line and json.loads(line)["alert"]["gid"] == 1
    )
    assert sids == [9000001, 9000002, 9000003, 9000004, 9000005]
    s = json.loads(summary.read_text())
    assert s["rules_loaded"] == 5
    assert {a["signature_id"] for a in s["top_alerts"]} == set(sids)
    assert set(s["detect_timings_s"]) == {"prefilter_s", "confirm_s"}


def test_rule_cache_gives_the_same_alerts(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    outs = []
    for k in range(2):
        eve = tmp_path / f"eve{k}.json"
        p = _tocsin(
            "analyze", str(SAMPLES), "-r", str(DEMO_RULES), "--eve", str(eve),
            "--no-progress", cache=cache,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        outs.append(eve.read_bytes())
        assert ("(from cache)" in p.stderr) == (k == 1)
    assert outs[0] == outs[1]
    # a damaged cache entry is rebuilt, not trusted
    (entry,) = (cache / "rules").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    eve = tmp_path / "eve2.json"
    p = _tocsin("analyze", str(SAMPLES), "-r", str(DEMO_RULES), "--eve", str(eve), cache=cache)
    assert p.returncode == 0 and "(from cache)" not in p.stderr
    assert eve.read_bytes() == outs[0]


def test_bad_rules_are_reported_and_the_rest_run(tmp_path: Path) -> None:
    rules = tmp_path / "mixed.rules"
    rules.write_text(
        DEMO_RULES.read_text()
        + 'alert tcp any any -> any any (msg:"lua"; lua:script.lua; sid:1;)\n'
        + "alert tcp any any -> any any (msg:no sid;)\n"
    )
    eve = tmp_path / "eve.json"
    p = _tocsin("analyze", str(SAMPLES), "-r", str(rules), "--eve", str(eve), cache=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "rules: 5 loaded, 2 skipped: 'tocsin rules check' says why" in p.stderr
    check = _tocsin("rules", "check", str(rules), cache=tmp_path)
    assert check.returncode == 0
    assert "5 rules loaded, 2 skipped" in check.stdout
    assert f"{rules}:" in check.stdout and "lua" in check.stdout


def test_missing_rule_file_is_one_clear_error(tmp_path: Path) -> None:
    p = _tocsin("analyze", str(SAMPLES), "-r", str(tmp_path / "nope.rules"), cache=tmp_path)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tocsin: ") and "nope.rules" in lines[0]
    assert "Traceback" not in p.stderr


def test_rules_test_on_a_rule_authors_directory(tmp_path: Path) -> None:
    """A rule author's own test folders: one passing, one whose rule misses (the failing
    check is named), one needing Lua (skipped with why)."""
    mine = tmp_path / "my-tests"
    good = mine / "uri-good"
    shutil.copytree(SV / "detect-http-uri" / "UriTestSig01", good)
    bad = mine / "uri-bad"
    shutil.copytree(good, bad)
    (bad / "test.rules").write_text(
        'alert http any any -> any any (msg:"never"; http.uri; content:"/no/such/path"; sid:1;)\n'
    )
    lua = mine / "needs-lua"
    shutil.copytree(good, lua)
    (lua / "test.yaml").write_text(
        (lua / "test.yaml")
        .read_text()
        .replace("requires:", "requires:\n  features:\n    - HAVE_LUA\n", 1)
    )
    p = _tocsin("rules", "test", str(mine), cache=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout
    assert "PASS uri-good" in out
    assert "FAIL uri-bad: check 1: alert sid 1" in out
    assert "SKIP needs-lua:" in out and "LUA" in out
    assert "1 passed, 1 failed, 1 skipped" in out


def test_rules_test_refuses_a_path_that_is_not_a_directory(tmp_path: Path) -> None:
    p = _tocsin("rules", "test", str(tmp_path / "missing"), cache=tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip().startswith("tocsin: ") and "not a directory" in p.stderr


def test_packet_rules_run_without_the_app_layer(tmp_path: Path) -> None:
    """--no-app-layer: payload and header rules still alert; rules on app-layer buffers
    (smb.share, http.uri) have nothing to look at."""
    eve = tmp_path / "eve.json"
    p = _tocsin(
        "analyze", str(SAMPLES), "--no-app-layer", "-r", str(DEMO_RULES), "--eve", str(eve),
        cache=tmp_path / "c",
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = eve.read_text().splitlines()
    sids = sorted(
        json.loads(x)["alert"]["signature_id"]
        for x in lines
        if '"event_type":"alert"' in x and json.loads(x)["alert"]["gid"] == 1
    )
    assert sids == [9000001, 9000003, 9000004]
    alerted = [json.loads(x) for x in lines if '"event_type":"flow"' in x]
    assert sum(f["flow"]["alerted"] for f in alerted) == 3


def test_bad_vars_and_threshold_files_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "vars.yaml"
    bad.write_text("vars: [unclosed\n")
    p = _tocsin("analyze", str(SAMPLES), "-r", str(DEMO_RULES), "--vars", str(bad), cache=tmp_path)
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1 and "vars.yaml: not valid YAML (line 2" in p.stderr
    p = _tocsin(
        "analyze", str(SAMPLES), "-r", str(DEMO_RULES), "--threshold-file",
        str(tmp_path / "none.config"), cache=tmp_path,
    )  # fmt: skip
    assert p.returncode == 2 and "cannot read threshold file" in p.stderr
    assert "Traceback" not in p.stderr
