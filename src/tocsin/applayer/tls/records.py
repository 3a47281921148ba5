"""TLS record layer constants and the handshake message assembler.

Records (RFC 5246 6.2, RFC 8446 5.1): a 5-byte header (content type, version, length) and a
body of at most 2^14 + 2048 bytes. Handshake messages (4-byte header: type, 24-bit length) may
be split over several records and several records' worth of messages may share one record;
`HandshakeAssembler` joins the fragments of one direction back into messages.

Memory: the assembler keeps at most `cap` bytes of a message body; the rest of a longer message
(a long certificate chain) is counted and dropped, and the message is reported with
`truncated=True`. `discard_left` tells the record reader how many coming bytes are such
surplus, so that it can let the kernel skip them.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "CT_ALERT",
    "CT_APPDATA",
    "CT_CCS",
    "CT_HANDSHAKE",
    "CT_HEARTBEAT",
    "MAX_RECORD",
    "HandshakeAssembler",
]

CT_CCS = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPDATA = 23
CT_HEARTBEAT = 24
CONTENT_TYPES = frozenset((CT_CCS, CT_ALERT, CT_HANDSHAKE, CT_APPDATA, CT_HEARTBEAT))
MAX_RECORD = (1 << 14) + 2048  # TLSCiphertext.length bound (RFC 5246 6.2.3)

HS_CLIENT_HELLO = 1
HS_SERVER_HELLO = 2
HS_CERTIFICATE = 11
HS_CERTIFICATE_REQUEST = 13
HS_SERVER_HELLO_DONE = 14

# (message type, body, truncated) -> None
OnMessage = Callable[[int, bytes, bool], None]


class HandshakeAssembler:
    """Joins one direction's handshake fragments into messages, passed to `on_message`."""

    __slots__ = ("_body", "_got", "_hdr", "_len", "_type", "cap", "on_message")

    def __init__(self, cap: int, on_message: OnMessage) -> None:
        self.cap = cap
        self.on_message = on_message
        self._hdr: bytes = b""  # partial 4-byte message header
        self._type = -1  # type of the message being collected, -1 between messages
        self._len = 0
        self._got = 0
        self._body = bytearray()

    @property
    def in_message(self) -> bool:
        """True while a message is only partly received."""
        return self._type >= 0 or bool(self._hdr)

    @property
    def discard_left(self) -> int:
        """Bytes still expected of the current message that will not be kept (past `cap`)."""
        if self._type < 0 or len(self._body) < self.cap:
            return 0
        return self._len - self._got

    def discard(self, n: int) -> None:
        """Account for `n` bytes of surplus (<= discard_left) dropped without being seen."""
        self._got += n
        if self._got == self._len:
            self._finish()

    def feed(self, frag: bytes, stop: Callable[[], bool]) -> None:
        """Add the body bytes of a handshake record; `stop()` true ends early (flow done)."""
        pos, end = 0, len(frag)
        while pos < end:
            if self._type < 0:
                if self._hdr or end - pos < 4:
                    need = 4 - len(self._hdr)
                    self._hdr += frag[pos : pos + need]
                    pos += min(need, end - pos)
                    if len(self._hdr) < 4:
                        return
                    hdr, self._hdr = self._hdr, b""
                else:
                    hdr = frag[pos : pos + 4]
                    pos += 4
                self._type = hdr[0]
                self._len = int.from_bytes(hdr[1:4], "big")
                self._got = 0
                self._body = bytearray()
                if self._len == 0:
                    self._finish()
                    if stop():
                        return
                    continue
            take = min(self._len - self._got, end - pos)
            room = self.cap - len(self._body)
            if room > 0:
                self._body += frag[pos : pos + min(take, room)]
            self._got += take
            pos += take
            if self._got == self._len:
                self._finish()
                if stop():
                    return

    def _finish(self) -> None:
        mtype, body, truncated = self._type, bytes(self._body), self._len > len(self._body)
        self._type = -1
        self._body = bytearray()
        self.on_message(mtype, body, truncated)
