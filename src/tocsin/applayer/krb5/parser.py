"""Kerberos over UDP and TCP (RFC 4120 section 7.2): one `krb5` event per KDC message.

- `Krb5UdpParser` (datagram): each `feed` is one message. A datagram that is not a valid
  Kerberos message raises `ParseError`; the parser keeps going with the next datagram.
- `Krb5TcpParser` (stream): each message follows a 4-byte big-endian record mark, buffered
  across chunks (at most `limits.max_message` bytes per message; a longer one is passed over
  with `skip`: no event). A mark with its high bit set (reserved for extensions) or a zero
  length raises `ParseError`; so does a malformed message, after the messages before it in
  the same chunk were emitted.

Events (see `message` for the fields): `direction` is the direction the message came in (the
event's addresses follow it, `by_packet`); `tx_id` counts the flow's logged messages from 0,
both directions together, each message being a transaction of its own as in Suricata. The
request type a KRB-ERROR answers is the flow's last AS-REQ/TGS-REQ/AP-REQ. Nothing is pending
at `close`; a `gap` drops the partial record and ends that direction.
"""

from __future__ import annotations

from tocsin.applayer.base import AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.krb5.message import decode
from tocsin.model.krb5 import Krb5Event

_MARK = 4


class _Krb5Parser(AppParser):
    name = "krb5"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.tx_count = 0
        self.last_request = 0

    def _message(self, direction: int, data: bytes, ts_us: int) -> None:
        info, self.last_request = decode(data, self.last_request, self.limits.max_items)
        if info is not None:
            self.emit(Krb5Event, info, direction, ts_us, self.tx_count)
            self.tx_count += 1


class Krb5UdpParser(_Krb5Parser):
    datagram = True

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        self._message(direction, data, ts_us)


class Krb5TcpParser(_Krb5Parser):
    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._buf = (bytearray(), bytearray())

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        buf = self._buf[direction]
        buf += data
        pos, n = 0, len(buf)
        try:
            while n - pos >= _MARK:
                mark = int.from_bytes(buf[pos : pos + _MARK], "big")
                if mark & 0x8000_0000:
                    raise ParseError("krb5: tcp record mark with the reserved bit set")
                if mark == 0:
                    raise ParseError("krb5: empty tcp record")
                end = pos + _MARK + mark
                if mark > self.limits.max_message:
                    if end > n:
                        self.skip[direction] = end - n
                        pos = n
                        break
                    pos = end
                    continue
                if end > n:
                    break
                msg = bytes(buf[pos + _MARK : end])
                pos = end
                self._message(direction, msg, ts_us)
        finally:
            del buf[:pos]

    def gap(self, direction: int, ts_us: int) -> None:
        self._buf[direction].clear()
        self.done[direction] = True
