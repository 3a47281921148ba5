"""behaviour.arp_scan and behaviour.arp_spoof, from ArpEvents and end to end (the pipeline
builds ArpEvents for the correlator without writing them to EVE)."""

from __future__ import annotations

import json
from pathlib import Path

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour.arp_scan import ArpScan
from tocsin.detect.behaviour.arp_spoof import ArpSpoof
from tocsin.model.arp import ArpEvent, ArpInfo, parse_arp
from tocsin.output.timefmt import eve_timestamp

FIX = Path(__file__).parents[2] / "fixtures" / "correlate"
S = 1_000_000
T0 = 1_700_000_000 * S
ZERO = "00:00:00:00:00:00"
SCANNER = "02:00:00:00:00:66"


def arp(t: int, op: str, smac: str, sip: str, dip: str, dmac: str = ZERO) -> ArpEvent:
    return ArpEvent(
        timestamp=eve_timestamp(t),
        arp=ArpInfo(opcode=op, src_mac=smac, src_ip=sip, dest_mac=dmac, dest_ip=dip),
    )


def test_parse_arp_reads_an_ethernet_ipv4_header() -> None:
    b = bytes.fromhex("0001080006040001020000000066c0a80105000000000000c0a80109")
    info = parse_arp(b)
    assert info is not None and info.opcode == "request"
    assert (info.src_mac, info.src_ip, info.dest_ip) == (SCANNER, "192.168.1.5", "192.168.1.9")
    assert parse_arp(b[:20]) is None
    assert parse_arp(b"\x00\x06" + b[2:]) is None  # not Ethernet hardware


def test_arp_scan_alerts_with_targets_and_answers() -> None:
    evs = []
    for i in range(1, 60):
        t = T0 + i * 10_000
        evs.append(arp(t, "request", SCANNER, "10.0.0.5", f"10.0.0.{i + 10}"))
        if i % 3 == 0:
            evs.append(
                arp(
                    t + 100,
                    "reply",
                    f"02:00:00:00:01:{i:02x}",
                    f"10.0.0.{i + 10}",
                    "10.0.0.5",
                    SCANNER,
                )
            )
    alerts = feed(ArpScan(), evs)
    assert names(alerts) == ["behaviour.arp_scan"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_004 and a.src_ip == "10.0.0.5"
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert (
        ev["targets"] == 30 and ev["src_mac"] == SCANNER and ev["answered"] == 9
    )  # replies before the 30th request
    assert ev["targets_sample"][0] == "10.0.0.11"


def test_arp_scan_near_misses() -> None:
    evs = []
    for i in range(200):
        t = T0 + i * S
        evs.append(arp(t, "request", SCANNER, "10.0.0.5", "10.0.0.5"))  # gratuitous
        evs.append(arp(t, "request", SCANNER, "0.0.0.0", f"10.0.0.{i % 250}"))  # probes
        # a host resolving its few usual neighbours, over and over
        evs.append(arp(t, "request", "02:00:00:00:00:07", "10.0.0.7", f"10.0.0.{1 + i % 8}"))
        # unicast refreshes of a known MAC
        evs.append(
            arp(
                t,
                "request",
                "02:00:00:00:00:01",
                "10.0.0.1",
                f"10.0.1.{i % 250}",
                "02:00:00:00:09:09",
            )
        )
    # a router resolving 100 hosts, one every 3 s: never 30 in 60 s
    evs += [
        arp(T0 + i * 3 * S, "request", "02:00:00:00:00:01", "10.0.0.1", f"10.0.2.{i}")
        for i in range(100)
    ]
    assert feed(ArpScan(), sorted(evs, key=lambda e: e.timestamp)) == []


def test_arp_spoof_flip_flop_and_impersonation() -> None:
    gw, real, evil = "10.0.0.1", "02:00:00:00:00:01", "02:00:00:00:00:66"
    evs = [
        arp(T0, "reply", real, gw, "10.0.0.5", "02:00:00:00:00:05"),
        arp(T0 + 5 * S, "reply", evil, gw, "10.0.0.5", "02:00:00:00:00:05"),  # second MAC
        arp(T0 + 9 * S, "request", evil, "10.0.0.66", gw),  # asks for what it claimed
    ]
    alerts = feed(ArpSpoof(), evs)
    assert [a.alert.signature_id for a in alerts] == [8_000_005, 8_000_006]
    flip = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert (flip["previous_mac"], flip["new_mac"]) == (real, evil)
    imp = alerts[1].alert.context["evidence"]  # type: ignore[index]
    assert imp["src_mac"] == evil and imp["claimed_address"] == gw


def test_arp_spoof_near_misses() -> None:
    evs = [
        arp(T0, "reply", "02:00:00:00:00:01", "10.0.0.9", "10.0.0.5"),
        arp(T0 + S, "reply", "02:00:00:00:00:01", "10.0.0.9", "10.0.0.5"),  # same MAC again
        arp(T0 + 3600 * S, "request", "02:00:00:00:00:02", "10.0.0.9", "10.0.0.1"),  # re-assigned
        arp(T0 + 3601 * S, "request", "02:00:00:00:00:03", "0.0.0.0", "10.0.0.9"),  # a probe
        arp(T0 + 3602 * S, "request", "02:00:00:00:00:02", "10.0.0.9", "10.0.0.9"),  # gratuitous
    ]
    assert feed(ArpSpoof(), evs) == []


def test_slips_arp_scan_end_to_end(tmp_path: Path) -> None:
    alerts = analyze_alerts(
        [FIX / "slips-test8-arp-scan.pcap"], tmp_path, only=["behaviour.arp_scan"]
    )
    assert names(alerts) == ["behaviour.arp_scan"]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["src_mac"] == "50:ed:3c:39:bc:d9" and ev["targets"] >= 30
    # ARP packets reach the correlator only: no `arp` event in the EVE file
    types = {json.loads(x)["event_type"] for x in (tmp_path / "eve.json").read_text().splitlines()}
    assert "arp" not in types


def test_chrissanders_arp_poisoning_end_to_end(tmp_path: Path) -> None:
    alerts = analyze_alerts(
        [FIX / "chrissanders-arppoison.pcapng"], tmp_path, only=["behaviour.arp_spoof"]
    )
    assert [a["alert"]["signature_id"] for a in alerts] == [8_000_006]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["src_mac"] == "00:25:b3:bf:91:ee" and ev["claimed_address"] == "172.16.0.1"
