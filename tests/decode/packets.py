"""Packet builders for the decoder tests: plain `struct` packing, every length field computed.

Each builder returns the bytes of one header plus what it wraps. Checksums are left at zero (the
decoder does not validate them). Lengths can be overridden to build malformed packets.
"""

from __future__ import annotations

import struct

import numpy as np

from tocsin.capture.batch import PacketBatch
from tocsin.decode.common import VXLAN_DEFAULT_PORT
from tocsin.decode.decoder import Decoder
from tocsin.decode.layout import (
    ANOMALY_NAMES,
)

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
SRC4, DST4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")

ETH_IP4, ETH_IP6, ETH_ARP = 0x0800, 0x86DD, 0x0806


# ---------------------------------------------------------------- link layers
def eth(payload: bytes, etype: int = ETH_IP4, *, vlans: tuple[tuple[int, int], ...] = ()) -> bytes:
    """Ethernet II; `vlans` = ((tpid, vid), ...) outermost first."""
    types = [tpid for tpid, _ in vlans] + [etype]
    out = MAC_B + MAC_A + struct.pack("!H", types[0])
    for k, (_, vid) in enumerate(vlans):
        out += struct.pack("!HH", vid, types[k + 1])
    return out + payload


def sll(payload: bytes, proto: int = ETH_IP4) -> bytes:
    """Linux cooked v1 (16 bytes)."""
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_A + b"\0\0", proto) + payload


def sll2(payload: bytes, proto: int = ETH_IP4) -> bytes:
    """Linux cooked v2 (20 bytes)."""
    return struct.pack("!HHIHBB8s", proto, 0, 2, 1, 0, 6, MAC_A + b"\0\0") + payload


def null(payload: bytes, family: int, order: str = "<") -> bytes:
    """BSD NULL / LOOP header: the address family in `order` byte order."""
    return struct.pack(order + "I", family) + payload


def arp() -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A, SRC4, b"\0" * 6, DST4)


# ---------------------------------------------------------------- IP
def ipv4(
    payload: bytes,
    proto: int = 6,
    *,
    src: bytes = SRC4,
    dst: bytes = DST4,
    ttl: int = 64,
    options: bytes = b"",
    flags_frag: int = 0,
    total: int | None = None,
    ihl: int | None = None,
    version: int = 4,
    ident: int = 1,
) -> bytes:
    hlen = 20 + len(options)
    ihl = hlen // 4 if ihl is None else ihl
    tot = hlen + len(payload) if total is None else total
    hdr = struct.pack(
        "!BBHHHBBH4s4s", (version << 4) | ihl, 0, tot, ident, flags_frag, ttl, proto, 0, src, dst
    )
    return hdr + options + payload


def ipv6(
    payload: bytes,
    nh: int = 6,
    *,
    src: bytes = SRC6,
    dst: bytes = DST6,
    hlim: int = 64,
    plen: int | None = None,
    version: int = 6,
) -> bytes:
    plen = len(payload) if plen is None else plen
    return struct.pack("!IHBB16s16s", version << 28, plen, nh, hlim, src, dst) + payload


def ext6(nh: int, body_len: int = 6) -> bytes:
    """A hop-by-hop / destination / routing header: next header, length, padding (PadN)."""
    assert (body_len + 2) % 8 == 0
    return (
        struct.pack("!BB", nh, (body_len + 2) // 8 - 1)
        + b"\x01"
        + bytes([body_len - 2])
        + (b"\0" * (body_len - 2))
    )


def routing6(nh: int) -> bytes:
    """Routing header type 0 with no addresses left (8 bytes)."""
    return struct.pack("!BBBBI", nh, 0, 0, 0, 0)


def ah(nh: int) -> bytes:
    """Authentication header with a 12-byte ICV (24 bytes, payload len 4)."""
    return struct.pack("!BBHII", nh, 4, 0, 0x1000, 1) + b"\xaa" * 12


def frag6(nh: int, offset: int = 0, more: bool = True, ident: int = 7) -> bytes:
    return struct.pack("!BBHI", nh, 0, (offset & 0xFFF8) | int(more), ident)


# ---------------------------------------------------------------- transport
def tcp(
    payload: bytes = b"",
    *,
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    ack: int = 0,
    flags: int = 0x02,
    win: int = 65535,
    options: bytes = b"",
    doff: int | None = None,
) -> bytes:
    if len(options) % 4:
        options += b"\0" * (4 - len(options) % 4)
    doff = (20 + len(options)) // 4 if doff is None else doff
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, win, 0, 0)
    return hdr + options + payload


def udp(
    payload: bytes = b"", *, sport: int = 5353, dport: int = 53, ulen: int | None = None
) -> bytes:
    ulen = 8 + len(payload) if ulen is None else ulen
    return struct.pack("!HHHH", sport, dport, ulen, 0) + payload


