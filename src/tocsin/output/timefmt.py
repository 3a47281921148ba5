"""Packet-time timestamps in EVE's text form, for the Python-side (cold path) events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _second(sec: int) -> str:
    return (_EPOCH + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S.")


def eve_timestamp(ts_us: int) -> str:
    """`2016-07-13T22:42:07.573103+0000` for microseconds since the epoch (UTC)."""
    sec, us = divmod(int(ts_us), 1_000_000)
    return f"{_second(sec)}{us:06d}+0000"
