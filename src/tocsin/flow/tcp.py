"""TCP connection state as the flow table follows it (Suricata's state names).

A small explicit state machine over the flags of each packet and its direction (0 = from the
connection's initiator). Both FINs, or a RST, make a flow "closed"; a SYN on a closed flow
with a new initial sequence number is a new connection (port reuse, see `flow.kernel`).
"""

from __future__ import annotations

from tocsin.decode.layout import TH_ACK, TH_FIN, TH_RST, TH_SYN
from tocsin.flow.layout import (
    TCP_CLOSE_WAIT,
    TCP_CLOSED,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
)
from tocsin.jit import inline_kernel


@inline_kernel
def tcp_next(state: int, d: int, fl_: int) -> int:
    """TCP state after a packet with flags `fl_` in direction `d` (0 = to server)."""
    if (fl_ & TH_RST) != 0:
        return TCP_CLOSED
    syn = (fl_ & TH_SYN) != 0
    ack = (fl_ & TH_ACK) != 0
    fin = (fl_ & TH_FIN) != 0
    if state == TCP_SYN_SENT:
        if d == 1 and syn:
            return TCP_SYN_RECV
        return state
    if state == TCP_SYN_RECV:
        if d == 0 and ack and not syn:
            return TCP_FIN_WAIT1 if fin else TCP_ESTABLISHED
        return state
    if state == TCP_ESTABLISHED:
        if fin:
            return TCP_FIN_WAIT1 if d == 0 else TCP_CLOSE_WAIT
        return state
    if state == TCP_FIN_WAIT1:
        if d == 1 and fin:
            return TCP_TIME_WAIT if ack else TCP_CLOSING
        if d == 1 and ack:
            return TCP_FIN_WAIT2
        return state
    if state == TCP_FIN_WAIT2:
        if d == 1 and fin:
            return TCP_TIME_WAIT
        return state
    if state == TCP_CLOSE_WAIT:
        if d == 0 and fin:
            return TCP_LAST_ACK
        return state
    if state == TCP_LAST_ACK:
        if d == 1 and ack:
            return TCP_CLOSED
        return state
    if state == TCP_CLOSING:
        if ack:
            return TCP_TIME_WAIT
        return state
    return state


@inline_kernel
def tcp_closed(state: int) -> bool:
    """Both sides finished or a reset: the flow's state is "closed"."""
    return state in (TCP_TIME_WAIT, TCP_LAST_ACK, TCP_CLOSING, TCP_CLOSED)
