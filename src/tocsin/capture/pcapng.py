"""pcapng files: a sequence of blocks (type, length, body, length again).

Handled blocks:

- SHB (section header): sets the byte order (either, checked by its byte-order magic) and starts
  a new section: the interfaces of the previous section are forgotten. Parsed in Python.
- IDB (interface description): link type, snaplen, options ``if_tsresol`` (power of 10 or 2)
  and ``if_tsoffset`` (seconds). Parsed in Python. An interface whose link type is not in
  `SUPPORTED_LINKTYPES` has its packets skipped and counted in `skipped_packets`, and the first
  interface of each such link type gets an `UnsupportedLinkType` in `errors`. If no interface
  defined before the first packet block is usable, the reader raises `UnsupportedLinkType` at
  open instead.
- EPB, obsolete PB (type 2) and SPB: walked by the numba kernel. An SPB belongs to interface 0,
  has caplen ``min(original length, snaplen, room in the block)`` and, having no timestamp,
  takes the timestamp of the previous packet of the file (0 before any).
- Every other block type is skipped (its length is still checked).

The "header" is everything before the first packet block: an error there raises at open. After
it, errors are raised mid-file once earlier packets were yielded: `TruncatedCapture` (file ends
inside a block), `CorruptCapture` (block length not a multiple of 4, under the minimum, over 16
MiB or different in the trailer; caplen over 256 KiB or over the block; unknown interface id).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tocsin.capture.batch import SUPPORTED_LINKTYPES, PacketBatch
from tocsin.capture.errors import CorruptCapture, TruncatedCapture
from tocsin.capture.errors import UnsupportedLinkType as Unsupported
from tocsin.capture.reader import (
    MAX_CAPLEN,
    ST_CONTROL,
    ST_CORRUPT,
    ST_FULL,
    ST_NEED,
    BaseReader,
    rd_u16,
    rd_u32,
    supported_list,
)
from tocsin.capture.stream import Window
from tocsin.jit import kernel

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
BT_SHB, BT_IDB, BT_PB, BT_SPB, BT_EPB = 0x0A0D0D0A, 1, 2, 3, 6
MAX_BLOCK = 16 * 1024 * 1024
BOM = 0x1A2B3C4D

# timestamp conversion kinds (per interface): raw ticks -> microseconds
TS_MUL, TS_NS, TS_DIV, TS_POW2 = 0, 1, 2, 3

# ST_CORRUPT detail codes
C_BLOCK_LEN, C_TRAILER, C_CAPLEN_BIG, C_CAPLEN_ROOM, C_IFACE = 1, 2, 3, 4, 5


@kernel
def walk_pcapng(buf, pos, end, big, max_n, ifs, if_skip, last_ts, off, cap, wire, ts, lt):  # type: ignore[no-untyped-def]
    """Walk the blocks of `buf[pos:end]`, writing packets of usable interfaces (at most `max_n`).

    `ifs` is an (n_interfaces, 6) int64 table: linktype, usable, ts kind, ts factor, ts offset
    (µs), snaplen. Returns (n, pos, status, need, last_ts, detail); `pos` is the first block
    not consumed. ST_CONTROL: an SHB or IDB at `pos`; ST_NEED: `need` bytes from `pos` are
    required; ST_CORRUPT: `need` is the detail code, `detail` the offending value.
    """
    n = 0
    n_if = ifs.shape[0]
    while True:
        if end - pos < 8:
            return n, pos, ST_NEED, 8, last_ts, 0
        btype = rd_u32(buf, pos, big)
        if btype in (BT_SHB, BT_IDB):
            return n, pos, ST_CONTROL, 0, last_ts, 0
        is_pkt = btype in (BT_EPB, BT_SPB, BT_PB)
        if is_pkt and n >= max_n:
            return n, pos, ST_FULL, 0, last_ts, 0
        blen = rd_u32(buf, pos + 4, big)
        minlen = 32 if (btype in (BT_EPB, BT_PB)) else (16 if btype == BT_SPB else 12)
        if blen < minlen or blen & 3 or blen > MAX_BLOCK:
            return n, pos, ST_CORRUPT, C_BLOCK_LEN, last_ts, blen
        if end - pos < blen:
            return n, pos, ST_NEED, blen, last_ts, 0
        trailer = rd_u32(buf, pos + blen - 4, big)
        if trailer != blen:
            return n, pos, ST_CORRUPT, C_TRAILER, last_ts, trailer
        if not is_pkt:
            pos += blen
            continue
        if btype == BT_SPB:
            if n_if == 0:
                return n, pos, ST_CORRUPT, C_IFACE, last_ts, 0
            iface = 0
            orig = rd_u32(buf, pos + 8, big)
            incl = min(orig, blen - 16)
            snap = ifs[0, 5]
            if snap > 0:
                incl = min(incl, snap)
            if incl > MAX_CAPLEN:
                return n, pos, ST_CORRUPT, C_CAPLEN_BIG, last_ts, incl
            t = last_ts
            data = pos + 12
        else:
            iface = rd_u32(buf, pos + 8, big) if btype == BT_EPB else rd_u16(buf, pos + 8, big)
            incl = rd_u32(buf, pos + 20, big)
            orig = rd_u32(buf, pos + 24, big)
            if incl > MAX_CAPLEN:
                return n, pos, ST_CORRUPT, C_CAPLEN_BIG, last_ts, incl
            if 32 + incl > blen:
                return n, pos, ST_CORRUPT, C_CAPLEN_ROOM, last_ts, incl
            if iface >= n_if:
                return n, pos, ST_CORRUPT, C_IFACE, last_ts, iface
            raw = (rd_u32(buf, pos + 12, big) << 32) | rd_u32(buf, pos + 16, big)
            kind = ifs[iface, 2]
            fac = ifs[iface, 3]
            if kind == TS_MUL:
                t = raw * fac
            elif kind == TS_NS:
                t = raw // 1000
            elif kind == TS_DIV:
                t = raw // fac
            else:
                frac = raw & ((np.int64(1) << fac) - 1)
                k = fac
                if k > 40:
                    frac >>= k - 40
                    k = 40
                t = (raw >> fac) * 1000000 + ((frac * 1000000) >> k)
            t += ifs[iface, 4]
            data = pos + 28
        pos += blen
        if ifs[iface, 1] == 0:
            if_skip[iface] += 1
            continue
        off[n] = data
        cap[n] = incl
        wire[n] = orig
        ts[n] = t
        lt[n] = ifs[iface, 0]
        last_ts = t
        n += 1


def ts_conversion(tsresol: int) -> tuple[int, int] | None:
    """(kind, factor) converting ticks of `if_tsresol` to µs; None if out of range."""
    exp = tsresol & 0x7F
    if tsresol & 0x80:
        return (TS_POW2, exp) if exp <= 62 else None
    if exp <= 6:
        return TS_MUL, 10 ** (6 - exp)
    if exp == 9:
        return TS_NS, 1000
    return (TS_DIV, 10 ** (exp - 6)) if exp <= 24 else None


_I64 = (1 << 63) - 1


class PcapngReader(BaseReader):
    """A pcapng file; the constructor parses every block before the first packet block."""

    def __init__(self, path: Path, window: Window, *, batch_packets: int) -> None:
        super().__init__(path, window, batch_packets=batch_packets)
        self.big = False
        self._ifs = np.zeros((0, 6), dtype=np.int64)
        self._if_skip = np.zeros(0, dtype=np.int64)
        self._last_ts = 0
        self._reported: set[int] = set()
        self._walk(0)  # the header: every block before the first packet block
        if self._ifs.shape[0] and not self._ifs[:, 1].any():
            first = self.errors[0]
            raise Unsupported(self.path, f"no usable interface: {first.problem.split(';')[0]}")

    @property
    def skipped_packets(self) -> dict[str, int]:
        out = dict(self._skipped)
        self._count_skipped(out)
        return out

    def _count_skipped(self, into: dict[str, int]) -> None:
        for i in np.flatnonzero(self._if_skip):
            reason = f"unsupported linktype {int(self._ifs[i, 0])}"
            into[reason] = into.get(reason, 0) + int(self._if_skip[i])

    def _walk(self, max_n: int) -> int:
        """Run the kernel until it writes a batch or needs Python; return the packet count."""
        w = self.window
        while True:
            n, pos, status, need, self._last_ts, detail = walk_pcapng(
                w.buf, w.lo, w.hi, self.big, max_n, self._ifs, self._if_skip, self._last_ts,
                self._off, self._cap, self._wire, self._ts, self._lt,
            )  # fmt: skip
            w.lo = pos
            if n or status == ST_FULL:
                return int(n)
            if status == ST_CONTROL:
                self._control_block()
            elif status == ST_NEED:
                if not w.fill(need):
                    if w.avail == 0:
                        return 0
                    raise TruncatedCapture(
                        self.path,
                        f"truncated block {self._where(w.lo)}: {w.avail} of {need} bytes present",
                    )
            else:
                raise CorruptCapture(self.path, self._corrupt(pos, need, detail))

    def batches(self) -> Iterator[PacketBatch]:
        while n := self._walk(self.batch_packets):
            yield self._batch(n)

    def _where(self, pos: int) -> str:
        seen = self.packets_read + int(self._if_skip.sum()) + sum(self._skipped.values())
        return f"at {self.window.where(pos)} (packet {seen + 1})"

    def _corrupt(self, pos: int, code: int, value: int) -> str:
        btype = struct.unpack(">I" if self.big else "<I", self.window.peek(4, pos - self.window.lo))
        where = f"block type 0x{btype[0]:x} {self._where(pos)}"
        if code == C_BLOCK_LEN:
            return f"{where} has an inconsistent block length {value}"
        if code == C_TRAILER:
            return f"{where}: trailing block length {value} differs from the leading one"
        if code == C_CAPLEN_BIG:
            return f"{where} has caplen {value}, more than the {MAX_CAPLEN}-byte limit"
        if code == C_CAPLEN_ROOM:
            return f"{where} has caplen {value}, more than its block holds"
        return f"{where} refers to interface {value}, but {self._ifs.shape[0]} are defined"

    def _control_block(self) -> None:
        w = self.window
        if not w.fill(12):
            raise TruncatedCapture(
                self.path, f"truncated block {self._where(w.lo)}: {w.avail} of 12 bytes present"
            )
        head = w.peek(12)
        if head[:4] == PCAPNG_MAGIC:
            bom = head[8:12]
            if bom not in (b"\x1a\x2b\x3c\x4d", b"\x4d\x3c\x2b\x1a"):
                raise CorruptCapture(
                    self.path,
                    f"section header {self._where(w.lo)} has no byte-order magic "
                    f"(found 0x{bom.hex()})",
                )
            self.big = bom == b"\x1a\x2b\x3c\x4d"
        e = ">" if self.big else "<"
        btype, blen = struct.unpack(e + "II", head[:8])
        minlen = 28 if btype == BT_SHB else 20
        if blen < minlen or blen & 3 or blen > MAX_BLOCK:
            raise CorruptCapture(self.path, self._corrupt(w.lo, C_BLOCK_LEN, blen))
        if not w.fill(blen):
            raise TruncatedCapture(
                self.path,
                f"truncated block {self._where(w.lo)}: {w.avail} of {blen} bytes present",
            )
        body = w.peek(blen)
        (trailer,) = struct.unpack(e + "I", body[-4:])
        if trailer != blen:
            raise CorruptCapture(self.path, self._corrupt(w.lo, C_TRAILER, trailer))
        if btype == BT_SHB:
            self._count_skipped(self._skipped)
            self._ifs = np.zeros((0, 6), dtype=np.int64)
            self._if_skip = np.zeros(0, dtype=np.int64)
        else:
            self._interface(body, e, w.where(w.lo))
        w.lo += blen

    def _interface(self, body: bytes, e: str, where: str) -> None:
        linktype, _res, snaplen = struct.unpack(e + "HHI", body[8:16])
        kind, fac, offset_s = TS_MUL, 1, 0
        i = 16
        while i + 4 <= len(body) - 4:
            code, olen = struct.unpack(e + "HH", body[i : i + 4])
            if code == 0:
                break
            val = body[i + 4 : i + 4 + olen]
            if i + 4 + olen > len(body) - 4:
                raise CorruptCapture(self.path, f"interface block at {where}: option overruns it")
            if code == 9 and olen >= 1:
                conv = ts_conversion(val[0])
                if conv is None:
                    raise CorruptCapture(
                        self.path, f"interface block at {where}: if_tsresol 0x{val[0]:02x} invalid"
                    )
                kind, fac = conv
            elif code == 14 and olen == 8:
                (offset_s,) = struct.unpack(e + "q", val)
            i += 4 + ((olen + 3) & ~3)
        index = self._ifs.shape[0]
        usable = linktype in SUPPORTED_LINKTYPES
        offset_us = max(-_I64, min(_I64, offset_s * 1_000_000))
        row = np.array([[linktype, usable, kind, fac, offset_us, snaplen]], dtype=np.int64)
        self._ifs = np.concatenate([self._ifs, row])
        self._if_skip = np.concatenate([self._if_skip, np.zeros(1, dtype=np.int64)])
        if not usable and linktype not in self._reported:
            self._reported.add(linktype)  # one error per link type, not per interface
            err = Unsupported(
                self.path,
                f"interface {index} (block at {where}) has unsupported link type {linktype} "
                f"(supported: {supported_list()}); packets of interfaces with this link type "
                "are skipped",
            )
            self.errors.append(err)
