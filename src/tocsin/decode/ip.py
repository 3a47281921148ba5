"""Network layer: IPv4 (header, options checked as Suricata does: a bad option makes the packet
invalid) and IPv6 (extension headers walked to the transport header). Fragments are marked
`FLAG_FRAG` and left to `defrag.py`.
"""

from __future__ import annotations

import numpy as np

from tocsin.decode.common import (
    BAD,
    DONE,
    V4_MAPPED,
    anom,
    rd16,
    rd32,
    rd64,
)
from tocsin.decode.layout import (
    A_IP4_HLEN,
    A_IP4_IPLEN,
    A_IP4_OPT_PAD,
    A_IP4_OPTLEN,
    A_IP4_OPTMAL,
    A_IP4_SMALL,
    A_IP4_TRUNC,
    A_IP4_VERSION,
    A_IP6_SMALL,
    A_IP6_TRUNC,
    A_IP6_TRUNC_EXT,
    A_IP6_USELESS_FH,
    A_IP6_VERSION,
    C_IPV4,
    C_IPV6,
    FLAG_FRAG,
    FLAG_IP,
)
from tocsin.decode.transport import decode_l4
from tocsin.jit import kernel


@kernel
def decode_ipv4(
    d: np.ndarray,
    start: int,
    p: int,
    end: int,
    pk: np.ndarray,
    i: int,
    ctr: np.ndarray,
    ev: np.ndarray,
    vxlan_port: int,
) -> tuple[int, int, int]:
    avail = end - p
    if avail < 20:
        anom(pk, i, ev, A_IP4_SMALL)
        return BAD, p, 0
    if (d[p] >> 4) != 4:
        anom(pk, i, ev, A_IP4_VERSION)
        return BAD, p, 0
    hl = np.int64(d[p] & 15) * 4
    if hl < 20:
        anom(pk, i, ev, A_IP4_HLEN)
        return BAD, p, 0
    tot = rd16(d, p + 2)
    if tot < hl:
        anom(pk, i, ev, A_IP4_IPLEN)
        return BAD, p, 0
    if tot > avail:
        anom(pk, i, ev, A_IP4_TRUNC)
        return BAD, p, 0
    ctr[C_IPV4] += 1
    o = p + 20
    oend = p + hl
    bad_options = False  # Suricata: a bad option makes the packet invalid (no flow)
    while o < oend:
        t = d[o]
        if t == 0:  # end of options: what follows must be zero padding
            for q in range(o + 1, oend):
                if d[q] != 0:
                    anom(pk, i, ev, A_IP4_OPT_PAD)
                    bad_options = True
                    break
            break
        if t == 1:
            o += 1
            continue
        if o + 1 >= oend:  # a type byte without its length
            anom(pk, i, ev, A_IP4_OPT_PAD)
            bad_options = True
            break
        ln = np.int64(d[o + 1])
        if ln < 2 or o + ln > oend:
            anom(pk, i, ev, A_IP4_OPTLEN)
            bad_options = True
            break
        if (
            ((t == 7 or t == 131 or t == 137) and ln < 3)  # record / source route
            or (t == 68 and ln < 5)  # timestamp
            or ((t == 136 or t == 148) and ln != 4)  # stream id, router alert
        ):
            anom(pk, i, ev, A_IP4_OPTMAL)
            bad_options = True
            break
        o += ln
    pk[i]["ipver"] = 4
    pk[i]["src_hi"] = 0
    pk[i]["src_lo"] = V4_MAPPED | np.uint64(rd32(d, p + 12))
    pk[i]["dst_hi"] = 0
    pk[i]["dst_lo"] = V4_MAPPED | np.uint64(rd32(d, p + 16))
    pk[i]["ttl"] = d[p + 8]
    pk[i]["l3_off"] = p - start
    pk[i]["flags"] |= FLAG_IP
    proto = np.int64(d[p + 9])
    pk[i]["proto"] = proto
    if bad_options:
        return BAD, p, 0
    fo = rd16(d, p + 6)
    if (fo & 0x3FFF) != 0:  # MF set or offset > 0
        pk[i]["flags"] |= FLAG_FRAG
        return DONE, p, 0
    return decode_l4(d, start, p + hl, p + tot, proto, pk, i, ctr, ev, vxlan_port)


@kernel
def decode_ipv6(
    d: np.ndarray,
    start: int,
    p: int,
    end: int,
    pk: np.ndarray,
    i: int,
    ctr: np.ndarray,
    ev: np.ndarray,
    vxlan_port: int,
) -> tuple[int, int, int]:
    avail = end - p
    if avail < 40:
        anom(pk, i, ev, A_IP6_SMALL)
        return BAD, p, 0
    if (d[p] >> 4) != 6:
        anom(pk, i, ev, A_IP6_VERSION)
        return BAD, p, 0
    plen = rd16(d, p + 4)
    if 40 + plen > avail:
        anom(pk, i, ev, A_IP6_TRUNC)
        return BAD, p, 0
    ctr[C_IPV6] += 1
    pk[i]["ipver"] = 6
    pk[i]["src_hi"] = rd64(d, p + 8)
    pk[i]["src_lo"] = rd64(d, p + 16)
    pk[i]["dst_hi"] = rd64(d, p + 24)
    pk[i]["dst_lo"] = rd64(d, p + 32)
    pk[i]["ttl"] = d[p + 7]
    pk[i]["l3_off"] = p - start
    pk[i]["flags"] |= FLAG_IP
    nh = np.int64(d[p + 6])
    o = p + 40
    lim = p + 40 + plen
    while True:
        if nh == 0 or nh == 43 or nh == 60 or nh == 135 or nh == 139 or nh == 140:
            if lim - o < 8:
                anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return BAD, o, 0
            ln = (np.int64(d[o + 1]) + 1) * 8
            if o + ln > lim:
                anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return BAD, o, 0
            nh = np.int64(d[o])
            o += ln
        elif nh == 51:  # AH
            if lim - o < 8:
                anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return BAD, o, 0
            ln = (np.int64(d[o + 1]) + 2) * 4
            if o + ln > lim:
                anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return BAD, o, 0
            nh = np.int64(d[o])
            o += ln
        elif nh == 44:  # Fragment
            if lim - o < 8:
                anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return BAD, o, 0
            fo = rd16(d, o + 2)
            if (fo & 0xFFF9) == 0:  # offset 0 and M = 0: atomic fragment
                anom(pk, i, ev, A_IP6_USELESS_FH)
                nh = np.int64(d[o])
                o += 8
                continue
            pk[i]["proto"] = d[o]
            pk[i]["frag_off"] = o - p
            pk[i]["flags"] |= FLAG_FRAG
            return DONE, o, 0
        else:
            break
    return decode_l4(d, start, o, lim, nh, pk, i, ctr, ev, vxlan_port)
