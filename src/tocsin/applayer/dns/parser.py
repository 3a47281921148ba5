"""DNS over UDP and TCP: one `dns` event per message, numbered like Suricata 8's transactions.

- `DnsUdpParser` (datagram): each `feed` is one message. A datagram that is not a valid DNS
  message raises `ParseError`; the parser keeps no state about it and takes the next datagram
  normally (the dispatcher decides whether to go on).
- `DnsTcpParser` (stream): messages are framed by a 2-byte big-endian length (RFC 1035 4.2.2),
  buffered across chunks, at most `limits.max_message` bytes per message; a longer message is
  passed over with `skip` (not parsed, no event). A zero length is skipped, as Suricata does.
  Every valid message of a chunk is emitted before a malformed one raises `ParseError`, and the
  framing goes on after it. After a gap the parser drops what it held and waits for a chunk
  that starts with a plausible message (length + valid header, as Suricata's gap probe).

Events: the message is a request when its QR bit is clear and a response when set, whatever
the direction it came in (a capture that starts with a response, both ends on port 53...);
`direction` is the direction it came in, which gives the event's addresses (`by_packet`).
`tx_id` (the event's and `dns.tx_id`) counts the flow's valid messages from 0, both directions
together: a request is N and its response N+1, as each DNS message is a transaction of its
own in Suricata 8. Nothing is pending at `close`.
"""

from __future__ import annotations

from tocsin.applayer.base import AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.dns.message import decode, header_error
from tocsin.model.dns import DnsEvent

_HEADER = 12


class DnsUdpParser(AppParser):
    name = "dns"
    datagram = True

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.tx_count = 0

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        info = decode(data, self.tx_count, self.limits.max_items)
        self.tx_count += 1
        self.emit(DnsEvent, info, direction, ts_us, info.tx_id)


class DnsTcpParser(AppParser):
    name = "dns"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.tx_count = 0
        self._buf = [bytearray(), bytearray()]  # start of an incomplete message
        self._need = [0, 0]  # bytes _buf must reach before anything can be parsed
        self._resync = [False, False]

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        held = self._buf[direction]
        if held:
            held += data
            if len(held) < self._need[direction]:
                return
            data = bytes(held)
            held.clear()
        if self._resync[direction]:
            plausible = _plausible(data)
            if plausible is None:  # too short to tell
                held += data
                self._need[direction] = 2 + _HEADER
                return
            if not plausible:
                return  # not a message start: drop the chunk and keep looking
            self._resync[direction] = False
        error: ParseError | None = None
        n = len(data)
        pos = 0
        limit = self.limits.max_message
        while n - pos >= 2:
            size = (data[pos] << 8) | data[pos + 1]
            if size == 0:
                pos += 2
                continue
            end = pos + 2 + size
            if size > limit:  # too big to hold: pass it over unread
                if end > n:
                    self.skip[direction] = end - n
                    pos = n
                    break
                pos = end
                continue
            if end > n:
                break
            try:
                info = decode(data[pos + 2 : end], self.tx_count, self.limits.max_items)
            except ParseError as exc:
                error = error or exc
            else:
                self.tx_count += 1
                self.emit(DnsEvent, info, direction, ts_us, info.tx_id)
            pos = end
        if pos < n:
            held += memoryview(data)[pos:]
            self._need[direction] = 2 + ((data[pos] << 8) | data[pos + 1]) if n - pos >= 2 else 2
        if error is not None:
            raise error

    def gap(self, direction: int, ts_us: int) -> None:
        """Bytes were lost: forget the partial message, resynchronise on the next chunk."""
        self._buf[direction].clear()
        self._resync[direction] = True


def _plausible(data: bytes) -> bool | None:
    """Does `data` start with a DNS-over-TCP message (None: too short to tell)? Checks the
    length prefix and the header counts like Suricata's probe; decodes the message when whole."""
    if len(data) < 2 + _HEADER:
        return None
    size = (data[0] << 8) | data[1]
    if size < _HEADER or header_error(data[2 : 2 + _HEADER], size) is not None:
        return False
    if len(data) < 2 + size:
        return True
    try:
        decode(data[2 : 2 + size], 0, 1)
    except ParseError:
        return False
    return True
