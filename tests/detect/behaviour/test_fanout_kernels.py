"""The sweep detectors' compiled filters give exactly what their NumPy definitions give.

`Repeats.filter` (which rows of a flow batch reach Python) and `unique_rows` (the distinct
(source, key, target) rows) were rewritten for speed under floods; here they are checked
against the NumPy code they replaced, batch after batch, on random data with many repeats
and colliding table slots."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.detect.behaviour._fanout import Repeats, unique_rows


class _NumpyRepeats(Repeats):
    """The definition: the vectorised filter as first written, on the same table."""

    def filter(
        self, group: npt.NDArray[np.uint64], item: npt.NDArray[np.uint64], ts: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.uint64]]:
        order = np.lexsort((item, group))
        g, it = group[order], item[order]
        new_g = np.ones(g.size, dtype=np.bool_)
        new_g[1:] = g[1:] != g[:-1]
        new_pair = new_g.copy()
        new_pair[1:] |= it[1:] != it[:-1]
        gid = np.cumsum(new_g) - 1
        distinct = np.bincount(gid, weights=new_pair.astype(np.float64))
        multi = np.zeros(g.size, dtype=np.bool_)
        multi[order] = distinct[gid] >= 2
        slot = (group & self.mask).astype(np.intp)
        tag = group | np.uint64(1)
        known = (self.tag[slot] == tag) & (ts - self.ts[slot] <= self.window_us)
        prev = np.where(known, self.item[slot], np.uint64(0))
        keep = multi | (known & (self.hot[slot] | (self.item[slot] != item)))
        self.tag[slot] = tag
        self.item[slot] = item
        self.ts[slot] = ts
        self.hot[slot] = keep
        return keep, prev


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 300), items=st.integers(1, 6))
def test_repeats_filter_is_its_numpy_definition(seed: int, groups: int, items: int) -> None:
    rng = np.random.default_rng(seed)
    fast, slow = Repeats(5_000_000, bits=6), _NumpyRepeats(5_000_000, bits=6)
    pool = rng.integers(0, 2**64 - 1, size=groups, dtype=np.uint64)
    t = 0
    for _ in range(8):
        n = int(rng.integers(0, 400))
        group = pool[rng.integers(0, groups, size=n)]
        item = rng.integers(1, items + 1, size=n).astype(np.uint64)
        ts = t + np.sort(rng.integers(0, 3_000_000, size=n)).astype(np.int64)
        t += 3_000_000
        k1, p1 = fast.filter(group, item, ts)
        k2, p2 = slow.filter(group, item, ts)
        assert k1.tolist() == k2.tolist() and p1.tolist() == p2.tolist()
    assert (fast.tag == slow.tag).all() and (fast.hot == slow.hot).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), width=st.integers(1, 6))
def test_unique_rows_is_numpy_unique(seed: int, n: int, width: int) -> None:
    rng = np.random.default_rng(seed)
    values = np.array([0, 1, 7, 2**63, 2**64 - 1], dtype=np.uint64)
    cols = values[rng.integers(0, values.size, size=(n, width))]
    first, inverse, counts = unique_rows(cols)
    if n == 0:
        assert first.size == 0 and inverse.size == 0 and counts.size == 0
        return
    rows, f2, i2, c2 = np.unique(
        cols, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    assert (cols[first] == rows).all()
    assert first.tolist() == f2.tolist()
    assert inverse.tolist() == i2.reshape(-1).tolist() and counts.tolist() == c2.tolist()
