"""ICMP request/response pairs: which message type answers which (ICMPv4 and ICMPv6).

One table for every stage that needs it: the flow table keys an echo request and its reply as
one flow, and the Community ID hashes them alike. It mirrors pycommunityid's icmp.py and
icmp6.py (derived from Zeek's ICMP analyzer): echo, timestamp, information, address mask,
router solicitation/advertisement; ICMPv6 echo, multicast listener query/report, router and
neighbour discovery, node information, home agent address discovery.
"""

from __future__ import annotations

from tocsin.jit import inline_kernel


@inline_kernel
def icmp_counterpart(proto: int, t: int) -> int:
    """The type that answers (or is answered by) type `t` of IP protocol `proto` (1 = ICMP,
    58 = ICMPv6), or -1 for a one-way message (errors, redirects...)."""
    if proto == 1:
        if t == 8:
            return 0
        if t == 0:
            return 8
        if t == 13:
            return 14
        if t == 14:
            return 13
        if t == 15:
            return 16
        if t == 16:
            return 15
        if t == 10:
            return 9
        if t == 9:
            return 10
        if t == 17:
            return 18
        if t == 18:
            return 17
        return -1
    if t == 128:
        return 129
    if t == 129:
        return 128
    if t == 130:
        return 131
    if t == 131:
        return 130
    if t == 133:
        return 134
    if t == 134:
        return 133
    if t == 135:
        return 136
    if t == 136:
        return 135
    if t == 139:
        return 140
    if t == 140:
        return 139
    if t == 144:
        return 145
    if t == 145:
        return 144
    return -1
