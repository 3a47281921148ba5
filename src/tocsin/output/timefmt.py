"""Packet-time timestamps in EVE's text form, for the Python-side (cold path) events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def eve_timestamp(ts_us: int) -> str:
    """`2016-07-13T22:42:07.573103+0000` for microseconds since the epoch (UTC)."""
    dt = _EPOCH + timedelta(microseconds=int(ts_us))
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
