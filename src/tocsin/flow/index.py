"""The flow table's hash index: open addressing, linear probing, backward-shift deletion.

`idx` has a power-of-two size of at least twice the flow cap. An entry holds the low 32 bits of
the flow's hash (a tag) above its slot + 1; 0 is an empty bucket. Probing past other flows and
deleting them reads only the index, never their records: one cache miss less per packet under
a flood. Backward-shift deletion leaves no tombstones, so lookups never slow down with churn.
"""

from __future__ import annotations

import numpy as np

from tocsin.jit import inline_kernel, kernel

_LOW32 = np.uint64(0xFFFFFFFF)


@inline_kernel
def idx_entry(h: np.uint64, s: int) -> np.uint64:
    """An index entry: the hash's low 32 bits (a tag) above slot + 1; 0 is an empty bucket."""
    return ((h & _LOW32) << np.uint64(32)) | np.uint64(s + 1)


@kernel
def idx_remove(fl: np.ndarray, idx: np.ndarray, s: int) -> None:
    """Remove flow `s` (its record still holds its hash) from the index."""
    mask = idx.shape[0] - 1
    b = np.int64(fl[s]["hash"] & np.uint64(mask))
    want = np.uint64(s + 1)
    while (idx[b] & _LOW32) != want:
        b = (b + 1) & mask
    i = b
    j = b
    while True:
        j = (j + 1) & mask
        e = idx[j]
        if e == 0:
            break
        k = np.int64((e >> np.uint64(32)) & np.uint64(mask))  # home bucket, from the tag
        # the entry at j stays when its home bucket k is cyclically within (i, j]
        stays = i < k <= j if i <= j else k > i or k <= j
        if stays:
            continue
        idx[i] = e
        i = j
    idx[i] = 0


@kernel
def lookup(
    fl: np.ndarray,
    idx: np.ndarray,
    h: np.uint64,
    shi: np.uint64,
    slo: np.uint64,
    sp: int,
    dhi: np.uint64,
    dlo: np.uint64,
    dp: int,
    proto: int,
    ipver: int,
    v0: int,
    v1: int,
) -> tuple[int, int, int]:
    """Returns (slot or -1, direction, bucket where the key is or would go).

    `ipver` is part of the key: an IPv4 address is stored IPv4-mapped, so an IPv6 flow between
    ::ffff:a.b.c.d addresses has the very same address bits as the IPv4 flow.
    """
    mask = idx.shape[0] - 1
    b = np.int64(h & np.uint64(mask))
    tag = h & _LOW32
    while True:
        e = idx[b]
        if e == 0:
            return -1, 0, b
        s = np.int64(e & _LOW32) - 1
        if (
            (e >> np.uint64(32)) == tag
            and fl[s]["hash"] == h
            and fl[s]["proto"] == proto
            and fl[s]["ipver"] == ipver
            and fl[s]["vlan0"] == v0
            and fl[s]["vlan1"] == v1
        ):
            if (
                fl[s]["src_lo"] == slo
                and fl[s]["dst_lo"] == dlo
                and fl[s]["sport"] == sp
                and fl[s]["dport"] == dp
                and fl[s]["src_hi"] == shi
                and fl[s]["dst_hi"] == dhi
            ):
                return s, 0, b
            if (
                fl[s]["src_lo"] == dlo
                and fl[s]["dst_lo"] == slo
                and fl[s]["sport"] == dp
                and fl[s]["dport"] == sp
                and fl[s]["src_hi"] == dhi
                and fl[s]["dst_hi"] == shi
            ):
                return s, 1, b
        b = (b + 1) & mask
