"""Tests for tocsin.decode.defrag (IPv4/IPv6 fragment reassembly)."""

from __future__ import annotations

import base64
import random
import re
import struct
from pathlib import Path

import dpkt
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tocsin.decode.defrag import Defragmenter, DefragResult

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "defrag"
SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


# ---------------------------------------------------------------- builders
def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def frag4(
    payload: bytes,
    offset: int,
    mf: bool,
    *,
    ident: int = 0x1234,
    proto: int = 17,
    options: bytes = b"",
    df: bool = False,
    src: bytes = SRC4,
) -> bytes:
    hlen = 20 + len(options)
    flags = (0x2000 if mf else 0) | (0x4000 if df else 0) | (offset // 8)
    hdr = (
        bytearray(
            struct.pack(
                "!BBHHHBBH4s4s",
                0x40 | hlen // 4,
                0,
                hlen + len(payload),
                ident,
                flags,
                64,
                proto,
                0,
                src,
                DST4,
            )
        )
        + options
    )
    struct.pack_into("!H", hdr, 10, csum(bytes(hdr)))
    return bytes(hdr) + payload


def frag6(
    payload: bytes, offset: int, m: bool, *, ident: int = 0xABCDEF, nh: int = 17, pre: bytes = b""
) -> tuple[bytes, int]:
    """IPv6 fragment; ``pre``: unfragmentable ext headers (first byte is rewritten to 44)."""
    if pre:
        pre = bytes([44]) + pre[1:]
    fh = struct.pack("!BBHI", nh, 0, offset | int(m), ident)
    body = pre + fh + payload
    first_nh = 0 if pre else 44
    hdr = struct.pack("!IHBB16s16s", 0x60000000, len(body), first_nh, 64, SRC6, DST6)
    return hdr + body, 40 + len(pre)


def udp_datagram(data: bytes) -> bytes:
    return bytes(dpkt.udp.UDP(sport=1234, dport=5678, data=data, ulen=8 + len(data)))


def split(payload: bytes, size: int) -> list[tuple[int, bytes, bool]]:
    out = []
    for off in range(0, len(payload), size):
        chunk = payload[off : off + size]
        out.append((off, chunk, off + size < len(payload)))
    return out


def feed4(
    d: Defragmenter, frags: list[tuple[int, bytes, bool]], **kw: object
) -> list[DefragResult]:
    return [d.add_ipv4(i, frag4(p, o, m, **kw)) for i, (o, p, m) in enumerate(frags)]  # type: ignore[arg-type]


def check_ipv4(pkt: bytes, payload: bytes, hlen: int = 20) -> None:
    assert csum(pkt[:hlen]) == 0
    assert struct.unpack_from("!H", pkt, 2)[0] == len(pkt) == hlen + len(payload)
    assert struct.unpack_from("!H", pkt, 6)[0] & 0x3FFF == 0
    assert pkt[hlen:] == payload


# ---------------------------------------------------------------- IPv4 basics
def test_ipv4_in_order_udp_parses_with_dpkt() -> None:
    data = bytes(range(256)) * 10
    dgram = udp_datagram(data)
    res = feed4(Defragmenter(), split(dgram, 800))
    assert all(r.packet is None for r in res[:-1])
    pkt = res[-1].packet
    assert pkt is not None and res[-1].events == ()
    check_ipv4(pkt, dgram)
    ip = dpkt.ip.IP(pkt)
    assert isinstance(ip.data, dpkt.udp.UDP) and ip.data.data == data


def test_ipv4_out_of_order_and_duplicate_and_counters() -> None:
    dgram = udp_datagram(b"x" * 100 + b"y" * 100 + b"z" * 100)
    frags = split(dgram, 104)
    d = Defragmenter()
    assert d.add_ipv4(0, frag4(frags[2][1], frags[2][0], False)).packet is None
    r = d.add_ipv4(1, frag4(frags[0][1], 0, True))
    assert r.packet is None
    dup = d.add_ipv4(2, frag4(frags[0][1], 0, True))
    assert dup.packet is None and dup.events == ("ipv4.frag_overlap",)
    assert d.memuse == len(frags[0][1]) + len(frags[2][1]) + 20
    done = d.add_ipv4(3, frag4(frags[1][1], frags[1][0], True))
    assert done.packet is not None
    check_ipv4(done.packet, dgram)
    assert d.memuse == 0 and d.counters["memuse"] == 0
    assert d.counters["ipv4.fragments"] == 4 and d.counters["ipv4.reassembled"] == 1
    # a late duplicate does not start a new tracker
    late = d.add_ipv4(4, frag4(frags[1][1], frags[1][0], True))
    assert late == DefragResult(None, ("ipv4.frag_ignored",))
    assert d.tracker_count == 0
    # ... until the remembered window has passed
    assert d.add_ipv4(2_000_000, frag4(frags[1][1], frags[1][0], True)).events == ()
    assert d.tracker_count == 1


def test_ipv4_options_and_df_kept() -> None:
    opts = b"\x94\x04\x00\x00"  # router alert
    payload = b"A" * 16 + b"B" * 8
    d = Defragmenter()
    d.add_ipv4(0, frag4(payload[:16], 0, True, options=opts, df=False))
    pkt = d.add_ipv4(1, frag4(payload[16:], 16, False)).packet
    assert pkt is not None
    check_ipv4(pkt, payload, hlen=24)
    assert pkt[20:24] == opts


def test_not_a_fragment_passthrough_and_padding() -> None:
    pkt = frag4(b"hello", 0, False)
    assert Defragmenter().add_ipv4(0, pkt + b"\x00" * 10) == DefragResult(pkt, ())


def test_truncated_and_malformed_ipv4() -> None:
    d = Defragmenter()
    pkt = frag4(b"A" * 64, 0, True)
    assert d.add_ipv4(0, pkt[:50]).events == ("ipv4.trunc_pkt",)
    assert d.add_ipv4(0, b"\x45\x00").events == ("ipv4.pkt_too_small",)
    assert d.add_ipv4(0, b"\x65" + pkt[1:]).events == ("ipv4.wrong_ip_version",)
    assert d.add_ipv4(0, b"\x44" + pkt[1:]).events == ("ipv4.hlen_too_small",)
    assert d.tracker_count == 0 and d.memuse == 0


def test_ipv4_too_large() -> None:
    d = Defragmenter()
    r = d.add_ipv4(0, frag4(b"A" * 71, 8183 * 8, False))  # Suricata DefragTooLargeIpv4Test
    assert r == DefragResult(None, ("ipv4.frag_pkt_too_large",))
    assert d.tracker_count == 0
    # header options push a datagram that fit per fragment past 65535 at reassembly
    opts = b"\x01" * 40
    d.add_ipv4(0, frag4(b"A" * 65000, 0, True, options=opts))
    r = d.add_ipv4(1, frag4(b"B" * 500, 65000, False))
    assert r.packet is None and "ipv4.frag_pkt_too_large" in r.events
    assert d.memuse == 0


# ---------------------------------------------------------------- overlap policy
NOVAK = [  # (letter, offset, length); Novak "Target-Based Fragmentation Reassembly" scenario
    ("A", 0, 24), ("B", 32, 16), ("C", 48, 24), ("D", 80, 8), ("E", 104, 16),
    ("F", 120, 24), ("G", 144, 16), ("H", 160, 16), ("I", 176, 8),
    ("J", 8, 32), ("K", 48, 24), ("L", 72, 24), ("M", 96, 24), ("N", 128, 8),
    ("O", 152, 8), ("P", 160, 8), ("Q", 176, 16),
]  # fmt: skip
# Suricata's DefragSturgesNovakBsdTest expected output
NOVAK_BSD = "AAAJJBCCCLLLMMMFFFGGHHIQ"


@pytest.mark.parametrize("family", [4, 6])
def test_bsd_overlap_policy_sturges_novak(family: int) -> None:
    d = Defragmenter()
    results = []
    for i, (ch, off, ln) in enumerate(NOVAK):
        last = i == len(NOVAK) - 1
        if family == 4:
            results.append(d.add_ipv4(i, frag4(ch.encode() * ln, off, not last, proto=1)))
        else:
            pkt, fo = frag6(ch.encode() * ln, off, not last, nh=58)
            results.append(d.add_ipv6(i, pkt, fo))
    assert all(r.packet is None for r in results[:-1])
    assert all(not r.events for r in results[:9])
    ev = f"ipv{family}.frag_overlap"
    assert all(ev in r.events for r in results[9:])
    pkt = results[-1].packet
    assert pkt is not None
    expected = "".join(c * 8 for c in NOVAK_BSD).encode()
    if family == 4:
        check_ipv4(pkt, expected)
    else:
        assert pkt[40:] == expected and struct.unpack_from("!H", pkt, 4)[0] == 192
        assert pkt[6] == 58


def test_bsd_later_starting_fragment_loses_earlier_starting_wins() -> None:
    d = Defragmenter()
    d.add_ipv4(0, frag4(b"a" * 16, 8, True))  # [8, 24)
    r = d.add_ipv4(1, frag4(b"b" * 16, 16, True))  # [16, 32): 16..24 kept from 'a'
    assert r.events == ("ipv4.frag_overlap",)
    r = d.add_ipv4(2, frag4(b"c" * 16, 0, True))  # [0, 16): starts earlier -> overwrites 8..16
    assert r.events == ("ipv4.frag_overlap",)
    pkt = d.add_ipv4(3, frag4(b"d" * 8, 32, False)).packet
    assert pkt is not None
    check_ipv4(pkt, b"c" * 16 + b"a" * 8 + b"b" * 8 + b"d" * 8)


# ---------------------------------------------------------------- timeouts / bounds
def test_missing_middle_then_timeout() -> None:
    d = Defragmenter(timeout_us=1_000_000)
    dgram = udp_datagram(b"q" * 300)
    frags = split(dgram, 104)
    d.add_ipv4(0, frag4(frags[0][1], 0, True))
    d.add_ipv4(10, frag4(frags[2][1], frags[2][0], False))
    assert d.expire(500_000) == 0 and d.tracker_count == 1
    assert d.expire(1_000_011) == 1
    assert d.tracker_count == 0 and d.memuse == 0 and d.counters["ipv4.timeouts"] == 1
    # the middle arriving late starts a fresh (incomplete) tracker
    assert d.add_ipv4(1_000_020, frag4(frags[1][1], frags[1][0], True)).packet is None


def test_lazy_timeout_on_lookup() -> None:
    d = Defragmenter(timeout_us=100)
    d.add_ipv4(0, frag4(b"A" * 8, 8, False))
    assert d.add_ipv4(1000, frag4(b"B" * 8, 0, True)).packet is None
    assert d.counters["ipv4.timeouts"] == 1 and d.counters["tracker_soft_reuse"] == 1


def test_tracker_cap_evicts_oldest() -> None:
    d = Defragmenter(max_trackers=4)
    for ident in range(10):
        d.add_ipv4(ident, frag4(b"A" * 8, 0, True, ident=ident))
    assert d.tracker_count == 4
    assert d.counters["max_trackers_reached"] == 6 and d.counters["tracker_hard_reuse"] == 6
    assert d.memuse == 4 * 28
    assert d.add_ipv4(20, frag4(b"B" * 8, 8, False, ident=0)).packet is None  # evicted
    d2 = Defragmenter(max_trackers=4)
    for ident in range(10):
        d2.add_ipv4(ident, frag4(b"A" * 8, 0, True, ident=ident))
    assert d2.add_ipv4(20, frag4(b"B" * 8, 8, False, ident=9)).packet is not None  # kept


def test_byte_cap_evicts_oldest() -> None:
    d = Defragmenter(max_bytes=1000)
    for ident in range(5):
        d.add_ipv4(ident, frag4(b"A" * 400, 0, True, ident=ident))
        assert d.memuse <= 1000
    assert d.tracker_count == 2 and d.counters["tracker_hard_reuse"] == 3
    assert d.counters["memcap_reached"] == 3
    # a fragment too large for the cap on its own is ignored
    r = d.add_ipv4(9, frag4(b"A" * 1200, 0, True, ident=99))
    assert r.events == ("ipv4.frag_ignored",) and d.memuse <= 1000


def test_max_frags_per_tracker() -> None:
    d = Defragmenter(max_frags_per_tracker=5)
    for i in range(5):
        assert d.add_ipv4(i, frag4(b"A" * 8, 0, True)).events in ((), ("ipv4.frag_overlap",))
    assert d.add_ipv4(5, frag4(b"A" * 8, 0, True)).events == ("ipv4.frag_ignored",)
    assert d.counters["max_frags_reached"] == 1 and d.tracker_count == 0 and d.memuse == 0


def test_vlan_and_proto_separate_trackers() -> None:
    d = Defragmenter()
    assert d.add_ipv4(0, frag4(b"A" * 8, 0, True), vlan=1).packet is None
    assert d.add_ipv4(1, frag4(b"B" * 8, 8, False), vlan=2).packet is None
    assert d.add_ipv4(2, frag4(b"B" * 8, 8, False, proto=6), vlan=1).packet is None
    assert d.tracker_count == 3
    assert d.add_ipv4(3, frag4(b"B" * 8, 8, False), vlan=1).packet is not None


def test_conflicting_last_fragment_ignored() -> None:
    d = Defragmenter()
    d.add_ipv4(0, frag4(b"B" * 8, 8, False))
    assert d.add_ipv4(1, frag4(b"C" * 16, 8, False)).events == ("ipv4.frag_ignored",)
    pkt = d.add_ipv4(2, frag4(b"A" * 8, 0, True)).packet
    assert pkt is not None and pkt[20:] == b"A" * 8 + b"B" * 8


# ---------------------------------------------------------------- IPv6
def test_ipv6_out_of_order_udp() -> None:
    data = bytes(range(200)) * 5
    dgram = udp_datagram(data)
    frags = split(dgram, 400)
    d = Defragmenter()
    for off, chunk, m in reversed(frags[1:]):
        pkt, fo = frag6(chunk, off, m)
        assert d.add_ipv6(0, pkt, fo).packet is None
    pkt, fo = frag6(frags[0][1], 0, True)
    out = d.add_ipv6(1, pkt, fo)
    assert out.packet is not None and out.events == ()
    ip6 = dpkt.ip6.IP6(out.packet)
    assert ip6.nxt == 17 and ip6.plen == len(dgram) and out.packet[40:] == dgram
    assert isinstance(ip6.data, dpkt.udp.UDP) and ip6.data.data == data
    assert d.counters["ipv6.fragments"] == 3 and d.counters["ipv6.reassembled"] == 1


def test_ipv6_with_hop_by_hop_before_fragment_header() -> None:
    hbh = bytes([0, 0, 1, 4, 0, 0, 0, 0])  # NH patched by builder, len 0, PadN
    dgram = udp_datagram(b"h" * 100)
    d = Defragmenter()
    p1, fo = frag6(dgram[:64], 0, True, pre=hbh)
    assert fo == 48
    assert d.add_ipv6(0, p1, fo).packet is None
    p2, fo = frag6(dgram[64:], 64, False, pre=hbh)
    out = d.add_ipv6(1, p2, fo).packet
    assert out is not None
    assert out[6] == 0 and out[40] == 17  # IPv6 -> HBH -> UDP
    assert out[40:48] == bytes([17]) + hbh[1:] and out[48:] == dgram
    assert struct.unpack_from("!H", out, 4)[0] == 8 + len(dgram)
    ip6 = dpkt.ip6.IP6(out)
    assert isinstance(ip6.data, dpkt.udp.UDP) and ip6.data.data == b"h" * 100


def test_ipv6_atomic_fragment() -> None:
    dgram = udp_datagram(b"atomic")
    pkt, fo = frag6(dgram, 0, False)
    d = Defragmenter()
    r = d.add_ipv6(0, pkt, fo)
    assert r.events == ("ipv6.exthdr_useless_fh",)
    assert r.packet is not None and r.packet[6] == 17 and r.packet[40:] == dgram
    assert struct.unpack_from("!H", r.packet, 4)[0] == len(dgram)
    assert d.tracker_count == 0


def test_ipv6_invalid_length_and_too_large() -> None:
    d = Defragmenter()
    pkt, fo = frag6(b"A" * 13, 0, True)
    assert d.add_ipv6(0, pkt, fo).events == ("ipv6.frag_invalid_length",)
    pkt, fo = frag6(b"A" * 64, 65528, False)
    assert d.add_ipv6(0, pkt, fo).events == ("ipv6.frag_pkt_too_large",)
    assert d.tracker_count == 0
    pkt, fo = frag6(b"A" * 64, 0, True)
    assert d.add_ipv6(0, pkt[:80], fo).events == ("ipv6.trunc_pkt",)
    assert d.add_ipv6(0, pkt, 44).events == ("ipv6.trunc_exthdr",)


# ---------------------------------------------------------------- real traffic
def _expected_packet(yaml_name: str) -> bytes:
    text = (FIXTURES / yaml_name).read_text()
    m = re.search(r'packet: "([^"]+)"', text)
    assert m
    return base64.b64decode(m.group(1))


def _pcap(name: str) -> list[tuple[int, bytes]]:
    with (FIXTURES / name).open("rb") as fh:
        return [(round(ts * 1e6), bytes(b)) for ts, b in dpkt.pcap.Reader(fh)]


def test_suricata_verify_ipv4_tcp_syn() -> None:
    d = Defragmenter()
    outs = [d.add_ipv4(ts, raw).packet for ts, raw in _pcap("frag-ip-tcp-syn.pcap")]
    assert outs[:2] == [None, None]
    assert outs[2] == _expected_packet("frag-ip-tcp-syn.test.yaml")
    ip = dpkt.ip.IP(outs[2])
    assert isinstance(ip.data, dpkt.tcp.TCP) and ip.data.flags & dpkt.tcp.TH_SYN


def test_suricata_verify_ipv6_tcp() -> None:
    d = Defragmenter()
    outs = []
    for ts, raw in _pcap("frag-ip-tcp.pcap"):
        assert raw[6] == 44
        outs.append(d.add_ipv6(ts, raw, 40).packet)
    assert outs[:2] == [None, None]
    assert outs[2] == _expected_packet("frag-ip-tcp.test.yaml")
    tcp = dpkt.ip6.IP6(outs[2]).data
    assert isinstance(tcp, dpkt.tcp.TCP) and len(tcp.data) == 1000  # rule: dsize:1000


def test_wireshark_icmp_echo_matches_reply() -> None:
    d = Defragmenter()
    out = []
    reply = None
    for ts, raw in _pcap("ipv4frags.pcap"):
        ip_raw = raw[14:]
        if struct.unpack_from("!H", ip_raw, 6)[0] & 0x3FFF:  # MF or offset
            out.append(d.add_ipv4(ts, ip_raw).packet)
        else:
            reply = dpkt.ip.IP(ip_raw)
    assert out[0] is None and out[1] is not None and reply is not None
    req = dpkt.ip.IP(out[1])
    assert csum(out[1][:20]) == 0 and req.len == len(out[1]) == 1428
    assert req.data.type == 8 and reply.data.type == 0
    assert req.data.data.data == reply.data.data.data  # echo reply mirrors the payload
    assert csum(bytes(out[1][20:])) == 0  # ICMP checksum of the reassembled message


# ---------------------------------------------------------------- fuzz
@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=20), st.integers(0, 200))
def test_fuzz_random_bytes_never_raise(blobs: list[bytes], fo: int) -> None:
    d = Defragmenter(max_bytes=2000, max_trackers=4)
    for i, b in enumerate(blobs):
        for r in (d.add_ipv4(i, b), d.add_ipv6(i, b, fo)):
            assert isinstance(r, DefragResult)
        assert 0 <= d.memuse <= 2000


