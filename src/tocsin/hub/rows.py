"""What the hub stores: one `Row` per event, and the records sensors send.

An event's identity at the hub is `(sensor_id, eid)`: a Tocsin sensor's eid is its outbox's
epoch and the event's sequence number there (8 + 8 bytes, big-endian), so a batch sent twice
is stored once; a third-party line posted over HTTP has the BLAKE2b-128 of its bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec


class Row(msgspec.Struct, array_like=True, frozen=True):
    """One event as stored. `ts` is the event's own time (unix seconds, from its EVE
    `timestamp`); `received` the hub's clock when it was accepted; `body` the EVE line."""

    site_id: int
    sensor_id: int
    eid: bytes
    event_type: str
    ts: float
    received: float
    src_ip: str | None
    dest_ip: str | None
    body: bytes


class Batch(msgspec.Struct, frozen=True):
    """A Tocsin sensor's batch (msgpack, zstd-compressed on the wire): the site it writes
    for, its outbox's epoch, and `(seq, EVE line)` pairs in sequence order."""

    site: str
    epoch: int
    events: list[tuple[int, bytes]]


class Heartbeat(msgspec.Struct, frozen=True):
    """A sensor's health report, every few seconds. Counts are since the outbox was created
    (`sent`, `shed`: by event type) or now (`queued`: waiting in the outbox)."""

    site: str
    at: float
    version: str
    source: str  # "iface", "pcap", "eve-file", "zeek-dir"
    live: bool = False
    packets: int = 0
    drops: int = 0
    interval_packets: int = 0
    interval_drops: int = 0
    # seconds the interval counts cover: 0 on a run's first report (nothing to judge yet),
    # None from a sensor that does not say
    interval_s: float | None = None
    emergency: bool = False
    outbox_events: int = 0
    outbox_bytes: int = 0
    sent: dict[str, int] = {}
    shed: dict[str, int] = {}
    queued: dict[str, int] = {}
    rejected: int = 0


def outbox_eid(epoch: int, seq: int) -> bytes:
    """The eid of event `seq` of the outbox with `epoch`."""
    return epoch.to_bytes(8, "big") + seq.to_bytes(8, "big")


def line_eid(line: bytes) -> bytes:
    """The eid of a third-party line: the same line posted twice is one event."""
    return hashlib.blake2b(line, digest_size=16).digest()


class _Head(msgspec.Struct):
    event_type: str
    timestamp: str
    src_ip: str | None = None
    dest_ip: str | None = None


_head = msgspec.json.Decoder(_Head)


class BadEvent(ValueError):
    """An EVE line the hub cannot store (not JSON, no event_type or timestamp)."""


def parse_time(text: str) -> float:
    """Unix seconds of an EVE timestamp ("2010-07-04T20:24:17.743110+0000")."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise BadEvent(f"timestamp {text[:40]!r} is not ISO 8601") from None


def row_of(line: bytes, site_id: int, sensor_id: int, eid: bytes, received: float) -> Row:
    """The row of one EVE line; `BadEvent` names what is wrong with it."""
    try:
        head = _head.decode(line)
    except msgspec.DecodeError as err:
        raise BadEvent(f"not an EVE event: {err}") from None
    return Row(
        site_id,
        sensor_id,
        eid,
        head.event_type,
        parse_time(head.timestamp),
        received,
        head.src_ip,
        head.dest_ip,
        line,
    )
