"""`HomeNet`: which addresses are the site's own (HOME_NET), as text or as flow columns.

A hospital's HOME_NET is its private ranges plus any public block it owns. Detectors ask
whether a peer is internal (a DICOM association from outside, data leaving the site) through
this one object, built from the same `HOME_NET` variable as the signatures.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

# RFC 1918, CGNAT, loopback, link-local, IPv6 ULA and link-local
DEFAULT_HOME = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
)

_V4MAPPED = 0xFFFF_0000_0000


class HomeNet:
    """The site's networks. `internal("10.1.2.3")`, `internal_v(ipver, hi, lo)` on columns."""

    def __init__(self, networks: Iterable[str] = DEFAULT_HOME) -> None:
        nets = [ipaddress.ip_network(n.strip(), strict=False) for n in networks if n.strip()]
        self.networks = tuple(nets)
        v4 = [n for n in nets if n.version == 4]
        self._v4_lo = np.array([int(n.network_address) for n in v4], dtype=np.int64)
        self._v4_hi = np.array([int(n.broadcast_address) for n in v4], dtype=np.int64)
        self._v6 = [n for n in nets if n.version == 6]
        self._cache = lru_cache(maxsize=65_536)(self._internal)

    def internal(self, ip: str) -> bool:
        return self._cache(ip)

    def _internal(self, ip: str) -> bool:
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if a.version == 6 and a.ipv4_mapped is not None:
            a = a.ipv4_mapped
        return any(a in n for n in self.networks if n.version == a.version)

    def internal_v(
        self, ipver: npt.NDArray[np.uint8], hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.bool_]:
        """Per row: is the address internal (vectorised for IPv4; IPv6 rows one by one)."""
        out = np.zeros(ipver.shape[0], dtype=np.bool_)
        v4 = ipver == 4
        if v4.any() and self._v4_lo.size:
            a = (lo[v4] & np.uint64(0xFFFF_FFFF)).astype(np.int64)
            out[v4] = ((a[:, None] >= self._v4_lo) & (a[:, None] <= self._v4_hi)).any(axis=1)
        for i in np.flatnonzero(~v4).tolist():
            v = (int(hi[i]) << 64) | int(lo[i])
            if int(hi[i]) == 0 and (int(lo[i]) >> 32) == 0xFFFF:
                out[i] = self._internal(str(ipaddress.IPv4Address(v & 0xFFFF_FFFF)))
            else:
                out[i] = any(ipaddress.IPv6Address(v) in n for n in self._v6)
        return out
