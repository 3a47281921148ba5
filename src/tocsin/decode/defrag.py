"""IPv4/IPv6 fragment reassembly (the Python exception path of the decoder).

The numba decode kernel marks fragments; the pipeline hands their IP-layer bytes to
:class:`Defragmenter`. When a datagram completes, the whole reassembled IP packet is
returned in :class:`DefragResult` and the pipeline re-decodes it as a raw IP packet.

Contract
--------
* ``add_ipv4(ts_us, packet, vlan)``: ``packet`` starts at the IPv4 header. The header's
  total length is authoritative: trailing bytes (Ethernet padding) are ignored, and if
  the capture holds fewer bytes than the total length the fragment is *not* used
  (event ``ipv4.trunc_pkt``): reassembling from cut data would yield wrong bytes.
  A packet that is not a fragment (MF=0, offset 0) is returned as is, with no event.
* ``add_ipv6(ts_us, packet, frag_offset, vlan)``: ``packet`` starts at the IPv6 header,
  ``frag_offset`` is the byte offset of the Fragment header. The payload length is
  authoritative (short capture: ``ipv6.trunc_pkt``, fragment not used). The output is
  the unfragmentable part of the offset-0 fragment (the Next Header that pointed to the
  Fragment header rewritten) followed by the fragmentable part, payload length fixed.
  An atomic fragment (offset 0, M=0) raises ``ipv6.exthdr_useless_fh`` and is returned
  at once without its Fragment header; it is not counted nor tracked.
* Tracker key: (family, src, dst, id, proto for IPv4 / 0 for IPv6, vlan). The output
  IPv4 header is the offset-0 fragment's header (options kept), MF and offset cleared
  (DF and the reserved bit kept), total length fixed, checksum recomputed.
* Overlaps follow the BSD policy (Suricata's default; Novak, "Target-Based
  Fragmentation Reassembly"). Stored data is a sorted list of non-overlapping pieces.
  For a new fragment [s, e): if the held piece that starts at or before ``s`` reaches
  past ``s``, that earlier data wins and the new fragment's head is trimmed to its end
  (dropped entirely when covered); then the new data overwrites every held piece that
  starts after the (trimmed) new start: covered pieces are discarded, a piece
  extending past ``e`` keeps its tail. Any overlap raises ``ipv4|ipv6.frag_overlap``.
  This reproduces Suricata's DefragSturgesNovakBsdTest result.
* The datagram end is fixed by the first last-fragment (MF=0); a later last fragment
  with another end is ignored (``frag_ignored``); held data past the end is cut at
  reassembly. Zero-length fragments are ignored (``frag_ignored``).
* After completion the key is remembered for ``done_window_us`` (default 1 s, bounded
  by ``max_trackers`` entries): late duplicates raise ``frag_ignored`` instead of
  starting a new tracker. Trackers dropped by eviction are not remembered.
* Bounds: at most ``max_trackers`` trackers (when full, timed-out trackers are expired
  first, then the least recently updated is evicted: ``max_trackers_reached`` and
  ``tracker_hard_reuse``); held bytes (fragment data + kept headers) never exceed
  ``max_bytes`` (oldest trackers evicted: ``memcap_reached`` and ``tracker_hard_reuse``;
  if the current tracker alone cannot fit it is dropped, ``frag_ignored``); a tracker
  receiving more than ``max_frags_per_tracker`` fragments (duplicates included) is
  dropped (``max_frags_reached``, ``frag_ignored``). A tracker idle longer than
  ``timeout_us`` is dropped by :meth:`Defragmenter.expire` or when its key is seen
  again (``ipvX.timeouts``; the latter also ``tracker_soft_reuse``). All times are packet
  timestamps (``ts_us``); ``expire`` assumes roughly increasing time (it stops at the
  first tracker not yet idle, in least-recently-updated order).
* Errors never raise: malformed input yields a result with ``packet=None`` and events.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["DefragResult", "Defragmenter"]

_Key = tuple[int, bytes, bytes, int, int, int]
_MAX_IP = 65535
_IPV6_PRE_FH = frozenset({0, 43, 51, 60})  # hop-by-hop, routing, AH, destination options

_COUNTERS = (
    "ipv4.fragments",
    "ipv4.reassembled",
    "ipv4.timeouts",
    "ipv6.fragments",
    "ipv6.reassembled",
    "ipv6.timeouts",
    "max_frags_reached",
    "max_trackers_reached",
    "memcap_reached",
    "memuse",
    "tracker_hard_reuse",
    "tracker_soft_reuse",
)


@dataclass(frozen=True, slots=True)
class DefragResult:
    """Outcome of one fragment: the completed IP packet (or None) and decoder events."""

    packet: bytes | None
    events: tuple[str, ...]


class _Tracker:
    __slots__ = ("end", "frags", "head", "last_ts", "nbytes", "nfrags")

    def __init__(self, ts_us: int) -> None:
        self.frags: list[tuple[int, bytes]] = []  # sorted, non-overlapping (offset, data)
        self.head: bytes | None = None  # IPv4 header / IPv6 unfragmentable part
        self.end: int | None = None  # datagram length, known once MF=0 seen
        self.last_ts = ts_us
        self.nbytes = 0
        self.nfrags = 0


def _ipv4_checksum(hdr: bytes | bytearray) -> int:
    total: int = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr[: len(hdr) & ~1]))
    if len(hdr) & 1:
        total += hdr[-1] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _bsd_insert(frags: list[tuple[int, bytes]], start: int, data: bytes) -> tuple[bool, int]:
    """Insert with the BSD policy; return (overlap seen, change in held bytes)."""
    end = start + len(data)
    overlap = False
    i = bisect_right(frags, start, key=lambda f: f[0])
    if i > 0:
        pstart, pdata = frags[i - 1]
        pend = pstart + len(pdata)
        if pend > start:  # earlier-starting held data wins
            overlap = True
            if pend >= end:
                return True, 0
            data = data[pend - start :]
            start = pend
    delta = len(data)
    while i < len(frags) and frags[i][0] < end:  # later-starting data is overwritten
        overlap = True
        nstart, ndata = frags[i]
        nend = nstart + len(ndata)
        if nend <= end:
            del frags[i]
            delta -= len(ndata)
        else:
            frags[i] = (end, ndata[end - nstart :])
            delta -= end - nstart
            break
    frags.insert(i, (start, data))
    return overlap, delta


class Defragmenter:
    """Bounded IPv4/IPv6 fragment reassembler (see the module docstring for the contract)."""

    def __init__(
        self,
        *,
        max_trackers: int = 65536,
        max_bytes: int = 32 * 1024 * 1024,
        timeout_us: int = 60_000_000,
        max_frags_per_tracker: int = 1000,
        done_window_us: int = 1_000_000,
    ) -> None:
        self.max_trackers = max(1, max_trackers)
        self.max_bytes = max_bytes
        self.timeout_us = timeout_us
        self.max_frags_per_tracker = max_frags_per_tracker
        self.done_window_us = done_window_us
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self._trackers: OrderedDict[_Key, _Tracker] = OrderedDict()
        self._done: OrderedDict[_Key, int] = OrderedDict()  # key -> forget-after ts
        self._memuse = 0

    @property
    def memuse(self) -> int:
        return self._memuse

    @property
    def tracker_count(self) -> int:
        return len(self._trackers)

    # ------------------------------------------------------------------ IPv4
    def add_ipv4(self, ts_us: int, packet: bytes, vlan: int = 0) -> DefragResult:
        n = len(packet)
        if n < 20:
            return DefragResult(None, ("ipv4.pkt_too_small",))
        if packet[0] >> 4 != 4:
            return DefragResult(None, ("ipv4.wrong_ip_version",))
        hlen = (packet[0] & 0x0F) * 4
        if hlen < 20:
            return DefragResult(None, ("ipv4.hlen_too_small",))
        if n < hlen:
            return DefragResult(None, ("ipv4.pkt_too_small",))
        total = (packet[2] << 8) | packet[3]
        if total < hlen:
            return DefragResult(None, ("ipv4.iplen_smaller_than_hlen",))
        if n < total:
            return DefragResult(None, ("ipv4.trunc_pkt",))
        flags_off = (packet[6] << 8) | packet[7]
        more = bool(flags_off & 0x2000)
        offset = (flags_off & 0x1FFF) * 8
        if not more and offset == 0:
            return DefragResult(bytes(packet[:total]), ())
        self.counters["ipv4.fragments"] += 1
        data = bytes(packet[hlen:total])
        if 20 + offset + len(data) > _MAX_IP:
            return DefragResult(None, ("ipv4.frag_pkt_too_large",))
        ident = (packet[4] << 8) | packet[5]
        key: _Key = (4, bytes(packet[12:16]), bytes(packet[16:20]), ident, packet[9], vlan)
        return self._add("ipv4", key, ts_us, offset, more, data, bytes(packet[:hlen]))

    # ------------------------------------------------------------------ IPv6
    def add_ipv6(self, ts_us: int, packet: bytes, frag_offset: int, vlan: int = 0) -> DefragResult:
        n = len(packet)
        if n < 40:
            return DefragResult(None, ("ipv6.pkt_too_small",))
        if packet[0] >> 4 != 6:
            return DefragResult(None, ("ipv6.wrong_ip_version",))
        pkt_end = 40 + ((packet[4] << 8) | packet[5])
        if n < pkt_end:
            return DefragResult(None, ("ipv6.trunc_pkt",))
        if frag_offset < 40 or frag_offset + 8 > pkt_end:
            return DefragResult(None, ("ipv6.trunc_exthdr",))
        # Walk the unfragmentable headers to find the Next Header field naming the FH.
        nh_pos, nh, pos = 6, packet[6], 40
        while pos < frag_offset and nh in _IPV6_PRE_FH and pos + 2 <= frag_offset:
            hl = (packet[pos + 1] + 2) * 4 if nh == 51 else (packet[pos + 1] + 1) * 8
            nh_pos, nh, pos = pos, packet[pos], pos + hl
        if pos != frag_offset or nh != 44:
            return DefragResult(None, ("ipv6.trunc_exthdr",))
        events: list[str] = []
        fh = packet[frag_offset : frag_offset + 8]
        off_m = (fh[2] << 8) | fh[3]
        if fh[1] or off_m & 0x6:
            events.append("ipv6.fh_non_zero_reserved_field")
        offset, more = off_m & 0xFFF8, bool(off_m & 1)
        unfrag = bytearray(packet[:frag_offset])
        unfrag[nh_pos] = fh[0]
        data = bytes(packet[frag_offset + 8 : pkt_end])
        if offset == 0 and not more:
            events.append("ipv6.exthdr_useless_fh")
            return DefragResult(self._ipv6_packet(unfrag, data), tuple(events))
        self.counters["ipv6.fragments"] += 1
        if more and len(data) % 8:
            events.append("ipv6.frag_invalid_length")
            return DefragResult(None, tuple(events))
        if offset + len(data) > _MAX_IP:
            events.append("ipv6.frag_pkt_too_large")
            return DefragResult(None, tuple(events))
        ident = int.from_bytes(fh[4:8], "big")
        key: _Key = (6, bytes(packet[8:24]), bytes(packet[24:40]), ident, 0, vlan)
        res = self._add("ipv6", key, ts_us, offset, more, data, bytes(unfrag))
        return DefragResult(res.packet, (*events, *res.events)) if events else res

    @staticmethod
    def _ipv6_packet(unfrag: bytes | bytearray, payload: bytes) -> bytes:
        out = bytearray(unfrag)
        out += payload
        struct.pack_into("!H", out, 4, len(out) - 40)
        return bytes(out)

    # ------------------------------------------------------------------ core
    def _add(
        self, af: str, key: _Key, ts: int, offset: int, more: bool, data: bytes, head: bytes
    ) -> DefragResult:
        ignored = DefragResult(None, (f"{af}.frag_ignored",))
        done_until = self._done.get(key)
        if done_until is not None:
            if ts < done_until:
                return ignored
            del self._done[key]
        if not data:
            return ignored
        t = self._trackers.get(key)
        if t is not None and ts - t.last_ts > self.timeout_us:
            self._drop(key)
            self.counters[f"{af}.timeouts"] += 1
            self.counters["tracker_soft_reuse"] += 1
            t = None
        if t is None:
            if len(self._trackers) >= self.max_trackers:
                self.expire(ts)
            while len(self._trackers) >= self.max_trackers:
                self._drop(next(iter(self._trackers)))
                self.counters["max_trackers_reached"] += 1
                self.counters["tracker_hard_reuse"] += 1
            t = self._trackers[key] = _Tracker(ts)
        else:
            self._trackers.move_to_end(key)
            t.last_ts = max(t.last_ts, ts)
        t.nfrags += 1
        if t.nfrags > self.max_frags_per_tracker:
            self._drop(key)
            self.counters["max_frags_reached"] += 1
            return ignored
        end = offset + len(data)
        if not more:
            if t.end is not None and t.end != end:
                return ignored
            t.end = end
        need = len(data) + (len(head) if offset == 0 and t.head is None else 0)
        while self._memuse + need > self.max_bytes:
            oldest = next(iter(self._trackers))
            self._drop(oldest)
            self.counters["memcap_reached"] += 1
            self.counters["tracker_hard_reuse"] += 1
            if oldest == key:
                return ignored
        overlap, delta = _bsd_insert(t.frags, offset, data)
        if offset == 0 and t.head is None and t.frags and t.frags[0][0] == 0:
            t.head = head
            delta += len(head)
        t.nbytes += delta
        self._memuse += delta
        self.counters["memuse"] = self._memuse
        events = (f"{af}.frag_overlap",) if overlap else ()
        packet = self._try_complete(af, key, t, ts)
        if isinstance(packet, str):
            return DefragResult(None, (*events, packet))
        return DefragResult(packet, events)

    def _try_complete(self, af: str, key: _Key, t: _Tracker, ts: int) -> bytes | str | None:
        """The reassembled packet, an event name if it cannot be built, or None."""
        if t.end is None or t.head is None:
            return None
        covered = 0
        for start, data in t.frags:
            if start > covered:
                return None
            covered = max(covered, start + len(data))
            if covered >= t.end:
                break
        if covered < t.end:
            return None
        payload = bytearray()
        for start, data in t.frags:
            if start >= t.end:
                break
            payload += data[: t.end - start]
        head = t.head
        self._drop(key)
        self._done[key] = ts + self.done_window_us
        while len(self._done) > self.max_trackers:
            self._done.popitem(last=False)
        if af == "ipv4":
            total = len(head) + len(payload)
            if total > _MAX_IP:
                return "ipv4.frag_pkt_too_large"
            hdr = bytearray(head)
            struct.pack_into("!H", hdr, 2, total)
            hdr[6] &= 0xC0  # keep reserved + DF, clear MF and the offset
            hdr[7] = 0
            hdr[10:12] = b"\x00\x00"
            struct.pack_into("!H", hdr, 10, _ipv4_checksum(hdr))
            self.counters["ipv4.reassembled"] += 1
            return bytes(hdr + payload)
        if len(head) - 40 + len(payload) > _MAX_IP:
            return "ipv6.frag_pkt_too_large"
        self.counters["ipv6.reassembled"] += 1
        return self._ipv6_packet(head, bytes(payload))

    def _drop(self, key: _Key) -> None:
        t = self._trackers.pop(key)
        self._memuse -= t.nbytes
        self.counters["memuse"] = self._memuse

    def expire(self, now_us: int) -> int:
        """Drop trackers idle longer than ``timeout_us`` at packet time ``now_us``."""
        dropped = 0
        while self._trackers:
            key, t = next(iter(self._trackers.items()))
            if now_us - t.last_ts <= self.timeout_us:
                break
            self._drop(key)
            self.counters["ipv4.timeouts" if key[0] == 4 else "ipv6.timeouts"] += 1
            dropped += 1
        while self._done and next(iter(self._done.values())) <= now_us:
            self._done.popitem(last=False)
        return dropped
