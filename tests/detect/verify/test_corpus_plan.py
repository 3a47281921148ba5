"""The whole suricata-verify suite of the shared corpus through the planner, and the check
evaluator against the corpus's reference checker.

The corpus is `$TOCSIN_CORPUS` (default `<repo>/../shared/corpus`); without its
`suricata-verify/tests` the module is skipped. Planning reads files only (no engine run):
every test is planned without an exception and none is broken; the 43 tests of
`suricata-verify/SELECTED.md` (the detection tests chosen to judge Tocsin) are planned to run.
`test_planning_statistics` prints how many tests would run and why the others are skipped.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tocsin.detect.verify import NotPlanned, TestCase, TestPlan, discover
from tocsin.detect.verify.checks import event_matches

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
SV = CORPUS / "suricata-verify"
if not (SV / "tests").is_dir():
    pytest.skip(
        f"suricata-verify corpus not found at {SV}/tests: set TOCSIN_CORPUS to the shared corpus",
        allow_module_level=True,
    )

pytestmark = pytest.mark.corpus

# SELECTED.md's tests whose own `requires` asks for a later Suricata than the one Tocsin is
# judged as: planned to run only when test-level versions are not enforced (the corpus's
# reference checker does not enforce them)
NEWER_THAN_JUDGED = {"compress_ipv6-01": "requires min-version 9"}


@pytest.fixture(scope="module")
def cases() -> list[TestCase]:
    return discover([SV / "tests"])


@pytest.fixture(scope="module")
def plans(cases: list[TestCase]) -> dict[str, TestPlan | NotPlanned]:
    return {c.name: c.plan() for c in cases}


def selected() -> list[str]:
    data = json.loads((SV / "selected.json").read_text())
    return [t["test"] for t in data["tests"]]


def test_every_test_is_planned(cases: list[TestCase], plans: dict[str, Any]) -> None:
    assert len(cases) > 2000, f"only {len(cases)} tests found under {SV / 'tests'}"
    broken = {n: p.reason for n, p in plans.items() if isinstance(p, NotPlanned) and p.broken}
    assert not broken, broken
    running = [p for p in plans.values() if isinstance(p, TestPlan)]
    assert len(running) > 1200, "the planner skips far more than expected"
    for p in running:
        assert p.pcap.is_file() and all(f.is_file() for f in p.rule_files)


def test_selected_tests_are_planned_to_run(cases: list[TestCase]) -> None:
    by_name = {c.name: c for c in cases}
    names = selected()
    assert len(names) == 43
    refused = {}
    for name in names:
        p = by_name[name].plan()
        if isinstance(p, NotPlanned):
            refused[name] = p.reason
        else:
            assert p.rule_files, f"{name}: a detection test planned without rules"
            assert any(c.skip is None for c in p.checks), f"{name}: every check skipped"
    assert {n: r.split(" (")[0] for n, r in refused.items()} == NEWER_THAN_JUDGED
    for name in names:  # with the corpus checker's convention, all 43 run
        assert isinstance(by_name[name].plan(test_versions=False), TestPlan), name


def test_selected_settings(cases: list[TestCase]) -> None:
    """SELECTED.md's "engine settings" column, as planned."""
    by_name = {c.name: c.plan(test_versions=False) for c in cases}
    p = by_name["detect-http-uri/UriTestSig01"]
    assert isinstance(p, TestPlan)
    assert p.settings.checksum == "none" and p.settings.inline and not p.settings.midstream
    p = by_name["dns/dns-query/dns-detect-query-03"]
    assert isinstance(p, TestPlan) and p.settings.midstream and p.settings.inline
    p = by_name["threshold/threshold-rule-flow-backoff-single-flow"]
    assert isinstance(p, TestPlan) and p.pcap.name == "filecontainer-smb.pcap"
    p = by_name["alert-distance-within-1"]
    assert isinstance(p, TestPlan) and p.settings.eve_types == {"alert", "http"}


