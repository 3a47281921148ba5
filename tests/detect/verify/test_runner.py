"""`run_tests` with a fake engine that writes known EVE events: pass / fail / skip decisions,
their messages, run failures, and the process pool."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.detect.verify import Report, TestResult, discover, run_tests

from .svkit import alert, fake_run, make_test

RULES = 'alert http any any -> any any (msg:"x"; content:"x"; sid:1;)\n'
TWO_CHECKS = """
checks:
  - filter:
      count: 1
      match:
        event_type: alert
        alert.signature_id: 1
  - filter:
      count: 1
      match:
        event_type: alert
        alert.signature_id: 2
"""


def results(tmp_path: Path, **kw: Any) -> dict[str, TestResult]:
    report = run_tests(discover([tmp_path]), fake_run, **kw)
    return {r.name: r for r in report.results}


def test_pass_fail_skip(tmp_path: Path) -> None:
    make_test(
        tmp_path,
        "http-ok",
        TWO_CHECKS,
        rules=RULES,
        fake={"events": [alert(1), alert(2), {"event_type": "flow"}]},
    )
    make_test(tmp_path, "http-missing", TWO_CHECKS, rules=RULES, fake={"events": [alert(1)]})
    make_test(tmp_path, "lua-test", "requires:\n  features: [HAVE_LUA]\n" + TWO_CHECKS)
    make_test(tmp_path, "no-checks", "args: [-k none]\n", fake={"events": []})
    r = results(tmp_path)
    assert r["http-ok"].status == "pass" and r["http-ok"].reason == ""
    assert [c.status for c in r["http-ok"].checks] == ["pass", "pass"]
    assert r["http-missing"].status == "fail"
    assert r["http-missing"].reason == "check 2: alert sid 2: expected 1, got 0"
    assert "alert.signature_id: want 2, got 1" in r["http-missing"].detail
    assert r["lua-test"].status == "skip"
    assert r["lua-test"].reason == "requires Suricata features Tocsin lacks: HAVE_LUA"
    assert r["lua-test"].category == "feature"
    assert r["no-checks"].status == "pass"  # ran without error: what such a test checks
    assert r["http-ok"].family == "http" and r["lua-test"].family == "detect"


def test_several_failures_are_counted(tmp_path: Path) -> None:
    make_test(tmp_path, "t", TWO_CHECKS, rules=RULES, fake={"events": []})
    (res,) = results(tmp_path).values()
    assert res.reason == "check 1: alert sid 1: expected 1, got 0 (+1 more failing)"
    assert len(res.failures) == 2


def test_run_failures(tmp_path: Path) -> None:
    make_test(
        tmp_path,
        "error",
        TWO_CHECKS,
        rules=RULES,
        fake={"outcome": {"ran": False, "error": "test.rules:1: unknown keyword foo"}},
    )
    make_test(tmp_path, "raises", TWO_CHECKS, rules=RULES, fake={"raise": "engine bug"})
    make_test(tmp_path, "no-eve", TWO_CHECKS, rules=RULES, fake={"no_eve": True})
    make_test(tmp_path, "bad-eve", TWO_CHECKS, rules=RULES, fake={"eve_text": "{nope\n"})
    make_test(
        tmp_path,
        "declined",
        TWO_CHECKS,
        rules=RULES,
        fake={"outcome": {"ran": False, "skip": "stream.async-oneside not supported"}},
    )
    make_test(tmp_path, "silent", TWO_CHECKS, rules=RULES, fake={"outcome": {"ran": False}})
    r = results(tmp_path)
    assert r["error"].status == "fail"
    assert r["error"].reason == "run failed: test.rules:1: unknown keyword foo"
    assert r["raises"].status == "fail"
    assert r["raises"].reason == "the run raised RuntimeError: engine bug"
    assert "RuntimeError" in r["raises"].detail
    assert r["no-eve"].reason == "the run wrote no eve.json"
    assert r["bad-eve"].reason.startswith("unreadable eve.json: eve.json line 1 is not JSON")
    assert (r["declined"].status, r["declined"].category) == ("skip", "engine")
    assert r["declined"].reason == "stream.async-oneside not supported"
    assert r["silent"].status == "fail"


def test_rules_that_do_not_load(tmp_path: Path) -> None:
    fake = {
        "events": [alert(1), alert(2)],
        "outcome": {"ran": True, "rule_errors": ["test.rules:2: sid 3: unknown keyword"]},
    }
    make_test(tmp_path, "t", TWO_CHECKS, rules=RULES, fake=fake)
    (strict,) = results(tmp_path).values()
    assert strict.status == "fail"
    assert strict.reason == "1 rule did not load: test.rules:2: sid 3: unknown keyword"
    (lenient,) = results(tmp_path, strict_rules=False).values()
    assert lenient.status == "pass"
    assert lenient.warnings == ("test.rules:2: sid 3: unknown keyword",)


def test_expected_refusal(tmp_path: Path) -> None:
    refused = {"outcome": {"ran": False, "error": "test.rules:1: bad hex"}, "no_eve": True}
    make_test(tmp_path, "refused", "exit-code: 1\n", rules=RULES, fake=refused)
    make_test(tmp_path, "accepted", "exit-code: 1\n", rules=RULES, fake={"events": []})
    r = results(tmp_path)
    assert r["refused"].status == "pass"
    assert r["refused"].reason == "refused as expected: test.rules:1: bad hex"
    assert r["accepted"].status == "fail"
    assert "expected the rules or pcap to be refused" in r["accepted"].reason


def test_broken_test_fails(tmp_path: Path) -> None:
    make_test(tmp_path, "t", "checks: [\n")
    (res,) = results(tmp_path).values()
    assert res.status == "fail" and res.reason.startswith("broken test: test.yaml unreadable")


def test_alerts_only_and_ignore_keys(tmp_path: Path) -> None:
    checks = """
