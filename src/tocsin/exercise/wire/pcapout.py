"""Packet rows to classic pcap bytes: two compiled kernels and the chunked file writer.

A packet is one row of seven int64 words (a `Trace` keeps them, see `store`):

- `TS`: capture time, microseconds since the epoch;
- `HOSTS`: `vlan << 48 | src << 24 | dst`: sender and receiver indexes into the host table
  (`HostTable`), and the 802.1Q VLAN id the frame is tagged with (0: untagged);
- `PF`: `kind << 56 | nodf << 60 | flags << 48 | window << 32 | sport << 16 | dport`. For ICMP
  `sport`/`dport` hold type/code, for ARP `dport` holds the opcode;
- `SEQ`, `ACK`: TCP sequence / acknowledgment numbers, unwrapped (written modulo 2**32). ICMP
  keeps its 4 rest-of-header bytes (echo id << 16 | seq) in `SEQ`;
- `PAY`: `pos << 16 | length` of the payload (the writer reads the length here, the offset in
  its payload buffer from `pay_off`); a SYN (no payload) keeps its options here instead:
  `(wscale << 16 | mss) << 16`;
- `CALL`: the number of the `Trace` call that made it (same-time packets keep call order;
  not written).

`frame_lengths` sizes every frame; `write_frames` writes the pcap record header, Ethernet
(802.1Q tag when the row has a VLAN), IPv4 or IPv6, TCP / UDP / ICMP / ICMPv6 or ARP, the
payload and the zero padding (frames shorter than 60 bytes, 64 when tagged, are padded as a
switch's SPAN port shows them), with the IPv4 header checksum and the TCP / UDP / ICMPv6
checksums over the pseudo-header (ICMPv4 over its message). The IPv4 ID is each sender's
counter, incremented in capture order (the caller passes the counters in and gets them back
advanced). No IP fragmentation, no FCS.

`FrameWriter().write(f, rows, payload, pay_off, hosts, ipid)` writes sorted rows in chunks;
`PCAP_HEADER` is the global header (LINKTYPE_ETHERNET, microseconds, snaplen 262144).
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from tocsin.jit import inline_kernel, kernel

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

# row words
TS, HOSTS, PF, SEQ, ACK, PAY, CALL = range(7)
NWORDS = 7

# kinds (PF bits 56-59)
K_TCP = 1  # SYN options: MSS, NOP, window scale, NOP, NOP, SACK permitted
K_TCP_SCAN = 2  # SYN options: MSS only (a scanner's raw SYN)
K_UDP = 3
K_ICMP = 4
K_ARP = 5
NODF = 1 << 60

# TCP flags
FIN, SYN, RST, PSH, ACK_F, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20

SNAPLEN = 262144
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, 1)
CHUNK_BYTES = 4 << 20  # pcap bytes formatted per kernel call


@dataclass(frozen=True, slots=True)
class HostTable:
    """Per-host columns the kernels read: address (16 bytes, IPv4 in the first 4), IPv6 flag,
    MAC and initial TTL."""

    ip: U8  # (H, 16)
    v6: U8  # (H,)
    mac: U8  # (H, 6)
    ttl: U8  # (H,)


@kernel
def frame_lengths(rows: I64, v6: U8, lens: I64) -> int:
    """Fill `lens` with each row's frame length (padded); return the pcap bytes they take."""
    total = 0
    for i in range(rows.shape[0]):
        pf = rows[i, PF]
        kind = (pf >> 56) & 0xF
        src = (rows[i, HOSTS] >> 24) & 0xFFFFFF
        tagged = (rows[i, HOSTS] >> 48) != 0
        ln = 18 if tagged else 14
        if kind == K_ARP:
            ln += 28
        else:
            ln += 40 if v6[src] else 20
            if kind in (K_TCP, K_TCP_SCAN):
                ln += 20
                if (pf >> 48) & SYN:
                    ln += 12 if kind == K_TCP else 4
            else:
                ln += 8
            ln += rows[i, PAY] & 0xFFFF
        mn = 64 if tagged else 60
        if ln < mn:
            ln = mn
        lens[i] = ln
        total += 16 + ln
    return total


@inline_kernel
def _put16(out: U8, p: int, v: int) -> None:
    out[p] = (v >> 8) & 0xFF
    out[p + 1] = v & 0xFF


@inline_kernel
def _put32(out: U8, p: int, v: int) -> None:
    out[p] = (v >> 24) & 0xFF
    out[p + 1] = (v >> 16) & 0xFF
    out[p + 2] = (v >> 8) & 0xFF
    out[p + 3] = v & 0xFF


