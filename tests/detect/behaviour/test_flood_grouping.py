"""The flood detector's target grouping gives what `np.unique(..., axis=0)` gave: the same
targets in the same order, so the same groups and alerts in the same order."""

from __future__ import annotations

import numpy as np

from tocsin.detect.behaviour.flood import _unique_targets


def test_unique_targets_is_numpy_unique_by_rows() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    ver = rng.choice(np.array([4, 6], dtype=np.uint8), size=n)
    hi = rng.integers(0, 3, size=n, dtype=np.uint64) << np.uint64(62)  # high bits set too
    lo = rng.integers(0, 40, size=n, dtype=np.uint64) | (np.uint64(1) << np.uint64(63))
    want_u, want_inv = np.unique(
        np.stack([ver, hi, lo], axis=1).astype(np.uint64), axis=0, return_inverse=True
    )
    got_u, got_inv = _unique_targets(ver, hi, lo)
    assert got_u.dtype == np.uint64
    assert (got_u == want_u).all()
    assert (got_inv == want_inv.reshape(-1)).all()


def test_one_row() -> None:
    u, inv = _unique_targets(
        np.array([4], np.uint8), np.array([0], np.uint64), np.array([7], np.uint64)
    )
    assert u.tolist() == [[4, 0, 7]] and inv.tolist() == [0]
