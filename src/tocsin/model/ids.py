"""Typed identifiers. IDs are types, never strings to split later."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import NewType

FlowId = NewType("FlowId", int)
"""A flow's id in EVE (`flow_id`): 51 bits, stable for the flow's life, derived from packet data."""


@lru_cache(maxsize=65536)
def ip_text(ipver: int, hi: int, lo: int) -> str:
    """The text form of an address held as two 64-bit halves (IPv4 stored IPv4-mapped)."""
    if ipver == 4:
        return str(ipaddress.IPv4Address(int(lo) & 0xFFFFFFFF))
    if int(hi) == 0 and (int(lo) >> 32) == 0xFFFF:  # RFC 5952 §5, as Python ≥ 3.13 prints it
        return "::ffff:" + str(ipaddress.IPv4Address(int(lo) & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((int(hi) << 64) | int(lo)))
