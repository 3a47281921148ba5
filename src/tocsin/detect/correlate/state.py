"""`BoundedMap`: per-host (or per-pair) state with a hard cap on entries, that a flood of
one-off keys cannot flush.

A segmented LRU: a key enters on probation; seen again, it is protected. Past `capacity`
entries the least recently used key on probation goes first (counted in `evicted`); the
protected part (`protected_pct` of the capacity) only gives up its least recently used key
to probation when it is full itself. So a spoofed-source flood — millions of sources seen
once each — churns the probation part only: the scanner or the implant that came back keeps
its history, and is still detected under the flood. A flood costs a detector its memory of
one-off hosts, never the sensor's memory. Detectors keep every piece of per-host state in
one of these.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    """A segmented LRU map: `get_or_create(key, factory)` touches the key (a second touch
    protects it); `evicted` counts losses."""

    def __init__(self, capacity: int, *, protected_pct: int = 80) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        if not 0 <= protected_pct < 100:
            raise ValueError("protected_pct must be between 0 and 99")
        self.capacity = capacity
        self._protected_cap = capacity * protected_pct // 100
        self._new: OrderedDict[K, V] = OrderedDict()  # on probation
        self._kept: OrderedDict[K, V] = OrderedDict()  # protected: seen more than once
        self.evicted = 0

    def get_or_create(self, key: K, factory: Callable[[], V]) -> V:
        kept = self._kept
        v = kept.get(key)
        if v is not None:
            kept.move_to_end(key)
            return v
        new = self._new
        v = new.pop(key, None)
        if v is not None:  # the second time: protected
            kept[key] = v
            if len(kept) > self._protected_cap:
                old, ov = kept.popitem(last=False)
                new[old] = ov  # back on probation, most recent there
            return v
        v = factory()
        new[key] = v
        if len(new) + len(kept) > self.capacity:
            new.popitem(last=False)
            self.evicted += 1
        return v

    def get(self, key: K) -> V | None:
        v = self._kept.get(key)
        return v if v is not None else self._new.get(key)

    def pop(self, key: K) -> V | None:
        v = self._kept.pop(key, None)
        return v if v is not None else self._new.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._kept or key in self._new

    def __len__(self) -> int:
        return len(self._kept) + len(self._new)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter([*self._new.items(), *self._kept.items()])

    def drop_older(self, keep: Callable[[V], bool]) -> int:
        """Remove entries `keep` rejects (expiry); returns how many."""
        n = 0
        for part in (self._new, self._kept):
            gone = [k for k, v in part.items() if not keep(v)]
            for k in gone:
                del part[k]
            n += len(gone)
        return n
