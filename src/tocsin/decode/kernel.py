"""The compiled decoder: link layer → IP → transport for a whole batch, in one numba call.

`decode_batch` walks every packet of a `PacketBatch` and fills one `PKT_DTYPE` record per packet
(see `layout.py`). It never raises and never allocates per packet: malformed input sets the
record's `anomaly` code, increments `events[code]`, and the packet is counted in
`decoder.invalid` when it cannot be given a flow.

Understood: Ethernet (802.1Q, 802.1ad/QinQ up to three tags, the two outer ones kept), Linux
cooked SLL and SLL2, BSD NULL/LOOP, raw IPv4/IPv6; ARP (counted); IPv4 with options, IPv6 with
extension headers; TCP (flags, MSS, window scale, SACK, timestamps), UDP, SCTP ports, ICMPv4,
ICMPv6; decapsulation of GRE (v0: IPv4, IPv6, transparent Ethernet bridging, ERSPAN types I, II
and III), VXLAN (UDP port `vxlan_port`) and IP-in-IP (4in4, 6in4, 4in6, 6in6), at most
`MAX_LAYERS` IP headers deep (the outer one included; deeper: `decoder.too_many_layers`, no flow).

The headers are parsed by `link.py`, `ip.py` and `transport.py`, one step at a time
(`common.py`); this module loops over the steps for each packet.

Not done here: fragment reassembly (fragments get `FLAG_FRAG` and go to `defrag.py`), checksum
validation (like Zeek's -C and Suricata's checksum-validation: auto on a capture file, bad
checksums are not an error), flow lookup (`flow/`).
"""

from __future__ import annotations

import numpy as np

from tocsin.capture.batch import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
)
from tocsin.decode.common import (
    BAD,
    ETH,
    ETYPE,
    IP4,
    IP6,
    MAX_LAYERS,
    anom,
    clear_l4,
    rd16,
    rd32,
)
from tocsin.decode.ip import decode_ipv4, decode_ipv6
from tocsin.decode.layout import (
    A_NULL_SMALL,
    A_NULL_TYPE,
    A_RAW_VERSION,
    A_SLL2_SMALL,
    A_SLL_SMALL,
    C_BYTES,
    C_INVALID,
    C_MAX_PKT_SIZE,
    C_NULL,
    C_PKTS,
    C_RAW,
    C_SLL,
    C_SLL2,
    C_TOO_MANY_LAYERS,
    FLAG_FLOW,
    FLAG_FRAG,
    FLAG_PORTS,
)
from tocsin.decode.link import decode_ethernet, dispatch_etype
from tocsin.jit import kernel


@kernel
def decode_packet(
    d: np.ndarray,
    start: int,
    clen: int,
    lt: int,
    pk: np.ndarray,
    i: int,
    ctr: np.ndarray,
    ev: np.ndarray,
    vxlan_port: int,
) -> None:
    """Decode the packet at `d[start:start+clen]` of link type `lt` into `pk[i]`."""
    end = start + clen
    p = start
    pk[i]["l3_off"] = -1
    pk[i]["l4_off"] = -1
    pk[i]["pay_off"] = -1
    pk[i]["frag_off"] = -1
    pk[i]["tcp_wscale"] = 255
    nxt = BAD
    etype = 0
    if lt == LINKTYPE_ETHERNET:
        nxt, p, etype = decode_ethernet(d, p, end, pk, i, ctr, ev)
    elif lt == LINKTYPE_LINUX_SLL:
        ctr[C_SLL] += 1
        if clen < 16:
            anom(pk, i, ev, A_SLL_SMALL)
        else:
            etype = rd16(d, p + 14)
            p += 16
            nxt = ETYPE
    elif lt == LINKTYPE_LINUX_SLL2:
        ctr[C_SLL2] += 1
        if clen < 20:
            anom(pk, i, ev, A_SLL2_SMALL)
        else:
            etype = rd16(d, p)
            p += 20
            nxt = ETYPE
    elif lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
        ctr[C_NULL] += 1
        if clen < 4:
            anom(pk, i, ev, A_NULL_SMALL)
        else:
            be = rd32(d, p)
            le = (
                np.int64(d[p])
                | (np.int64(d[p + 1]) << 8)
                | (np.int64(d[p + 2]) << 16)
                | (np.int64(d[p + 3]) << 24)
            )
            fam = be if lt == LINKTYPE_LOOP or le > 0xFFFF else le
            p += 4
            if fam == 2:
                nxt = IP4
            elif fam == 10 or fam == 24 or fam == 28 or fam == 30:
                nxt = IP6
            else:
                anom(pk, i, ev, A_NULL_TYPE)
    else:  # raw IP link types
        ctr[C_RAW] += 1
        if clen < 1:
            anom(pk, i, ev, A_RAW_VERSION)
        elif lt == LINKTYPE_IPV4:
            nxt = IP4
        elif lt == LINKTYPE_IPV6:
            nxt = IP6
        else:
            v = d[p] >> 4
            if v == 4:
                nxt = IP4
            elif v == 6:
                nxt = IP6
            else:
                anom(pk, i, ev, A_RAW_VERSION)
    layers = 0
    while True:
        if nxt == ETYPE:
            nxt = dispatch_etype(d, p, end, etype, pk, i, ctr, ev)
        elif nxt in (IP4, IP6):
            layers += 1
            if layers > MAX_LAYERS:
                ctr[C_TOO_MANY_LAYERS] += 1
                nxt = BAD
                break
            # a new IP layer replaces what an outer one set
            pk[i]["flags"] &= ~(FLAG_FLOW | FLAG_PORTS | FLAG_FRAG)
            clear_l4(pk, i)
            if nxt == IP4:
                nxt, p, lim = decode_ipv4(d, start, p, end, pk, i, ctr, ev, vxlan_port)
            else:
                nxt, p, lim = decode_ipv6(d, start, p, end, pk, i, ctr, ev, vxlan_port)
            if nxt in (IP4, IP6, ETH):
                end = lim
        elif nxt == ETH:
            pk[i]["flags"] &= ~(FLAG_FLOW | FLAG_PORTS)
            clear_l4(pk, i)
            nxt, p, etype = decode_ethernet(d, p, end, pk, i, ctr, ev)
        else:
            break
    if nxt == BAD:
        pk[i]["flags"] &= ~(FLAG_FLOW | FLAG_PORTS)
        ctr[C_INVALID] += 1


@kernel
def decode_batch(
    data: np.ndarray,
    offset: np.ndarray,
    caplen: np.ndarray,
    wirelen: np.ndarray,
    linktype: np.ndarray,
    pk: np.ndarray,
    ctr: np.ndarray,
    ev: np.ndarray,
    vxlan_port: int,
) -> None:
    """Decode packets `0..len(offset)` into `pk` (zeroed by the caller), updating counters.

    `ctr` is indexed by the `C_*` constants of `layout.py`, `ev` by anomaly code.
    """
    n = offset.shape[0]
    for i in range(n):
        clen = np.int64(caplen[i])
        ctr[C_PKTS] += 1
        ctr[C_BYTES] += wirelen[i]
        if wirelen[i] > ctr[C_MAX_PKT_SIZE]:
            ctr[C_MAX_PKT_SIZE] = wirelen[i]
        decode_packet(data, offset[i], clen, linktype[i], pk, i, ctr, ev, vxlan_port)
