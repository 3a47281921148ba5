"""Detection state: xbits per host / address pair, in packet time, bounded."""

from __future__ import annotations

from tocsin.detect.model import Xbit
from tocsin.detect.state import XBits

A, B, C = 1, 2, 3
S = 1_000_000  # µs per second


def test_ip_src_ip_dst_and_ip_pair_keys() -> None:
    xb = XBits()
    xb.apply(Xbit("set", "s", "ip_src"), A, B, 0)
    xb.apply(Xbit("set", "d", "ip_dst"), A, B, 0)
    xb.apply(Xbit("set", "p", "ip_pair"), A, B, 0)
    # ip_src: any packet from A; ip_dst: any packet to B; ip_pair: A and B either way
    assert xb.check(Xbit("isset", "s", "ip_src"), A, C, 1)
    assert not xb.check(Xbit("isset", "s", "ip_src"), C, A, 1)
    assert xb.check(Xbit("isset", "d", "ip_dst"), C, B, 1)
    assert xb.check(Xbit("isset", "d", "ip_src"), B, A, 1)  # set to B, read from B
    assert xb.check(Xbit("isset", "p", "ip_pair"), B, A, 1)
    assert not xb.check(Xbit("isset", "p", "ip_pair"), A, C, 1)
    assert xb.check(Xbit("isnotset", "p", "ip_pair"), A, C, 1)
    # a host's bit is the host's, whichever side set it: read it as the destination too
    assert xb.check(Xbit("isset", "s", "ip_dst"), C, A, 1)


def test_expiry_in_packet_time() -> None:
    xb = XBits()
    xb.apply(Xbit("set", "x", "ip_src", expire=10), A, B, 5 * S)
    isset, isnotset = Xbit("isset", "x", "ip_src"), Xbit("isnotset", "x", "ip_src")
    assert xb.check(isset, A, B, 15 * S)  # still set at its expiry instant
    assert not xb.check(isnotset, A, B, 15 * S)
    assert not xb.check(isset, A, B, 15 * S + 1)
    assert xb.check(isnotset, A, B, 15 * S + 1)
    assert not xb.bits  # an expired bit is dropped when seen


def test_default_expire_is_30_seconds() -> None:
    xb = XBits()
    xb.apply(Xbit("set", "x", "ip_src"), A, B, 0)
    assert xb.check(Xbit("isset", "x", "ip_src"), A, B, 30 * S)
    assert not xb.check(Xbit("isset", "x", "ip_src"), A, B, 30 * S + 1)


def test_set_keeps_an_unexpired_bit_and_renews_an_expired_one() -> None:
    xb = XBits()
    set10 = Xbit("set", "x", "ip_src", expire=10)
    xb.apply(set10, A, B, 0)
    xb.apply(set10, A, B, 5 * S)  # as Suricata: the running bit keeps its expiry
    assert not xb.check(Xbit("isset", "x", "ip_src"), A, B, 11 * S)
    xb.apply(set10, A, B, 12 * S)
    assert xb.check(Xbit("isset", "x", "ip_src"), A, B, 21 * S)


def test_unset_and_toggle() -> None:
    xb = XBits()
    isset = Xbit("isset", "x", "ip_pair")
    xb.apply(Xbit("toggle", "x", "ip_pair"), A, B, 0)
    assert xb.check(isset, B, A, 1)
    xb.apply(Xbit("toggle", "x", "ip_pair"), B, A, 2)
    assert not xb.check(isset, A, B, 3)
    xb.apply(Xbit("set", "x", "ip_pair"), A, B, 4)
    xb.apply(Xbit("unset", "x", "ip_pair"), A, B, 5)
    assert not xb.check(isset, A, B, 6)
    xb.apply(Xbit("unset", "x", "ip_pair"), A, B, 7)  # unsetting nothing is fine
    assert not xb.bits


def test_bounded_oldest_first_and_counted() -> None:
    xb = XBits(max_bits=2)
    for host in (A, B, C):
        xb.apply(Xbit("set", "x", "ip_src"), host, 0, 0)
    assert xb.evicted == 1
    assert not xb.check(Xbit("isset", "x", "ip_src"), A, 0, 1)
    assert xb.check(Xbit("isset", "x", "ip_src"), B, 0, 1)
    assert xb.check(Xbit("isset", "x", "ip_src"), C, 0, 1)
    assert len(xb.bits) == 2
