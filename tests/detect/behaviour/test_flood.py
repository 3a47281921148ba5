"""behaviour.flood: SYN, UDP, ICMP and amplification floods against one host's baseline —
from flows (hit, near miss, baseline, bounded state) and from a generated capture."""

from __future__ import annotations

import sys
from pathlib import Path

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.flood import Flood, FloodConfig
from tocsin.model.flows import TH_ACK, TH_FIN, TH_PSH, TH_SYN, FlowBatch, FlowRow

sys.path.insert(0, str(Path(__file__).parent))
from floodcap import busy_server, syn_flood, write_pcap

S = 1_000_000
T0 = 1_700_000_000 * S
VICTIM = "10.1.0.10"


def _syns(n: int, t: int, span_s: float = 5.0, dport: int = 443) -> FlowBatch:
    rows = []
    for i in range(n):
        ts = t + int(i * span_s * S / n)
        src = f"{11 + i % 200}.{(i // 200) % 250}.{i % 7}.{1 + i % 250}"
        rows.append(
            FlowRow(
                src,
                VICTIM,
                1024 + i % 60000,
                dport,
                first_ts=ts,
                last_ts=ts,
                pkts_tc=1,
                tcp_flags_tc=TH_SYN | TH_ACK,
            )
        )
    return flows(*rows)


def _ev(a: object) -> dict:  # type: ignore[type-arg]
    return a.alert.context["evidence"]  # type: ignore[attr-defined,no-any-return]


