"""behaviour.icmp_tunnel: echo flows whose sizes show carried data; ping is not one."""

from __future__ import annotations

from pathlib import Path

from c2kit import T0, S

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.icmp_tunnel import IcmpTunnel
from tocsin.model.flows import FlowRow

FIXTURES = Path(__file__).parents[2] / "fixtures" / "correlate"


def _echo(pts: int, bts: int, ptc: int, btc: int, *, proto: int = 1, kind: int = 8) -> FlowRow:
    return FlowRow("10.0.0.5", "203.0.113.4", kind, 0, proto=proto, first_ts=T0,
                   last_ts=T0 + 600 * S, pkts_ts=pts, bytes_ts=bts, pkts_tc=ptc,
                   bytes_tc=btc, tcp_flags_ts=0)  # fmt: skip


def test_varying_sizes_and_unmirrored_replies_alert() -> None:
    alerts = feed(IcmpTunnel(), [flows(_echo(448, 98566, 415, 92244))])
    assert names(alerts) == ["behaviour.icmp_tunnel"]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["signs"] == ["varying_sizes", "replies_differ"]
    assert alerts[0].alert.signature_id == 8_000_140


def test_icmpv6_and_volume() -> None:
    alerts = feed(IcmpTunnel(), [flows(_echo(9000, 9000 * 1200, 9000, 9000 * 1200,
                                              proto=58, kind=128))])  # fmt: skip
    assert alerts[0].alert.context["evidence"]["signs"] == ["volume"]  # type: ignore[index]


def test_plain_pings_are_quiet() -> None:
    rows = [
        _echo(3600, 3600 * 98, 3600, 3600 * 98),  # an hour of default ping
        _echo(3600, 3600 * 98, 3500, 3500 * 98),  # with lost replies
        _echo(5, 5 * 1442, 5, 5 * 1442),  # ping -s 1400 -c 5
        _echo(100, 100 * 1442, 100, 100 * 1442),  # ping -s 1400 -c 100
        _echo(10, 10 * 98 + 7, 10, 10 * 98),  # uneven but a handful of packets
    ]
    unreachable = FlowRow("10.0.0.5", "203.0.113.4", 3, 1, proto=1, pkts_ts=500,
                          bytes_ts=500 * 70 + 13)  # fmt: skip
    assert feed(IcmpTunnel(), [flows(*rows, unreachable)]) == []


def test_ndpi_icmp_tunnel_capture(tmp_path: Path) -> None:
    alerts = analyze_alerts([FIXTURES / "ndpi-icmp-tunnel.pcap"], tmp_path,
                            only=["behaviour.icmp_tunnel"])  # fmt: skip
    assert names(alerts) == ["behaviour.icmp_tunnel"]
    assert (alerts[0]["src_ip"], alerts[0]["dest_ip"]) == ("192.168.154.131", "192.168.154.132")
