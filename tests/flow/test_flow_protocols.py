"""Flow table: UDP, ICMP/ICMPv6, VLAN/QinQ and IPv6 keys (packets in, EVE flows out)."""

from __future__ import annotations

import pytest
from flowkit import SEC, SYN, T0, icmp, one, run_flows, tcp, udp

A, B = "10.0.0.1", "10.0.0.2"
A6, B6 = "2001:db8::1", "2001:db8::2"


def test_udp_request_response_is_established() -> None:
    pkts = [
        (T0, udp(A, 5353, B, 53, b"q" * 30)),
        (T0 + 100, udp(B, 53, A, 5353, b"r" * 80)),
        (T0 + 200, udp(A, 5353, B, 53, b"q")),
    ]
    r = run_flows(pkts)
    ev = one(r.eve())
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (A, 5353, B, 53)
    assert ev["proto"] == "UDP" and "tcp" not in ev
    f = ev["flow"]
    assert (f["pkts_toserver"], f["pkts_toclient"]) == (2, 1)
    assert f["bytes_toserver"] == len(pkts[0][1]) + len(pkts[2][1])
    assert f["bytes_toclient"] == len(pkts[1][1])
    assert f["state"] == "established"
    assert r.table.counters()["flow.udp"] == 1


def test_one_way_udp_stays_new() -> None:
    ev = one(run_flows([(T0 + i, udp(A, 514, B, 514, b"syslog")) for i in range(5)]).eve())
    assert ev["flow"]["state"] == "new"
    assert ev["flow"]["pkts_toserver"] == 5 and ev["flow"]["pkts_toclient"] == 0


@pytest.mark.parametrize(
    ("established", "timeout"), [(False, 30), (True, 300)], ids=["new", "established"]
)
@pytest.mark.parametrize("kind", ["udp", "icmp"])
@pytest.mark.parametrize("extra_us", [0, 1])
def test_udp_icmp_timeouts(kind: str, established: bool, timeout: int, extra_us: int) -> None:
    if kind == "udp":
        req, rep = udp(A, 1000, B, 53, b"q"), udp(B, 53, A, 1000, b"r")
    else:
        req, rep = icmp(A, B, 8), icmp(B, A, 0)
    pkts = [(T0, req)] + ([(T0 + 1, rep)] if established else [])
    last = pkts[-1][0]
    r = run_flows([*pkts, (last + timeout * SEC + extra_us, req)])
    evs = r.eve()
    assert len(evs) == 1 + extra_us
    assert evs[0]["flow"]["state"] == ("established" if established else "new")
    assert evs[0]["flow"]["reason"] == ("timeout" if extra_us else "shutdown")


def test_icmp_echo_request_and_reply_are_one_flow() -> None:
    r = run_flows([(T0, icmp(A, B, 8)), (T0 + 10, icmp(B, A, 0)), (T0 + 20, icmp(A, B, 8))])
    ev = one(r.eve())
    assert (ev["src_ip"], ev["dest_ip"], ev["proto"]) == (A, B, "ICMP")
    assert "src_port" not in ev and "dest_port" not in ev
    assert (ev["icmp_type"], ev["icmp_code"]) == (8, 0)
    assert (ev["response_icmp_type"], ev["response_icmp_code"]) == (0, 0)
    assert (ev["flow"]["pkts_toserver"], ev["flow"]["pkts_toclient"]) == (2, 1)
    assert ev["flow"]["state"] == "established"
    assert r.table.counters()["flow.icmpv4"] == 1


def test_icmp_unreachable_is_its_own_flow() -> None:
    pkts = [
        (T0, icmp(A, B, 8)),
        (T0 + 10, icmp(B, A, 0)),
        (T0 + 20, icmp(B, A, 3, 3)),
        (T0 + 30, icmp(B, A, 3, 1)),
    ]
    evs = run_flows(pkts).eve()
    assert len(evs) == 3
    unreach = sorted((e["icmp_code"], e["src_ip"]) for e in evs if e["icmp_type"] == 3)
    assert unreach == [(1, B), (3, B)]
    assert all("response_icmp_type" not in e for e in evs if e["icmp_type"] == 3)


