"""The packet store behind a `Trace`: columnar rows, payload blobs, the host table, and the
time-ordered flushing to a pcap stream.

Rows are appended as seven ints each (layout in `pcapout`) to one flat Python list, cheaper per
packet than any per-packet object. Payload bytes are kept as the caller's `bytes` objects
("blobs"), each at a global position (`_blob_pos`), so a segment is `(position, length)` and
cutting a 50 MB transfer copies nothing.

TCP connections are recorded more compactly still and expanded into rows by a compiled kernel
at the flush (`tcpconv`). A flush converts the new rows to numpy once, writes those older than
its limit in time order, and holds the others as time-sorted numpy runs: a conversation
generated hours ahead (a scenario injected up front, a day-long HL7 link) is not converted
again at every flush, so a flush costs what it writes plus what was added since the last one.
Packets of the same microsecond keep their insertion order (the call's number, then
the call's own order), whenever flushes happen. Only the blobs the written rows point into
are joined for the writer; blobs nothing points to any more are dropped when they outnumber
the live ones.

Invariant: once packets up to time T are flushed, no packet older than T may be added: a call
starting before T raises `ValueError` and adds nothing, so the pcap stream stays time-ordered.
A trace writes one stream: the pcap global header goes out with its first write
(`write(path)` starts a new file, header included, with the packets still pending).
"""

from __future__ import annotations

import random
from array import array
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.pcapout import (
    CALL,
    NWORDS,
    PAY,
    PCAP_HEADER,
    TS,
    FrameWriter,
    host_table,
)
from tocsin.exercise.wire.tcpconv import expand

Rows = npt.NDArray[np.int64]
_MAX_RUNS = 16  # held runs are merged beyond this
_NO_LIMIT = 1 << 62