def test_syn_flood_alerts_with_rate_sources_and_ports() -> None:
    alerts = feed(Flood(), [_syns(5000, T0 + 1 * S)])
    assert names(alerts) == ["behaviour.flood"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_010 and a.dest_ip == VICTIM and a.dest_port == 443
    ev = _ev(a)
    assert ev["kind"] == "syn" and ev["in_window"] >= 2000 and ev["rate_per_s"] >= 200
    assert ev["distinct_sources"] >= 1000 and len(ev["sources_sample"]) == 10
    assert ev["target_ports"][0]["port"] == 443


def test_completed_handshakes_and_a_small_burst_are_not_a_flood() -> None:
    done = [
        FlowRow(
            f"10.2.{i // 250}.{i % 250}",
            VICTIM,
            30000 + i,
            443,
            first_ts=T0 + i * 1000,
            last_ts=T0 + i * 1000 + 5000,
            pkts_ts=6,
            pkts_tc=6,
            bytes_tc=9000,
            tcp_flags_ts=TH_SYN | TH_ACK | TH_PSH | TH_FIN,
            tcp_flags_tc=TH_SYN | TH_ACK | TH_PSH | TH_FIN,
        )
        for i in range(8000)
    ]
    assert feed(Flood(), [flows(*done)]) == []
    assert feed(Flood(), [_syns(1500, T0)]) == []  # below the floor


def test_the_baseline_raises_the_bar_for_a_host_always_that_busy() -> None:
    """A host that always sees 300 half-open flows per window (a tarpit, a scanner-facing
    service) gets a baseline near 300: with the floor at 500, 2,000 in a window is below
    8 x baseline and does not alert, though it alerts on a fresh host; 3,000 alerts."""
    cfg = FloodConfig(syn_floor=500)
    steady = [_syns(300, T0 + w * 10 * S, span_s=9.0) for w in range(40)]
    det = Flood(cfg)
    assert feed(det, [*steady, _syns(2000, T0 + 41 * 10 * S, span_s=9.0)]) == []
    t = det.targets.get((4, 0, 0xFFFF_0A01_000A))
    assert t is not None and 250 < t.series["syn"].baseline < 320
    assert names(feed(Flood(cfg), [_syns(2000, T0 + 41 * 10 * S, span_s=9.0)])) == [
        "behaviour.flood"
    ]
    alerts = feed(Flood(cfg), [*steady, _syns(3000, T0 + 41 * 10 * S, span_s=9.0)])
    assert names(alerts) == ["behaviour.flood"]
    assert _ev(alerts[0])["baseline_per_window"] > 250


def test_udp_icmp_and_amplification_kinds() -> None:
    udp = flows(
        *[
            FlowRow(
                f"203.0.113.{i % 250}",
                VICTIM,
                5000 + i,
                80,
                proto=17,
                first_ts=T0 + i,
                last_ts=T0 + i,
                pkts_ts=100,
                bytes_ts=100 * 1200,
                tcp_flags_ts=0,
            )
            for i in range(1500)
        ]
    )
    icmp = flows(
        *[
            FlowRow(
                f"198.51.100.{i % 250}",
                VICTIM,
                8,
                0,
                proto=1,
                first_ts=T0 + i,
                last_ts=T0 + i,
                pkts_ts=50,
                bytes_ts=50 * 98,
                tcp_flags_ts=0,
            )
            for i in range(500)
        ]
    )
    amp = flows(
        *[
            FlowRow(
                f"192.0.2.{i % 250}",
                VICTIM,
                53,
                40000 + i,
                proto=17,
                first_ts=T0 + i,
                last_ts=T0 + i,
                pkts_ts=20,
                bytes_ts=20 * 3000,
                tcp_flags_ts=0,
            )
            for i in range(400)
        ]
    )
    alerts = feed(Flood(), [udp, icmp, amp])
    sids = sorted(a.alert.signature_id for a in alerts)
    assert sids == [8_000_011, 8_000_012, 8_000_013]
    amp_ev = next(_ev(a) for a in alerts if a.alert.signature_id == 8_000_013)
    assert amp_ev["source_ports"][0]["port"] == 53 and amp_ev["unit"] == "bytes"


def test_answered_udp_and_own_dns_answers_are_not_floods() -> None:
    # a busy DNS server: every query answered
    dns = flows(
        *[
            FlowRow(
                f"10.3.{i // 250}.{i % 250}",
                VICTIM,
                5000 + i,
                53,
                proto=17,
                first_ts=T0 + i,
                last_ts=T0 + i,
                pkts_ts=50,
                pkts_tc=50,
                bytes_ts=50 * 80,
                bytes_tc=50 * 200,
                tcp_flags_ts=0,
            )
            for i in range(3000)
        ]
    )
    # a resolver's own queries: it initiated them (sport random, dport 53), answers come back
    own = flows(
        *[
            FlowRow(
                VICTIM,
                f"192.0.2.{i % 250}",
                40000 + i,
                53,
                proto=17,
                first_ts=T0 + i,
                last_ts=T0 + i,
                pkts_ts=1,
                pkts_tc=1,
                bytes_ts=80,
                bytes_tc=3000,
                tcp_flags_ts=0,
            )
            for i in range(10000)
        ]
    )
    assert feed(Flood(), [dns, own]) == []


def test_state_stays_bounded_under_spoofed_sources() -> None:
    det = Flood(FloodConfig(source_cap=100, max_targets=10))
    feed(det, [_syns(5000, T0)])
    t = det.targets.get((4, 0, 0xFFFF_0A01_000A))
    assert t is not None
    w = next(iter(t.series["syn"].open.values()))
    assert len(w.sources) == 100 and w.sources_over > 0
    many = flows(
        *[
            FlowRow("10.9.9.9", f"10.5.0.{i}", 1000, 80, first_ts=T0, last_ts=T0)
            for i in range(1, 40)
        ]
    )
    feed(det, [many])
    assert len(det.targets) == 10 and det.counters()["evicted"] > 0


def test_generated_syn_flood_capture_after_a_quiet_baseline(tmp_path: Path) -> None:
    t0 = 1_700_000_000.0
    pcap = write_pcap(
        tmp_path / "flood.pcap", busy_server(t0, 120, 20) + syn_flood(t0 + 125, 20_000, 4.0)
    )
    alerts = analyze_alerts([pcap], tmp_path, only=["behaviour.flood"])
    assert names(alerts) == ["behaviour.flood"]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert alerts[0]["dest_ip"] == VICTIM and ev["kind"] == "syn" and ev["distinct_sources"] > 1000
    # near miss: the same server, five times busier, every handshake completed
    busy = write_pcap(tmp_path / "busy.pcap", busy_server(t0, 120, 100))
    assert analyze_alerts([busy], tmp_path, only=["behaviour.flood"], eve_name="busy.json") == []
