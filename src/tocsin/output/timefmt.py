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


@lru_cache(maxsize=4096)
def _second_back(text: str) -> int:
    d = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int((d - _EPOCH).total_seconds())


@lru_cache(maxsize=4096)  # each event's time is read by several detectors in a row
def parse_eve_timestamp(text: str) -> int | None:
    """Microseconds since the epoch of an EVE timestamp (`...T22:42:07.573103+0000`, any
    offset); None when it is not one."""
    try:
        base, frac = text[:19], text[20:26]
        us = _second_back(base) * 1_000_000 + (int(frac.ljust(6, "0")) if frac.isdigit() else 0)
        off = text[26:] if frac.isdigit() and len(frac) == 6 else text[20 + len(frac) :]
        if off and off not in ("+0000", "Z", "+00:00"):
            sign = -1 if off[0] == "-" else 1
            digits = off[1:].replace(":", "")
            us -= sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60) * 1_000_000
        return us
    except (ValueError, IndexError):
        return None
