"""`IpIndex`: addresses and networks → payloads, looked up one by one or a column at a time.

Entries are grouped by prefix length. For IPv4 each group is a sorted `uint32` array of
network addresses with its payloads in the same order: a column of addresses is masked to
each prefix length present and found with `np.searchsorted`, so a batch of flows costs a few
vectorised passes (one per prefix length: maltrail has /32 and /24, a few others), never a
Python step per flow. Overlapping networks all match (each prefix length is its own group).
IPv6 (rare in flows) uses one dict per prefix length, looked up per address.
"""

from __future__ import annotations

import ipaddress
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

T = TypeVar("T")

_V4_MASKS = [(0xFFFF_FFFF << (32 - p)) & 0xFFFF_FFFF for p in range(33)]


class IpIndex(Generic[T]):
    """Networks (an address is a /32 or /128) with payloads; call `freeze()` before lookups."""

    def __init__(self) -> None:
        self._v4: dict[int, dict[int, list[T]]] = {}
        self._v6: dict[int, dict[int, list[T]]] = {}
        self._groups: list[tuple[int, npt.NDArray[np.uint32], list[list[T]]]] = []
        self.size = 0

    def add(self, text: str, payload: T) -> bool:
        """Add an address or network given as text; False when it is neither."""
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return False
        self.add_net(net, payload)
        return True

    def add_net(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, payload: T) -> None:
        groups = self._v4 if net.version == 4 else self._v6
        groups.setdefault(net.prefixlen, {}).setdefault(int(net.network_address), []).append(
            payload
        )
        self.size += 1

    def freeze(self) -> None:
        self._groups = []
        for plen in sorted(self._v4):
            d = self._v4[plen]
            keys = sorted(d)
            self._groups.append((plen, np.array(keys, dtype=np.uint32), [d[k] for k in keys]))

    def __len__(self) -> int:
        return self.size

    @property
    def has_v6(self) -> bool:
        return bool(self._v6)

    def lookup(self, text: str) -> list[T]:
        """Every payload whose network holds the address `text` (IPv4-mapped IPv6 as IPv4)."""
        try:
            a = ipaddress.ip_address(text)
        except ValueError:
            return []
        if a.version == 6 and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        if a.version == 6:
            return self.lookup_v6(int(a))
        v = int(a)
        out: list[T] = []
        for plen, d in self._v4.items():
            hit = d.get(v & _V4_MASKS[plen])
            if hit:
                out.extend(hit)
        return out

    def lookup_v6(self, v: int) -> list[T]:
        out: list[T] = []
        for plen, d in self._v6.items():
            hit = d.get(v >> (128 - plen) << (128 - plen) if plen else 0)
            if hit:
                out.extend(hit)
        return out

    def lookup_v4(self, addrs: npt.NDArray[np.uint32]) -> list[tuple[int, list[T]]]:
        """Rows of `addrs` that match, each with its payloads (row order, vectorised)."""
        hits: dict[int, list[T]] = {}
        if addrs.size == 0:
            return []
        for plen, nets, payloads in self._groups:
            masked = addrs & np.uint32(_V4_MASKS[plen])
            pos = np.searchsorted(nets, masked)
            np.minimum(pos, nets.size - 1, out=pos)
            rows = np.flatnonzero(nets[pos] == masked)
            for r, p in zip(rows.tolist(), pos[rows].tolist(), strict=True):
                hits.setdefault(r, []).extend(payloads[p])
        return sorted(hits.items())

    def any_v4(self, addrs: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
        """Mask of the rows of `addrs` that any network holds."""
        out = np.zeros(addrs.shape[0], dtype=np.bool_)
        for plen, nets, _ in self._groups:
            masked = addrs & np.uint32(_V4_MASKS[plen])
            pos = np.minimum(np.searchsorted(nets, masked), nets.size - 1)
            out |= nets[pos] == masked
        return out
