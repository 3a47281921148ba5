"""TCP stream reassembly for the flows an app-layer parser reads: in-order bytes per direction.

The compiled flow kernel hands Python only the payload packets of flows whose protocol has a
parser that still wants them (`flow.kernel._app_select`); this module puts each direction's
segments back in sequence order. Flows no parser wants never get here.

Policy (one, documented):

- **Start**: at the SYN's sequence number + 1 when the handshake was seen, otherwise at the
  first segment delivered (midstream pickup) — also when the first data is more than 1 MB
  away from the SYN's number (that SYN belonged to another attempt).
- **Overlaps: first wins.** Bytes already delivered or already buffered are kept; a later
  segment covering them only contributes its new bytes. Overlaps are counted (`tcp.overlap`),
  and those whose bytes differ from what was kept too (`tcp.overlap_diff_data`) — the
  signature of an evasion attempt or a broken stack.
- **Out of order**: a segment beyond the next expected byte waits in a per-direction buffer,
  bounded per stream (`max_ooo_bytes`) and over all streams (`StreamCounters.max_total`). A
  segment that does not fit is dropped and counted (`tcp.segment_memcap_drop`).
- **Gaps**: when the waiting bytes reach the per-stream bound, or a dropped segment made the
  hole permanent, or the flow ends with bytes still waiting, the hole is given up: the parser
  is told (`gap`) and delivery resumes at the first waiting segment. Each is counted in
  `tcp.reassembly_gap`.

Sequence numbers wrap: positions are kept as unbounded integers, each segment placed relative
to the next expected byte (within ±2 GB, as TCP's own window rules imply).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass

GAP = -1  # marker in delivered pieces: (GAP, lost byte count)
_ISN_TRUST = 1 << 20  # first data further than this from the SYN: the SYN was another one


@dataclass(slots=True)
class StreamCounters:
    """Suricata-named reassembly counters, shared by every stream of a worker."""

    max_total: int = 64 << 20  # out-of-order bytes held over all streams
    total: int = 0  # out-of-order bytes held now
    reassembly_gap: int = 0
    overlap: int = 0
    overlap_diff_data: int = 0
    segment_memcap_drop: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "tcp.reassembly_gap": self.reassembly_gap,
            "tcp.overlap": self.overlap,
            "tcp.overlap_diff_data": self.overlap_diff_data,
            "tcp.segment_memcap_drop": self.segment_memcap_drop,
            "tcp.reassembly_memuse": self.total,
        }


class Stream:
    """One direction of a TCP connection.

    `add(seq, data)` returns the pieces now deliverable, in order: `bytes` chunks, and
    `(GAP, n)` tuples where `n` bytes were given up. `next_seq` is the 32-bit sequence number
    of the next byte to deliver (None before the first segment when the SYN was not seen).
    """

    __slots__ = ("_base", "_dropped", "_keys", "_next", "_ooo", "_ooo_bytes", "ctr", "max_ooo")

    def __init__(self, ctr: StreamCounters, isn: int | None, max_ooo: int = 256 << 10) -> None:
        self.ctr = ctr
        self.max_ooo = max_ooo
        # positions are offsets from `_base` (a 32-bit sequence number), as Python ints
        self._base = (isn + 1) & 0xFFFFFFFF if isn is not None else None
        self._next = 0
        self._ooo: dict[int, bytes] = {}  # position -> bytes, never overlapping each other
        self._keys: list[int] = []  # the positions of `_ooo`, sorted
        self._ooo_bytes = 0
        self._dropped = False  # a segment beyond the hole was dropped: the hole is permanent

    @property
    def next_seq(self) -> int | None:
        if self._base is None:
            return None
        return (self._base + self._next) & 0xFFFFFFFF

    def _pos(self, seq: int) -> int:
        assert self._base is not None
        rel = (seq - self._base - self._next) & 0xFFFFFFFF
        if rel >= 0x80000000:
            rel -= 0x100000000
        return self._next + rel

    def add(self, seq: int, data: bytes) -> list[bytes | tuple[int, int]]:
        if not data:
            return []
        if self._base is None:
            self._base = seq & 0xFFFFFFFF
        pos = self._pos(seq)
        if self._next == 0 and not self._ooo and not 0 <= pos < _ISN_TRUST:
            # the first data is nowhere near the SYN's sequence number (a SYN of an earlier
            # attempt, a port reused at once): trust the data, as for a midstream pickup
            self._base = seq & 0xFFFFFFFF
            pos = 0
        end = pos + len(data)
        out: list[bytes | tuple[int, int]] = []
        if end <= self._next:  # all old: a retransmission
            self.ctr.overlap += 1
            return out
        if pos < self._next:  # partly old: keep only what is new (first wins)
            self.ctr.overlap += 1
            data = data[self._next - pos :]
            pos = self._next
        if pos == self._next and not self._ooo:
            self._next = end
            out.append(data)
            return out
        self._store(pos, data)
        self._drain(out)
        if self._ooo and (self._dropped or self._ooo_bytes >= self.max_ooo):
            self._give_up_hole(out)
        return out

    def skip_to(self, seq: int, limit: int) -> int:
        """Pass over the bytes before `seq`, at most `limit` of them, that the reader does not
        want (a parser's skip, whose packets the flow kernel dropped): no hole, no gap.
        Out-of-order pieces held inside that range are bytes the reader does not want
        either: dropped (the tail of one reaching past `seq` is kept). Returns how many
        bytes were passed over."""
        if self._base is None:
            return 0
        ahead = self._pos(seq) - self._next
        if not 0 < ahead <= limit:
            return 0
        target = self._next + ahead
        keys = self._keys
        while keys and keys[0] < target:
            p = keys.pop(0)
            q = self._ooo.pop(p)
            self._ooo_bytes -= len(q)
            self.ctr.total -= len(q)
            if p + len(q) > target:  # reaches past the skip: keep its tail
                tail = q[target - p :]
                self._ooo[target] = tail
                keys.insert(0, target)
                self._ooo_bytes += len(tail)
                self.ctr.total += len(tail)
        self._next = target
        return ahead

    def flush(self) -> list[bytes | tuple[int, int]]:
        """End of the flow: give up the holes, deliver everything still waiting."""
        out: list[bytes | tuple[int, int]] = []
        while self._ooo:
            self._give_up_hole(out)
        return out

    def _store(self, pos: int, data: bytes) -> None:
        """Buffer `data` at `pos`, keeping bytes already held where they overlap. The held
        pieces never overlap each other, so they are sorted by start and by end alike: the
        candidates are found by bisection (a hole followed by thousands of small segments
        must not cost thousands of steps per segment)."""
        keys = self._keys
        k = bisect_right(keys, pos) - 1
        if k < 0 or keys[k] + len(self._ooo[keys[k]]) <= pos:
            k += 1  # the piece starting at or before pos ends before it
        for p in keys[k : k + 2]:
            q = self._ooo[p]
            pend = p + len(q)
            if pend <= pos or p >= pos + len(data):
                continue
            self.ctr.overlap += 1
            lo, hi = max(p, pos), min(pend, pos + len(data))
            if q[lo - p : hi - p] != data[lo - pos : hi - pos]:
                self.ctr.overlap_diff_data += 1
            # split the new data around the bytes held
            if pos < p:
                self._store(pos, data[: p - pos])
            if pos + len(data) > pend:
                self._store(pend, data[pend - pos :])
            return
        if (
            self._ooo_bytes + len(data) > self.max_ooo + 65536
            or self.ctr.total + len(data) > self.ctr.max_total
        ):
            self.ctr.segment_memcap_drop += 1
            self._dropped = True
            return
        self._ooo[pos] = data
        insort(self._keys, pos)
        self._ooo_bytes += len(data)
        self.ctr.total += len(data)

    def _drain(self, out: list[bytes | tuple[int, int]]) -> None:
        while self._next in self._ooo:
            data = self._ooo.pop(self._next)
            del self._keys[0]  # the smallest: nothing held lies before the next byte
            self._ooo_bytes -= len(data)
            self.ctr.total -= len(data)
            self._next += len(data)
            out.append(data)

    def _give_up_hole(self, out: list[bytes | tuple[int, int]]) -> None:
        first = self._keys[0]
        out.append((GAP, first - self._next))
        self.ctr.reassembly_gap += 1
        self._next = first
        self._dropped = False
        self._drain(out)

    def release(self) -> None:
        """Forget buffered bytes (the flow's state is dropped), returning them to the pool."""
        self.ctr.total -= self._ooo_bytes
        self._ooo.clear()
        self._keys.clear()
        self._ooo_bytes = 0
