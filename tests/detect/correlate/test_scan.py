"""behaviour.port_scan, and the correlator around it: from flows and from a real capture."""

from __future__ import annotations

from pathlib import Path

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.scan import PortScan, PortScanConfig, probe_type
from tocsin.model.flows import TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN, TH_URG, FlowRow

SAMPLES = Path(__file__).parents[3] / "samples"
S = 1_000_000


def _probe(port: int, t: int, src: str = "10.0.0.5", dst: str = "10.0.0.9", **kw: int) -> FlowRow:
    return FlowRow(src, dst, 40000 + port, port, first_ts=t, last_ts=t, **kw)  # type: ignore[arg-type]


def test_syn_probes_to_many_ports_alert_once_with_evidence() -> None:
    rows = [
        _probe(p, 1000 * S + p * 1000, tcp_flags_tc=TH_RST | TH_ACK, pkts_tc=1)
        for p in range(1, 60)
    ]
    alerts = feed(PortScan(), [flows(*rows)])
    assert names(alerts) == ["behaviour.port_scan"]
    a = alerts[0]
    assert (a.src_ip, a.dest_ip) == ("10.0.0.5", "10.0.0.9")
    assert a.alert.gid == 8 and a.alert.signature_id == 8_000_001
    assert a.alert.metadata is not None and a.alert.metadata["mitre_technique_id"] == ["T1046"]
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["ports_probed"] == 20 and ev["scan_type"] == "SYN"
    assert ev["ports_sample"][:3] == [1, 2, 3]


def test_answered_connections_are_not_a_scan() -> None:
    """A host using 40 services that answer (data back) is a busy client, not a scanner."""
    rows = [
        _probe(p, 1000 * S + p, pkts_tc=5, bytes_tc=900, tcp_flags_tc=TH_SYN | TH_ACK | TH_PSH)
        for p in range(1, 41)
    ]
    assert feed(PortScan(), [flows(*rows)]) == []


def test_below_threshold_and_outside_window_do_not_alert() -> None:
    few = [_probe(p, 1000 * S + p) for p in range(1, 20)]  # 19 ports
    assert feed(PortScan(), [flows(*few)]) == []
    slow = [_probe(p, 1000 * S + p * 60 * S) for p in range(1, 30)]  # one port a minute
    assert feed(PortScan(PortScanConfig(window_s=300)), [flows(*slow)]) == []


def test_repeats_fold_within_the_realert_window() -> None:
    rows = [_probe(p, 1000 * S + p) for p in range(1, 100)]
    later = [_probe(p, 1000 * S + 400 * S + p) for p in range(1, 100)]  # a second window
    alerts = feed(PortScan(), [flows(*rows), flows(*later)], realert_s=3600)
    assert len(alerts) == 1
    assert len(feed(PortScan(), [flows(*rows), flows(*later)], realert_s=60)) == 2


def test_probe_types() -> None:
    assert probe_type(6, TH_SYN) == "SYN"
    assert probe_type(6, 0) == "NULL"
    assert probe_type(6, TH_FIN) == "FIN"
    assert probe_type(6, TH_FIN | TH_PSH | TH_URG) == "XMAS"
    assert probe_type(17, 0) == "UDP"


def test_syn_scan_sample_end_to_end(tmp_path: Path) -> None:
    alerts = analyze_alerts([SAMPLES / "syn-scan.pcapng"], tmp_path, only=["behaviour.port_scan"])
    assert names(alerts) == ["behaviour.port_scan"]
    assert alerts[0]["src_ip"] == "172.16.0.8"
    assert alerts[0]["alert"]["context"]["evidence"]["scan_type"] == "SYN"


def test_a_few_stealth_probes_are_a_scan_a_closing_fin_is_not() -> None:
    t = 1000 * S
    stealth = [
        _probe(3390, t + 1, tcp_flags_ts=TH_FIN, tcp_flags_tc=TH_RST | TH_ACK, pkts_tc=1),
        _probe(3391, t + 2, tcp_flags_ts=0, tcp_flags_tc=TH_RST | TH_ACK, pkts_tc=1),
        _probe(3392, t + 3, tcp_flags_ts=TH_FIN | TH_PSH | TH_URG, tcp_flags_tc=TH_RST, pkts_tc=1),
    ]
    (alert,) = feed(PortScan(), [flows(*stealth)])
    assert "stealth" in alert.alert.signature
    assert alert.alert.context["evidence"]["probe_types"] == {"FIN": 1, "NULL": 1, "XMAS": 1}  # type: ignore[index]
    assert feed(PortScan(), [flows(*stealth[:2])]) == []  # two are not enough
    # a connection closed after its state timed out: FIN|ACK, not a bare FIN
    closing = [_probe(p, t + p, tcp_flags_ts=TH_FIN | TH_ACK) for p in range(4000, 4010)]
    assert feed(PortScan(), [flows(*closing)]) == []