def test_icmpv6_echo_is_one_flow() -> None:
    r = run_flows([(T0, icmp(A6, B6, 128)), (T0 + 10, icmp(B6, A6, 129))])
    ev = one(r.eve())
    assert (ev["src_ip"], ev["dest_ip"], ev["proto"]) == (A6, B6, "IPv6-ICMP")
    assert (ev["icmp_type"], ev["response_icmp_type"]) == (128, 129)
    assert r.table.counters()["flow.icmpv6"] == 1


@pytest.mark.parametrize(
    ("asked", "answer"),
    [(128, 129), (130, 131), (133, 134), (135, 136), (139, 140), (144, 145)],
)
def test_icmpv6_request_and_reply_are_one_flow_with_one_community_id(
    asked: int, answer: int
) -> None:
    """Flow keys and Community IDs use the same request/response table (model.icmp)."""
    ev = one(run_flows([(T0, icmp(A6, B6, asked)), (T0 + 10, icmp(B6, A6, answer))]).eve())
    assert (ev["icmp_type"], ev["response_icmp_type"]) == (asked, answer)
    alone = one(run_flows([(T0, icmp(B6, A6, answer))]).eve())
    assert alone["community_id"] == ev["community_id"]


def test_icmp_reply_first() -> None:
    ev = one(run_flows([(T0, icmp(B, A, 0)), (T0 + 10, icmp(A, B, 8))]).eve())
    assert (ev["src_ip"], ev["icmp_type"], ev["response_icmp_type"]) == (B, 0, 8)


def test_vlans_separate_flows() -> None:
    pkts = [
        (T0, udp(A, 1, B, 2, vlans=(10,))),
        (T0 + 1, udp(B, 2, A, 1, vlans=(10,))),
        (T0 + 2, udp(A, 1, B, 2, vlans=(20,))),
        (T0 + 3, udp(A, 1, B, 2)),
        (T0 + 4, udp(A, 1, B, 2, vlans=(10, 20))),
        (T0 + 5, udp(A, 1, B, 2, vlans=(20, 10))),
        (T0 + 6, udp(B, 2, A, 1, vlans=(10, 20))),
    ]
    evs = run_flows(pkts).eve()
    by_vlan = {tuple(e.get("vlan", ())): e["flow"] for e in evs}
    assert set(by_vlan) == {(10,), (20,), (), (10, 20), (20, 10)}
    assert by_vlan[(10,)]["pkts_toclient"] == 1 and by_vlan[(10,)]["state"] == "established"
    assert by_vlan[(10, 20)]["pkts_toclient"] == 1
    assert by_vlan[(20,)]["pkts_toclient"] == 0 and by_vlan[(20, 10)]["pkts_toclient"] == 0


def test_ipv6_tcp_flow() -> None:
    pkts = [
        (T0, tcp(A6, 1234, B6, 443, SYN)),
        (T0 + 1, tcp(B6, 443, A6, 1234, SYN | 0x10)),
        (T0 + 2, tcp(A6, 1234, B6, 443, 0x10)),
    ]
    ev = one(run_flows(pkts).eve())
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (A6, 1234, B6, 443)
    assert ev["flow"]["state"] == "established"
    assert ev["flow"]["bytes_toserver"] == len(pkts[0][1]) + len(pkts[2][1])


def test_ipv4_and_ipv4_mapped_ipv6_do_not_collide() -> None:
    """IPv4 addresses are stored IPv4-mapped: an IPv6 flow between ::ffff:a.b.c.d addresses
    has the very same address bits, ports and protocol, yet is another flow."""
    pkts = [
        (T0, udp(A, 1000, B, 53, b"v4")),
        (T0 + 1, udp("::ffff:" + A, 1000, "::ffff:" + B, 53, b"v6")),
        (T0 + 2, udp("::ffff:" + B, 53, "::ffff:" + A, 1000, b"v6")),
        (T0 + 3, icmp(A, B, 8)),
    ]
    evs = run_flows(pkts).eve()
    assert len(evs) == 3
    ips = sorted((e["src_ip"], e["proto"], e["flow"]["pkts_toclient"]) for e in evs)
    assert ips == [("10.0.0.1", "ICMP", 0), ("10.0.0.1", "UDP", 0), ("::ffff:10.0.0.1", "UDP", 1)]
