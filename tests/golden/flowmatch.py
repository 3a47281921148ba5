"""Helpers shared by the golden and corpus judges: run Tocsin, read EVE, match flows to tshark.

`compare(flows, conversations)` returns human-readable differences (empty when Tocsin's TCP/UDP
flow events equal tshark's conversations): counts, then per conversation (matched on the
direction-free endpoint pair) packets and bytes per direction, tshark's A→B mapped to EVE's
src→dest (or dest→src when Tocsin chose the other side as client).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "golden"
SURICATA_SCHEMA = REPO / "tests" / "fixtures" / "suricata" / "schema.json"


def expectations_module() -> ModuleType:
    """`scripts/golden_expectations.py`, imported by path (scripts/ is not a package)."""
    name = "golden_expectations"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def golden_fixtures() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if p.is_dir())


def fixture_capture(folder: Path) -> Path:
    found = sorted(folder.glob("input.pcap*"))
    assert len(found) == 1, f"{folder}: want one input.pcap[ng], found {found}"
    return found[0]


def read_eve(path: Path) -> list[dict[str, Any]]:
    """Every EVE line of `path` as a dict (each line must be one JSON object)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_tocsin(captures: Sequence[Path], eve: Path, flow_cap: int = 1_000_000) -> Any:
    """Analyse `captures` in-process (no CLI start-up); returns the `AnalysisResult`."""
    from tocsin.flow.table import FlowConfig
    from tocsin.runtime.analyze import analyze
    from tocsin.runtime.pipeline import PipelineConfig

    return analyze(list(captures), eve, PipelineConfig(flow=FlowConfig(cap=flow_cap)))


def _ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


def key(proto: str, ip1: str, port1: int, ip2: str, port2: int) -> tuple[Any, ...]:
    a = (_ip(ip1), int(port1))
    b = (_ip(ip2), int(port2))
    return (proto, *sorted((a, b)))


def tcp_udp_flows(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in events if e.get("event_type") == "flow" and e.get("proto") in ("TCP", "UDP")]


def compare(flows: Sequence[Mapping[str, Any]], convs: Sequence[Mapping[str, Any]]) -> list[str]:
    """Differences between Tocsin's TCP/UDP flow events and tshark's conversations."""
    problems: list[str] = []
    if len(flows) != len(convs):
        problems.append(f"{len(flows)} TCP/UDP flows, tshark has {len(convs)} conversations")
    by_key: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for f in flows:
        k = key(f["proto"], f["src_ip"], f["src_port"], f["dest_ip"], f["dest_port"])
        by_key.setdefault(k, []).append(f)
    for k, fs in by_key.items():
        if len(fs) > 1:
            problems.append(f"{len(fs)} flows for {k} (split by timeout, reuse or VLAN?)")
    matched: set[tuple[Any, ...]] = set()
    for c in convs:
        k = key(c["proto"], c["a_ip"], c["a_port"], c["b_ip"], c["b_port"])
        fs = by_key.get(k)
        name = f"{c['proto']} {c['a_ip']}:{c['a_port']} <-> {c['b_ip']}:{c['b_port']}"
        if not fs:
            problems.append(f"{name}: no flow event")
            continue
        matched.add(k)
        f = fs[0]
        fl = f["flow"]
        a_is_src = (_ip(c["a_ip"]), int(c["a_port"])) == (_ip(f["src_ip"]), f["src_port"])
        if a_is_src:
            got = (
                fl["pkts_toserver"],
                fl["pkts_toclient"],
                fl["bytes_toserver"],
                fl["bytes_toclient"],
            )
        else:
            got = (
                fl["pkts_toclient"],
                fl["pkts_toserver"],
                fl["bytes_toclient"],
                fl["bytes_toserver"],
            )
        want = (c["packets_ab"], c["packets_ba"], c["bytes_ab"], c["bytes_ba"])
        if sum(got[:2]) != sum(want[:2]) or sum(got[2:]) != sum(want[2:]):
            problems.append(
                f"{name}: total packets/bytes {sum(got[:2])}/{sum(got[2:])}, "
                f"tshark {sum(want[:2])}/{sum(want[2:])}"
            )
        elif got != want:
            problems.append(
                f"{name}: per direction (pkts A→B, B→A, bytes A→B, B→A) {got}, tshark {want}"
            )
    for k, fs in by_key.items():
        if k not in matched:
            f = fs[0]
            problems.append(
                f"flow {f['proto']} {f['src_ip']}:{f['src_port']} -> "
                f"{f['dest_ip']}:{f['dest_port']} is not a tshark conversation"
            )
    return problems
