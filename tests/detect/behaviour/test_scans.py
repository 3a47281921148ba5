"""Scans and sweeps: behaviour.port_scan probe types, behaviour.host_sweep, behaviour.icmp_scan
— from flows (hit and near miss) and from real captures."""

from __future__ import annotations

from pathlib import Path

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.icmp_scan import IcmpScan
from tocsin.detect.behaviour.scan import PortScan, probe_type
from tocsin.detect.behaviour.sweep import HostSweep
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.model.flows import TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN, TH_URG, FlowRow

FIX = Path(__file__).parents[2] / "fixtures" / "correlate"
S = 1_000_000
T0 = 1_700_000_000 * S


def _ev(a: object) -> dict:  # type: ignore[type-arg]
    return a.alert.context["evidence"]  # type: ignore[attr-defined,no-any-return]


# -- port scan types -----------------------------------------------------------------------


def test_every_probe_type_is_named() -> None:
    assert probe_type(6, TH_ACK) == "ACK"
    assert probe_type(6, TH_SYN | TH_ACK | TH_RST) == "CONNECT"
    assert probe_type(6, TH_FIN | TH_PSH | TH_URG) == "XMAS"
    assert probe_type(6, TH_SYN | TH_RST) == "SYN"
    assert probe_type(1, 0) == "OTHER"


def test_udp_scan_answered_by_icmp_unreachable_is_a_udp_port_scan() -> None:
    """Closed UDP ports answer with ICMP port unreachable: a flow of its own (type 3 code 3),
    so the UDP probe's flow has no answer."""
    rows = []
    for p in range(1, 30):
        t = T0 + p * 1000
        rows.append(FlowRow("10.0.0.5", "10.0.0.9", 50000, p, proto=17, first_ts=t, last_ts=t))
        rows.append(FlowRow("10.0.0.9", "10.0.0.5", 3, 3, proto=1, first_ts=t, last_ts=t))
    alerts = feed(PortScan(), [flows(*rows)])
    assert names(alerts) == ["behaviour.port_scan"]
    assert _ev(alerts[0])["scan_type"] == "UDP" and alerts[0].proto == "UDP"


def test_ack_scan_and_open_ports_of_a_syn_scan_count() -> None:
    ack = [
        FlowRow(
            "10.0.0.5",
            "10.0.0.9",
            40000,
            p,
            first_ts=T0 + p,
            last_ts=T0 + p,
            tcp_flags_ts=TH_ACK,
            pkts_tc=1,
            tcp_flags_tc=TH_RST,
        )
        for p in range(1, 25)
    ]
    alerts = feed(PortScan(), [flows(*ack)])
    assert _ev(alerts[0])["scan_type"] == "ACK"
    # open ports answer with a bare SYN/ACK that the scanner drops: still probes
    opened = [
        FlowRow(
            "10.0.0.5",
            "10.0.0.9",
            40000,
            p,
            first_ts=T0 + p,
            last_ts=T0 + p,
            tcp_flags_ts=TH_SYN | TH_RST,
            pkts_ts=2,
            pkts_tc=1,
            tcp_flags_tc=TH_SYN | TH_ACK,
        )
        for p in range(1, 25)
    ]
    assert names(feed(PortScan(), [flows(*opened)])) == ["behaviour.port_scan"]


def test_ndpi_tcp_scan_names_each_probe_type(tmp_path: Path) -> None:
    cfg = CorrelateConfig(
        detectors={"behaviour.port_scan": {"min_ports": 7, "min_stealth_ports": 99}}
    )
    alerts = analyze_alerts(
        [FIX / "ndpi-tcp_scan.pcapng"], tmp_path, only=["behaviour.port_scan"], config=cfg
    )
    assert names(alerts) == ["behaviour.port_scan"]
    types = alerts[0]["alert"]["context"]["evidence"]["probe_types"]
    assert set(types) == {"CONNECT", "SYN", "FIN", "NULL", "XMAS"}
    # at the defaults, seven ports are few, but three NULL/FIN/XMAS probes are a stealth scan
    (alert,) = analyze_alerts(
        [FIX / "ndpi-tcp_scan.pcapng"], tmp_path, only=["behaviour.port_scan"]
    )
    assert "stealth" in alert["alert"]["signature"] and alert["src_ip"] == "192.168.1.178"


def test_nmap_syn_scans_end_to_end(tmp_path: Path) -> None:
    for name, src in (("ndpi-synscan.pcap", None), ("chrissanders-synscan.pcapng", "172.16.0.8")):
        alerts = analyze_alerts([FIX / name], tmp_path, only=["behaviour.port_scan"])
        assert names(alerts) == ["behaviour.port_scan"], name
        assert alerts[0]["alert"]["context"]["evidence"]["scan_type"] == "SYN"
        if src:
            assert alerts[0]["src_ip"] == src


# -- host sweep -----------------------------------------------------------------------------


def _smb(i: int, **kw: int) -> FlowRow:
    t = T0 + i * 10_000
    return FlowRow(
        "10.0.0.66", f"10.1.{i // 250}.{i % 250 + 1}", 49000 + i, 445, first_ts=t, last_ts=t, **kw
    )  # type: ignore[arg-type]


