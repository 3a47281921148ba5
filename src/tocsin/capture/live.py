"""Live capture from a network interface: AF_PACKET with a TPACKET_V3 memory-mapped ring.

`LiveCapture(iface, ...)` opens a raw packet socket bound to the interface (Linux, needs
CAP_NET_RAW: root), sets the TPACKET_V3 ring (`ring_mb` of `block_kb` blocks, each retired
by the kernel at the latest `block_timeout_ms` after its first packet), puts the interface
in promiscuous mode (`promisc`), joins a FANOUT group hashing flows (`fanout_group`) so
that several sensors or workers on one interface each see whole flows, and attaches a BPF
filter (`bpf`, tcpdump syntax, compiled by libpcap: `capture.bpf`). The recommended set-up
is an interface with no IP address, fed by a SPAN or TAP port: the host then sends nothing
on it and its own stack never answers what it sees.

`batches(timeout_s)` yields a `PacketBatch` per retired block (Ethernet link type; a VLAN tag
the NIC stripped is put back, so flows keep their VLAN as in a pcap), returning when no block
is ready within `timeout_s` so the caller can check its stop conditions. `stats()` reads the
kernel's counters (packets seen, dropped because the ring was full, ring freezes) since the
last read; `totals` keeps their sums. Errors opening the interface raise `CaptureError`
naming the interface and the reason (no such interface, not root).

Blocks are walked by a compiled kernel (`read_block`): no Python per packet. Not done here:
other link types than Ethernet.
"""

from __future__ import annotations

import mmap
import select
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import LINKTYPE_ETHERNET, PacketBatch
from tocsin.capture.bpf import BpfError, attach_filter, compile_filter
from tocsin.capture.errors import CaptureError
from tocsin.jit import inline_kernel, kernel

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_FANOUT = 18
TPACKET_V3 = 2
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_FLAG_DEFRAG = 0x8000
ETH_P_ALL = 0x0003
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 1 << 4
TP_STATUS_VLAN_TPID_VALID = 1 << 6

_BLOCK = struct.Struct("<IIIIII")  # version, offset_to_priv, status, num_pkts, first, blk_len
_PKT = struct.Struct("<IIIIIIHHIIH")  # next, sec, nsec, snaplen, len, status, mac, net, hv1


@dataclass(slots=True)
class RingStats:
    packets: int = 0  # seen by the kernel for this socket
    drops: int = 0  # dropped: the ring was full
    freezes: int = 0  # times the ring froze (every block owned by user space)


_NO_VIEW: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)


@inline_kernel
def _u32(b: np.ndarray, o: int) -> int:
    lo = np.int64(b[o]) | np.int64(b[o + 1]) << 8
    return int(lo | np.int64(b[o + 2]) << 16 | np.int64(b[o + 3]) << 24)


@inline_kernel
def _copy(src: np.ndarray, a: int, dst: np.ndarray, b: int, n: int) -> None:
    for j in range(n):
        dst[b + j] = src[a + j]


@kernel
def _walk(
    ring: np.ndarray,
    at: int,
    num: int,
    data: np.ndarray,
    caplen: np.ndarray,
    wirelen: np.ndarray,
    ts: np.ndarray,
) -> int:
    """Copy the `num` frames of a block from `at` into `data`, a VLAN tag the NIC stripped
    put back after the MAC addresses; fill their lengths and times; returns bytes used."""
    out = 0
    for i in range(num):
        nxt = _u32(ring, at)
        snap = _u32(ring, at + 12)
        length = _u32(ring, at + 16)
        st = _u32(ring, at + 20)
        src = at + int(np.int64(ring[at + 24]) | np.int64(ring[at + 25]) << 8)
        if (st & TP_STATUS_VLAN_VALID) != 0 and snap >= 12:
            tci = _u32(ring, at + 32)
            tpid = int(np.int64(ring[at + 36]) | np.int64(ring[at + 37]) << 8)
            if (st & TP_STATUS_VLAN_TPID_VALID) == 0 or tpid == 0:
                tpid = 0x8100
            _copy(ring, src, data, out, 12)
            data[out + 12] = tpid >> 8
            data[out + 13] = tpid & 0xFF
            data[out + 14] = (tci >> 8) & 0xFF
            data[out + 15] = tci & 0xFF
            _copy(ring, src + 12, data, out + 16, snap - 12)
            snap += 4
            length += 4
        else:
            _copy(ring, src, data, out, snap)
        caplen[i] = snap
        wirelen[i] = length
        ts[i] = _u32(ring, at + 4) * 1_000_000 + _u32(ring, at + 8) // 1000
        out += snap
        at += nxt
    return out


