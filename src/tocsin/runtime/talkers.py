"""Top talkers for the run summary: bounded heavy-hitter counting over ended flows.

A fixed table (`size` entries, 4-way buckets) counts bytes and flows per address with the
Space-Saving rule: an address that finds its bucket full replaces the smallest entry and
inherits its count. Hosts that really carry much of the traffic are always kept; memory never
grows with the number of hosts (a spoofed-source flood has millions of them).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tocsin.jit import inline_kernel, kernel
from tocsin.model.ids import ip_text

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_S33 = np.uint64(33)
_WAYS = 4


@inline_kernel
def _h(hi: np.uint64, lo: np.uint64) -> np.uint64:
    x = hi ^ (lo * _M1)
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    return x


@kernel
def _count(
    khi: np.ndarray,
    klo: np.ndarray,
    kver: np.ndarray,
    vbytes: np.ndarray,
    vflows: np.ndarray,
    hi: np.uint64,
    lo: np.uint64,
    ver: int,
    nbytes: np.uint64,
    nflows: np.uint64,
) -> None:
    mask = np.uint64(khi.shape[0] // _WAYS - 1)
    base = np.int64(_h(hi, lo) & mask) * _WAYS
    low = base
    for k in range(base, base + _WAYS):
        if kver[k] == 0:
            khi[k] = hi
            klo[k] = lo
            kver[k] = ver
            vbytes[k] = nbytes
            vflows[k] = nflows
            return
        if khi[k] == hi and klo[k] == lo and kver[k] == ver:
            vbytes[k] += nbytes
            vflows[k] += nflows
            return
        if vbytes[k] < vbytes[low]:
            low = k
    khi[low] = hi
    klo[low] = lo
    kver[low] = ver
    vbytes[low] += nbytes
    vflows[low] += nflows


@kernel
def _count_flows(
    flows: np.ndarray,
    khi: np.ndarray,
    klo: np.ndarray,
    kver: np.ndarray,
    vbytes: np.ndarray,
    vflows: np.ndarray,
) -> None:
    for i in range(flows.shape[0]):
        f = flows[i]
        b = f["bytes_ts"] + f["bytes_tc"]
        v = np.int64(f["ipver"])
        one = np.uint64(1)
        _count(khi, klo, kver, vbytes, vflows, f["src_hi"], f["src_lo"], v, b, one)
        _count(khi, klo, kver, vbytes, vflows, f["dst_hi"], f["dst_lo"], v, b, one)


@kernel
def _merge(
    khi: np.ndarray,
    klo: np.ndarray,
    kver: np.ndarray,
    vbytes: np.ndarray,
    vflows: np.ndarray,
    ohi: np.ndarray,
    olo: np.ndarray,
    over: np.ndarray,
    obytes: np.ndarray,
    oflows: np.ndarray,
) -> None:
    for k in range(over.shape[0]):
        if over[k] != 0:
            _count(khi, klo, kver, vbytes, vflows, ohi[k], olo[k], over[k], obytes[k], oflows[k])


class TopTalkers:
    """Approximate per-address byte and flow counts of the busiest hosts."""

    def __init__(self, size: int = 1 << 16) -> None:
        self.khi = np.zeros(size, dtype=np.uint64)
        self.klo = np.zeros(size, dtype=np.uint64)
        self.kver = np.zeros(size, dtype=np.uint8)
        self.vbytes = np.zeros(size, dtype=np.uint64)
        self.vflows = np.zeros(size, dtype=np.uint64)

    def add(self, flows: npt.NDArray[np.void]) -> None:
        _count_flows(flows, self.khi, self.klo, self.kver, self.vbytes, self.vflows)

    def merge(self, other: TopTalkers) -> None:
        """Add another table's counts (a worker's) to this one's."""
        _merge(
            self.khi, self.klo, self.kver, self.vbytes, self.vflows,
            other.khi, other.klo, other.kver, other.vbytes, other.vflows,
        )  # fmt: skip

    def top(self, n: int = 10) -> list[tuple[str, int, int]]:
        """(address, bytes, flows) of the `n` hosts with the most bytes, busiest first."""
        used = np.flatnonzero(self.kver)
        order = used[np.lexsort((used, -self.vbytes[used].astype(np.float64)))][:n]
        return [
            (
                ip_text(int(self.kver[k]), int(self.khi[k]), int(self.klo[k])),
                int(self.vbytes[k]),
                int(self.vflows[k]),
            )
            for k in order
        ]
