"""`BoundedMap`: per-host (or per-pair) state with a hard cap on entries, that a flood of
spoofed keys cannot flush.

A segmented LRU whose protected part admits only keys that persist in packet time:

- Bounded: never more than `capacity` entries. Every entry lost to the cap is counted in
  `evicted` (entries removed by `pop` or `drop_older` are not losses). Besides the entries,
  the map keeps the first-seen time of each key on probation (one int each) and a fixed
  table of `ghost_slots` ghosts (16 bytes a slot, allocated at the first timed eviction).
- A new key enters on probation. Touched again it is protected — but when the caller passes
  `now` (packet time in µs, never the wall clock: the pipeline is deterministic on packet
  time) only once `now` is at least `persist_us` after the key was first seen. A spoofed
  source that probes two ports within a millisecond touches its key twice in a burst and
  stays on probation; a scanner that keeps coming back is protected. Callers without a
  packet time omit `now`: the second touch protects, as before.
- Past `capacity` the least recently used key on probation goes; the protected part
  (`protected_pct` of the capacity) gives its least recently used key back to probation
  (most recent there) only when it is full itself. So a flood of keys that never persist —
  seen once, or twice in a burst — churns the probation part only: the scanner or implant
  that came back keeps its history, and is still detected under the flood.
- Ghosts: a key evicted from probation with a first-seen time leaves a ghost of it in a
  4-way set-associative table (first in, first out per set; once the table exists, a demoted
  key evicted leaves one too, as old). A key created again with `now` whose ghost is at
  least `persist_us` old is protected at once (counted in `recalled`): a slow scanner that
  a flood churned out before its second touch is kept from its return on — the state it
  had is lost, detectors count from there. A younger ghost gives the key back its
  first-seen time. 98 % of ghosts outlive `ghost_slots / 4` later evictions, 43 % outlive
  `ghost_slots` (default: 4 x `capacity`); past that a returning key starts on probation
  again. Ghosts are found by `hash(key)`: int and tuple-of-int keys hash the same in every
  run, str keys per process, so under such a flood which str-keyed ghosts survive may
  differ between runs.

What it does not do: tell a spoofed source that persists (one that is sent again every few
seconds, for minutes) from a real slow scanner — both are protected and share the protected
part's LRU; nor cap keys per prefix or per destination. A flood costs a detector its memory
of keys that do not persist, never the sensor's memory. Detectors keep every piece of
per-host state in one of these, and pass `now` where their keys can be spoofed.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_LONG_AGO = -(1 << 62)  # the first-seen time of a key protected before: old enough


class BoundedMap(Generic[K, V]):
    """A segmented LRU map: `get_or_create(key, factory, now=ts)` touches the key (a touch
    `persist_us` after the first protects it; without `now`, any second touch); `evicted`
    counts losses, `recalled` the evicted keys that came back and were protected at once."""

    def __init__(
        self,
        capacity: int,
        *,
        protected_pct: int = 80,
        persist_us: int = 1_000_000,
        ghost_slots: int | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not 0 <= protected_pct < 100:
            raise ValueError("protected_pct must be between 0 and 99")
        if persist_us < 0:
            raise ValueError("persist_us must not be negative")
        slots = 4 * capacity if ghost_slots is None else ghost_slots
        if slots < 0:
            raise ValueError("ghost_slots must not be negative")
        self.capacity = capacity
        self.persist_us = persist_us
        self._protected_cap = capacity * protected_pct // 100
        self._new: OrderedDict[K, V] = OrderedDict()  # on probation
        self._kept: OrderedDict[K, V] = OrderedDict()  # protected: persisted
        self._born: dict[K, int] = {}  # keys on probation touched with `now`: first seen
        sets = 1 << max(0, (slots + 3) // 4 - 1).bit_length() if slots else 0
        self._gmask = sets - 1  # ghost sets, a power of two (0: no ghosts)
        self._gtag: array[int] | None = None  # hash(key), 0 for a free slot
        self._gts: array[int] = array("q")  # first seen
        self._gnext = bytearray()  # per set: the slot written next
        self.evicted = 0
        self.recalled = 0

    def get_or_create(self, key: K, factory: Callable[[], V], now: int | None = None) -> V:
        kept = self._kept
        v = kept.get(key)
        if v is not None:
            kept.move_to_end(key)
            return v
        new = self._new
        v = new.get(key)
        if v is not None:
            if now is not None:
                born = self._born.get(key)
                if born is not None and now - born < self.persist_us:
                    new.move_to_end(key)  # again within its burst: still on probation
                    return v
                self._born.pop(key, None)
            del new[key]
            self._protect(key, v)
            return v
        v = factory()
        if now is None:
            new[key] = v
        else:
            born = None if self._gtag is None else self._recall(key)
            if born is not None and now - born >= self.persist_us:
                self.recalled += 1
                self._protect(key, v)  # it came back after a while: it persists
            else:
                new[key] = v
                self._born[key] = now if born is None else born
        if len(new) + len(kept) > self.capacity:
            self._evict()
        return v

    def _protect(self, key: K, v: V) -> None:
        kept = self._kept
        kept[key] = v
        if len(kept) > self._protected_cap:
            old, ov = kept.popitem(last=False)
            self._new[old] = ov  # back on probation, most recent there; persisted already

    def _evict(self) -> None:
        old, _ = self._new.popitem(last=False)
        self.evicted += 1
        born = self._born.pop(old, None)
        tags = self._gtag
        if born is None:  # a demoted key, or an untimed map
            if tags is None:
                return
            born = _LONG_AGO
        if tags is None:
            if self._gmask < 0:
                return
            sets = self._gmask + 1
            tags = self._gtag = array("q", bytes(32 * sets))
            self._gts = array("q", bytes(32 * sets))
            self._gnext = bytearray(sets)
        h = hash(old) or 1  # bury it: the set's oldest ghost makes room
        s = h & self._gmask
        w = self._gnext[s]
        self._gnext[s] = (w + 1) & 3
        tags[(s << 2) | w] = h
        self._gts[(s << 2) | w] = born

    def _recall(self, key: K) -> int | None:
        """The first-seen time of `key`'s ghost (freeing its slot), if it has one."""
        tags = self._gtag
        assert tags is not None
        h = hash(key) or 1
        i = (h & self._gmask) << 2
        ways = tags[i : i + 4]
        if h not in ways:
            return None
        i += ways.index(h)
        tags[i] = 0
        return self._gts[i]

    def get(self, key: K) -> V | None:
        v = self._kept.get(key)
        return v if v is not None else self._new.get(key)

    def pop(self, key: K) -> V | None:
        v = self._kept.pop(key, None)
        if v is not None:
            return v
        self._born.pop(key, None)
        return self._new.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._kept or key in self._new

    def __len__(self) -> int:
        return len(self._kept) + len(self._new)

    def protected(self, key: object) -> bool:
        """Whether `key` is in the protected part."""
        return key in self._kept

    def items(self) -> Iterator[tuple[K, V]]:
        return iter([*self._new.items(), *self._kept.items()])

    def drop_older(self, keep: Callable[[V], bool]) -> int:
        """Remove entries `keep` rejects (expiry); returns how many. They leave no ghost."""
        n = 0
        for part in (self._new, self._kept):
            gone = [k for k, v in part.items() if not keep(v)]
            for k in gone:
                del part[k]
                self._born.pop(k, None)
            n += len(gone)
        return n
