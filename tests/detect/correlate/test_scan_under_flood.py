"""behaviour.port_scan and behaviour.host_sweep under a spoofed flood whose sources each
probe two ports, or two servers (issue 7): the spoofed keys repeat within a millisecond, so a
map that protects any key seen twice let them fill its protected part and push out a slow
real scanner. The scan must still be seen, and the detector's state must stay within its
cap."""

from __future__ import annotations

import pytest

from correlate_kit import feed, flows, names
from tocsin.detect.behaviour.scan import PortScan, PortScanConfig
from tocsin.detect.behaviour.sweep import HostSweep, HostSweepConfig
from tocsin.model.flows import FlowBatch, FlowRow

S = 1_000_000
T0 = 1_700_000_000 * S
CAP = 200  # max_pairs: small, so the flood is many times the map


def _batches(spoofed_per_s: int, *, every_s: int = 8, ports: int = 30) -> list[FlowBatch]:
    """One batch per second of packet time: the real scanner's probe (10.0.0.5 probes one
    port of 10.0.0.9 every `every_s` s: 30 ports in 232 s, inside the 300 s window) and
    `spoofed_per_s` fresh spoofed sources, each probing ports 80 and 443 of the same host
    0.1 ms apart (SYN, no answer)."""
    out, n = [], 0
    for sec in range(ports * every_s + 10):
        t = T0 + sec * S
        rows = []
        if sec % every_s == 0 and sec // every_s < ports:
            p = 1 + sec // every_s
            rows.append(FlowRow("10.0.0.5", "10.0.0.9", 40000 + p, p, first_ts=t, last_ts=t))
        for i in range(spoofed_per_s):
            n += 1
            src = f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"
            for j, port in enumerate((80, 443)):
                ts = t + 1000 * (i + 1) + 100 * j
                rows.append(FlowRow(src, "10.0.0.9", 1024 + j, port, first_ts=ts, last_ts=ts))
        out.append(flows(*rows))
    return out


@pytest.mark.parametrize(
    "spoofed_per_s",
    [
        20,  # 160 spoofed pairs between two probes of the scanner: fewer than the map holds
        100,  # 800 between two probes: four times the map
    ],
)
def test_a_slow_scan_is_seen_through_a_flood_of_two_port_spoofed_sources(
    spoofed_per_s: int,
) -> None:
    det = PortScan(PortScanConfig(max_pairs=CAP))
    alerts = feed(det, _batches(spoofed_per_s))
    assert names(alerts) == ["behaviour.port_scan"]
    assert (alerts[0].src_ip, alerts[0].dest_ip) == ("10.0.0.5", "10.0.0.9")
    c = det.counters()
    assert c["tracked"] <= CAP
    assert c["evicted"] >= 250 * spoofed_per_s - CAP  # every spoofed pair went, counted


def _sweep_batches(spoofed_per_s: int) -> list[FlowBatch]:
    """10.0.0.5 probes port 445 of one more host every 7 s (40 hosts in 273 s), while
    `spoofed_per_s` fresh spoofed sources each send a SYN to port 443 of two servers."""
    out, n = [], 0
    for sec in range(290):
        t = T0 + sec * S
        rows = []
        if sec % 7 == 0 and sec // 7 < 40:
            h = 1 + sec // 7
            rows.append(FlowRow("10.0.0.5", f"10.0.5.{h}", 40000 + h, 445, first_ts=t, last_ts=t))
        for i in range(spoofed_per_s):
            n += 1
            src = f"198.{18 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"
            for j, server in enumerate(("10.1.0.10", "10.1.0.11")):
                ts = t + 1000 * (i + 1) + 100 * j
                rows.append(FlowRow(src, server, 1024 + j, 443, first_ts=ts, last_ts=ts))
        out.append(flows(*rows))
    return out


@pytest.mark.parametrize("spoofed_per_s", [20, 100])
def test_a_slow_sweep_is_seen_through_a_flood_of_spoofed_sources_hitting_two_servers(
    spoofed_per_s: int,
) -> None:
    det = HostSweep(HostSweepConfig(max_sources=CAP))
    alerts = feed(det, _sweep_batches(spoofed_per_s))
    assert names(alerts) == ["behaviour.host_sweep"]
    assert alerts[0].src_ip == "10.0.0.5"
    assert det.counters()["tracked"] <= CAP
