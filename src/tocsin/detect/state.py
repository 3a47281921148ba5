"""Detection state that outlives a packet: flowbits per flow, xbits per host or address
pair, threshold counters per track.

All are bounded: flowbits are dropped with their flow (`FlowBits.drop`); xbits expire in
packet time, and beyond `max_bits` (name, key) entries the oldest set is evicted (counted:
`detect.xbits_evicted`); threshold trackers beyond `max_trackers` are evicted oldest first
(counted: `detect.threshold_evicted`).

Threshold semantics are Suricata's (`detect-engine-threshold.c`), in packet time:

- `limit`: alert on the first `count` matches of each `seconds` window;
- `threshold`: alert on every `count`-th match within a window (the counter restarts);
- `both`: alert once per window, on the `count`-th match;
- `backoff`: alert on the `count`-th match, then the `count*multiplier`-th, then the
  `count*multiplier^2`-th... (by_flow only in Suricata; any track here);
- `detection_filter`: alert on every match after the `count`-th within the window.
"""

from __future__ import annotations

from collections import OrderedDict

from tocsin.detect.model import Flowbit, Threshold, Xbit


class FlowBits:
    """Named bits per flow id."""

    __slots__ = ("bits",)

    def __init__(self) -> None:
        self.bits: dict[int, set[str]] = {}

    def check(self, fid: int, fb: Flowbit) -> bool:
        """True when a condition (`isset` / `isnotset`) holds; actions return True."""
        have = self.bits.get(fid)
        if fb.cmd == "isset":
            if not have:
                return False
            if fb.any_of:
                return any(n in have for n in fb.names)
            return all(n in have for n in fb.names)
        if fb.cmd == "isnotset":
            if not have:
                return True
            if fb.any_of:
                return any(n not in have for n in fb.names)
            return all(n not in have for n in fb.names)
        return True

    def apply(self, fid: int, fb: Flowbit) -> None:
        if fb.cmd == "set":
            self.bits.setdefault(fid, set()).update(fb.names)
        elif fb.cmd == "unset":
            have = self.bits.get(fid)
            if have:
                have.difference_update(fb.names)
        elif fb.cmd == "toggle":
            have = self.bits.setdefault(fid, set())
            for n in fb.names:
                if n in have:
                    have.discard(n)
                else:
                    have.add(n)

    def drop(self, fid: int) -> None:
        self.bits.pop(fid, None)


class XBits:
    """Named bits per host or unordered address pair, with an expiry in packet time (µs).

    Semantics are Suricata's (`host-bit.c`, `ippair-bit.c`): `set` adds a bit expiring
    `expire` seconds after the packet, and leaves an unexpired bit (and its expiry) as it is;
    `toggle` removes a bit or sets it; a bit is still set at its expiry instant and gone
    after. The key is the packet's source (`ip_src`), destination (`ip_dst`), or both
    addresses in ascending order (`ip_pair`)."""

    __slots__ = ("bits", "evicted", "max_bits")

    def __init__(self, max_bits: int = 100_000) -> None:
        # (name, key) -> expiry (µs), oldest set first
        self.bits: OrderedDict[tuple[str, object], int] = OrderedDict()
        self.max_bits = max_bits
        self.evicted = 0

    @staticmethod
    def _key(xb: Xbit, src: int, dst: int) -> tuple[str, object]:
        if xb.track == "ip_src":
            return (xb.name, src)
        if xb.track == "ip_dst":
            return (xb.name, dst)
        return (xb.name, (min(src, dst), max(src, dst)))

    def _isset(self, key: tuple[str, object], now_us: int) -> bool:
        until = self.bits.get(key)
        if until is None:
            return False
        if until < now_us:
            del self.bits[key]
            return False
        return True

    def check(self, xb: Xbit, src: int, dst: int, now_us: int) -> bool:
        """True when a condition (`isset` / `isnotset`) holds; actions return True."""
        if xb.cmd == "isset":
            return self._isset(self._key(xb, src, dst), now_us)
        if xb.cmd == "isnotset":
            return not self._isset(self._key(xb, src, dst), now_us)
        return True

    def apply(self, xb: Xbit, src: int, dst: int, now_us: int) -> None:
        key = self._key(xb, src, dst)
        if xb.cmd == "unset" or (xb.cmd == "toggle" and self._isset(key, now_us)):
            self.bits.pop(key, None)
        elif xb.cmd in ("set", "toggle") and not self._isset(key, now_us):
            if len(self.bits) >= self.max_bits:
                self.bits.popitem(last=False)
                self.evicted += 1
            self.bits[key] = now_us + xb.expire * 1_000_000


class _Tracker:
    __slots__ = ("count", "next_at", "start")

    def __init__(self, start: int) -> None:
        self.start = start  # window start (µs)
        self.count = 0
        self.next_at = 0  # backoff: the match count that alerts next


class Thresholds:
    """Counters per (rule, track key); `allow` says whether a match becomes an alert."""

    __slots__ = ("evicted", "max_trackers", "trackers")

    def __init__(self, max_trackers: int = 100_000) -> None:
        self.trackers: OrderedDict[tuple[object, ...], _Tracker] = OrderedDict()
        self.max_trackers = max_trackers
        self.evicted = 0

    def allow(self, rule_key: tuple[int, int], th: Threshold, track: object, now_us: int) -> bool:
        key = (rule_key, th.kind, track)
        tr = self.trackers.get(key)
        window = th.seconds * 1_000_000
        if tr is None:
            if len(self.trackers) >= self.max_trackers:
                self.trackers.popitem(last=False)
                self.evicted += 1
            tr = self.trackers[key] = _Tracker(now_us)
        elif th.kind != "backoff" and window and now_us - tr.start >= window:
            tr.start = now_us
            tr.count = 0
        tr.count += 1
        n = tr.count
        kind = th.kind
        if kind == "limit":
            return n <= th.count
        if kind == "threshold":
            if n >= th.count:
                tr.count = 0
                return True
            return False
        if kind == "both":
            return n == th.count
        if kind == "detection_filter":
            return n > th.count
        # backoff: alerts on the count-th match, then count*multiplier, count*multiplier^2...
        if tr.next_at == 0:
            tr.next_at = max(th.count, 1)
        if n == tr.next_at:
            tr.next_at = tr.next_at * max(th.multiplier, 1)
            return True
        return False


class RateFilters:
    """State of threshold.config `rate_filter`s: per (rule, track key), the matches in the
    current window and until when the new action holds."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: dict[tuple[object, ...], list[int]] = {}  # key -> [start, count, until]

    def passing(
        self, key: tuple[object, ...], count: int, seconds: int, timeout: int, now_us: int
    ) -> bool:
        """A match: True while the rate filter's new action (pass) holds."""
        st = self.state.get(key)
        if st is None:
            st = self.state[key] = [now_us, 0, 0]
        if st[2] and now_us < st[2]:
            return True
        if now_us - st[0] >= seconds * 1_000_000:
            st[0], st[1] = now_us, 0
        st[1] += 1
        if st[1] > count:
            st[2] = now_us + timeout * 1_000_000
            return True
        return False