def test_smb_sweep_across_many_hosts_alerts_once_with_evidence() -> None:
    rows = [_smb(i) for i in range(300)] + [
        _smb(i, pkts_tc=1, tcp_flags_tc=TH_RST | TH_ACK) for i in range(300, 320)
    ]
    alerts = feed(HostSweep(), [flows(*rows)])
    assert names(alerts) == ["behaviour.host_sweep"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_002 and a.src_ip == "10.0.0.66" and a.dest_port == 445
    ev = _ev(a)
    assert ev["port"] == 445 and ev["hosts_probed"] == 320 and ev["probe_type"] == "SYN"
    assert ev["hosts_sample"][:2] == ["10.1.0.1", "10.1.0.2"] and len(ev["hosts_sample"]) == 20


def test_sweep_near_misses() -> None:
    # answered connections to many servers: a busy client
    web = [
        _smb(i, pkts_tc=6, bytes_tc=5000, tcp_flags_tc=TH_SYN | TH_ACK | TH_PSH) for i in range(100)
    ]
    assert feed(HostSweep(), [flows(*web)]) == []
    # 29 hosts (below 30); broadcast/multicast destinations are not hosts
    few = [_smb(i) for i in range(29)]
    bcast = [
        FlowRow("10.0.0.66", f"224.0.0.{i}", 5353, 5353, proto=17, first_ts=T0 + i, last_ts=T0 + i)
        for i in range(60)
    ]
    assert feed(HostSweep(), [flows(*few, *bcast)]) == []
    # slow: one host every 20 s never gets 30 in 300 s
    slow = [
        FlowRow(
            "10.0.0.66",
            f"10.1.0.{i + 1}",
            40000,
            445,
            first_ts=T0 + i * 20 * S,
            last_ts=T0 + i * 20 * S,
        )
        for i in range(60)
    ]
    assert feed(HostSweep(), [flows(*slow)]) == []


# -- ICMP sweeps ----------------------------------------------------------------------------


def _ping(i: int, size: int, itype: int = 8, src: str = "10.0.0.7") -> FlowRow:
    t = T0 + i * 5000
    return FlowRow(
        src,
        f"10.3.0.{i + 1}",
        itype,
        0,
        proto=1,
        first_ts=t,
        last_ts=t,
        bytes_ts=size,
        tcp_flags_ts=0,
        pkts_tc=i % 2,
        bytes_tc=size * (i % 2),
    )


def test_empty_echo_sweep_alerts_at_the_low_threshold() -> None:
    alerts = feed(IcmpScan(), [flows(*[_ping(i, 42) for i in range(12)])])
    assert names(alerts) == ["behaviour.icmp_scan"]
    ev = _ev(alerts[0])
    assert ev["empty_probes"] is True and ev["hosts_probed"] == 12 and ev["request"] == "echo"
    assert alerts[0].alert.signature_id == 8_000_003


def test_timestamp_sweep_is_named() -> None:
    alerts = feed(IcmpScan(), [flows(*[_ping(i, 54, itype=13) for i in range(10)])])
    assert alerts[0].alert.signature.startswith("TOCSIN BEHAVIOUR ICMP timestamp sweep")


def test_icmp_near_misses() -> None:
    # a monitoring station pinging 40 devices with a normal payload (98-byte frames)
    assert feed(IcmpScan(), [flows(*[_ping(i, 98) for i in range(40)])]) == []
    # but 50 hosts with a payload is a ping sweep
    assert names(feed(IcmpScan(), [flows(*[_ping(i, 98) for i in range(50)])])) == [
        "behaviour.icmp_scan"
    ]
    # replies and errors are not probes
    rep = [
        FlowRow("10.0.0.7", f"10.3.0.{i}", 0, 8, proto=1, first_ts=T0, last_ts=T0, bytes_ts=42)
        for i in range(1, 40)
    ]
    err = [
        FlowRow("10.0.0.7", f"10.3.0.{i}", 3, 3, proto=1, first_ts=T0, last_ts=T0, bytes_ts=70)
        for i in range(1, 40)
    ]
    assert feed(IcmpScan(), [flows(*rep, *err)]) == []


def test_slips_icmp_sweep_end_to_end(tmp_path: Path) -> None:
    alerts = analyze_alerts([FIX / "slips-test12-icmp-portscan.pcap"], tmp_path)
    assert names(alerts) == ["behaviour.icmp_scan"]
    a = alerts[0]
    assert a["src_ip"] == "192.168.1.109"
    ev = a["alert"]["context"]["evidence"]
    assert ev["hosts_probed"] >= 10 and ev["empty_probes"] is True and ev["hosts_answered"] >= 5


def test_sweep_one_probe_per_batch_is_still_counted() -> None:
    """Flows of a slow-ish sweep arrive one per batch: the NumPy prefilter promotes the source
    at its second host and counts the first one too."""
    batches = [flows(_smb(i)) for i in range(30)]
    alerts = feed(HostSweep(), batches)
    assert names(alerts) == ["behaviour.host_sweep"]
    assert _ev(alerts[0])["hosts_probed"] == 30
    scans = [
        flows(FlowRow("10.0.0.5", "10.0.0.9", 40000, p, first_ts=T0 + p, last_ts=T0 + p))
        for p in range(1, 21)
    ]
    assert names(feed(PortScan(), scans)) == ["behaviour.port_scan"]


def test_spoofed_flood_leaves_no_per_source_state() -> None:
    rows = [
        FlowRow(
            f"{11 + i % 200}.{i // 200 % 250}.1.{i % 250 + 1}",
            "10.1.0.10",
            1024 + i,
            443,
            first_ts=T0 + i,
            last_ts=T0 + i,
        )
        for i in range(20_000)
    ]
    sweep, scan = HostSweep(), PortScan()
    assert feed(sweep, [flows(*rows)]) == [] and feed(scan, [flows(*rows)]) == []
    assert sweep.counters()["tracked"] == 0 and scan.counters()["tracked"] == 0
