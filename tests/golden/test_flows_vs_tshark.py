"""Golden tests: the whole pipeline on real captures, checked against tshark and declared facts.

Fixtures: `tests/fixtures/golden/<name>/` (see PROVENANCE.md), each with `input.pcap[ng]` and

- `expected.json`: tshark's TCP/UDP conversations (written by `scripts/golden_expectations.py`,
  never run here): Tocsin's TCP/UDP flow events must be the same conversations, with the same
  packets and bytes per direction;
- `checks.json` (optional): declarative expectations in the shape of suricata-verify's
  `test.yaml` — `filter` (number of events matching every dotted field) and `stats` (fields of
  the last stats event).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .flowmatch import (
    compare,
    fixture_capture,
    golden_fixtures,
    read_eve,
    run_tocsin,
    tcp_udp_flows,
)

WITH_EXPECTED = [p for p in golden_fixtures() if (p / "expected.json").exists()]
WITH_CHECKS = [p for p in golden_fixtures() if (p / "checks.json").exists()]


@pytest.fixture(scope="module")
def eve_of(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Analyse a fixture once per module; returns its EVE events."""
    cache: dict[Path, list[dict[str, Any]]] = {}

    def run(folder: Path) -> list[dict[str, Any]]:
        if folder not in cache:
            eve = tmp_path_factory.mktemp(folder.name) / "eve.json"
            result = run_tocsin([fixture_capture(folder)], eve)
            assert result.errors == []
            cache[folder] = read_eve(eve)
        return cache[folder]

    return run


def test_enough_fixtures() -> None:
    assert len(WITH_EXPECTED) >= 8
    for folder in WITH_EXPECTED:
        assert fixture_capture(folder).stat().st_size < 300_000


@pytest.mark.parametrize("folder", WITH_EXPECTED, ids=lambda p: p.name)
def test_flows_equal_tshark_conversations(folder: Path, eve_of: Any) -> None:
    expected = json.loads((folder / "expected.json").read_text())
    convs = expected["conversations"]
    assert convs, "a golden capture without any TCP/UDP conversation checks nothing"
    flows = tcp_udp_flows(eve_of(folder))
    problems = compare(flows, convs)
    assert problems == [], "\n".join(problems)


def _get(event: Any, dotted: str) -> Any:
    """`a.b.c` inside nested dicts; a missing key gives the `_MISSING` marker."""
    node = event
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def _matches(event: dict[str, Any], match: dict[str, Any]) -> bool:
    return all(_get(event, k) == v for k, v in match.items())


def evaluate(events: list[dict[str, Any]], checks: list[dict[str, Any]]) -> list[str]:
    failures: list[str] = []
    stats = [e for e in events if e.get("event_type") == "stats"]
    for check in checks:
        if "filter" in check:
            f = check["filter"]
            n = sum(1 for e in events if _matches(e, f["match"]))
            if n != f["count"]:
                failures.append(f"{f['match']}: {n} events, want {f['count']}")
        elif "stats" in check:
            assert stats, "no stats event"
            for k, v in check["stats"].items():
                got = _get(stats[-1]["stats"], k)
                if got != v:
                    failures.append(
                        f"stats.{k} = {got if got is not _MISSING else 'missing'}, want {v}"
                    )
        else:
            raise AssertionError(f"unknown check {check}")
    return failures


@pytest.mark.parametrize("folder", WITH_CHECKS, ids=lambda p: p.name)
def test_declared_checks(folder: Path, eve_of: Any) -> None:
    doc = json.loads((folder / "checks.json").read_text())
    assert doc["checks"]
    failures = evaluate(eve_of(folder), doc["checks"])
    assert failures == [], "\n".join(failures)


def test_evaluate_can_fail() -> None:
    """The check evaluator itself: wrong counts, values and missing stats are reported."""
    events = [
        {"event_type": "flow", "proto": "UDP", "flow": {"pkts_toserver": 1}},
        {"event_type": "stats", "stats": {"decoder": {"pkts": 1}}},
    ]
    assert evaluate(events, [{"filter": {"count": 1, "match": {"flow.pkts_toserver": 1}}}]) == []
    assert evaluate(events, [{"filter": {"count": 2, "match": {"proto": "UDP"}}}])
    assert evaluate(events, [{"filter": {"count": 1, "match": {"flow.pkts_toserver": 2}}}])
    assert evaluate(events, [{"stats": {"decoder.pkts": 2}}])
    assert evaluate(events, [{"stats": {"decoder.bytes": 0}}])


def test_compare_can_fail() -> None:
    """The flow comparison itself: a swapped direction, a missing and an extra flow are caught."""
    conv = {
        "proto": "TCP",
        "a_ip": "10.0.0.1",
        "a_port": 1000,
        "b_ip": "10.0.0.2",
        "b_port": 80,
        "packets_ab": 3,
        "packets_ba": 2,
        "bytes_ab": 300,
        "bytes_ba": 200,
    }
    flow = {
        "proto": "TCP",
        "src_ip": "10.0.0.2",
        "src_port": 80,
        "dest_ip": "10.0.0.1",
        "dest_port": 1000,
        "flow": {
            "pkts_toserver": 2,
            "pkts_toclient": 3,
            "bytes_toserver": 200,
            "bytes_toclient": 300,
        },
    }
    assert compare([flow], [conv]) == []
    swapped = {**flow, "flow": {**flow["flow"], "pkts_toserver": 3, "pkts_toclient": 2}}
    assert compare([swapped], [conv])
    assert compare([], [conv])
    assert compare([flow, {**flow, "src_port": 81}], [conv])