@inline_kernel
def _put32le(out: U8, p: int, v: int) -> None:
    out[p] = v & 0xFF
    out[p + 1] = (v >> 8) & 0xFF
    out[p + 2] = (v >> 16) & 0xFF
    out[p + 3] = (v >> 24) & 0xFF


@inline_kernel
def _sum_words(v: U8, n: int) -> int:
    hi = 0
    lo = 0
    for k in range(n // 2):
        hi += v[2 * k]
        lo += v[2 * k + 1]
    if n & 1:
        hi += v[n - 1]
    return (hi << 8) + lo


@inline_kernel
def _sum16(b: U8, start: int, end: int) -> int:
    """Sum of the big-endian 16-bit words of b[start:end] (odd tail padded with zero). On a
    view, so that LLVM vectorizes the loop (~0.05 ns a byte)."""
    s: int = _sum_words(b[start:end], end - start)
    return s


@inline_kernel
def _copy(dst: U8, src: U8, n: int) -> None:
    for k in range(n):
        dst[k] = src[k]


@inline_kernel
def _fold(s: int) -> int:
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


@kernel
def write_frames(
    rows: I64,
    pay: U8,
    pay_off: I64,
    h_ip: U8,
    h_v6: U8,
    h_mac: U8,
    h_ttl: U8,
    ipid: I64,
    lens: I64,
    out: U8,
) -> int:
    """Write the records of `rows` one after another into `out` (sized by `frame_lengths`;
    every byte is written, padding included, so `out` may hold anything); returns the bytes
    written."""
    p = 0
    for i in range(rows.shape[0]):
        ts = rows[i, TS]
        pf = rows[i, PF]
        kind = (pf >> 56) & 0xF
        flags = (pf >> 48) & 0xFF
        src = (rows[i, HOSTS] >> 24) & 0xFFFFFF
        dst = rows[i, HOSTS] & 0xFFFFFF
        vlan = rows[i, HOSTS] >> 48
        plen = rows[i, PAY] & 0xFFFF
        ln = lens[i]
        _put32le(out, p, ts // 1_000_000)
        _put32le(out, p + 4, ts % 1_000_000)
        _put32le(out, p + 8, ln)
        _put32le(out, p + 12, ln)
        rec_end = p + 16 + ln
        p += 16
        # Ethernet (+ 802.1Q)
        op = pf & 0xFFFF
        for k in range(6):
            out[p + k] = 0xFF if (kind == K_ARP and op == 1) else h_mac[dst, k]
            out[p + 6 + k] = h_mac[src, k]
        p += 12
        if vlan:
            _put16(out, p, 0x8100)
            _put16(out, p + 2, vlan)
            p += 4
        if kind == K_ARP:
            _put16(out, p, 0x0806)
            p += 2
            _put32(out, p, 0x00010800)
            _put32(out, p + 4, 0x06040000 | op)
            for k in range(6):
                out[p + 8 + k] = h_mac[src, k]
                out[p + 18 + k] = 0 if op == 1 else h_mac[dst, k]
            for k in range(4):
                out[p + 14 + k] = h_ip[src, k]
                out[p + 24 + k] = h_ip[dst, k]
            for k in range(p + 28, rec_end):
                out[k] = 0
            p = rec_end
            continue
        v6 = h_v6[src]
        _put16(out, p, 0x86DD if v6 else 0x0800)
        p += 2
        if kind in (K_TCP, K_TCP_SCAN):
            proto = 6
            hl = 20
            if flags & SYN:
                hl += 12 if kind == K_TCP else 4
        elif kind == K_UDP:
            proto = 17
            hl = 8
        else:
            proto = 58 if v6 else 1
            hl = 8
        l4len = hl + plen
        # IP header; pseudo-header sum for the transport checksum
        ip = p
        if v6:
            _put32(out, p, 0x60000000)
            _put16(out, p + 4, l4len)
            out[p + 6] = proto
            out[p + 7] = h_ttl[src]
            for k in range(16):
                out[p + 8 + k] = h_ip[src, k]
                out[p + 24 + k] = h_ip[dst, k]
            pseudo = _sum16(out, ip + 8, ip + 40) + l4len + proto
            p += 40
        else:
            ident = (ipid[src] + 1) & 0xFFFF
            ipid[src] = ident
            out[p] = 0x45
            out[p + 1] = 0
            _put16(out, p + 2, 20 + l4len)
            _put16(out, p + 4, ident)
            _put16(out, p + 6, 0 if (pf >> 60) & 1 else 0x4000)
            out[p + 8] = h_ttl[src]
            out[p + 9] = proto
            _put16(out, p + 10, 0)
            for k in range(4):
                out[p + 12 + k] = h_ip[src, k]
                out[p + 16 + k] = h_ip[dst, k]
            _put16(out, p + 10, _fold(_sum16(out, ip, ip + 20)))
            pseudo = _sum16(out, ip + 12, ip + 20) + l4len + proto
            p += 20
        l4 = p
        if proto == 6:
            _put32(out, p, pf & 0xFFFFFFFF)  # sport, dport
            _put32(out, p + 4, rows[i, SEQ] & 0xFFFFFFFF)
            _put32(out, p + 8, rows[i, ACK] & 0xFFFFFFFF)
            out[p + 12] = (hl // 4) << 4
            out[p + 13] = flags
            _put16(out, p + 14, (pf >> 32) & 0xFFFF)
            _put32(out, p + 16, 0)  # checksum, urgent pointer
            if hl > 20:
                opts = rows[i, PAY] >> 16
                _put16(out, p + 20, 0x0204)
                _put16(out, p + 22, opts & 0xFFFF)
                if hl == 32:
                    _put32(out, p + 24, 0x01030300 | ((opts >> 16) & 0xFF))
                    _put32(out, p + 28, 0x01010402)
            ck = l4 + 16
        elif proto == 17:
            _put32(out, p, pf & 0xFFFFFFFF)
            _put16(out, p + 4, l4len)
            _put16(out, p + 6, 0)
            ck = l4 + 6
        else:
            out[p] = (pf >> 16) & 0xFF
            out[p + 1] = pf & 0xFF
            _put16(out, p + 2, 0)
            _put32(out, p + 4, rows[i, SEQ] & 0xFFFFFFFF)
            ck = l4 + 2
            if proto == 1:
                pseudo = 0
        p += hl
        off = pay_off[i]
        _copy(out[p : p + plen], pay[off : off + plen], plen)
        c = _fold(pseudo + _sum16(out, l4, l4 + l4len))
        if c == 0 and proto == 17:
            c = 0xFFFF
        _put16(out, ck, c)
        p += plen
        for k in range(p, rec_end):
            out[k] = 0
        p = rec_end
    return p


def host_table(ip: bytes, v6: bytes, mac: bytes, ttl: bytes) -> HostTable:
    """A `HostTable` from the packed per-host columns a `Trace` keeps."""
    return HostTable(
        ip=np.frombuffer(ip, np.uint8).reshape(-1, 16),
        v6=np.frombuffer(v6, np.uint8),
        mac=np.frombuffer(mac, np.uint8).reshape(-1, 6),
        ttl=np.frombuffer(ttl, np.uint8),
    )


class FrameWriter:
    """Formats time-ordered rows into pcap records and writes them, a few MB at a time (the
    output buffer is reused, so it stays in cache and costs no page faults)."""

    def __init__(self) -> None:
        self._buf = np.empty(0, np.uint8)

    def write(
        self, f: BinaryIO, rows: I64, payload: U8, pay_off: I64, hosts: HostTable, ipid: I64
    ) -> int:
        """Write `rows` (shape (n, NWORDS), time-ordered) as pcap records to `f`; `pay_off[i]` is
        row i's payload offset in `payload`; `ipid` (one counter per host) advances in place.
        Returns the bytes written."""
        lens = np.empty(len(rows), np.int64)
        frame_lengths(rows, hosts.v6, lens)
        ends = np.cumsum(lens + 16)
        cuts = np.searchsorted(ends, np.arange(CHUNK_BYTES, int(ends[-1]), CHUNK_BYTES), "right")
        bounds = [0, *np.unique(np.maximum(cuts, 1)).tolist(), len(rows)]
        written = 0
        for a, b in itertools.pairwise(bounds):
            if a >= b:
                continue
            size = int(ends[b - 1] - (ends[a - 1] if a else 0))
            if len(self._buf) < size:
                self._buf = np.empty(max(size, CHUNK_BYTES + 65536), np.uint8)
            out = self._buf
            end = write_frames(
                rows[a:b],
                payload,
                pay_off[a:b],
                hosts.ip,
                hosts.v6,
                hosts.mac,
                hosts.ttl,
                ipid,
                lens[a:b],
                out,
            )
            f.write(out[:end].data)
            written += end
        return written