def test_planning_statistics(plans: dict[str, TestPlan | NotPlanned]) -> None:
    skipped = [p for p in plans.values() if isinstance(p, NotPlanned)]
    categories = Counter(p.category for p in skipped)
    reasons = Counter(re.sub(r"(version|Suricata) [\d.]+", r"\1 X", p.reason) for p in skipped)
    checks = Counter(
        "evaluated" if c.skip is None else "skipped"
        for p in plans.values()
        if isinstance(p, TestPlan)
        for c in p.checks
    )
    lines = [
        f"suricata-verify: {len(plans)} tests, {len(plans) - len(skipped)} planned to run, "
        f"{len(skipped)} skipped; checks of planned tests: {dict(checks)}",
        "  skipped by category: " + ", ".join(f"{c} {n}" for c, n in categories.most_common()),
        "  most common reasons:",
        *(f"    {n:4d}  {why}" for why, n in reasons.most_common(25)),
    ]
    print("\n" + "\n".join(lines))
    assert categories["broken"] == 0


def test_checks_agree_with_the_reference_checker(cases: list[TestCase]) -> None:
    """Our `event_matches` and the corpus's `tools/sv_check.py` (itself differential-tested
    against suricata-verify) agree on every filter of the suite, on an event built to match
    it and on random mutations of that event."""
    from corpus.svjudge import load_sv_check

    sv = load_sv_check(CORPUS / "tools" / "sv_check.py")
    rnd = random.Random(8)
    n = 0
    for case in cases:
        for entry in case.config.get("checks") or []:
            spec = entry.get("filter") if isinstance(entry, dict) else None
            if not isinstance(spec, dict) or not isinstance(spec.get("match"), dict):
                continue
            match = spec["match"]
            base = _event_for(match)
            for event in [base, *(_mutate(base, rnd) for _ in range(4))]:
                try:
                    want = sv.event_matches(event, match)
                except TypeError:
                    continue  # sv_check stops on a wrong type; we answer "no match"
                assert event_matches(event, match) == want, (case.name, match, event)
                n += 1
    assert n > 30_000


def _event_for(match: dict[str, Any]) -> dict[str, Any]:
    """An event meant to match `match` (best effort: paths built, suffixes satisfied)."""
    event: dict[str, Any] = {}
    for key, value in match.items():
        if key in ("has-key", "not-has-key"):
            continue
        parts = str(key).split(".")
        if parts[-1].startswith("__"):
            suffix = parts.pop()
            if suffix == "__len" and isinstance(value, int) and value >= 0:
                value = [0] * value
            elif suffix == "__gt" and isinstance(value, int | float):
                value += 1
            elif suffix == "__lt" and isinstance(value, int | float):
                value -= 1
            elif suffix == "__contains":
                value = [value]
        _put(event, parts, value)
    return event


def _put(obj: Any, parts: list[str], value: Any) -> None:
    for i, part in enumerate(parts):
        m = re.match(r"^(.*)\[(\d+)\]$", part)
        name, index = (m.group(1), int(m.group(2))) if m else (part, None)
        if not isinstance(obj, dict):
            return
        last = i == len(parts) - 1
        if index is None:
            if last:
                obj[name] = value
                return
            obj = obj.setdefault(name, {})
            continue
        items = obj.setdefault(name, [])
        if not isinstance(items, list):
            return
        while len(items) <= index:
            items.append({} if not last else None)
        if last:
            items[index] = value
            return
        obj = items[index]


def _mutate(event: dict[str, Any], rnd: random.Random) -> dict[str, Any]:
    out = json.loads(json.dumps(event))
    node: Any = out
    while isinstance(node, dict | list) and node:
        if isinstance(node, list):
            if rnd.random() < 0.3:
                node.pop()
                break
            node = rnd.choice(node)
            continue
        key = rnd.choice(list(node))
        r = rnd.random()
        if r < 0.3:
            del node[key]
            break
        if r < 0.6 and not isinstance(node[key], dict | list):
            node[key] = rnd.choice([0, 1, "x", None, True, [1], {"a": 1}, str(node[key])])
            break
        node = node[key]
    return out
