"""Fan-out counting shared by the sweep detectors: distinct targets per (source, key) and window.

`Fanout.add(flows, rows, keys, answered)` takes the selected rows of a `FlowBatch` (probes),
a key per row (a port, an ICMP type...) and whether each was answered; it deduplicates
(source, key, target) triples with NumPy first, then updates one `Spread` per (source, key)
in a `BoundedMap`, and returns the spreads that reached `min_targets` in this call (once per
window). Targets are remembered up to `target_cap` per spread: past it, counting stops (the
threshold is far below the cap).

`Repeats` keeps Python off a spoofed-source flood: a fixed-size NumPy table (one slot per
hashed group) remembers each group's last item, so only rows of groups that showed a second
distinct item within the window (in the batch, or against the table) go on to Python. A
source that sends one probe and is never seen again — 3 million spoofed SYNs — costs a few
array operations, no Python and no per-source object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from tocsin.detect.correlate.state import BoundedMap
from tocsin.jit import kernel
from tocsin.model.flows import FlowBatch
from tocsin.model.ids import ip_text

SpreadKey = tuple[int, int, int, int]  # ipver, src hi, src lo, key
_MIX = np.uint64(0x9E3779B97F4A7C15)


def mix(*cols: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A 64-bit hash per row of the columns (splitmix-style; wraps, never raises)."""
    h = np.zeros(cols[0].shape[0], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for c in cols:
            h = (h ^ c.astype(np.uint64)) * _MIX
            h ^= h >> np.uint64(29)
    return h


def unique_rows(
    cols: npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """`np.unique(cols, axis=0, return_index=True, return_inverse=True, return_counts=True)`
    less the rows themselves (`cols[first]` gives them): the same lexicographic order, the
    first occurrence of each, by a stable lexsort of the columns — several times faster
    than `unique`'s sort of row-sized records."""
    order = np.lexsort(cols.T[::-1])
    srt = cols[order]
    new = np.ones(order.size, dtype=np.bool_)
    if order.size > 1:
        new[1:] = (srt[1:] != srt[:-1]).any(axis=1)
    starts = np.flatnonzero(new)
    inverse = np.empty(order.size, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    counts = np.diff(np.append(starts, order.size))
    return order[starts], inverse, counts


@kernel
def _repeats(
    group: np.ndarray,
    item: np.ndarray,
    ts: np.ndarray,
    tag_t: np.ndarray,
    item_t: np.ndarray,
    ts_t: np.ndarray,
    hot_t: np.ndarray,
    mask: np.uint64,
    window_us: int,
    keys: np.ndarray,
    used: np.ndarray,
    first: np.ndarray,
    multi: np.ndarray,
    pos: np.ndarray,
    keep: np.ndarray,
    prev: np.ndarray,
) -> None:
    n = group.shape[0]
    smask = np.uint64(keys.shape[0] - 1)
    used[:] = False
    for i in range(n):  # the batch: does a group show a second distinct item?
        g = group[i]
        j = g & smask
        while used[j] and keys[j] != g:
            j = (j + np.uint64(1)) & smask
        if not used[j]:
            used[j] = True
            keys[j] = g
            first[j] = item[i]
            multi[j] = False
        elif first[j] != item[i]:
            multi[j] = True
        pos[i] = j
    for i in range(n):  # against the table as it was before this batch
        s = group[i] & mask
        known = tag_t[s] == (group[i] | np.uint64(1)) and ts[i] - ts_t[s] <= window_us
        prev[i] = item_t[s] if known else np.uint64(0)
        keep[i] = multi[pos[i]] or (known and (hot_t[s] or item_t[s] != item[i]))
    for i in range(n):  # then the table takes the batch (a slot's last row wins)
        s = group[i] & mask
        tag_t[s] = group[i] | np.uint64(1)
        item_t[s] = item[i]
        ts_t[s] = ts[i]
        hot_t[s] = keep[i]


class Repeats:
    """Which rows belong to a group that has shown two distinct items within `window_us`."""

    def __init__(self, window_us: int, bits: int = 18) -> None:
        size = 1 << bits
        self.mask = np.uint64(size - 1)
        self.window_us = window_us
        self.tag = np.zeros(size, dtype=np.uint64)
        self.item = np.zeros(size, dtype=np.uint64)
        self.ts = np.zeros(size, dtype=np.int64)
        self.hot = np.zeros(size, dtype=np.bool_)

    def filter(
        self, group: npt.NDArray[np.uint64], item: npt.NDArray[np.uint64], ts: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64]]:
        """(rows worth tracking, the item the table held for each row's group: a promoted
        group's first item, to count it too; 0 when none)."""
        n = group.shape[0]
        size = 1 << max(1, 2 * n - 1).bit_length()  # a power of two, at most half full
        keep = np.empty(n, dtype=np.bool_)
        prev = np.empty(n, dtype=np.uint64)
        _repeats(
            group.astype(np.uint64), item.astype(np.uint64), ts.astype(np.int64),
            self.tag, self.item, self.ts, self.hot, self.mask, self.window_us,
            np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.bool_),
            np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.bool_),
            np.empty(n, dtype=np.int64), keep, prev,
        )  # fmt: skip
        return keep, prev


