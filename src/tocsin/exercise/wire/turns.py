"""`Turn`: one application message of a conversation, the unit between `proto` and `wire`.

A protocol builder (`tocsin.exercise.proto.*`) describes a TCP conversation or a UDP
exchange as a list of turns; the trace (`tocsin.exercise.wire.trace`) cuts each turn into
segments (MSS), numbers them, acknowledges them and stamps their times. `delay_s` is the
application's think time before the turn, on top of the network's round trip.
"""

from __future__ import annotations

from dataclasses import dataclass

CLIENT = 0  # the side that opened the conversation (sent the SYN / the first datagram)
SERVER = 1


@dataclass(frozen=True, slots=True)
class Turn:
    side: int  # CLIENT or SERVER: who sends `data`
    data: bytes
    delay_s: float = 0.0


def client(data: bytes, delay_s: float = 0.0) -> Turn:
    return Turn(CLIENT, data, delay_s)


def server(data: bytes, delay_s: float = 0.0) -> Turn:
    return Turn(SERVER, data, delay_s)
