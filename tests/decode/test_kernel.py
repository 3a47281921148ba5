"""Tests for tocsin.decode.kernel: packet bytes in, decoded record, counters and anomalies out."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import dpkt
import pytest
from packets import (
    DST4,
    DST6,
    ETH_ARP,
    ETH_IP6,
    SRC4,
    SRC6,
    ah,
    arp,
    decode,
    decode1,
    erspan2,
    erspan3,
    eth,
    eth_tcp4,
    eth_tcp6,
    eth_udp4,
    ext6,
    frag6,
    gre,
    icmp,
    inner_v4,
    inner_v6,
    ipv4,
    ipv6,
    null,
    routing6,
    sctp,
    sll,
    sll2,
    tcp,
    udp,
    v4,
    v6,
    vxlan,
)

from tocsin.decode.common import MAX_LAYERS
from tocsin.decode.layout import (
    ANOMALY_NAMES,
    FLAG_ARP,
    FLAG_FLOW,
    FLAG_FRAG,
    FLAG_IP,
    FLAG_PORTS,
    FLAG_TUNNEL,
    TCPOPT_MSS,
    TCPOPT_SACK,
    TCPOPT_SACKOK,
    TCPOPT_TS,
    TCPOPT_WSCALE,
    TH_ACK,
    TH_PUSH,
    TH_SYN,
)

INNER_SRC = bytes([192, 168, 0, 9])
INNER_DST = bytes([192, 168, 1, 1])
INNER6_SRC = bytes.fromhex("fd000000000000000000000000000001")
INNER6_DST = bytes.fromhex("fd000000000000000000000000000002")


def addrs(r: object) -> tuple[tuple[int, int], tuple[int, int]]:
    return (int(r["src_hi"]), int(r["src_lo"])), (int(r["dst_hi"]), int(r["dst_lo"]))  # type: ignore[index]


def has(r: object, flag: int) -> bool:
    return bool(int(r["flags"]) & flag)  # type: ignore[index]


# ================================================================ Ethernet / IPv4 / TCP
def test_ethernet_ipv4_tcp_fields() -> None:
    opts = (
        struct.pack("!BBH", 2, 4, 1460)  # MSS
        + b"\x01"
        + struct.pack("!BBB", 3, 3, 7)  # window scale 7
        + struct.pack("!BB", 4, 2)  # SACK permitted
        + struct.pack("!BBII", 8, 10, 0xDEADBEEF, 0x01020304)  # timestamps
        + b"\x01\x01"
        + struct.pack("!BBII", 5, 10, 100, 200)  # one SACK block
    )
    pkt = eth(
        ipv4(
            tcp(
                b"GET /",
                sport=51000,
                dport=8080,
                seq=0x11223344,
                ack=0x55667788,
                flags=TH_PUSH | TH_ACK,
                win=0x1234,
                options=opts,
            ),
            ttl=57,
        )
    )
    r, ctr, anom = decode1(pkt)
    assert anom == ""
    assert addrs(r) == (v4(SRC4), v4(DST4))
    assert int(r["src_lo"]) == 0x0000FFFF0A000001
    assert r["ipver"] == 4 and r["proto"] == 6 and r["ttl"] == 57
    assert (r["sport"], r["dport"]) == (51000, 8080)
    assert (r["tcp_seq"], r["tcp_ack"]) == (0x11223344, 0x55667788)
    assert r["tcp_flags"] == TH_PUSH | TH_ACK and r["tcp_win"] == 0x1234
    assert r["tcp_opts"] == TCPOPT_MSS | TCPOPT_WSCALE | TCPOPT_SACKOK | TCPOPT_TS | TCPOPT_SACK
    assert (r["tcp_mss"], r["tcp_wscale"]) == (1460, 7)
    assert (r["tcp_tsval"], r["tcp_tsecr"]) == (0xDEADBEEF, 0x01020304)
    hl = 20 + len(opts) + (-len(opts)) % 4
    assert (r["l3_off"], r["l4_off"], r["pay_off"], r["pay_len"]) == (14, 34, 34 + hl, 5)
    assert pkt[r["pay_off"] : r["pay_off"] + r["pay_len"]] == b"GET /"
    assert has(r, FLAG_IP) and has(r, FLAG_FLOW) and has(r, FLAG_PORTS)
    assert not has(r, FLAG_TUNNEL | FLAG_FRAG | FLAG_ARP)
    assert (r["vlan0"], r["vlan1"], r["frag_off"]) == (0, 0, -1)
    assert ctr["ethernet"] == 1 and ctr["ipv4"] == 1 and ctr["tcp"] == 1 and ctr["invalid"] == 0


def test_tcp_without_options() -> None:
    r, _, _ = decode1(eth_tcp4(flags=TH_SYN))
    assert r["tcp_opts"] == 0 and r["tcp_wscale"] == 255 and r["tcp_mss"] == 0
    assert r["tcp_flags"] == TH_SYN


def test_ethernet_padding_is_not_payload() -> None:
    pkt = eth(ipv4(tcp(b"")))  # 54 bytes: padded to the 60-byte minimum
    r, _, anom = decode1(pkt + b"\0" * 6)
    assert anom == "" and r["pay_len"] == 0 and r["pay_off"] == 54
    r, _, anom = decode1(eth(ipv4(udp(b"x"), 17)) + b"\xee" * 20)
    assert anom == "" and r["pay_len"] == 1
    r, _, anom = decode1(eth(ipv6(udp(b"x"), 17), ETH_IP6) + b"\xee" * 20)
    assert anom == "" and r["pay_len"] == 1


# ================================================================ VLAN
def test_vlan_8021q() -> None:
    r, ctr, anom = decode1(eth(ipv4(tcp()), vlans=((0x8100, 0x2064),)))  # PCP 1, VID 100
    assert anom == "" and r["vlan0"] == 100 and r["vlan1"] == 0
    assert r["l3_off"] == 18 and has(r, FLAG_FLOW)
    assert ctr["vlan"] == 1 and ctr["vlan_qinq"] == 0


def test_vlan_qinq() -> None:
    r, ctr, anom = decode1(eth(ipv4(tcp()), vlans=((0x88A8, 10), (0x8100, 20))))
    assert anom == "" and (r["vlan0"], r["vlan1"]) == (10, 20) and r["l3_off"] == 22
    assert ctr["vlan"] == 1 and ctr["vlan_qinq"] == 1 and has(r, FLAG_FLOW)


def test_vlan_three_tags() -> None:
    r, ctr, anom = decode1(eth(ipv4(tcp()), vlans=((0x88A8, 10), (0x8100, 20), (0x8100, 30))))
    assert anom == "" and (r["vlan0"], r["vlan1"]) == (10, 20) and r["l3_off"] == 26
    assert (ctr["vlan"], ctr["vlan_qinq"], ctr["vlan_qinqinq"]) == (1, 1, 1)
    assert has(r, FLAG_FLOW)


def test_vlan_four_tags_too_many_layers() -> None:
    tags = ((0x88A8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4))
    r, ctr, anom = decode1(eth(ipv4(tcp()), vlans=tags))
    assert anom == "vlan.too_many_layers"
    assert ctr["event.vlan.too_many_layers"] == 1 and ctr["invalid"] == 1
    assert not has(r, FLAG_FLOW)


def test_vlan_truncated() -> None:
    r, ctr, anom = decode1(eth(b"\x00\x64", vlans=((0x8100, 0),))[:16])
    assert anom == "vlan.header_too_small" and ctr["invalid"] == 1 and not has(r, FLAG_FLOW)


# ================================================================ ARP / unknown
def test_arp() -> None:
    r, ctr, anom = decode1(eth(arp(), ETH_ARP))
    assert anom == "" and has(r, FLAG_ARP) and not has(r, FLAG_FLOW | FLAG_IP)
    assert ctr["arp"] == 1 and ctr["invalid"] == 0


def test_arp_too_small() -> None:
    _r, ctr, anom = decode1(eth(arp()[:20], ETH_ARP))
    assert anom == "arp.pkt_too_small" and ctr["invalid"] == 1


def test_unknown_ethertype() -> None:
    r, ctr, anom = decode1(eth(b"\0" * 40, 0x88CC))  # LLDP
    assert anom == "" and ctr["unknown_ethertype"] == 1 and r["flags"] == 0
    assert r["l3_off"] == -1 and ctr["invalid"] == 0


# ================================================================ IPv4 options, fragments
def test_ipv4_valid_options() -> None:
    rr = struct.pack("!BBB", 7, 7, 4) + b"\0" * 4  # record route, one slot
    r, _ctr, anom = decode1(eth(ipv4(tcp(b"x"), options=rr + b"\x01")))  # 8 bytes + NOP... pad
    assert anom == "" and r["l4_off"] == 14 + 28 and has(r, FLAG_FLOW) and r["pay_len"] == 1


@pytest.mark.parametrize(
    ("options", "event"),
    [
        (b"\x07\x01\x00\x00", "ipv4.opt_invalid_len"),  # length 1
        (b"\x07\x09\x04\x00", "ipv4.opt_invalid_len"),  # longer than the options area
        (b"\x01\x01\x01\x07", "ipv4.opt_pad_required"),  # a type byte without its length
        (b"\x07\x02\x00\x00", "ipv4.opt_malformed"),  # record route too short for a pointer
        (b"\x00\x00\x00\x07", "ipv4.opt_pad_required"),  # non-zero bytes after end of options
    ],
)
def test_ipv4_bad_options_make_the_packet_invalid(options: bytes, event: str) -> None:
    """As Suricata (decode-ipv4.c: ENGINE_SET_INVALID_EVENT): the addresses are known, the
    anomaly is logged, but the packet gets no flow and counts in decoder.invalid."""
    r, ctr, anom = decode1(eth(ipv4(tcp(b"x"), options=options)))
    assert anom == event and ctr["event." + event] == 1
    assert has(r, FLAG_IP) and not has(r, FLAG_FLOW) and ctr["invalid"] == 1


def test_ipv4_fragments() -> None:
    first = eth(ipv4(udp(b"A" * 16), 17, flags_frag=0x2000))  # MF, offset 0
    later = eth(ipv4(b"B" * 16, 17, flags_frag=3))  # offset 24, last
    pk, ctr, anom = decode([first, later])
    assert anom == ["", ""]
    for r in pk:
        assert has(r, FLAG_FRAG) and has(r, FLAG_IP) and not has(r, FLAG_FLOW | FLAG_PORTS)
        assert r["proto"] == 17 and r["l3_off"] == 14 and r["frag_off"] == -1
    assert ctr["invalid"] == 0


def test_ipv4_df_is_not_fragment() -> None:
    r, _, _ = decode1(eth(ipv4(tcp(), flags_frag=0x4000)))
    assert not has(r, FLAG_FRAG) and has(r, FLAG_FLOW)


# ================================================================ IPv6
def test_ipv6_tcp_and_udp() -> None:
    r, ctr, anom = decode1(eth_tcp6(b"abc"))
    assert anom == "" and r["ipver"] == 6 and addrs(r) == (v6(SRC6), v6(DST6))
    assert (r["l3_off"], r["l4_off"], r["pay_off"], r["pay_len"]) == (14, 54, 74, 3)
    assert r["ttl"] == 64 and has(r, FLAG_FLOW | FLAG_PORTS) and ctr["ipv6"] == 1
    r, ctr, anom = decode1(eth(ipv6(udp(b"zz", sport=546, dport=547), 17), ETH_IP6))
    assert anom == "" and (r["sport"], r["dport"], r["proto"], r["pay_len"]) == (546, 547, 17, 2)


def test_ipv6_extension_headers_before_tcp() -> None:
    chain = ext6(60) + ext6(43) + routing6(51) + ah(6)  # hop-by-hop, dstopts, routing, AH
    r, _, anom = decode1(eth(ipv6(chain + tcp(b"p"), 0), ETH_IP6))
    assert anom == "" and r["proto"] == 6 and r["l4_off"] == 14 + 40 + len(chain)
    assert r["sport"] == 40000 and r["pay_len"] == 1 and has(r, FLAG_FLOW)


def test_ipv6_fragment_header() -> None:
    chain = ext6(44) + frag6(17, offset=0, more=True)
    r, ctr, anom = decode1(eth(ipv6(chain + udp(b"x" * 16), 0), ETH_IP6))
    assert anom == "" and has(r, FLAG_FRAG) and not has(r, FLAG_FLOW)
    assert r["frag_off"] == 40 + 8 and r["proto"] == 17 and r["l3_off"] == 14
    assert ctr["invalid"] == 0


def test_ipv6_atomic_fragment() -> None:
    r, ctr, anom = decode1(eth(ipv6(frag6(17, 0, more=False) + udp(b"x"), 44), ETH_IP6))
    assert anom == "ipv6.exthdr_useless_fh" and ctr["event.ipv6.exthdr_useless_fh"] == 1
    assert not has(r, FLAG_FRAG) and r["proto"] == 17 and r["dport"] == 53
    assert has(r, FLAG_FLOW)


def test_ipv6_truncated_extension_header() -> None:
    r, ctr, anom = decode1(eth(ipv6(b"\x06\x01" + b"\0" * 6, 0), ETH_IP6))  # says 16, has 8
    assert anom == "ipv6.trunc_exthdr" and not has(r, FLAG_FLOW) and ctr["invalid"] == 1
    r, _, anom = decode1(eth(ipv6(b"\x06\x00\x00", 60), ETH_IP6))
    assert anom == "ipv6.trunc_exthdr"


# ================================================================ other transports
def test_udp() -> None:
    r, ctr, anom = decode1(eth_udp4(b"query", dport=53))
    assert anom == "" and (r["sport"], r["dport"], r["proto"]) == (5353, 53, 17)
    assert (r["l4_off"], r["pay_off"], r["pay_len"]) == (34, 42, 5) and ctr["udp"] == 1
    assert has(r, FLAG_FLOW | FLAG_PORTS)


def test_udp_length_shorter_than_ip_payload() -> None:
    r, _, anom = decode1(eth(ipv4(udp(b"abcd", ulen=10), 17)))  # Suricata 7: no event
    assert anom == "" and r["pay_len"] == 2 and has(r, FLAG_FLOW)


def test_icmpv4_echo() -> None:
    r, ctr, anom = decode1(eth(ipv4(icmp(8, 0, payload=b"ping"), 1)))
    assert anom == "" and (r["icmp_type"], r["icmp_code"], r["sport"], r["dport"]) == (8, 0, 8, 0)
    assert has(r, FLAG_FLOW) and not has(r, FLAG_PORTS) and ctr["icmpv4"] == 1
    assert r["pay_len"] == 4
    r, _, _ = decode1(eth(ipv4(icmp(3, 3), 1)))
    assert (r["sport"], r["dport"]) == (3, 3)


def test_icmpv6() -> None:
    r, ctr, anom = decode1(eth(ipv6(icmp(128, 0), 58), ETH_IP6))
    assert anom == "" and (r["icmp_type"], r["icmp_code"]) == (128, 0) and r["proto"] == 58
    assert has(r, FLAG_FLOW) and ctr["icmpv6"] == 1


def test_sctp_ports() -> None:
    r, ctr, anom = decode1(eth(ipv4(sctp(2905, 2906), 132)))
    assert anom == "" and (r["sport"], r["dport"]) == (2905, 2906) and ctr["sctp"] == 1
    assert has(r, FLAG_FLOW | FLAG_PORTS)


def test_other_protocol_is_a_flow_without_ports() -> None:
    r, _, anom = decode1(eth(ipv4(b"\x02\x01" + b"\0" * 30, 89)))  # OSPF
    assert anom == "" and r["proto"] == 89 and has(r, FLAG_FLOW) and not has(r, FLAG_PORTS)
    assert (r["sport"], r["dport"]) == (0, 0) and r["pay_len"] == 32


# ================================================================ link types
def check_inner_tcp4(r: object) -> None:
    assert addrs(r) == (v4(SRC4), v4(DST4))
    assert r["sport"] == 40000 and has(r, FLAG_FLOW)  # type: ignore[index]


def test_sll() -> None:
    r, ctr, anom = decode1(sll(ipv4(tcp())), 113)
    assert anom == "" and r["l3_off"] == 16 and ctr["sll"] == 1
    check_inner_tcp4(r)
    r, _, _ = decode1(sll(ipv6(tcp()), ETH_IP6), 113)
    assert r["ipver"] == 6 and has(r, FLAG_FLOW)


def test_sll2() -> None:
    r, ctr, anom = decode1(sll2(ipv4(tcp())), 276)
    assert anom == "" and r["l3_off"] == 20 and ctr["sll2"] == 1
    check_inner_tcp4(r)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("family", [24, 28, 30])
def test_null_ipv6_families(order: str, family: int) -> None:
    r, ctr, anom = decode1(null(ipv6(tcp()), family, order), 0)
    assert anom == "" and r["ipver"] == 6 and r["l3_off"] == 4 and ctr["null"] == 1
    assert has(r, FLAG_FLOW)


@pytest.mark.parametrize("order", ["<", ">"])
def test_null_ipv4(order: str) -> None:
    r, _, anom = decode1(null(ipv4(tcp()), 2, order), 0)
    assert anom == ""
    check_inner_tcp4(r)


def test_loop_network_order() -> None:
    r, _, anom = decode1(null(ipv4(tcp()), 2, ">"), 108)
    assert anom == ""
    check_inner_tcp4(r)
    r, _, anom = decode1(null(ipv6(tcp()), 24, ">"), 108)
    assert anom == "" and r["ipver"] == 6


@pytest.mark.parametrize("linktype", [101, 12, 14, 228, 229])
def test_raw(linktype: int) -> None:
    pkt = ipv6(tcp()) if linktype == 229 else ipv4(tcp())
    r, ctr, anom = decode1(pkt, linktype)
    assert anom == "" and r["l3_off"] == 0 and ctr["raw"] == 1 and has(r, FLAG_FLOW)
    if linktype in (101, 12, 14):
        r, _, _ = decode1(ipv6(tcp()), linktype)
        assert r["ipver"] == 6 and has(r, FLAG_FLOW)


# ================================================================ tunnels
def check_inner(r: object, *, tunnel: bool = True) -> None:
    assert addrs(r) == (v4(INNER_SRC), v4(INNER_DST))
    assert (r["sport"], r["dport"], r["proto"]) == (1234, 443, 6)  # type: ignore[index]
    assert has(r, FLAG_FLOW | FLAG_PORTS) and has(r, FLAG_TUNNEL) == tunnel


def test_gre_ipv4() -> None:
    pkt = eth(ipv4(gre(inner_v4()), 47))
    r, ctr, anom = decode1(pkt)
    assert anom == "" and ctr["gre"] == 1 and ctr["ipv4"] == 2
    check_inner(r)
    assert r["l3_off"] == 14 + 20 + 4 and r["l4_off"] == 14 + 20 + 4 + 20
    assert pkt[r["pay_off"] : r["pay_off"] + r["pay_len"]] == b"inner"


def test_gre_ipv6() -> None:
    r, _ctr, anom = decode1(eth(ipv4(gre(inner_v6(), ETH_IP6), 47)))
    assert anom == "" and r["ipver"] == 6 and addrs(r) == (v6(INNER6_SRC), v6(INNER6_DST))
    assert (r["sport"], r["dport"]) == (1111, 2222) and has(r, FLAG_TUNNEL | FLAG_FLOW)


def test_gre_key_and_sequence_and_checksum() -> None:
    r, _, anom = decode1(eth(ipv4(gre(inner_v4(), key=77, seq=5, csum=True), 47)))
    assert anom == "" and r["l3_off"] == 14 + 20 + 16
    check_inner(r)


def test_gre_transparent_ethernet_bridging() -> None:
    r, ctr, anom = decode1(eth(ipv4(gre(eth(inner_v4(), vlans=((0x8100, 7),)), 0x6558), 47)))
    assert anom == "" and ctr["ethernet"] == 2 and r["vlan0"] == 7
    check_inner(r)


def test_erspan_type2() -> None:
    pkt = eth(ipv4(gre(erspan2(eth(inner_v4())), 0x88BE, seq=1), 47))
    r, ctr, anom = decode1(pkt)
    assert anom == "" and ctr["erspan"] == 1 and r["l3_off"] == 14 + 20 + 8 + 8 + 14
    check_inner(r)


def test_erspan_type1() -> None:
    r, ctr, anom = decode1(eth(ipv4(gre(eth(inner_v4()), 0x88BE), 47)))
    assert anom == "" and ctr["erspan"] == 1 and r["l3_off"] == 14 + 20 + 4 + 14
    check_inner(r)


@pytest.mark.parametrize("subheader", [False, True])
def test_erspan_type3(subheader: bool) -> None:
    pkt = eth(ipv4(gre(erspan3(eth(inner_v4()), subheader=subheader), 0x22EB, seq=1), 47))
    r, ctr, anom = decode1(pkt)
    assert anom == "" and ctr["erspan"] == 1
    assert r["l3_off"] == 14 + 20 + 8 + 12 + (8 if subheader else 0) + 14
    check_inner(r)


def test_vxlan_with_inner_vlan() -> None:
    frame = eth(inner_v4(), vlans=((0x8100, 300),))
    pkt = eth(ipv4(udp(vxlan(frame), sport=50000, dport=4789), 17))
    r, ctr, anom = decode1(pkt)
    assert anom == "" and ctr["vxlan"] == 1 and ctr["ethernet"] == 2 and r["vlan0"] == 300
    check_inner(r)
    assert r["l3_off"] == 14 + 20 + 8 + 8 + 18


def test_vxlan_other_port_is_plain_udp() -> None:
    pkt = eth(ipv4(udp(vxlan(eth(inner_v4())), dport=4789), 17))
    r, ctr, _ = decode1(pkt, vxlan_port=8472)
    assert ctr["vxlan"] == 0 and r["dport"] == 4789 and not has(r, FLAG_TUNNEL)


def test_ip_in_ip() -> None:
    r, ctr, anom = decode1(eth(ipv4(inner_v4(), 4)))
    assert anom == "" and ctr["ipv4_in_ipv4"] == 1
    check_inner(r)
    r, ctr, anom = decode1(eth(ipv4(inner_v6(), 41)))
    assert anom == "" and ctr["ipv6_in_ipv4"] == 1 and r["ipver"] == 6
    assert has(r, FLAG_TUNNEL | FLAG_FLOW) and r["dport"] == 2222
    r, ctr, anom = decode1(eth(ipv6(inner_v6(), 41), ETH_IP6))
    assert anom == "" and ctr["ipv6_in_ipv6"] == 1 and r["l3_off"] == 54
    r, ctr, anom = decode1(eth(ipv6(inner_v4(), 4), ETH_IP6))
    assert anom == "" and ctr["ipv4_in_ipv6"] == 1
    check_inner(r)


def test_ip_in_ip_wrong_inner_version() -> None:
    r, _, anom = decode1(eth(ipv6(inner_v6(), 4), ETH_IP6))
    assert anom == "ipv6.ipv4_in_ipv6_wrong_version" and not has(r, FLAG_FLOW)
    r, _, anom = decode1(eth(ipv6(inner_v4(), 41), ETH_IP6))
    assert anom == "ipv6.ipv6_in_ipv6_wrong_version" and not has(r, FLAG_FLOW)


def nested(depth: int) -> bytes:
    """`depth` IPv4 headers, the innermost carrying TCP."""
    pkt = inner_v4()
    for _ in range(depth - 1):
        pkt = ipv4(pkt, 4)
    return eth(pkt)


def test_nesting_limit() -> None:
    r, ctr, anom = decode1(nested(MAX_LAYERS))
    assert anom == "" and ctr["too_many_layers"] == 0
    check_inner(r)
    r, ctr, anom = decode1(nested(MAX_LAYERS + 1))
    assert ctr["too_many_layers"] == 1 and ctr["invalid"] == 1 and not has(r, FLAG_FLOW)


def test_tunnel_inner_fragment_has_no_outer_transport_left() -> None:
    frag = ipv4(b"x" * 16, 6, flags_frag=0x2000, src=INNER_SRC, dst=INNER_DST)
    pkt = eth(ipv4(udp(vxlan(eth(frag)), dport=4789), 17))
    r, _, _ = decode1(pkt)
    assert has(r, FLAG_FRAG | FLAG_TUNNEL) and addrs(r) == (v4(INNER_SRC), v4(INNER_DST))
    assert (r["l4_off"], r["pay_off"], r["sport"], r["dport"]) == (-1, -1, 0, 0)
    assert r["l3_off"] == 14 + 20 + 8 + 8 + 14


def test_unknown_gre_payload_inside_tunnel_keeps_tunnel_flag() -> None:
    r, _, anom = decode1(eth(ipv4(ipv4(gre(b"\0" * 20, 0x880B), 47), 4)))  # PPP in GRE in IPIP
    assert anom == "" and has(r, FLAG_TUNNEL) and r["proto"] == 47 and has(r, FLAG_FLOW)


# ================================================================ anomalies
def tcp_doff(doff: int, extra: bytes = b"") -> bytes:
    return eth(ipv4(tcp(extra, doff=doff)))


# (packet, linktype, expected event, packet gets a flow)
ANOMALY_CASES: list[tuple[str, bytes, int, str, bool]] = [
    ("eth short", b"\0" * 13, 1, "ethernet.pkt_too_small", False),
    ("vlan short", eth(b"\0\x01", 0x8100), 1, "vlan.header_too_small", False),
    ("ipv4 short", eth(b"\x45" + b"\0" * 18), 1, "ipv4.pkt_too_small", False),
    ("ipv4 version", eth(ipv4(tcp(), version=5)), 1, "ipv4.wrong_ip_version", False),
    ("ipv4 hlen", eth(ipv4(tcp(), ihl=4)), 1, "ipv4.hlen_too_small", False),
    ("ipv4 iplen", eth(ipv4(tcp(), total=19)), 1, "ipv4.iplen_smaller_than_hlen", False),
    ("ipv4 trunc", eth(ipv4(tcp(), total=100)), 1, "ipv4.trunc_pkt", False),
    ("ipv4 opt", eth(ipv4(tcp(), options=b"\x07\x01\0\0")), 1, "ipv4.opt_invalid_len", False),
    ("ipv6 short", eth(b"\x60" + b"\0" * 38, ETH_IP6), 1, "ipv6.pkt_too_small", False),
    ("ipv6 version", eth(ipv6(tcp(), version=4), ETH_IP6), 1, "ipv6.wrong_ip_version", False),
    ("ipv6 trunc", eth(ipv6(tcp(), plen=100), ETH_IP6), 1, "ipv6.trunc_pkt", False),
    ("ipv6 ext", eth(ipv6(b"\x06\x05" + b"\0" * 6, 0), ETH_IP6), 1, "ipv6.trunc_exthdr", False),
    ("tcp short", eth(ipv4(tcp()[:19])), 1, "tcp.pkt_too_small", False),
    ("tcp hlen<20", tcp_doff(4), 1, "tcp.invalid_optlen", False),
    ("tcp hlen>seg", tcp_doff(8), 1, "tcp.hlen_too_small", False),
    ("tcp optlen", eth(ipv4(tcp(options=b"\x02\x09\0\0"))), 1, "tcp.opt_invalid_len", True),
    ("tcp mss len", eth(ipv4(tcp(options=b"\x02\x03\0\x01"))), 1, "tcp.opt_invalid_len", True),
    ("tcp opt 1", eth(ipv4(tcp(options=b"\x08\x01\0\0"))), 1, "tcp.opt_invalid_len", True),
    ("udp short", eth(ipv4(udp()[:7], 17)), 1, "udp.hlen_too_small", False),
    ("udp len<8", eth(ipv4(udp(b"ab", ulen=7), 17)), 1, "udp.len_invalid", False),
    ("udp len>ip", eth(ipv4(udp(b"ab", ulen=40), 17)), 1, "udp.pkt_too_small", False),
    (
        "vxlan payload",
        eth(ipv4(udp(vxlan(eth(b"\0" * 30, 0x88CC)), dport=4789), 17)),
        1,
        "vxlan.unknown_payload_type",
        True,
    ),
    ("icmp4 short", eth(ipv4(icmp()[:7], 1)), 1, "icmpv4.pkt_too_small", False),
    ("icmp6 short", eth(ipv6(icmp(128)[:7], 58), ETH_IP6), 1, "icmpv6.pkt_too_small", False),
    ("gre short", eth(ipv4(b"\0\0\x08", 47)), 1, "gre.pkt_too_small", False),
    ("gre opts short", eth(ipv4(b"\x20\x00\x08\x00\0", 47)), 1, "gre.pkt_too_small", False),
    ("gre version", eth(ipv4(gre(inner_v4(), version=2), 47)), 1, "gre.wrong_version", False),
    ("gre recur", eth(ipv4(gre(inner_v4(), recur=1), 47)), 1, "gre.version0_recur", True),
    (
        "erspan short",
        eth(ipv4(gre(b"\x10\0\0", 0x88BE, seq=1), 47)),
        1,
        "erspan.header_too_small",
        False,
    ),
    (
        "erspan version",
        eth(ipv4(gre(erspan2(eth(inner_v4()), version=2), 0x88BE, seq=1), 47)),
        1,
        "erspan.unsupported_version",
        False,
    ),
    (
        "erspan3 short",
        eth(ipv4(gre(erspan3(b"", subheader=True)[:16], 0x22EB), 47)),
        1,
        "erspan.header_too_small",
        False,
    ),
    (
        "erspan3 version",
        eth(ipv4(gre(erspan3(eth(inner_v4()), version=1), 0x22EB), 47)),
        1,
        "erspan.unsupported_version",
        False,
    ),
    ("sll short", b"\0" * 15, 113, "sll.pkt_too_small", False),
    ("sll2 short", b"\0" * 19, 276, "sll2.pkt_too_small", False),
    ("null short", b"\x02\0\0", 0, "ltnull.pkt_too_small", False),
    ("null family", null(ipv4(tcp()), 7), 0, "ltnull.unsupported_type", False),
    ("raw version", b"\x50" + ipv4(tcp())[1:], 101, "ipraw.invalid_ip_version", False),
    ("raw empty", b"", 101, "ipraw.invalid_ip_version", False),
    (
        "4in6 version",
        eth(ipv6(inner_v6(), 4), ETH_IP6),
        1,
        "ipv6.ipv4_in_ipv6_wrong_version",
        False,
    ),
    (
        "6in6 version",
        eth(ipv6(inner_v4(), 41), ETH_IP6),
        1,
        "ipv6.ipv6_in_ipv6_wrong_version",
        False,
    ),
    (
        "useless fh",
        eth(ipv6(frag6(17, 0, more=False) + udp(b"x"), 44), ETH_IP6),
        1,
        "ipv6.exthdr_useless_fh",
        True,
    ),
]


@pytest.mark.parametrize(
    ("packet", "linktype", "event", "flow"),
    [c[1:] for c in ANOMALY_CASES],
    ids=[c[0] for c in ANOMALY_CASES],
)
def test_anomaly(packet: bytes, linktype: int, event: str, flow: bool) -> None:
    r, ctr, anom = decode1(packet, linktype)
    assert anom == event
    assert ctr["event." + event] >= 1
    assert has(r, FLAG_FLOW) == flow
    assert ctr["invalid"] == (0 if flow else 1)
    assert ctr["pkts"] == 1


# Names the kernel never raises (they belong to the defragmenter, or to checks not done here).
NOT_RAISED_BY_KERNEL = {
    "",
    "ipv6.exthdr_invalid_optlen",
    "udp.hlen_invalid",  # dropped from Suricata 7 (udp-5379)
    "ipv6.unknown_next_header",
} | {n for n in ANOMALY_NAMES if ".frag_" in n}


def test_every_kernel_anomaly_has_a_case() -> None:
    covered = {c[3] for c in ANOMALY_CASES} | {
        "ipv4.opt_malformed",  # test_ipv4_bad_options_make_the_packet_invalid
        "ipv4.opt_pad_required",
        "vlan.too_many_layers",  # test_vlan_four_tags_too_many_layers
        "arp.pkt_too_small",  # test_arp_too_small
    }
    missing = set(ANOMALY_NAMES) - NOT_RAISED_BY_KERNEL - covered
    assert not missing


def test_gre_recursion_is_not_decapsulated() -> None:
    r, _, anom = decode1(eth(ipv4(gre(inner_v4(), recur=1), 47)))
    assert anom == "gre.version0_recur" and not has(r, FLAG_TUNNEL)
    assert addrs(r) == (v4(SRC4), v4(DST4)) and r["proto"] == 47


def test_first_anomaly_is_kept_all_are_counted() -> None:
    opts = b"\x02\x03\0\x03\x04\x03"  # bad MSS length, then bad SACK-permitted length
    _r, ctr, anom = decode1(eth(ipv4(tcp(options=opts + b"\0\0"))))
    assert anom == "tcp.opt_invalid_len" and ctr["event.tcp.opt_invalid_len"] == 2


# ================================================================ counters
def test_counters() -> None:
    pkts = [(eth_tcp4(), 1514), (eth_udp4(), 9000), (b"\0" * 5, 60), eth(arp(), ETH_ARP)]
    _pk, ctr, anom = decode(pkts)
    assert ctr["pkts"] == 4
    assert ctr["bytes"] == 1514 + 9000 + 60 + len(eth(arp(), ETH_ARP))
    assert ctr["max_pkt_size"] == 9000
    assert ctr["invalid"] == 1 and ctr["ethernet"] == 4
    assert anom == ["", "", "ethernet.pkt_too_small", ""]


def test_empty_batch() -> None:
    pk, ctr, anom = decode([])
    assert len(pk) == 0 and ctr["pkts"] == 0 and anom == []


def test_mixed_batch_records_are_independent() -> None:
    tunnelled = eth(ipv4(gre(inner_v4()), 47))
    pk, _, _ = decode([tunnelled, eth_tcp4(), eth(arp(), ETH_ARP), eth_tcp6()])
    assert has(pk[0], FLAG_TUNNEL) and not has(pk[1], FLAG_TUNNEL)
    assert addrs(pk[1]) == (v4(SRC4), v4(DST4)) and pk[1]["l3_off"] == 14
    assert pk[2]["l3_off"] == -1 and pk[3]["ipver"] == 6


# ================================================================ tshark cross-check
TSHARK_FIELDS = [
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "vlan.id",
]

TSHARK_CASES = [
    eth(ipv4(gre(inner_v4()), 47)),
    eth(ipv4(gre(inner_v6(), ETH_IP6), 47)),
    eth(ipv4(gre(inner_v4(), key=77, seq=5), 47)),
    eth(ipv4(gre(eth(inner_v4()), 0x6558), 47)),
    eth(ipv4(gre(erspan2(eth(inner_v4())), 0x88BE, seq=1), 47)),
    eth(ipv4(gre(erspan3(eth(inner_v4())), 0x22EB, seq=1), 47)),
    eth(ipv4(udp(vxlan(eth(inner_v4(), vlans=((0x8100, 300),))), dport=4789), 17)),
    eth(ipv4(inner_v4(), 4)),
    eth(ipv4(inner_v6(), 41)),
    eth(ipv6(inner_v6(), 41), ETH_IP6),
    eth(ipv6(ext6(60) + ext6(43) + routing6(51) + ah(6) + tcp(b"p"), 0), ETH_IP6),
    eth(ipv4(tcp()), vlans=((0x88A8, 10), (0x8100, 20))),
]


def ip_text(ipver: int, hi: int, lo: int) -> str:
    import ipaddress

    if ipver == 4:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tunnels_agree_with_tshark(tmp_path: Path) -> None:
    path = tmp_path / "tunnels.pcap"
    with path.open("wb") as f:
        w = dpkt.pcap.Writer(f)
        for k, p in enumerate(TSHARK_CASES):
            w.writepkt(p, ts=1_700_000_000 + k)
    out = subprocess.run(
        ["tshark", "-r", str(path), "-T", "fields", "-E", "occurrence=l", "-E", "separator=|"]
        + [x for f in TSHARK_FIELDS for x in ("-e", f)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pk, _, anom = decode(TSHARK_CASES)
    assert len(out) == len(TSHARK_CASES)
    for k, line in enumerate(out):
        f = dict(zip(TSHARK_FIELDS, line.split("|"), strict=True))
        r = pk[k]
        ver = int(r["ipver"])
        src = ip_text(ver, int(r["src_hi"]), int(r["src_lo"]))
        dst = ip_text(ver, int(r["dst_hi"]), int(r["dst_lo"]))
        # innermost: IPv6 wins when the inner packet is IPv6 (its header comes after any IPv4)
        t_src, t_dst = (f["ipv6.src"], f["ipv6.dst"]) if ver == 6 else (f["ip.src"], f["ip.dst"])
        assert (src, dst) == (t_src, t_dst), k
        sport = f["tcp.srcport"] or f["udp.srcport"]
        dport = f["tcp.dstport"] or f["udp.dstport"]
        if r["proto"] == 17 and f["tcp.srcport"] == "":
            sport, dport = f["udp.srcport"], f["udp.dstport"]
        assert (str(r["sport"]), str(r["dport"])) == (sport, dport), k
        assert anom[k] == ""
