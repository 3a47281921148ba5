"""Hand-built pcap and pcapng bytes for the capture tests (no external tool, every byte visible)."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from pathlib import Path

from tocsin.capture import PacketBatch

# A packet for `pcap`: (seconds, fraction in µs or ns, captured bytes[, wire length]).
Record = tuple[int, int, bytes] | tuple[int, int, bytes, int]


def pcap_header(
    *, big: bool = False, nano: bool = False, linktype: int = 1, snaplen: int = 65535
) -> bytes:
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(
    sec: int, frac: int, data: bytes, wirelen: int | None = None, *, big: bool = False
) -> bytes:
    e = ">" if big else "<"
    wire = len(data) if wirelen is None else wirelen
    return struct.pack(e + "IIII", sec, frac, len(data), wire) + data


def pcap(
    records: Sequence[Record], *, big: bool = False, nano: bool = False, linktype: int = 1
) -> bytes:
    """A classic pcap file holding `records`."""
    out = [pcap_header(big=big, nano=nano, linktype=linktype)]
    for r in records:
        wire = r[3] if len(r) > 3 else None
        out.append(pcap_record(r[0], r[1], r[2], wire, big=big))
    return b"".join(out)


def block(btype: int, body: bytes, *, big: bool = False) -> bytes:
    """A pcapng block: body padded to 4 bytes, lengths before and after."""
    e = ">" if big else "<"
    body += b"\0" * (-len(body) % 4)
    blen = 12 + len(body)
    return struct.pack(e + "II", btype, blen) + body + struct.pack(e + "I", blen)


def option(code: int, value: bytes, *, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return struct.pack(e + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def shb(*, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), big=big)


def idb(
    linktype: int = 1,
    *,
    snaplen: int = 0,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    big: bool = False,
) -> bytes:
    e = ">" if big else "<"
    opts = b""
    if tsresol is not None:
        opts += option(9, bytes([tsresol]), big=big)
    if tsoffset is not None:
        opts += option(14, struct.pack(e + "q", tsoffset), big=big)
    if opts:
        opts += option(0, b"", big=big)
    return block(1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, big=big)


def epb(
    iface: int, ticks: int, data: bytes, wirelen: int | None = None, *, big: bool = False
) -> bytes:
    e = ">" if big else "<"
    wire = len(data) if wirelen is None else wirelen
    head = struct.pack(e + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(data), wire)
    return block(6, head + data, big=big)


def pb(iface: int, ticks: int, data: bytes, *, big: bool = False) -> bytes:
    """The obsolete Packet Block (type 2)."""
    e = ">" if big else "<"
    head = struct.pack(
        e + "HHIIII", iface, 0, ticks >> 32, ticks & 0xFFFFFFFF, len(data), len(data)
    )
    return block(2, head + data, big=big)


def spb(data: bytes, wirelen: int | None = None, *, big: bool = False) -> bytes:
    e = ">" if big else "<"
    wire = len(data) if wirelen is None else wirelen
    return block(3, struct.pack(e + "I", wire) + data, big=big)


def frame(i: int, size: int = 60) -> bytes:
    """A recognisable fake Ethernet frame: packet `i` of a test."""
    return (i.to_bytes(4, "big") * (size // 4 + 1))[:size]


# (ts_us, captured bytes, wirelen, linktype): one packet as a test compares it
Packet = tuple[int, bytes, int, int]


def collect(batches: Iterator[PacketBatch]) -> list[Packet]:
    """Every packet of `batches` as tuples (copied: a batch is only valid until the next one)."""
    out: list[Packet] = []
    for b in batches:
        b.validate()
        assert b.n > 0
        for i in range(b.n):
            out.append((int(b.ts_us[i]), b.packet(i), int(b.wirelen[i]), int(b.linktype[i])))
    return out


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