checks:
  - filter:
      count: 1
      match: {event_type: alert, alert.signature_id: 1, pcap_cnt: 4}
  - filter:
      count: 1
      match: {event_type: http, http.url: /}
"""
    make_test(tmp_path, "t", checks, rules=RULES, fake={"events": [alert(1, pcap_cnt=5)]})
    make_test(
        tmp_path,
        "u",
        "checks:\n  - filter: {count: 1, match: {event_type: dns}}\n",
        fake={"events": []},
    )
    r = results(tmp_path, alerts_only=True, ignore_keys={"pcap_cnt"})
    assert r["t"].status == "pass"
    assert [c.status for c in r["t"].checks] == ["pass", "skip"]
    assert (r["u"].status, r["u"].category) == ("skip", "checks")
    assert r["u"].reason == "no check left to evaluate: not an alert check (alerts only)"


def test_eve_kept_in_output_dir_and_on_result(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    make_test(tests, "dns/q1", TWO_CHECKS, rules=RULES, fake={"events": [alert(1), alert(2)]})
    make_test(tests, "dns/q2", "requires:\n  min-version: 9\n")
    seen: list[str] = []
    report = run_tests(
        discover([tests]),
        fake_run,
        output_dir=tmp_path / "out",
        on_result=lambda r: seen.append(f"{r.status} {r.name}"),
    )
    assert sorted(seen) == ["pass dns/q1", "skip dns/q2"]
    eve = tmp_path / "out" / "dns" / "q1" / "eve.json"
    assert [json.loads(line)["alert"]["signature_id"] for line in eve.read_text().splitlines()] == [
        1,
        2,
    ]
    assert report.passed == 1 and report.skipped == 1 and report.failed == 0


def test_parallel_runs_match_serial(tmp_path: Path) -> None:
    for k in range(6):
        events = [alert(1), alert(2)] if k % 2 else [alert(1)]
        make_test(tmp_path, f"t{k}", TWO_CHECKS, rules=RULES, fake={"events": events})
    make_test(tmp_path, "t9", "requires:\n  min-version: 9\n")
    serial = run_tests(discover([tmp_path]), fake_run)
    parallel = run_tests(discover([tmp_path]), fake_run, jobs=2)
    strip = [(r.name, r.status, r.reason) for r in serial.results]
    assert [(r.name, r.status, r.reason) for r in parallel.results] == strip
    assert (parallel.passed, parallel.failed, parallel.skipped) == (3, 3, 1)


def test_report_counts_families_and_json(tmp_path: Path) -> None:
    make_test(tmp_path, "dns-a", TWO_CHECKS, rules=RULES, fake={"events": [alert(1), alert(2)]})
    make_test(tmp_path, "dns-b", TWO_CHECKS, rules=RULES, fake={"events": []})
    make_test(tmp_path, "tcp-c", "requires:\n  min-version: 9\n")
    make_test(tmp_path, "tcp-d", "requires:\n  min-version: 10\n")
    report = run_tests(discover([tmp_path]), fake_run)
    assert report.by_family() == {
        "dns": {"pass": 1, "fail": 1, "skip": 0},
        "stream/tcp": {"pass": 0, "fail": 0, "skip": 2},
    }
    assert report.skip_reasons() == [
        ("version", 2, "requires min-version 9 (Tocsin is judged as Suricata 8.0.0)")
    ]
    data = json.loads(report.to_json())
    assert data["counts"] == {"passed": 1, "failed": 1, "skipped": 2}
    assert data["judged_as_suricata"] == "8.0.0"
    b = next(t for t in data["tests"] if t["name"] == "dns-b")
    assert b["status"] == "fail" and b["checks"][0]["message"].startswith("check 1: alert sid 1")
    assert isinstance(report, Report)


@pytest.mark.parametrize("jobs", [1, 2])
def test_plan_reaches_the_engine(tmp_path: Path, jobs: int) -> None:
    """The plan `run` receives (pickled to a worker with jobs=2) carries the pcap, rules and
    settings: the fake records them as an event, which the test's own checks look at."""
    checks = """
args: [-k none --set stream.midstream=true --set vars.address-groups.HOME_NET=10.9.0.0/16]
checks:
  - filter:
      count: 1
      match:
        event_type: plan
        pcap: input.pcap
        rules: [test.rules]
        settings: {midstream: true, checksum: none, inline: false, home_net: 10.9.0.0/16}
"""
    make_test(tmp_path, "t", checks, rules=RULES, fake={"record": True})
    make_test(tmp_path, "u", checks, rules=RULES, fake={"record": True})
    report = run_tests(discover([tmp_path]), fake_run, jobs=jobs)
    assert report.passed == 2, [r.reason for r in report.results]