def icmp(
    itype: int = 8, code: int = 0, rest: bytes = b"\0\x01\0\x01", payload: bytes = b""
) -> bytes:
    return struct.pack("!BBH", itype, code, 0) + rest + payload


def sctp(sport: int = 2905, dport: int = 2906) -> bytes:
    return struct.pack("!HHII", sport, dport, 0, 0) + struct.pack("!BBH", 1, 0, 4)


# ---------------------------------------------------------------- tunnels
def gre(
    payload: bytes,
    ptype: int = ETH_IP4,
    *,
    key: int | None = None,
    seq: int | None = None,
    csum: bool = False,
    version: int = 0,
    recur: int = 0,
) -> bytes:
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0)
    flags |= (0x1000 if seq is not None else 0) | (recur << 8) | version
    out = struct.pack("!HH", flags, ptype)
    if csum:
        out += b"\0\0\0\0"
    if key is not None:
        out += struct.pack("!I", key)
    if seq is not None:
        out += struct.pack("!I", seq)
    return out + payload


def erspan2(frame: bytes, *, version: int = 1, vlan: int = 0, session: int = 1) -> bytes:
    """ERSPAN type II header (8 bytes) + the mirrored frame."""
    return struct.pack("!HHI", (version << 12) | vlan, session & 0x3FF, 0) + frame


def erspan3(frame: bytes, *, version: int = 2, subheader: bool = False) -> bytes:
    """ERSPAN type III header (12 bytes, + 8-byte platform subheader when O is set)."""
    hdr = struct.pack("!HHIHH", version << 12, 1, 0x12345678, 0, int(subheader))
    if subheader:
        hdr += b"\x0b" * 8
    return hdr + frame


def vxlan(frame: bytes, vni: int = 42, flags: int = 0x08) -> bytes:
    return struct.pack("!BxxxI", flags, vni << 8) + frame


# ---------------------------------------------------------------- common packets
def eth_tcp4(payload: bytes = b"hello", **kw: int) -> bytes:
    return eth(ipv4(tcp(payload, **kw)))


def eth_udp4(payload: bytes = b"q", dport: int = 53) -> bytes:
    return eth(ipv4(udp(payload, dport=dport), 17))


def eth_tcp6(payload: bytes = b"hello") -> bytes:
    return eth(ipv6(tcp(payload)), ETH_IP6)


def inner_v4(addr_last: int = 9) -> bytes:
    """An inner IPv4/TCP packet 192.168.0.<addr_last> -> 192.168.1.1, ports 1234 -> 443."""
    return ipv4(
        tcp(b"inner", sport=1234, dport=443),
        src=bytes([192, 168, 0, addr_last]),
        dst=bytes([192, 168, 1, 1]),
    )


def inner_v6() -> bytes:
    return ipv6(
        udp(b"inner6", sport=1111, dport=2222),
        17,
        src=bytes.fromhex("fd000000000000000000000000000001"),
        dst=bytes.fromhex("fd000000000000000000000000000002"),
    )


# ---------------------------------------------------------------- running the decoder
Decoded = tuple[np.ndarray, dict[str, int], list[str]]


def decode(
    packets: list[bytes] | list[tuple[bytes, int]],
    linktype: int = 1,
    vxlan_port: int = VXLAN_DEFAULT_PORT,
) -> Decoded:
    """Decode raw packets (or (bytes, wirelen)) → (records, counters by name, anomaly names).

    The anomaly list has one entry per packet: its first anomaly name, "" when none.
    """
    items: list[tuple[int, bytes, int]] = []
    for k, p in enumerate(packets):
        if isinstance(p, tuple):
            items.append((k, p[0], p[1]))
        else:
            items.append((k, p, len(p)))
    batch = PacketBatch.from_packets(items, linktype)
    decoder = Decoder(vxlan_port)
    pk = decoder.decode(batch)
    counters = decoder.counter_dict()
    return pk, counters, [ANOMALY_NAMES[int(a)] for a in pk["anomaly"]]


def decode1(
    packet: bytes, linktype: int = 1, vxlan_port: int = VXLAN_DEFAULT_PORT
) -> tuple[np.void, dict[str, int], str]:
    """Decode one packet: (record, counters, anomaly name)."""
    pk, ctr, names = decode([packet], linktype, vxlan_port)
    return pk[0], ctr, names[0]


def v4(addr: bytes) -> tuple[int, int]:
    """(hi, lo) of an IPv4 address as stored in the record."""
    return 0, 0x0000FFFF00000000 | int.from_bytes(addr, "big")


def v6(addr: bytes) -> tuple[int, int]:
    return int.from_bytes(addr[:8], "big"), int.from_bytes(addr[8:], "big")
