"""Transport layer: TCP (with its options), UDP, SCTP, ICMP, ICMPv6, other IP protocols, and
the tunnels found there — GRE (with ERSPAN I/II/III and transparent Ethernet bridging), VXLAN
over UDP, IP-in-IP — which hand the packet back to `kernel.decode_packet` to decode the inner
layers.
"""

from __future__ import annotations

import numpy as np

from tocsin.decode.common import (
    BAD,
    DONE,
    ETH,
    IP4,
    IP6,
    anom,
    rd16,
    rd32,
)
from tocsin.decode.layout import (
    A_ERSPAN_SMALL,
    A_ERSPAN_VERSION,
    A_GRE_RECUR,
    A_GRE_SMALL,
    A_GRE_VERSION,
    A_ICMP4_SMALL,
    A_ICMP6_SMALL,
    A_IP4IN6_VERSION,
    A_IP6IN6_VERSION,
    A_TCP_HLEN,
    A_TCP_OPT_INVALID,
    A_TCP_OPTLEN,
    A_TCP_SMALL,
    A_UDP_HLEN_SMALL,
    A_UDP_LEN_INVALID,
    A_UDP_SMALL,
    A_VXLAN_PAYLOAD,
    C_ERSPAN,
    C_GRE,
    C_ICMPV4,
    C_ICMPV6,
    C_IP4IN4,
    C_IP4IN6,
    C_IP6IN4,
    C_IP6IN6,
    C_SCTP,
    C_TCP,
    C_UDP,
    C_VXLAN,
    FLAG_FLOW,
    FLAG_PORTS,
    FLAG_TUNNEL,
    TCPOPT_MSS,
    TCPOPT_SACK,
    TCPOPT_SACKOK,
    TCPOPT_TS,
    TCPOPT_WSCALE,
)
from tocsin.jit import kernel


@kernel
def tcp_options(d: np.ndarray, o: int, oend: int, pk: np.ndarray, i: int, ev: np.ndarray) -> None:
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
            anom(pk, i, ev, A_TCP_OPT_INVALID)
            break
        if kind == 2:
            if ln == 4:
                opts |= TCPOPT_MSS
                pk[i]["tcp_mss"] = rd16(d, o + 2)
            else:
                anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 3:
            if ln == 3:
                opts |= TCPOPT_WSCALE
                pk[i]["tcp_wscale"] = d[o + 2]
            else:
                anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 4:
            if ln == 2:
                opts |= TCPOPT_SACKOK
            else:
                anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 5:
            if ln >= 10 and (ln - 2) % 8 == 0:
                opts |= TCPOPT_SACK
            else:
                anom(pk, i, ev, A_TCP_OPT_INVALID)
        elif kind == 8:
            if ln == 10:
                opts |= TCPOPT_TS
                pk[i]["tcp_tsval"] = rd32(d, o + 2)
                pk[i]["tcp_tsecr"] = rd32(d, o + 6)
            else:
                anom(pk, i, ev, A_TCP_OPT_INVALID)
        o += ln
    pk[i]["tcp_opts"] = opts


