"""Flow keys: the direction-independent hash, and ICMP request/response pairing.

ICMP flows are keyed as Community ID does: an echo request (type 8) and its reply (type 0)
carry the port pair (type, counterpart type) (`model.icmp`), so the reply is the same key
reversed.
"""

from __future__ import annotations

import numpy as np

from tocsin.flow.layout import PCLASS_ICMP, PCLASS_OTHER, PCLASS_TCP, PCLASS_UDP
from tocsin.jit import inline_kernel

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)


@inline_kernel
def mix64(x: np.uint64) -> np.uint64:
    """MurmurHash3's 64-bit finaliser: every input bit affects every output bit."""
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


@inline_kernel
def _endpoint(hi: np.uint64, lo: np.uint64, port: int) -> np.uint64:
    return mix64(hi ^ mix64(lo ^ (np.uint64(port) << np.uint64(48))))


@inline_kernel
def key_hash(
    shi: np.uint64,
    slo: np.uint64,
    sp: int,
    dhi: np.uint64,
    dlo: np.uint64,
    dp: int,
    proto: int,
    v0: int,
    v1: int,
) -> np.uint64:
    """Direction-independent hash of a flow key."""
    h = _endpoint(shi, slo, sp) + _endpoint(dhi, dlo, dp)
    h ^= (np.uint64(proto) << np.uint64(32)) | (np.uint64(v0) << np.uint64(16)) | np.uint64(v1)
    return mix64(h)


@inline_kernel
def pclass(proto: int) -> int:
    """The timeout class family of an IP protocol (PCLASS_*)."""
    if proto == 6:
        return PCLASS_TCP
    if proto == 17:
        return PCLASS_UDP
    if proto == 1 or proto == 58:
        return PCLASS_ICMP
    return PCLASS_OTHER
