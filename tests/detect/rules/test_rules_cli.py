"""`tocsin rules check` from the user's side: the installed command in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOCSIN = str(Path(sys.executable).with_name("tocsin"))

RULES = (
    "# test rules\n"
    'alert tcp any any -> any any (msg:"good"; content:"abc"; sid:1;)\n'
    'alert http any any -> any any (msg:"good too"; http.uri; content:"/x"; \\\n'
    "    sid:2;)\n"
    'alert tcp any any -> any any (msg:"unsupported"; hostbits:set,a,track ip_src; sid:3;)\n'
    'alert tcp any any -> any any (msg:"broken"; content:"|4G|"; sid:4;)\n'
    'alert tcp any any -> any any (msg:"no sid";)\n'
)


def tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [TOCSIN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    f = tmp_path / "test.rules"
    f.write_text(RULES)
    return f


def test_check_reports_loaded_and_skipped(rules: Path) -> None:
    p = tocsin("rules", "check", rules)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert f"{rules}: 2 rules loaded, 3 skipped" in out
    assert f"{rules}:5 sid=3 hostbits: keyword not supported" in out
    assert f"{rules}:6 sid=4 content: invalid hex code" in out
    assert f"{rules}:7 sid=? sid: missing the required" in out
    assert "Skipped rules by keyword" in out
    assert "Traceback" not in p.stderr


def test_check_verbose_prints_the_rule(rules: Path) -> None:
    p = tocsin("rules", "check", "-v", rules)
    assert p.returncode == 0
    assert "hostbits:set,a,track ip_src; sid:3;)" in p.stdout


def test_check_json(rules: Path) -> None:
    p = tocsin("rules", "check", "--json", rules)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["files"] == [{"file": str(rules), "rules": 5, "loaded": 2, "skipped": 3}]
    assert doc["loaded"] == 2
    assert doc["skipped_by_keyword"] == {"hostbits": 1, "content": 1, "sid": 1}
    assert {(s["line"], s["keyword"]) for s in doc["skipped"]} == {
        (5, "hostbits"),
        (6, "content"),
        (7, "sid"),
    }


def test_check_directory_vars_and_classification(tmp_path: Path) -> None:
    d = tmp_path / "set"
    d.mkdir()
    (d / "a.rules").write_text("alert tcp $MINE any -> any any (classtype:mine; sid:1;)\n")
    (d / "notes.txt").write_text("not rules\n")
    y = tmp_path / "suricata.yaml"
    y.write_text("%YAML 1.1\n---\nvars:\n  address-groups:\n    MINE: 10.0.0.0/8\n")
    c = tmp_path / "classification.config"
    c.write_text("config classification: mine,Mine,2\n")
    p = tocsin("rules", "check", d, "--vars", y, "--classification", c)
    assert p.returncode == 0, p.stderr
    assert "1 rules loaded, 0 skipped" in p.stdout
    p = tocsin("rules", "check", d)  # $MINE undefined, classtype unknown
    assert p.returncode == 0
    assert "undefined variable $MINE" in p.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("rules", "check", "/nonexistent/x.rules"),
        ("rules", "check", "{rules}", "--vars", "/nonexistent/suricata.yaml"),
        ("rules", "check", "{rules}", "--classification", "/nonexistent/c.config"),
        ("rules", "check", "{empty}"),
        ("rules", "check", "{rules}", "--no-such-option"),
        ("rules", "check"),
    ],
)
def test_errors_exit_2_with_one_line(rules: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    empty = tmp_path / "empty-dir"
    empty.mkdir()
    argv = [a.format(rules=rules, empty=empty) for a in args]
    p = tocsin(*argv)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and p.stderr.strip()
    if "--no-such-option" not in argv and len(argv) > 2:
        assert len(p.stderr.strip().splitlines()) == 1
        assert p.stderr.startswith("tocsin: ")


def test_help_lists_check() -> None:
    p = tocsin("rules", "--help")
    assert p.returncode == 0 and "check" in p.stdout
