"""Property: any bytes, with any supported link type, decode without raising into sane records."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packets import (
    ETH_ARP,
    ETH_IP6,
    ah,
    arp,
    decode,
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
    sll,
    sll2,
    tcp,
    udp,
    vxlan,
)

from tocsin.capture.batch import SUPPORTED_LINKTYPES
from tocsin.decode.layout import FLAG_FLOW, FLAG_FRAG, FLAG_IP

LINKTYPES = sorted(SUPPORTED_LINKTYPES)
FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TS_OPTS = b"\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02\x08\x0a" + b"\x11" * 8
SEEDS: list[tuple[bytes, int]] = [
    (eth_tcp4(b"GET / HTTP/1.1\r\n"), 1),
    (eth(ipv4(tcp(options=TS_OPTS))), 1),
    (eth_udp4(b"dns"), 1),
    (eth_tcp6(), 1),
    (eth(ipv6(ext6(60) + routing6(51) + ah(6) + tcp(b"x"), 0), ETH_IP6), 1),
    (eth(ipv6(ext6(44) + frag6(17, 8) + b"y" * 16, 0), ETH_IP6), 1),
    (eth(ipv4(icmp(8, 0, payload=b"ping"), 1)), 1),
    (eth(ipv4(tcp(), options=b"\x07\x07\x04" + b"\0" * 5), vlans=((0x88A8, 1), (0x8100, 2))), 1),
    (eth(arp(), ETH_ARP), 1),
    (eth(ipv4(gre(erspan2(eth(inner_v4())), 0x88BE, seq=1), 47)), 1),
    (eth(ipv4(gre(erspan3(eth(inner_v4()), subheader=True), 0x22EB), 47)), 1),
    (eth(ipv4(udp(vxlan(eth(inner_v4(), vlans=((0x8100, 3),))), dport=4789), 17)), 1),
    (eth(ipv4(gre(inner_v6(), ETH_IP6, key=1, seq=2), 47)), 1),
    (eth(ipv6(ipv4(inner_v4(), 4), 4), ETH_IP6), 1),
    (sll(ipv4(tcp())), 113),
    (sll2(ipv6(udp(b"a"), 17), ETH_IP6), 276),
    (null(ipv6(tcp()), 24), 0),
    (null(ipv4(tcp()), 2, ">"), 108),
    (ipv4(gre(eth(inner_v4()), 0x6558), 47), 101),
]


def check(packets: list[bytes], linktype: int) -> None:
    pk, ctr, _ = decode(packets, linktype)
    n = len(packets)
    assert ctr["pkts"] == n and len(pk) == n
    assert ctr["bytes"] == sum(len(p) for p in packets)
    # an invalid packet has no flow (packets without a flow are not all invalid: ARP, fragments)
    assert ctr["invalid"] <= int(np.count_nonzero((pk["flags"] & FLAG_FLOW) == 0))
    for r, p in zip(pk, packets, strict=True):
        caplen = len(p)
        l3, l4, po, pl = int(r["l3_off"]), int(r["l4_off"]), int(r["pay_off"]), int(r["pay_len"])
        assert -1 <= l3 < max(caplen, 1)
        assert -1 <= l4 <= caplen
        if l4 >= 0:
            assert l3 >= 0 and l4 > l3
        if po >= 0:
            assert l4 >= 0 and po >= l4 and pl >= 0 and po + pl <= caplen
        flags = int(r["flags"])
        if flags & FLAG_FLOW:
            assert flags & FLAG_IP and not flags & FLAG_FRAG
        if flags & FLAG_IP:
            assert int(r["ipver"]) in (4, 6) and l3 >= 0
        if int(r["frag_off"]) >= 0:
            assert flags & FLAG_FRAG and l3 + int(r["frag_off"]) + 8 <= caplen


@FAST
@given(
    st.sampled_from(LINKTYPES),
    st.lists(st.binary(max_size=200), min_size=1, max_size=8),
)
def test_random_bytes(linktype: int, packets: list[bytes]) -> None:
    check(packets, linktype)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int]:
    seed, linktype = draw(st.sampled_from(SEEDS))
    b = bytearray(seed)
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "extend"]))
        if op in ("flip", "set") and b:
            k = draw(st.integers(0, len(b) - 1))
            b[k] = (
                b[k] ^ (1 << draw(st.integers(0, 7))) if op == "flip" else draw(st.integers(0, 255))
            )
        elif op == "truncate":
            del b[draw(st.integers(0, len(b))) :]
        elif op == "extend":
            b += draw(st.binary(min_size=1, max_size=40))
    return bytes(b), linktype


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_packets(case: tuple[bytes, int]) -> None:
    check([case[0]], case[1])


def test_seeds_decode_cleanly() -> None:
    for packet, linktype in SEEDS:
        _pk, ctr, anom = decode([packet], linktype)
        assert anom == [""], (packet.hex(), anom)
        assert ctr["invalid"] == 0


def test_every_prefix_of_every_seed() -> None:
    """Truncation at each byte: never raises, offsets stay inside the shorter packet."""
    for packet, linktype in SEEDS:
        check([packet[:k] for k in range(len(packet) + 1)], linktype)