@kernel
def decode_l4(
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
            anom(pk, i, ev, A_TCP_SMALL)
            return BAD, o, 0
        hl = (np.int64(d[o + 12]) >> 4) * 4
        if hl > avail:
            anom(pk, i, ev, A_TCP_HLEN)
            return BAD, o, 0
        if hl < 20:  # Suricata: the option length (hlen - 20) underflows
            anom(pk, i, ev, A_TCP_OPTLEN)
            return BAD, o, 0
        pk[i]["sport"] = rd16(d, o)
        pk[i]["dport"] = rd16(d, o + 2)
        pk[i]["tcp_seq"] = rd32(d, o + 4)
        pk[i]["tcp_ack"] = rd32(d, o + 8)
        pk[i]["tcp_flags"] = d[o + 13]
        pk[i]["tcp_win"] = rd16(d, o + 14)
        if hl > 20:
            tcp_options(d, o + 20, o + hl, pk, i, ev)
        pk[i]["pay_off"] = o + hl - start
        pk[i]["pay_len"] = avail - hl
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        return DONE, o, 0
    if proto == 17:
        ctr[C_UDP] += 1
        if avail < 8:
            anom(pk, i, ev, A_UDP_HLEN_SMALL)
            return BAD, o, 0
        ulen = rd16(d, o + 4)
        if ulen > avail:
            anom(pk, i, ev, A_UDP_SMALL)
            return BAD, o, 0
        if ulen < 8:
            anom(pk, i, ev, A_UDP_LEN_INVALID)
            return BAD, o, 0
        sport = rd16(d, o)
        dport = rd16(d, o + 2)
        pk[i]["sport"] = sport
        pk[i]["dport"] = dport
        pk[i]["pay_off"] = o + 8 - start
        pk[i]["pay_len"] = ulen - 8
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        if dport == vxlan_port and ulen >= 16 + 14 and (d[o + 8] & 0x08) != 0:
            inner = rd16(d, o + 16 + 12)
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
                return ETH, o + 16, o + ulen
            anom(pk, i, ev, A_VXLAN_PAYLOAD)  # not decapsulated: stays a UDP flow
        return DONE, o, 0
    if proto == 1 or proto == 58:
        if proto == 1:
            ctr[C_ICMPV4] += 1
        else:
            ctr[C_ICMPV6] += 1
        if avail < 8:
            anom(pk, i, ev, A_ICMP4_SMALL if proto == 1 else A_ICMP6_SMALL)
            return BAD, o, 0
        pk[i]["icmp_type"] = d[o]
        pk[i]["icmp_code"] = d[o + 1]
        pk[i]["sport"] = d[o]
        pk[i]["dport"] = d[o + 1]
        pk[i]["pay_off"] = o + 8 - start
        pk[i]["pay_len"] = avail - 8
        pk[i]["flags"] |= FLAG_FLOW
        return DONE, o, 0
    if proto == 132:
        ctr[C_SCTP] += 1
        if avail < 12:
            return BAD, o, 0
        pk[i]["sport"] = rd16(d, o)
        pk[i]["dport"] = rd16(d, o + 2)
        pk[i]["pay_off"] = o + 12 - start
        pk[i]["pay_len"] = avail - 12
        pk[i]["flags"] |= FLAG_FLOW | FLAG_PORTS
        return DONE, o, 0
    if proto == 4:
        ctr[C_IP4IN4 if pk[i]["ipver"] == 4 else C_IP4IN6] += 1
        if avail >= 1 and (d[o] >> 4) != 4 and pk[i]["ipver"] == 6:
            anom(pk, i, ev, A_IP4IN6_VERSION)
            return BAD, o, 0
        pk[i]["flags"] |= FLAG_TUNNEL
        return IP4, o, lim
    if proto == 41:
        ctr[C_IP6IN4 if pk[i]["ipver"] == 4 else C_IP6IN6] += 1
        if avail >= 1 and (d[o] >> 4) != 6 and pk[i]["ipver"] == 6:
            anom(pk, i, ev, A_IP6IN6_VERSION)
            return BAD, o, 0
        pk[i]["flags"] |= FLAG_TUNNEL
        return IP6, o, lim
    if proto == 47:
        ctr[C_GRE] += 1
        if avail < 4:
            anom(pk, i, ev, A_GRE_SMALL)
            return BAD, o, 0
        gflags = rd16(d, o)
        ver = gflags & 7
        ptype = rd16(d, o + 2)
        if ver == 1:  # PPTP enhanced GRE: tracked as a GRE flow, not decapsulated
            pk[i]["flags"] |= FLAG_FLOW
            return DONE, o, 0
        if ver != 0:
            anom(pk, i, ev, A_GRE_VERSION)
            return BAD, o, 0
        if (gflags & 0x0700) != 0:  # recursion control: not decapsulated (as in Suricata)
            anom(pk, i, ev, A_GRE_RECUR)
            pk[i]["flags"] |= FLAG_FLOW
            return DONE, o, 0
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
                anom(pk, i, ev, A_GRE_SMALL)
                return BAD, o, 0
            pk[i]["flags"] |= FLAG_FLOW  # source-routed GRE: not decapsulated
            return DONE, o, 0
        g = o + hl
        decap = ptype == 0x0800 or ptype == 0x86DD or ptype == 0x6558
        if decap or ptype == 0x88BE or ptype == 0x22EB:  # an outer tunnel's flag stays set
            pk[i]["flags"] |= FLAG_TUNNEL
        if ptype == 0x0800:
            return IP4, g, lim
        if ptype == 0x86DD:
            return IP6, g, lim
        if ptype == 0x6558:
            return ETH, g, lim
        if ptype == 0x88BE:  # ERSPAN type II (with sequence number) or type I (without)
            ctr[C_ERSPAN] += 1
            if not seq:
                return ETH, g, lim
            if lim - g < 8:
                anom(pk, i, ev, A_ERSPAN_SMALL)
                return BAD, g, 0
            if (d[g] >> 4) != 1:
                anom(pk, i, ev, A_ERSPAN_VERSION)
                return BAD, g, 0
            return ETH, g + 8, lim
        if ptype == 0x22EB:  # ERSPAN type III
            ctr[C_ERSPAN] += 1
            if lim - g < 12:
                anom(pk, i, ev, A_ERSPAN_SMALL)
                return BAD, g, 0
            if (d[g] >> 4) != 2:
                anom(pk, i, ev, A_ERSPAN_VERSION)
                return BAD, g, 0
            eh = 12
            if (d[g + 11] & 1) != 0:
                eh += 8
            if lim - g < eh:
                anom(pk, i, ev, A_ERSPAN_SMALL)
                return BAD, g, 0
            return ETH, g + eh, lim
        pk[i]["flags"] |= FLAG_FLOW
        return DONE, o, 0
    # any other IP protocol: a flow without ports
    pk[i]["pay_off"] = o - start
    pk[i]["pay_len"] = avail
    pk[i]["flags"] |= FLAG_FLOW
    return DONE, o, 0
