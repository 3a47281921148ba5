"""Small pcap / pcapng reader and classic-pcap writer for the bench (stdlib + numpy only).

Contract:
- `read_trace(path)` loads every Ethernet frame of a classic pcap (µs or ns, either byte
  order) or a pcapng (EPB / SPB / obsolete PB, any `if_tsresol`) into one `Trace`.
  Frames of non-Ethernet interfaces are dropped; a truncated last record is dropped.
  Raises `PcapError` if the file is neither format or holds no Ethernet frame.
- `write_header` / `cut_slice` / `scan_stats` handle the classic µs little-endian pcap that
  the bench itself writes (`LINKTYPE_ETHERNET`).

It does not decode anything above the link layer: that is the callers' business.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

LINKTYPE_ETHERNET = 1
SNAPLEN = 262_144
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)
RECORD_HEADER = struct.Struct("<IIII")

_PCAP_MAGICS: dict[bytes, tuple[str, int]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1),  # µs, little-endian
    b"\xa1\xb2\xc3\xd4": (">", 1),
    b"\x4d\x3c\xb2\xa1": ("<", 1000),  # ns
    b"\xa1\xb2\x3c\x4d": (">", 1000),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class PcapError(ValueError):
    """The file is not a readable Ethernet pcap / pcapng."""


@dataclass(frozen=True)
class Trace:
    """Frames of one capture, concatenated: frame i is data[offset[i] : offset[i] + caplen[i]]."""

    data: np.ndarray  # uint8
    offset: np.ndarray  # int64
    caplen: np.ndarray  # int64
    wirelen: np.ndarray  # int64
    ts_us: np.ndarray  # int64, µs since the epoch, in file order (not necessarily sorted)

    @property
    def packets(self) -> int:
        return len(self.offset)


class _Builder:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.caplen: list[int] = []
        self.wirelen: list[int] = []
        self.ts_us: list[int] = []

    def add(self, ts_us: int, frame: bytes, wirelen: int) -> None:
        self.chunks.append(frame)
        self.caplen.append(len(frame))
        self.wirelen.append(max(wirelen, len(frame)))
        self.ts_us.append(ts_us)

    def build(self, path: Path) -> Trace:
        if not self.chunks:
            raise PcapError(f"{path}: no Ethernet frame")
        caplen = np.asarray(self.caplen, dtype=np.int64)
        offset = np.zeros(len(caplen), dtype=np.int64)
        np.cumsum(caplen[:-1], out=offset[1:])
        data = np.frombuffer(b"".join(self.chunks), dtype=np.uint8)
        return Trace(
            data,
            offset,
            caplen,
            np.asarray(self.wirelen, dtype=np.int64),
            np.asarray(self.ts_us, dtype=np.int64),
        )


def read_trace(path: Path) -> Trace:
    raw = path.read_bytes()
    magic = raw[:4]
    if magic in _PCAP_MAGICS:
        return _read_pcap(path, raw)
    if magic == _PCAPNG_SHB:
        return _read_pcapng(path, raw)
    raise PcapError(f"{path}: not a pcap or pcapng file")


def _read_pcap(path: Path, raw: bytes) -> Trace:
    order, ticks_per_us = _PCAP_MAGICS[raw[:4]]
    linktype = struct.unpack_from(order + "I", raw, 20)[0] & 0xFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise PcapError(f"{path}: linktype {linktype}, not Ethernet")
    rec = struct.Struct(order + "IIII")
    out = _Builder()
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, caplen, wirelen = rec.unpack_from(raw, pos)
        pos += 16
        if pos + caplen > len(raw):
            break
        out.add(sec * 1_000_000 + frac // ticks_per_us, raw[pos : pos + caplen], wirelen)
        pos += caplen
    return out.build(path)


def _tsresol_to_us(resol: int) -> tuple[int, int, int]:
    """(multiplier, divisor, shift) turning raw ticks into µs: ticks * mul // div >> shift."""
    if resol & 0x80:
        return 1_000_000, 1, resol & 0x7F
    if resol >= 6:
        return 1, 10 ** (resol - 6), 0
    return 10 ** (6 - resol), 1, 0


def _read_pcapng(path: Path, raw: bytes) -> Trace:
    out = _Builder()
    order = "<"
    ifaces: list[tuple[int, tuple[int, int, int]]] = []  # (linktype, tsresol conversion)
    last_ts = 0
    pos = 0
    while pos + 12 <= len(raw):
        if raw[pos : pos + 4] == _PCAPNG_SHB:
            order = "<" if raw[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(order + "II", raw, pos)
        if blen < 12 or pos + blen > len(raw):
            break
        body = pos + 8
        if btype == 1:  # IDB
            linktype = struct.unpack_from(order + "H", raw, body)[0]
            resol = _idb_tsresol(raw, order, body + 8, pos + blen)
            ifaces.append((linktype, _tsresol_to_us(resol)))
        elif btype in (6, 2):  # EPB, obsolete PB
            if btype == 6:
                iface, hi, lo, caplen, wirelen = struct.unpack_from(order + "IIIII", raw, body)
            else:
                iface, _drops, hi, lo, caplen, wirelen = struct.unpack_from(
                    order + "HHIIII", raw, body
                )
            start = body + 20
            if iface < len(ifaces) and ifaces[iface][0] == LINKTYPE_ETHERNET:
                mul, div, shift = ifaces[iface][1]
                last_ts = (((hi << 32) | lo) * mul // div) >> shift
                out.add(last_ts, raw[start : start + caplen], wirelen)
        elif btype == 3 and ifaces and ifaces[0][0] == LINKTYPE_ETHERNET:  # SPB
            wirelen = struct.unpack_from(order + "I", raw, body)[0]
            caplen = min(wirelen, blen - 16)
            out.add(last_ts, raw[body + 4 : body + 4 + caplen], wirelen)
        pos += blen
    return out.build(path)


def _idb_tsresol(raw: bytes, order: str, pos: int, end: int) -> int:
    while pos + 4 <= end - 4:
        code, length = struct.unpack_from(order + "HH", raw, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            return raw[pos + 4]
        pos += 4 + ((length + 3) & ~3)
    return 6


def cut_slice(src: Path, dst: Path, packets: int) -> tuple[int, int]:
    """Copy the first `packets` records of a bench pcap; returns (packets, captured bytes)."""
    n = captured = 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        header = fin.read(24)
        if header[:4] not in _PCAP_MAGICS or _PCAP_MAGICS[header[:4]][0] != "<":
            raise PcapError(f"{src}: not a little-endian classic pcap")
        fout.write(header)
        while n < packets:
            rec = fin.read(16)
            if len(rec) < 16:
                break
            caplen = RECORD_HEADER.unpack(rec)[2]
            frame = fin.read(caplen)
            if len(frame) < caplen:
                break
            fout.write(rec)
            fout.write(frame)
            n += 1
            captured += caplen
    return n, captured


def scan_stats(path: Path) -> tuple[int, int]:
    """(packets, captured bytes) of a little-endian classic pcap, reading headers only."""
    n = captured = 0
    with path.open("rb") as f:
        f.seek(24)
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            caplen = RECORD_HEADER.unpack(rec)[2]
            f.seek(caplen, 1)
            n += 1
            captured += caplen
    return n, captured


def write_header(f: BinaryIO) -> None:
    f.write(PCAP_HEADER)