class Store:
    """Rows, blobs and hosts; `flush_before` / `write_to` / `write` put them in a pcap."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._rows: list[int] = []  # added since the last flush, NWORDS ints a packet
        self._tcp_conv: list[int] = []  # TCP connections added since (see `tcpconv`)
        self._tcp_turns: list[int] = []
        self._tcp_count = 0  # their packets
        self._runs: list[Rows] = []  # held by earlier flushes, each sorted by time
        self._blobs: list[bytes] = []
        self._blob_pos = array("q")  # global position of each blob, increasing
        self._paypos = 0  # global position of the next blob
        self._live_blobs = 0  # blobs held after the last clean-up
        self._hosts: dict[Host, int] = {}
        self._by_id: dict[int, int] = {}  # id(Host) -> index: cheaper than hashing a Host
        self._alive: list[Host] = []
        self._h_ip = bytearray()
        self._h_v6 = bytearray()
        self._h_mac = bytearray()
        self._h_ttl = bytearray()
        self._ipid = array("q")
        self._written = 0
        self._calls = 0
        self._floor = -_NO_LIMIT  # µs: nothing older may be added after a flush
        self._header_done = False
        self._writer = FrameWriter()
        self._rowbuf = np.empty(0, np.int64)  # reused: fresh memory costs page faults

    # -- building ------------------------------------------------------------------------

    def _add_host(self, h: Host) -> int:
        """The index of `h` in the host table (added on first use; equal hosts share one)."""
        i = self._hosts.get(h)
        if i is None:
            i = len(self._hosts)
            if i >= 1 << 24:
                raise ValueError("more than 16,777,216 hosts in one trace")
            self._hosts[h] = i
            self._h_ip += h.ip_packed.ljust(16, b"\0")
            self._h_v6.append(h.version == 6)
            self._h_mac += h.mac
            self._h_ttl.append(h.ttl)
            self._ipid.append(self._rng.randrange(65536))
        self._by_id[id(h)] = i
        self._alive.append(h)  # keeps id(h) from being reused by another object
        return i

    def _pair(self, a: Host, b: Host) -> tuple[int, int, int, int]:
        """For a new call between `a` and `b` (`b` answering): the HOSTS words (see `pcapout`)
        of `a -> b` and `b -> a` (`b`'s VLAN, else `a`'s, tags both), 1 for IPv6, and the
        call's number (the CALL word of its rows). `ValueError` for IPv4 with IPv6."""
        by = self._by_id
        i = by.get(id(a))
        if i is None:
            i = self._add_host(a)
        j = by.get(id(b))
        if j is None:
            j = self._add_host(b)
        v6 = self._h_v6[i]
        if v6 != self._h_v6[j]:
            raise ValueError(f"{a.name} ({a.ip}) and {b.name} ({b.ip}): IPv4 with IPv6")
        v = (b.vlan or a.vlan or 0) << 48
        self._calls = call = self._calls + 1
        return v | i << 24 | j, v | j << 24 | i, v6, call

    def _at(self, t: float) -> int:
        """`t` in integer microseconds; `ValueError` if an earlier flush wrote past it."""
        tu = int(t * 1e6 + 0.5)
        if tu < self._floor:
            raise ValueError(f"time {t:.6f} is older than an earlier flush")
        return tu

    def _blob(self, data: bytes) -> int:
        """Keep `data` (non-empty) and return its payload position."""
        pos = self._paypos
        self._blobs.append(data)
        self._blob_pos.append(pos)
        self._paypos = pos + len(data)
        return pos

    def __len__(self) -> int:
        """Packets added so far (written or pending)."""
        return self._written + self.pending

    @property
    def pending(self) -> int:
        """Packets held in memory, not yet written."""
        return len(self._rows) // NWORDS + self._tcp_count + sum(len(r) for r in self._runs)

    # -- writing -------------------------------------------------------------------------

    def flush_before(self, t: float, f: BinaryIO) -> int:
        """Write every pending packet older than `t` (seconds) to `f`, in time order (the
        pcap global header first, on this trace's first write); hold the others. Afterwards
        no packet older than `t` may be added. Returns the packets written."""
        return self._flush(f, int(t * 1e6 + 0.5))

    def write_to(self, f: BinaryIO) -> int:
        """Write every pending packet to `f` (the global header first, on the first write).
        Returns the packets written."""
        return self._flush(f, None)

    def write(self, path: str) -> int:
        """A new pcap file at `path`: the global header and every pending packet. Returns the
        packets written."""
        with open(path, "wb") as f:
            self._header_done = False
            return self._flush(f, None)

    def _flush(self, f: BinaryIO, limit: int | None) -> int:
        if not self._header_done:
            f.write(PCAP_HEADER)
            self._header_done = True
        lim = _NO_LIMIT if limit is None else limit
        new = self._take_new()
        out: list[Rows] = []
        runs: list[Rows] = []
        for run in self._runs:
            k = int(np.searchsorted(run[:, TS], lim))
            if k:
                out.append(run[:k])
            if k < len(run):
                runs.append(run[k:])
        early = new[:, TS] < lim
        out.append(new[early])
        late = new[~early]
        if len(late):
            runs.append(_in_order(late))
        if len(runs) > _MAX_RUNS:
            runs = [_in_order(np.concatenate(runs))]
        self._runs = runs
        w = np.concatenate(out)
        if len(w):
            w = _in_order(w)
            self._floor = max(self._floor, int(w[-1, TS]) if limit is None else limit)
            self._write_rows(f, w)
        elif limit is not None:
            self._floor = max(self._floor, limit)
        self._drop_blobs()
        self._written += len(w)
        return len(w)

    def _take_new(self) -> Rows:
        """The rows added since the last flush (TCP connections expanded); `ValueError` if
        one is older than a flushed time."""
        n = len(self._rows)
        if len(self._rowbuf) < n:
            self._rowbuf = np.empty(max(n, 2 * len(self._rowbuf)), np.int64)
        self._rowbuf[:n] = self._rows
        new = self._rowbuf[:n].reshape(-1, NWORDS)
        if self._tcp_conv:
            new = np.concatenate((new, expand(self._tcp_conv, self._tcp_turns)))
        if len(new) and int(new[:, TS].min()) < self._floor:
            raise ValueError("a packet older than an earlier flush was added")
        self._rows, self._tcp_conv, self._tcp_turns, self._tcp_count = [], [], [], 0
        return new

    def _write_rows(self, f: BinaryIO, w: Rows) -> None:
        """Join the blobs the rows `w` point into and hand everything to the writer."""
        pay = w[:, PAY]
        has = (pay & 0xFFFF) > 0
        pos = pay[has] >> 16
        bp = np.frombuffer(self._blob_pos, np.int64)
        bi = np.searchsorted(bp, pos, "right") - 1
        need = np.zeros(len(bp), np.bool_)
        need[bi] = True
        used = np.flatnonzero(need)
        rank = np.cumsum(need) - 1  # blob index -> its place among the used ones
        blobs = self._blobs
        parts = [blobs[j] for j in used.tolist()]
        sizes = np.fromiter(map(len, parts), np.int64, len(parts))
        starts = np.cumsum(sizes) - sizes
        pay_off = np.zeros(len(w), np.int64)
        pay_off[has] = starts[rank[bi]] + pos - bp[bi]
        del bp  # the array of positions grows again after this
        payload = np.frombuffer(b"".join(parts), np.uint8) if parts else np.zeros(1, np.uint8)
        ipid = np.frombuffer(self._ipid, np.int64)
        hosts = host_table(
            bytes(self._h_ip), bytes(self._h_v6), bytes(self._h_mac), bytes(self._h_ttl)
        )
        self._writer.write(f, w, payload, pay_off, hosts, ipid)

    def _drop_blobs(self) -> None:
        """Forget the blobs no held row points into: all of them when nothing is held, else
        once they outnumber twice the live ones (a scan of the held rows)."""
        if not self._runs:
            self._blobs, self._blob_pos, self._live_blobs = [], array("q"), 0
            return
        if len(self._blobs) <= 2 * self._live_blobs + 50_000:
            return
        bp = np.frombuffer(self._blob_pos, np.int64)
        need = np.zeros(len(bp), np.bool_)
        for run in self._runs:
            pay = run[:, PAY]
            pos = pay[(pay & 0xFFFF) > 0] >> 16
            need[np.searchsorted(bp, pos, "right") - 1] = True
        keep = np.flatnonzero(need)
        positions = array("q", bp[keep].tobytes())
        del bp
        self._blobs = [self._blobs[j] for j in keep.tolist()]
        self._blob_pos = positions
        self._live_blobs = len(keep)


def _in_order(rows: Rows) -> Rows:
    """`rows` sorted by time, packets of the same microsecond in insertion order: by the
    number of the call that made them, then as that call made them (every sort is stable, and
    a call's rows are always in its order, in the row list as in the expanded TCP rows). The
    order does not depend on when flushes happen, so chunked and whole writes agree."""
    r = rows[np.argsort(rows[:, TS], kind="stable")]
    ts = r[:, TS]
    tie = np.flatnonzero(ts[1:] == ts[:-1])
    if len(tie):
        at = np.union1d(tie, tie + 1)
        sub = r[at]
        r[at] = sub[np.lexsort((sub[:, CALL], sub[:, TS]))]
    return r
