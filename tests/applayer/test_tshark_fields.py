"""The tshark judge on in-repo captures: DNS query names, HTTP hosts and URIs and TLS SNIs of
Tocsin's events equal what tshark extracts (the default-suite slice of
`tests/corpus/test_applayer_tshark.py`; same comparison, `golden.appmatch.compare_fields`).

Fixtures: `tests/fixtures/applayer/judges/` (see PROVENANCE.md), with tshark's values in
`tshark_fields.json`, written by `scripts/applayer_expectations.py --fixtures` (tshark is never
run here). A field is judged only when the judges' registry (`golden.appmatch.judge_registry()`,
by default `tocsin.applayer.registry.builtin()`) has the parser that writes it: a protocol whose
parser is not wired yet is skipped by name, and judged as soon as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from golden.appmatch import (
    FIELD_PROTO,
    JUDGES,
    compare_fields,
    judge_registry,
    read_eve,
    registered,
    run_app,
)

DOC: dict[str, Any] = json.loads((JUDGES / "tshark_fields.json").read_text())
RECORDS = {r["capture"]: r for r in DOC["records"]}


def test_fixtures_are_small_and_listed() -> None:
    captures = sorted(p.name for p in JUDGES.glob("*.pcap*"))
    assert 3 <= len(captures) <= 5
    assert sorted(RECORDS) == captures, "re-run scripts/applayer_expectations.py --fixtures"
    provenance = (JUDGES / "PROVENANCE.md").read_text()
    for name in captures:
        assert (JUDGES / name).stat().st_size < 200_000
        assert f"`{name}`" in provenance, f"{name} has no provenance line"


@pytest.mark.parametrize("capture", sorted(RECORDS))
def test_fields_equal_tshark(capture: str, tmp_path: Path) -> None:
    registry = judge_registry()
    have = registered(registry)
    record = RECORDS[capture]
    judged = {
        f
        for f, proto in FIELD_PROTO.items()
        if proto in have and any(f in flow for flow in record["flows"])
    }
    if not judged:
        wanted = sorted(
            {FIELD_PROTO[f] for flow in record["flows"] for f in FIELD_PROTO if f in flow}
        )
        pytest.skip(f"no parser registered yet for {', '.join(wanted)}")
    eve = tmp_path / "eve.json"
    run_app(JUDGES / capture, eve, registry=registry)
    result = compare_fields(record, read_eve(eve))
    problems = [p for p in result.problems if p.split(":", 1)[0] in judged]
    assert problems == [], "\n".join(problems)
    assert sum(result.compared[f] for f in judged) > 0


def test_compare_fields_can_fail() -> None:
    """The comparison itself: a missing value, an extra value, the URI-with-space rule, values
    on connections tshark does not dissect and on connections Tocsin has no flow for."""
    record = {
        "flows": [
            {"proto": "UDP", "ends": ["10.0.0.1:1000", "10.0.0.2:53"], "dns": ["a.example"]},
            {"proto": "TCP", "ends": ["10.0.0.1:1001", "10.0.0.2:80"], "http_uri": ["/x"]},
            {"proto": "TCP", "ends": ["10.0.0.1:1002", "10.0.0.9:80"], "http_uri": ["/gone"]},
        ]
    }

    def ev(kind: str, proto: str, sport: int, dport: int, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "event_type": kind,
            "proto": proto,
            "src_ip": "10.0.0.1",
            "src_port": sport,
            "dest_ip": "10.0.0.2",
            "dest_port": dport,
            kind: body,
        }

    flows = [
        ev("flow", "UDP", 1000, 53, {}),
        ev("flow", "TCP", 1001, 80, {}),
        ev("flow", "UDP", 1003, 5353, {}),
    ]
    good = [
        *flows,
        ev("dns", "UDP", 1000, 53, {"queries": [{"rrname": "a.example"}]}),
        ev("http", "TCP", 1001, 80, {"url": "/x"}),
        ev("dns", "UDP", 1003, 5353, {"queries": [{"rrname": "mdns.local"}]}),
    ]
    result = compare_fields(record, good)
    assert result.problems == []
    assert result.left_out["dns: Tocsin's value on a flow tshark does not dissect"] == 1
    assert result.left_out["a connection Tocsin's decoder does not produce (encapsulation)"] == 1
    assert compare_fields(record, good[:3] + good[4:]).problems  # a.example missing
    extra = ev("dns", "UDP", 1000, 53, {"queries": [{"rrname": "b.example"}]})
    assert compare_fields(record, [*good, extra]).problems
    spaced = [*good[:4], ev("http", "TCP", 1001, 80, {"url": "/x y"}), good[5]]
    assert compare_fields(record, spaced).problems == []
    other = [*good[:4], ev("http", "TCP", 1001, 80, {"url": "/xy"}), good[5]]
    assert compare_fields(record, other).problems
