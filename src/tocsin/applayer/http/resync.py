"""Resynchronisation: finding the next HTTP message after bytes were lost or could not be read.

After a gap (`HttpParser.gap`) or bytes that cannot start a message (a flow picked up
midstream, inside a body), a direction drops bytes up to the next message start
(`find_message_start`): a response line ("HTTP/x.y NNN") anywhere, a request line with a known
method anywhere, or with any upper-case method at a line start. `Resync` keeps the count of
dropped bytes; past its `limit` the direction is given up. It keeps the last line of what it
dropped (at most 4 KB), which may hold the start of a message cut by the segment boundary.
"""

from __future__ import annotations

import re

from tocsin.applayer.http.message import KNOWN_METHODS

_REQUEST_START = re.compile(rb"[A-Z][A-Z_-]{0,19} [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n")
_LONGEST_FIRST: list[bytes] = sorted(KNOWN_METHODS, key=len, reverse=True)
_KNOWN_REQUEST = re.compile(
    rb"(?:" + b"|".join(_LONGEST_FIRST) + rb") [^ \r\n]+ HTTP/[0-9]\.[0-9]\r?\n"
)
_RESPONSE_START = re.compile(rb"HTTP/[0-9]\.[0-9][ \t]+[0-9]{3}[ \t\r\n]")


def find_message_start(buf: bytes, pos: int, request: bool, bol: bool) -> int:
    """Where the next message starts in `buf` from `pos`, or -1 (resynchronisation after lost
    bytes). A response line ("HTTP/x.y NNN") is taken anywhere, a request line with a known
    method anywhere, one with any upper-case method only at a line start (`bol`: `pos` is
    one)."""
    if not request:
        m = _RESPONSE_START.search(buf, pos)
        return m.start() if m is not None else -1
    m = _KNOWN_REQUEST.search(buf, pos)
    found = m.start() if m is not None else -1
    for m in _REQUEST_START.finditer(buf, pos, found if found >= 0 else len(buf)):
        s = m.start()
        if (s == pos and bol) or (s > pos and buf[s - 1] == 0x0A):
            return s
    return found


class Resync:
    """Resynchronisation state of one direction (see module docstring)."""

    __slots__ = ("bol", "dropped", "limit", "request")

    def __init__(self, request: bool, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.bol = True  # the next byte starts a line
        self.dropped = 0

    @property
    def exhausted(self) -> bool:
        return self.dropped > self.limit

    def begin(self, buf: bytes, start: int, pos: int) -> None:
        """Bytes `buf[start:pos]` could not be read; the search starts at `pos`."""
        self.dropped += pos - start
        self.bol = pos == 0 or buf[pos - 1] == 0x0A

    def after_gap(self) -> None:
        self.bol = True

    def drop(self, count: int) -> None:
        """`count` bytes dropped unread (too long to be kept)."""
        self.dropped += count
        self.bol = False

    def scan(self, buf: bytes, pos: int) -> tuple[int, bool]:
        """(where to go on, found): the next message start from `pos`, or the position of
        the bytes worth keeping for the next call."""
        found = find_message_start(buf, pos, self.request, self.bol)
        if found >= 0:
            self.dropped = 0
            return found, True
        keep = max(buf.rfind(b"\n", pos) + 1, len(buf) - 4096, pos)
        if keep > pos:
            self.bol = buf[keep - 1] == 0x0A
        self.dropped += keep - pos
        return keep, False
