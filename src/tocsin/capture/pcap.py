"""Classic libpcap files: a 24-byte file header, then (record header, packet bytes) records.

Accepted magics (either byte order): a1b2c3d4 (microsecond timestamps), a1b23c4d (nanosecond),
a1b2cd34 (Kuznetzov's patched format, 24-byte record headers). The link type is the low 16 bits
of the header's link-type field (the upper bits carry FCS information and are ignored); it must
be in `SUPPORTED_LINKTYPES`, else `UnsupportedLinkType` at open.

Records are walked by a numba kernel over the block buffer, never one Python call per packet.
Errors mid-file (after every packet before them is yielded): `TruncatedCapture` (the file ends
inside a record), `CorruptCapture` (a caplen above 256 KiB: a broken length field).
Timestamps are converted to microseconds (nanoseconds truncated toward minus infinity).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from tocsin.capture.batch import SUPPORTED_LINKTYPES, PacketBatch
from tocsin.capture.errors import CorruptCapture, TruncatedCapture, UnsupportedLinkType
from tocsin.capture.reader import (
    MAX_CAPLEN,
    ST_CORRUPT,
    ST_FULL,
    ST_NEED,
    BaseReader,
    rd_u32,
    supported_list,
)
from tocsin.capture.stream import Window
from tocsin.jit import kernel

FILE_HEADER_LEN = 24

# magic bytes as found in the file -> (big endian, nanosecond, record header length)
PCAP_MAGICS: dict[bytes, tuple[bool, bool, int]] = {
    b"\xd4\xc3\xb2\xa1": (False, False, 16),
    b"\xa1\xb2\xc3\xd4": (True, False, 16),
    b"\x4d\x3c\xb2\xa1": (False, True, 16),
    b"\xa1\xb2\x3c\x4d": (True, True, 16),
    b"\x34\xcd\xb2\xa1": (False, False, 24),
    b"\xa1\xb2\xcd\x34": (True, False, 24),
}


@kernel
def walk_pcap(buf, pos, end, big, nano, hdr_len, linktype, max_n, off, cap, wire, ts, lt):  # type: ignore[no-untyped-def]
    """Walk complete records of `buf[pos:end]` into the output arrays, at most `max_n`.

    Returns (n, pos, status, need): `pos` is the first record not consumed; with ST_NEED,
    `need` bytes from `pos` are required to go on; with ST_CORRUPT, `need` is the bad caplen.
    """
    n = 0
    while n < max_n:
        if end - pos < hdr_len:
            return n, pos, ST_NEED, hdr_len
        sec = rd_u32(buf, pos, big)
        frac = rd_u32(buf, pos + 4, big)
        incl = rd_u32(buf, pos + 8, big)
        orig = rd_u32(buf, pos + 12, big)
        if incl > MAX_CAPLEN:
            return n, pos, ST_CORRUPT, incl
        rec = hdr_len + incl
        if end - pos < rec:
            return n, pos, ST_NEED, rec
        off[n] = pos + hdr_len
        cap[n] = incl
        wire[n] = orig
        if nano:
            ts[n] = sec * 1000000 + frac // 1000
        else:
            ts[n] = sec * 1000000 + frac
        lt[n] = linktype
        pos += rec
        n += 1
    return n, pos, ST_FULL, 0


class PcapReader(BaseReader):
    """A classic pcap file; the header is parsed (and checked) by the constructor."""

    def __init__(self, path: Path, window: Window, *, batch_packets: int) -> None:
        super().__init__(path, window, batch_packets=batch_packets)
        w = self.window
        if not w.fill(FILE_HEADER_LEN):
            raise TruncatedCapture(
                path, f"truncated pcap file header: {w.avail} of {FILE_HEADER_LEN} bytes present"
            )
        head = w.peek(FILE_HEADER_LEN)
        self.big, self.nano, self.hdr_len = PCAP_MAGICS[head[:4]]
        fmt = ">HHiIII" if self.big else "<HHiIII"
        _vmaj, _vmin, _zone, _sigfigs, self.snaplen, field = struct.unpack(fmt, head[4:])
        self.linktype = field & 0xFFFF
        if self.linktype not in SUPPORTED_LINKTYPES:
            raise UnsupportedLinkType(
                path,
                f"unsupported link type {self.linktype} (supported: {supported_list()})",
            )
        w.lo += FILE_HEADER_LEN

    def batches(self) -> Iterator[PacketBatch]:
        w = self.window
        while True:
            n, pos, status, need = walk_pcap(
                w.buf, w.lo, w.hi, self.big, self.nano, self.hdr_len, self.linktype,
                self.batch_packets, self._off, self._cap, self._wire, self._ts, self._lt,
            )  # fmt: skip
            w.lo = pos
            if n:
                yield self._batch(n)
            if status == ST_FULL:
                continue
            where = f"at {w.where(pos)} (packet {self.packets_read + 1})"
            if status == ST_CORRUPT:
                raise CorruptCapture(
                    self.path,
                    f"packet record {where} has caplen {need}, "
                    f"more than the {MAX_CAPLEN}-byte limit (corrupt length field)",
                )
            assert status == ST_NEED
            if w.fill(need):
                continue
            if w.avail == 0:
                return
            if need == self.hdr_len:
                problem = f"truncated record header {where}: {w.avail} of {need} bytes present"
            else:
                got = w.avail - self.hdr_len
                problem = (
                    f"truncated packet record {where}: {got} of {need - self.hdr_len} bytes present"
                )
            raise TruncatedCapture(self.path, problem)
