"""Link layer: Ethernet with 802.1Q / 802.1ad (QinQ) tags, and the EtherType dispatch (IPv4,
IPv6, ARP). Linux cooked (SLL, SLL2), NULL/LOOP and raw IP headers are so small that
`kernel.decode_packet` reads them inline.
"""

from __future__ import annotations

import numpy as np

from tocsin.decode.common import (
    BAD,
    DONE,
    ETYPE,
    IP4,
    IP6,
    anom,
    rd16,
)
from tocsin.decode.layout import (
    A_ARP_SMALL,
    A_ETH_SMALL,
    A_VLAN_LAYERS,
    A_VLAN_SMALL,
    C_ARP,
    C_ETHERNET,
    C_UNKNOWN_ETHERTYPE,
    C_VLAN,
    C_VLAN_QINQ,
    C_VLAN_QINQINQ,
    FLAG_ARP,
)
from tocsin.jit import kernel


@kernel
def decode_ethernet(
    d: np.ndarray, p: int, end: int, pk: np.ndarray, i: int, ctr: np.ndarray, ev: np.ndarray
) -> tuple[int, int, int]:
    """Ethernet header and VLAN tags at `p`. Returns (next, offset, ethertype)."""
    ctr[C_ETHERNET] += 1
    if end - p < 14:
        anom(pk, i, ev, A_ETH_SMALL)
        return BAD, p, 0
    etype = rd16(d, p + 12)
    p += 14
    tags = 0
    pk[i]["vlan0"] = 0
    pk[i]["vlan1"] = 0
    while etype == 0x8100 or etype == 0x88A8 or etype == 0x9100:
        if end - p < 4:
            anom(pk, i, ev, A_VLAN_SMALL)
            return BAD, p, 0
        vid = rd16(d, p) & 0x0FFF
        tags += 1
        if tags == 1:
            ctr[C_VLAN] += 1
            pk[i]["vlan0"] = vid
        elif tags == 2:
            ctr[C_VLAN_QINQ] += 1
            pk[i]["vlan1"] = vid
        elif tags == 3:
            ctr[C_VLAN_QINQINQ] += 1
        else:
            anom(pk, i, ev, A_VLAN_LAYERS)
            return BAD, p, 0
        etype = rd16(d, p + 2)
        p += 4
    return ETYPE, p, etype


@kernel
def dispatch_etype(
    d: np.ndarray,
    p: int,
    end: int,
    etype: int,
    pk: np.ndarray,
    i: int,
    ctr: np.ndarray,
    ev: np.ndarray,
) -> int:
    if etype == 0x0800:
        return IP4
    if etype == 0x86DD:
        return IP6
    if etype == 0x0806:
        ctr[C_ARP] += 1
        pk[i]["flags"] |= FLAG_ARP
        if end - p < 28:
            anom(pk, i, ev, A_ARP_SMALL)
            return BAD
        return DONE
    ctr[C_UNKNOWN_ETHERTYPE] += 1
    return DONE
