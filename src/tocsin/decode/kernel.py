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
from tocsin.decode.layout import (
    A_ARP_SMALL,
    A_ERSPAN_SMALL,
    A_ERSPAN_VERSION,
    A_ETH_SMALL,
    A_GRE_RECUR,
    A_GRE_SMALL,
    A_GRE_VERSION,
    A_ICMP4_SMALL,
    A_ICMP6_SMALL,
    A_IP4_HLEN,
    A_IP4_IPLEN,
    A_IP4_OPT_PAD,
    A_IP4_OPTLEN,
    A_IP4_OPTMAL,
    A_IP4_SMALL,
    A_IP4_TRUNC,
    A_IP4_VERSION,
    A_IP4IN6_VERSION,
    A_IP6_SMALL,
    A_IP6_TRUNC,
    A_IP6_TRUNC_EXT,
    A_IP6_USELESS_FH,
    A_IP6_VERSION,
    A_IP6IN6_VERSION,
    A_NULL_SMALL,
    A_NULL_TYPE,
    A_RAW_VERSION,
    A_SLL2_SMALL,
    A_SLL_SMALL,
    A_TCP_HLEN,
    A_TCP_OPT_INVALID,
    A_TCP_OPTLEN,
    A_TCP_SMALL,
    A_UDP_HLEN_SMALL,
    A_UDP_LEN_INVALID,
    A_UDP_SMALL,
    A_VLAN_LAYERS,
    A_VLAN_SMALL,
    A_VXLAN_PAYLOAD,
    C_ARP,
    C_BYTES,
    C_ERSPAN,
    C_ETHERNET,
    C_GRE,
    C_ICMPV4,
    C_ICMPV6,
    C_INVALID,
    C_IP4IN4,
    C_IP4IN6,
    C_IP6IN4,
    C_IP6IN6,
    C_IPV4,
    C_IPV6,
    C_MAX_PKT_SIZE,
    C_NULL,
    C_PKTS,
    C_RAW,
    C_SCTP,
    C_SLL,
    C_SLL2,
    C_TCP,
    C_TOO_MANY_LAYERS,
    C_UDP,
    C_UNKNOWN_ETHERTYPE,
    C_VLAN,
    C_VLAN_QINQ,
    C_VLAN_QINQINQ,
    C_VXLAN,
    FLAG_ARP,
    FLAG_FLOW,
    FLAG_FRAG,
    FLAG_IP,
    FLAG_PORTS,
    FLAG_TUNNEL,
    TCPOPT_MSS,
    TCPOPT_SACK,
    TCPOPT_SACKOK,
    TCPOPT_TS,
    TCPOPT_WSCALE,
)
from tocsin.jit import inline_kernel, kernel

MAX_LAYERS = 4
VXLAN_DEFAULT_PORT = 4789

# what to parse next
_DONE = 0
_ETH = 1
_IP4 = 2
_IP6 = 3
_ETYPE = 4  # dispatch on `etype`
_BAD = 5  # stop, packet invalid

_V4_MAPPED = np.uint64(0x0000FFFF00000000)


@inline_kernel
def _rd16(d: np.ndarray, p: int) -> int:
    return (np.int64(d[p]) << 8) | np.int64(d[p + 1])


@inline_kernel
def _rd32(d: np.ndarray, p: int) -> int:
    return (
        (np.int64(d[p]) << 24)
        | (np.int64(d[p + 1]) << 16)
        | (np.int64(d[p + 2]) << 8)
        | np.int64(d[p + 3])
    )