def read_block(ring: npt.NDArray[np.uint8], base: int, block_size: int) -> PacketBatch | None:
    """The packets of the TPACKET_V3 block at `base` of `ring` (compiled walk: no Python per
    packet), or None for an empty block."""
    _, _, _, num, first, _ = _BLOCK.unpack_from(ring.data, base)
    if num == 0:
        return None
    data = np.empty(block_size + 4 * num, dtype=np.uint8)
    caplen = np.empty(num, np.uint32)
    wirelen = np.empty(num, np.uint32)
    ts = np.empty(num, np.int64)
    used = _walk(ring, base + first, num, data, caplen, wirelen, ts)
    offset = np.zeros(num, np.int64)
    np.cumsum(caplen[:-1], out=offset[1:])
    return PacketBatch(
        data[:used], offset, caplen, wirelen, ts, np.full(num, LINKTYPE_ETHERNET, np.uint16)
    )


class LiveCapture:
    def __init__(
        self,
        iface: str,
        *,
        ring_mb: int = 64,
        block_kb: int = 1024,
        block_timeout_ms: int = 100,
        promisc: bool = True,
        fanout_group: int | None = None,
        bpf: str | None = None,
    ) -> None:
        self.iface = iface
        program = compile_filter(bpf) if bpf else None  # BpfError before anything opens
        self.block_size = block_kb * 1024
        self.block_nr = max(2, ring_mb * 1024 // block_kb)
        self.totals = RingStats()
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise CaptureError(iface, "live capture needs root (or CAP_NET_RAW)") from None
        try:
            if program is not None:  # before the ring: nothing unfiltered gets in
                attach_filter(self.sock, program)
            self._open(iface, block_timeout_ms, promisc, fanout_group)
        except BpfError:
            self.sock.close()
            raise
        except OSError as e:
            self.sock.close()
            raise CaptureError(iface, f"cannot capture: {e.strerror or e}") from None
        self._block = 0

    def _open(self, iface: str, tov_ms: int, promisc: bool, fanout: int | None) -> None:
        s = self.sock
        s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        req = struct.pack("<7I", self.block_size, self.block_nr, 2048,
                          self.block_size // 2048 * self.block_nr, tov_ms, 0, 0)  # fmt: skip
        s.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
        self.ring = mmap.mmap(s.fileno(), self.block_size * self.block_nr, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)  # fmt: skip
        self._view = np.frombuffer(self.ring, dtype=np.uint8)  # for the compiled walk
        s.bind((iface, ETH_P_ALL))
        index = socket.if_nametoindex(iface)
        if promisc:
            mreq = struct.pack("<iHH8s", index, PACKET_MR_PROMISC, 0, b"")
            s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        if fanout is not None:
            arg = (fanout & 0xFFFF) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16
            # an unsigned int: the flags' top bit does not fit the C int setsockopt takes
            s.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("=I", arg))
        self._poll = select.poll()
        self._poll.register(s.fileno(), select.POLLIN | select.POLLERR)

    def batches(self, timeout_s: float = 0.2) -> Iterator[PacketBatch]:
        """Every block the kernel has retired, in ring order, as a batch; returns when none
        is ready within `timeout_s`."""
        ring = self.ring
        while True:
            base = self._block * self.block_size
            status = _BLOCK.unpack_from(ring, base)[2]
            if not status & TP_STATUS_USER:
                if not self._poll.poll(int(timeout_s * 1000)):
                    return
                status = _BLOCK.unpack_from(ring, base)[2]
                if not status & TP_STATUS_USER:
                    return
            batch = self._read_block(base)
            struct.pack_into("<I", ring, base + 8, 0)  # TP_STATUS_KERNEL: the block goes back
            self._block = (self._block + 1) % self.block_nr
            if batch is not None:
                yield batch

    def _read_block(self, base: int) -> PacketBatch | None:
        return read_block(self._view, base, self.block_size)

    def stats(self) -> RingStats:
        """The kernel's counters since the last call (reading them resets them)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        packets, drops, freezes = struct.unpack("<3I", raw)
        self.totals.packets += packets
        self.totals.drops += drops
        self.totals.freezes += freezes
        return RingStats(packets, drops, freezes)

    def close(self) -> None:
        self._view = _NO_VIEW  # the mmap cannot close while a view of it exists
        try:
            self.ring.close()
        finally:
            self.sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
