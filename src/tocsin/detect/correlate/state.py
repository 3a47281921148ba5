"""`BoundedMap`: per-host (or per-pair) state with a hard cap on entries.

Past `capacity` entries the least recently used one is evicted and counted: a spoofed-source
flood can cost a detector its memory of some hosts, never the sensor's memory. Detectors keep
every piece of per-host state in one of these.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMap(Generic[K, V]):
    """An LRU map: `get_or_create(key, factory)` touches the key; `evicted` counts losses."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._d: OrderedDict[K, V] = OrderedDict()
        self.evicted = 0

    def get_or_create(self, key: K, factory: Callable[[], V]) -> V:
        d = self._d
        v = d.get(key)
        if v is None:
            v = factory()
            d[key] = v
            if len(d) > self.capacity:
                d.popitem(last=False)
                self.evicted += 1
        else:
            d.move_to_end(key)
        return v

    def get(self, key: K) -> V | None:
        return self._d.get(key)

    def pop(self, key: K) -> V | None:
        return self._d.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def items(self) -> Iterator[tuple[K, V]]:
        return iter(list(self._d.items()))

    def drop_older(self, keep: Callable[[V], bool]) -> int:
        """Remove entries `keep` rejects (expiry); returns how many."""
        gone = [k for k, v in self._d.items() if not keep(v)]
        for k in gone:
            del self._d[k]
        return len(gone)