@inline_kernel
def _rd64(d: np.ndarray, p: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(d[p + k])
    return v


@inline_kernel
def _anom(pk: np.ndarray, i: int, ev: np.ndarray, code: int) -> None:
    ev[code] += 1
    if pk[i]["anomaly"] == 0:
        pk[i]["anomaly"] = code


@inline_kernel
def _clear_l4(pk: np.ndarray, i: int) -> None:
    """Forget the transport fields an outer layer set (before decoding an inner packet)."""
    pk[i]["l4_off"] = -1
    pk[i]["pay_off"] = -1
    pk[i]["pay_len"] = 0
    pk[i]["sport"] = 0
    pk[i]["dport"] = 0
    pk[i]["proto"] = 0


@kernel
def _decode_ethernet(
    d: np.ndarray, p: int, end: int, pk: np.ndarray, i: int, ctr: np.ndarray, ev: np.ndarray
) -> tuple[int, int, int]:
    """Ethernet header and VLAN tags at `p`. Returns (next, offset, ethertype)."""
    ctr[C_ETHERNET] += 1
    if end - p < 14:
        _anom(pk, i, ev, A_ETH_SMALL)
        return _BAD, p, 0
    etype = _rd16(d, p + 12)
    p += 14
    tags = 0
    pk[i]["vlan0"] = 0
    pk[i]["vlan1"] = 0
    while etype == 0x8100 or etype == 0x88A8 or etype == 0x9100:
        if end - p < 4:
            _anom(pk, i, ev, A_VLAN_SMALL)
            return _BAD, p, 0
        vid = _rd16(d, p) & 0x0FFF
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
            _anom(pk, i, ev, A_VLAN_LAYERS)
            return _BAD, p, 0
        etype = _rd16(d, p + 2)
        p += 4
    return _ETYPE, p, etype


@kernel
def _dispatch_etype(
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
        return _IP4
    if etype == 0x86DD:
        return _IP6
    if etype == 0x0806:
        ctr[C_ARP] += 1
        pk[i]["flags"] |= FLAG_ARP
        if end - p < 28:
            _anom(pk, i, ev, A_ARP_SMALL)
            return _BAD
        return _DONE
    ctr[C_UNKNOWN_ETHERTYPE] += 1
    return _DONE


@kernel
def _tcp_options(d: np.ndarray, o: int, oend: int, pk: np.ndarray, i: int, ev: np.ndarray) -> None:
    opts = 0
    while o < oend:
        kind = d[o]
        if kind == 0:
            break
        if kind == 1:
            o += 1
            continue
        if o + 1 >= oend:
            break
        ln = np.int64(d[o + 1])
        if ln < 2 or o + ln > oend:
            _anom(pk, i, ev, A_TCP_OPT_INVALID)
            break
        if kind == 2:
            if ln == 4:
                opts |= TCPOPT_MSS
                pk[i]["tcp_mss"] = _rd16(d, o + 2)
            else:
                _anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 3:
            if ln == 3:
                opts |= TCPOPT_WSCALE
                pk[i]["tcp_wscale"] = d[o + 2]
            else:
                _anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 4:
            if ln == 2:
                opts |= TCPOPT_SACKOK
            else:
                _anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 5:
            if ln >= 10 and (ln - 2) % 8 == 0:
                opts |= TCPOPT_SACK
            else:
                _anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 8:
            if ln == 10:
                opts |= TCPOPT_TS
                pk[i]["tcp_tsval"] = _rd32(d, o + 2)
                pk[i]["tcp_tsecr"] = _rd32(d, o + 6)
            else:
                _anom(pk, i, ev, A_TCP_OPT_INVALID)
        o += ln
    pk[i]["tcp_opts"] = opts


@kernel
def _decode_l4(
    d: np.ndarray,
    start: int,
    o: int,
    lim: int,
    proto: int,
    pk: np.ndarray,
    i: int,
    ctr: np.ndarray,
    ev: np.ndarray,
    vxlan_port: int,
) -> tuple[int, int, int]:
    """Transport header at `o` (IP payload ends at `lim`). Returns (next, offset, etype/end)."""
    avail = lim - o
    pk[i]["proto"] = proto
    pk[i]["l4_off"] = o - start
    if proto == 6:
        ctr[C_TCP] += 1
        if avail < 20:
            _anom(pk, i, ev, A_TCP_SMALL)
            return _BAD, o, 0
        hl = (np.int64(d[o + 12]) >> 4) * 4
        if hl > avail:
            _anom(pk, i, ev, A_TCP_HLEN)
            return _BAD, o, 0
        if hl < 20:  # Suricata: the option length (hlen - 20) underflows
            _anom(pk, i, ev, A_TCP_OPTLEN)
            return _BAD, o, 0
        pk[i]["sport"] = _rd16(d, o)
        pk[i]["dport"] = _rd16(d, o + 2)
        pk[i]["tcp_seq"] = _rd32(d, o + 4)
        pk[i]["tcp_ack"] = _rd32(d, o + 8)
        pk[i]["tcp_flags"] = d[o + 13]
        pk[i]["tcp_win"] = _rd16(d, o + 14)
        if hl > 20:
            _tcp_options(d, o + 20, o + hl, pk, i, ev)
        pk[i]["pay_off"] = o + hl - start
        pk[i]["pay_len"] = avail - hl
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        return _DONE, o, 0
    if proto == 17:
        ctr[C_UDP] += 1
        if avail < 8:
            _anom(pk, i, ev, A_UDP_HLEN_SMALL)
            return _BAD, o, 0
        ulen = _rd16(d, o + 4)
        if ulen > avail:
            _anom(pk, i, ev, A_UDP_SMALL)
            return _BAD, o, 0
        if ulen < 8:
            _anom(pk, i, ev, A_UDP_LEN_INVALID)
            return _BAD, o, 0
        sport = _rd16(d, o)
        dport = _rd16(d, o + 2)
        pk[i]["sport"] = sport
        pk[i]["dport"] = dport
        pk[i]["pay_off"] = o + 8 - start
        pk[i]["pay_len"] = ulen - 8
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        if dport == vxlan_port and ulen >= 16 + 14 and (d[o + 8] & 0x08) != 0:
            inner = _rd16(d, o + 16 + 12)
            if (
                inner == 0x0800
                or inner == 0x86DD
                or inner == 0x0806
                or inner == 0x8100
                or inner == 0x88A8
                or inner == 0x9100
            ):
                ctr[C_VXLAN] += 1
                pk[i]["flags"] |= FLAG_TUNNEL
                return _ETH, o + 16, o + ulen
            _anom(pk, i, ev, A_VXLAN_PAYLOAD)  # not decapsulated: stays a UDP flow
        return _DONE, o, 0
    if proto == 1 or proto == 58:
        if proto == 1:
            ctr[C_ICMPV4] += 1
        else:
            ctr[C_ICMPV6] += 1
        if avail < 8:
            _anom(pk, i, ev, A_ICMP4_SMALL if proto == 1 else A_ICMP6_SMALL)
            return _BAD, o, 0
        pk[i]["icmp_type"] = d[o]
        pk[i]["icmp_code"] = d[o + 1]
        pk[i]["sport"] = d[o]
        pk[i]["dport"] = d[o + 1]
        pk[i]["pay_off"] = o + 8 - start
        pk[i]["pay_len"] = avail - 8
        pk[i]["flags"] |= FLAG_FLOW
        return _DONE, o, 0
    if proto == 132:
        ctr[C_SCTP] += 1
        if avail < 12:
            return _BAD, o, 0
        pk[i]["sport"] = _rd16(d, o)
        pk[i]["dport"] = _rd16(d, o + 2)
        pk[i]["pay_off"] = o + 12 - start
        pk[i]["pay_len"] = avail - 12
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        return _DONE, o, 0
    if proto == 4:
        ctr[C_IP4IN4 if pk[i]["ipver"] == 4 else C_IP4IN6] += 1
        if avail >= 1 and (d[o] >> 4) != 4 and pk[i]["ipver"] == 6:
            _anom(pk, i, ev, A_IP4IN6_VERSION)
            return _BAD, o, 0
        pk[i]["flags"] |= FLAG_TUNNEL
        return _IP4, o, lim
    if proto == 41:
        ctr[C_IP6IN4 if pk[i]["ipver"] == 4 else C_IP6IN6] += 1
        if avail >= 1 and (d[o] >> 4) != 6 and pk[i]["ipver"] == 6:
            _anom(pk, i, ev, A_IP6IN6_VERSION)
            return _BAD, o, 0
        pk[i]["flags"] |= FLAG_TUNNEL
        return _IP6, o, lim
    if proto == 47:
        ctr[C_GRE] += 1
        if avail < 4:
            _anom(pk, i, ev, A_GRE_SMALL)
            return _BAD, o, 0
        gflags = _rd16(d, o)
        ver = gflags & 7
        ptype = _rd16(d, o + 2)
        if ver == 1:  # PPTP enhanced GRE: tracked as a GRE flow, not decapsulated
            pk[i]["flags"] |= FLAG_FLOW
            return _DONE, o, 0
        if ver != 0:
            _anom(pk, i, ev, A_GRE_VERSION)
            return _BAD, o, 0
        if (gflags & 0x0700) != 0:  # recursion control: not decapsulated (as in Suricata)
            _anom(pk, i, ev, A_GRE_RECUR)
            pk[i]["flags"] |= FLAG_FLOW
            return _DONE, o, 0
        hl = 4
        if (gflags & 0xC000) != 0:  # checksum or routing present
            hl += 4
        if (gflags & 0x2000) != 0:
            hl += 4
        seq = (gflags & 0x1000) != 0
        if seq:
            hl += 4
        if (gflags & 0x4000) != 0 or avail < hl:
            if avail < hl:
                _anom(pk, i, ev, A_GRE_SMALL)
                return _BAD, o, 0
            pk[i]["flags"] |= FLAG_FLOW  # source-routed GRE: not decapsulated
            return _DONE, o, 0
        g = o + hl
        decap = ptype == 0x0800 or ptype == 0x86DD or ptype == 0x6558
        if decap or ptype == 0x88BE or ptype == 0x22EB:  # an outer tunnel's flag stays set
            pk[i]["flags"] |= FLAG_TUNNEL
        if ptype == 0x0800:
            return _IP4, g, lim
        if ptype == 0x86DD:
            return _IP6, g, lim
        if ptype == 0x6558:
            return _ETH, g, lim
        if ptype == 0x88BE:  # ERSPAN type II (with sequence number) or type I (without)
            ctr[C_ERSPAN] += 1
            if not seq:
                return _ETH, g, lim
            if lim - g < 8:
                _anom(pk, i, ev, A_ERSPAN_SMALL)
                return _BAD, g, 0
            if (d[g] >> 4) != 1:
                _anom(pk, i, ev, A_ERSPAN_VERSION)
                return _BAD, g, 0
            return _ETH, g + 8, lim
        if ptype == 0x22EB:  # ERSPAN type III
            ctr[C_ERSPAN] += 1
            if lim - g < 12:
                _anom(pk, i, ev, A_ERSPAN_SMALL)
                return _BAD, g, 0
            if (d[g] >> 4) != 2:
                _anom(pk, i, ev, A_ERSPAN_VERSION)
                return _BAD, g, 0
            eh = 12
            if (d[g + 11] & 1) != 0:
                eh += 8
            if lim - g < eh:
                _anom(pk, i, ev, A_ERSPAN_SMALL)
                return _BAD, g, 0
            return _ETH, g + eh, lim
        pk[i]["flags"] |= FLAG_FLOW
        return _DONE, o, 0
    # any other IP protocol: a flow without ports
    pk[i]["pay_off"] = o - start
    pk[i]["pay_len"] = avail
    pk[i]["flags"] |= FLAG_FLOW
    return _DONE, o, 0


@kernel
def _decode_ipv4(
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
        _anom(pk, i, ev, A_IP4_SMALL)
        return _BAD, p, 0
    if (d[p] >> 4) != 4:
        _anom(pk, i, ev, A_IP4_VERSION)
        return _BAD, p, 0
    hl = np.int64(d[p] & 15) * 4
    if hl < 20:
        _anom(pk, i, ev, A_IP4_HLEN)
        return _BAD, p, 0
    tot = _rd16(d, p + 2)
    if tot < hl:
        _anom(pk, i, ev, A_IP4_IPLEN)
        return _BAD, p, 0
    if tot > avail:
        _anom(pk, i, ev, A_IP4_TRUNC)
        return _BAD, p, 0
    ctr[C_IPV4] += 1
    o = p + 20
    oend = p + hl
    bad_options = False  # Suricata: a bad option makes the packet invalid (no flow)
    while o < oend:
        t = d[o]
        if t == 0:  # end of options: what follows must be zero padding
            for q in range(o + 1, oend):
                if d[q] != 0:
                    _anom(pk, i, ev, A_IP4_OPT_PAD)
                    bad_options = True
                    break
            break
        if t == 1:
            o += 1
            continue
        if o + 1 >= oend:  # a type byte without its length
            _anom(pk, i, ev, A_IP4_OPT_PAD)
            bad_options = True
            break
        ln = np.int64(d[o + 1])
        if ln < 2 or o + ln > oend:
            _anom(pk, i, ev, A_IP4_OPTLEN)
            bad_options = True
            break
        if (
            ((t == 7 or t == 131 or t == 137) and ln < 3)  # record / source route
            or (t == 68 and ln < 5)  # timestamp
            or ((t == 136 or t == 148) and ln != 4)  # stream id, router alert
        ):
            _anom(pk, i, ev, A_IP4_OPTMAL)
            bad_options = True
            break
        o += ln
    pk[i]["ipver"] = 4
    pk[i]["src_hi"] = 0
    pk[i]["src_lo"] = _V4_MAPPED | np.uint64(_rd32(d, p + 12))
    pk[i]["dst_hi"] = 0
    pk[i]["dst_lo"] = _V4_MAPPED | np.uint64(_rd32(d, p + 16))
    pk[i]["ttl"] = d[p + 8]
    pk[i]["l3_off"] = p - start
    pk[i]["flags"] |= FLAG_IP
    proto = np.int64(d[p + 9])
    pk[i]["proto"] = proto
    if bad_options:
        return _BAD, p, 0
    fo = _rd16(d, p + 6)
    if (fo & 0x3FFF) != 0:  # MF set or offset > 0
        pk[i]["flags"] |= FLAG_FRAG
        return _DONE, p, 0
    return _decode_l4(d, start, p + hl, p + tot, proto, pk, i, ctr, ev, vxlan_port)


@kernel
def _decode_ipv6(
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
        _anom(pk, i, ev, A_IP6_SMALL)
        return _BAD, p, 0
    if (d[p] >> 4) != 6:
        _anom(pk, i, ev, A_IP6_VERSION)
        return _BAD, p, 0
    plen = _rd16(d, p + 4)
    if 40 + plen > avail:
        _anom(pk, i, ev, A_IP6_TRUNC)
        return _BAD, p, 0
    ctr[C_IPV6] += 1
    pk[i]["ipver"] = 6
    pk[i]["src_hi"] = _rd64(d, p + 8)
    pk[i]["src_lo"] = _rd64(d, p + 16)
    pk[i]["dst_hi"] = _rd64(d, p + 24)
    pk[i]["dst_lo"] = _rd64(d, p + 32)
    pk[i]["ttl"] = d[p + 7]
    pk[i]["l3_off"] = p - start
    pk[i]["flags"] |= FLAG_IP
    nh = np.int64(d[p + 6])
    o = p + 40
    lim = p + 40 + plen
    while True:
        if nh == 0 or nh == 43 or nh == 60 or nh == 135 or nh == 139 or nh == 140:
            if lim - o < 8:
                _anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return _BAD, o, 0
            ln = (np.int64(d[o + 1]) + 1) * 8
            if o + ln > lim:
                _anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return _BAD, o, 0
            nh = np.int64(d[o])
            o += ln
        elif nh == 51:  # AH
            if lim - o < 8:
                _anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return _BAD, o, 0
            ln = (np.int64(d[o + 1]) + 2) * 4
            if o + ln > lim:
                _anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return _BAD, o, 0
            nh = np.int64(d[o])
            o += ln
        elif nh == 44:  # Fragment
            if lim - o < 8:
                _anom(pk, i, ev, A_IP6_TRUNC_EXT)
                return _BAD, o, 0
            fo = _rd16(d, o + 2)
            if (fo & 0xFFF9) == 0:  # offset 0 and M = 0: atomic fragment
                _anom(pk, i, ev, A_IP6_USELESS_FH)
                nh = np.int64(d[o])
                o += 8
                continue
            pk[i]["proto"] = d[o]
            pk[i]["frag_off"] = o - p
            pk[i]["flags"] |= FLAG_FRAG
            return _DONE, o, 0
        else:
            break
    return _decode_l4(d, start, o, lim, nh, pk, i, ctr, ev, vxlan_port)


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
    nxt = _BAD
    etype = 0
    if lt == LINKTYPE_ETHERNET:
        nxt, p, etype = _decode_ethernet(d, p, end, pk, i, ctr, ev)
    elif lt == LINKTYPE_LINUX_SLL:
        ctr[C_SLL] += 1
        if clen < 16:
            _anom(pk, i, ev, A_SLL_SMALL)
        else:
            etype = _rd16(d, p + 14)
            p += 16
            nxt = _ETYPE
    elif lt == LINKTYPE_LINUX_SLL2:
        ctr[C_SLL2] += 1
        if clen < 20:
            _anom(pk, i, ev, A_SLL2_SMALL)
        else:
            etype = _rd16(d, p)
            p += 20
            nxt = _ETYPE
    elif lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
        ctr[C_NULL] += 1
        if clen < 4:
            _anom(pk, i, ev, A_NULL_SMALL)
        else:
            be = _rd32(d, p)
            le = (
                np.int64(d[p])
                | (np.int64(d[p + 1]) << 8)
                | (np.int64(d[p + 2]) << 16)
                | (np.int64(d[p + 3]) << 24)
            )
            fam = be if lt == LINKTYPE_LOOP or le > 0xFFFF else le
            p += 4
            if fam == 2:
                nxt = _IP4
            elif fam == 10 or fam == 24 or fam == 28 or fam == 30:
                nxt = _IP6
            else:
                _anom(pk, i, ev, A_NULL_TYPE)
    else:  # raw IP link types
        ctr[C_RAW] += 1
        if clen < 1:
            _anom(pk, i, ev, A_RAW_VERSION)
        elif lt == LINKTYPE_IPV4:
            nxt = _IP4
        elif lt == LINKTYPE_IPV6:
            nxt = _IP6
        else:
            v = d[p] >> 4
            if v == 4:
                nxt = _IP4
            elif v == 6:
                nxt = _IP6
            else:
                _anom(pk, i, ev, A_RAW_VERSION)
    layers = 0
    while True:
        if nxt == _ETYPE:
            nxt = _dispatch_etype(d, p, end, etype, pk, i, ctr, ev)
        elif nxt in (_IP4, _IP6):
            layers += 1
            if layers > MAX_LAYERS:
                ctr[C_TOO_MANY_LAYERS] += 1
                nxt = _BAD
                break
            # a new IP layer replaces what an outer one set
            pk[i]["flags"] &= ~(FLAG_FLOW | FLAG_PORTS | FLAG_FRAG)
            _clear_l4(pk, i)
            if nxt == _IP4:
                nxt, p, lim = _decode_ipv4(d, start, p, end, pk, i, ctr, ev, vxlan_port)
            else:
                nxt, p, lim = _decode_ipv6(d, start, p, end, pk, i, ctr, ev, vxlan_port)
            if nxt in (_IP4, _IP6, _ETH):
                end = lim
        elif nxt == _ETH:
            pk[i]["flags"] &= ~(FLAG_FLOW | FLAG_PORTS)
            _clear_l4(pk, i)
            nxt, p, etype = _decode_ethernet(d, p, end, pk, i, ctr, ev)
        else:
            break
    if nxt == _BAD:
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
