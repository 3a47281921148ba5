"""What the decode kernels share: byte readers, the anomaly recorder, the next-step codes.

A decode step parses one header and returns what comes next (`DONE`, `ETH`, `ETYPE`, `IP4`,
`IP6` or `BAD`), the offset where it starts and, for an IP payload or a tunnel, where it ends;
`kernel.decode_packet` loops over the steps, so tunnels nest without recursion.
"""

from __future__ import annotations

import numpy as np

from tocsin.jit import inline_kernel

MAX_LAYERS = 4
VXLAN_DEFAULT_PORT = 4789

# what to parse next
DONE = 0
ETH = 1
IP4 = 2
IP6 = 3
ETYPE = 4  # dispatch on `etype`
BAD = 5  # stop, packet invalid

V4_MAPPED = np.uint64(0x0000FFFF00000000)


@inline_kernel
def rd16(d: np.ndarray, p: int) -> int:
    return (np.int64(d[p]) << 8) | np.int64(d[p + 1])


@inline_kernel
def rd32(d: np.ndarray, p: int) -> int:
    return (
        (np.int64(d[p]) << 24)
        | (np.int64(d[p + 1]) << 16)
        | (np.int64(d[p + 2]) << 8)
        | np.int64(d[p + 3])
    )


@inline_kernel
def rd64(d: np.ndarray, p: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(d[p + k])
    return v


@inline_kernel
def anom(pk: np.ndarray, i: int, ev: np.ndarray, code: int) -> None:
    ev[code] += 1
    if pk[i]["anomaly"] == 0:
        pk[i]["anomaly"] = code


@inline_kernel
def clear_l4(pk: np.ndarray, i: int) -> None:
    """Forget the transport fields an outer layer set (before decoding an inner packet)."""
    pk[i]["l4_off"] = -1
    pk[i]["pay_off"] = -1
    pk[i]["pay_len"] = 0
    pk[i]["sport"] = 0
    pk[i]["dport"] = 0
    pk[i]["proto"] = 0
