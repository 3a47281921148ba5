"""NetBIOS session service framing (RFC 1002 4.3; "direct hosting" on 445 uses the same 4-byte
header with a 24-bit length): one SMB message per session message.

`Framer.feed` cuts one direction's stream into messages. For each message it first looks at its
head (up to `PEEK` bytes) and asks `keep(head, length)` how many bytes of it are wanted; those
are passed whole to `handle(message, length)` and the rest of the message is dropped: from the
bytes at hand, then by returning the count still to come, which the parser puts in `skip`
(READ / WRITE data never reaches Python). Memory held: at most the kept part of one message
(`keep` never returns more than the limit) plus a 4-byte header.

Session request / response / keepalive messages (port 139) are read and ignored. Any other
message type raises `ParseError`.
"""

from __future__ import annotations

from collections.abc import Callable

from tocsin.applayer.base import ParseError

PEEK = 160  # enough for an SMB1 / SMB2 header, the fixed part of READ / WRITE and a DCERPC probe
SESSION_MESSAGE = 0x00
_CONTROL = frozenset((0x81, 0x82, 0x83, 0x84, 0x85))  # request, +/- response, retarget, keepalive
_MAX_CONTROL = 1024


class Framer:
    __slots__ = ("_buf", "_keep", "_len", "_type")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._len = -1  # length of the message being read, -1 between messages
        self._type = 0
        self._keep = -1  # bytes of it to keep, -1 until decided

    def feed(
        self,
        data: bytes,
        keep: Callable[[bytes, int], int],
        handle: Callable[[bytes, int], bool],
    ) -> int:
        """Consume `data`; return the number of bytes after it to skip. `handle` returns False
        to stop (the direction is done): what remains is then dropped."""
        if self._buf:  # a message is being collected: append, amortised O(1)
            self._buf += data
            work: bytes | bytearray = self._buf
        else:
            work = data
        pos, end = 0, len(work)
        while True:
            if self._len < 0:
                if end - pos < 4:
                    break
                typ = work[pos]
                if typ == SESSION_MESSAGE:
                    ln = int.from_bytes(work[pos + 1 : pos + 4], "big")
                elif typ in _CONTROL:
                    ln = (work[pos + 1] & 1) << 16 | work[pos + 2] << 8 | work[pos + 3]
                    if ln > _MAX_CONTROL:
                        raise ParseError(f"nbss: control message of {ln} bytes")
                else:
                    raise ParseError(f"nbss: message type {typ:#x}")
                pos += 4
                if ln == 0:
                    continue
                self._len, self._type = ln, typ
                self._keep = ln if typ != SESSION_MESSAGE else -1
            if self._keep < 0:
                peek = min(self._len, PEEK)
                if end - pos < peek:
                    break
                self._keep = keep(bytes(work[pos : pos + peek]), self._len)
            if end - pos < self._keep:
                break
            msg = bytes(work[pos : pos + self._keep])
            pos += self._keep
            ln, rest = self._len, self._len - self._keep
            self._len = self._keep = -1
            if self._type == SESSION_MESSAGE and not handle(msg, ln):
                self._buf = bytearray()
                return 0
            if rest:
                take = min(rest, end - pos)
                pos += take
                if rest > take:
                    self._buf = bytearray()
                    return rest - take
        if pos or work is not self._buf:  # keep the unconsumed tail (no copy if none taken)
            self._buf = bytearray(work[pos:])
        return 0