frag_st = st.tuples(
    st.booleans(),  # v6?
    st.integers(0, 3),  # id
    st.integers(0, 8191),  # offset units
    st.integers(0, 200),  # length
    st.booleans(),  # more
    st.integers(0, 1),  # vlan
    st.integers(0, 3_000),  # ts step
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frag_st, max_size=60), st.integers(100, 3000), st.integers(1, 5))
def test_fuzz_fragment_sequences(frags: list[tuple[int, ...]], max_bytes: int, cap: int) -> None:
    d = Defragmenter(
        max_bytes=max_bytes, max_trackers=cap, timeout_us=5_000, max_frags_per_tracker=20
    )
    ts = 0
    for v6, ident, off8, ln, more, vlan, step in frags:
        ts += step
        off = min(off8 * 8, 65528) if off8 > 4000 else off8 * 8 % 512
        payload = bytes([ident + 65]) * ln
        if v6:
            pkt, fo = frag6(payload, off & 0xFFF8, bool(more), ident=ident)
            r = d.add_ipv6(ts, pkt, fo, vlan=vlan)
        else:
            r = d.add_ipv4(ts, frag4(payload, off, bool(more), ident=ident), vlan=vlan)
        assert isinstance(r, DefragResult) and isinstance(r.events, tuple)
        if r.packet is not None:
            if v6:
                assert struct.unpack_from("!H", r.packet, 4)[0] == len(r.packet) - 40
            else:
                check_ipv4(r.packet, r.packet[20:])
        assert 0 <= d.memuse <= max_bytes
        assert d.tracker_count <= cap
    d.expire(ts + 10_000)
    assert d.tracker_count == 0 and d.memuse == 0


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=9, max_size=3000),
    st.integers(1, 64),
    st.randoms(use_true_random=False),
    st.booleans(),
)
def test_property_shuffled_duplicated_fragments_reassemble(
    payload: bytes, units: int, rnd: random.Random, v6: bool
) -> None:
    frags = split(payload, units * 8)
    assume(len(frags) > 1)
    order = frags + [f for f in frags if rnd.random() < 0.3]
    rnd.shuffle(order)
    d = Defragmenter()
    results = []
    for i, (off, chunk, more) in enumerate(order):
        if v6:
            pkt, fo = frag6(chunk, off, more)
            results.append(d.add_ipv6(i, pkt, fo))
        else:
            results.append(d.add_ipv4(i, frag4(chunk, off, more)))
    done = [r.packet for r in results if r.packet is not None]
    assert len(done) == 1 and d.memuse == 0
    assert done[0][40 if v6 else 20 :] == payload
    if not v6:
        check_ipv4(done[0], payload)