@dataclass(slots=True)
class Spread:
    first_ts: int
    last_ts: int
    targets: set[int] = field(default_factory=set)  # (hi << 64) | lo
    answered: set[int] = field(default_factory=set)
    probes: int = 0
    alerted: bool = False

    def sample(self, ipver: int, n: int) -> list[str]:
        out = sorted(self.targets)[:n]
        return [ip_text(ipver, t >> 64, t & 0xFFFF_FFFF_FFFF_FFFF) for t in out]


class Fanout:
    """Distinct targets per (source, key) within `window_s`; see the module docstring."""

    def __init__(self, capacity: int, window_s: int, min_targets: int, target_cap: int = 4096):
        self.spreads: BoundedMap[SpreadKey, Spread] = BoundedMap(capacity)
        self.window_us = window_s * 1_000_000
        self.min_targets = min_targets
        self.repeats = Repeats(self.window_us)
        self.target_cap = max(target_cap, min_targets)

    def add(
        self,
        flows: FlowBatch,
        rows: npt.NDArray[np.intp],
        keys: npt.NDArray[np.int64],
        answered: npt.NDArray[np.bool_],
        min_targets: npt.NDArray[np.int64] | None = None,
    ) -> list[tuple[SpreadKey, Spread, int]]:
        """Count the rows; returns (key, spread, a row of the batch) for each spread that
        crossed its threshold (`min_targets` per row, or the default)."""
        if rows.size == 0:
            return []
        ver = flows.ipver[rows]
        group = mix(
            ver.astype(np.uint64), flows.src_hi[rows], flows.src_lo[rows], keys.astype(np.uint64)
        )
        dlo = flows.dst_lo[rows]
        item = np.where(ver == 4, dlo, mix(flows.dst_hi[rows], dlo))
        keep, prev = self.repeats.filter(group, item, flows.first_ts[rows])
        prev = np.where(ver == 4, prev, np.uint64(0))  # IPv4: the table holds the address
        rows, keys, answered, prev = rows[keep], keys[keep], answered[keep], prev[keep]
        if min_targets is not None:
            min_targets = min_targets[keep]
        if rows.size == 0:
            return []
        cols = np.stack(
            [
                flows.ipver[rows].astype(np.uint64),
                flows.src_hi[rows],
                flows.src_lo[rows],
                keys.astype(np.uint64),
                flows.dst_hi[rows],
                flows.dst_lo[rows],
            ],
            axis=1,
        )
        order = np.argsort(flows.first_ts[rows], kind="stable")
        cols, rows, answered, prev = cols[order], rows[order], answered[order], prev[order]
        mins = None if min_targets is None else min_targets[order]
        first, inverse, count = unique_rows(cols)
        any_ans = np.zeros(first.shape[0], dtype=np.bool_)
        np.logical_or.at(any_ans, inverse.reshape(-1), answered)
        last = np.zeros(first.shape[0], dtype=np.int64)
        np.maximum.at(last, inverse.reshape(-1), flows.first_ts[rows])
        out: list[tuple[SpreadKey, Spread, int]] = []
        ts_first = flows.first_ts[rows[first]].tolist()
        for j, (ver, shi, slo, k, dhi, dlo) in enumerate(cols[first].tolist()):
            key = (ver, shi, slo, k)
            t0 = ts_first[j]
            s = self.spreads.get_or_create(key, partial(Spread, t0, t0), now=t0)
            if t0 - s.first_ts > self.window_us:
                s.first_ts, s.targets, s.answered, s.probes, s.alerted = t0, set(), set(), 0, False
            s.last_ts = max(s.last_ts, int(last[j]))
            s.probes += int(count[j])
            target = (dhi << 64) | dlo
            before = int(prev[first[j]])
            if before and len(s.targets) < self.target_cap:
                s.targets.add(before)  # the group's first item, seen before it was promoted
            if len(s.targets) < self.target_cap:
                s.targets.add(target)
                if any_ans[j]:
                    s.answered.add(target)
            need = self.min_targets if mins is None else int(mins[first[j]])
            if not s.alerted and len(s.targets) >= need:
                s.alerted = True
                out.append((key, s, int(rows[first[j]])))
        return out

    def evicted(self) -> int:
        return self.spreads.evicted

    def __len__(self) -> int:
        return len(self.spreads)
