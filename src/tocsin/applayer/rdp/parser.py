"""RDP over TCP: the connection sequence up to where it becomes encrypted, as `rdp` events.

`RdpParser` is a stream parser. Both directions are a sequence of TPKTs (T.123: version 3,
reserved, 16-bit big-endian length including the 4-byte header), each read whole (at most
`limits.max_message` bytes) and handed to `pdu`:

- client (TO_SERVER): the X.224 Connection Request gives an `initial_request` event, the MCS
  Connect Initial a `connect_request` event (client core data, channels), after which nothing
  more is wanted from the client (`done`);
- server (TO_CLIENT): the X.224 Connection Confirm gives an `initial_response` event. When it
  selects TLS, CredSSP (HYBRID, HYBRID_EX) or RDSTLS, the server's next bytes are a TLS
  record: a `tls_handshake` event marks the switch and both directions are `done` (the TLS
  handshake itself is for the TLS parser, not chained here). A negotiation failure ends
  both directions. With standard RDP security the MCS Connect Response gives a
  `connect_response` event and ends the server direction.

A direction that starts a TLS handshake record (0x16 0x03) where a TPKT is expected (a client
hello sent before the confirm was seen) is TLS from there: `done`. Other TPKTs are passed over
with `skip`. A first byte that is neither a TPKT nor TLS, a TPKT length below its header or
over the limit, or a malformed connection PDU raises `ParseError`.

`tx_id` (the event's and `rdp.tx_id`) counts the flow's events from 1, both directions
together, as Suricata's RDP transactions; `direction` is the direction of the PDU. Nothing is
pending at `close`.
"""

from __future__ import annotations

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.rdp import pdu
from tocsin.model.rdp import RdpClient, RdpEvent, RdpInfo

_TPKT = 3
_TLS_HANDSHAKE = 0x16


class RdpParser(AppParser):
    name = "rdp"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._buf = (bytearray(), bytearray())
        self._tx = 0

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        buf = self._buf[direction]
        buf += data
        start = 0
        while not self.done[direction] and len(buf) - start >= 4:
            first = buf[start]
            if first == _TLS_HANDSHAKE and buf[start + 1] == 3:
                self._tls(direction, ts_us)
                break
            if first != _TPKT:
                raise ParseError(f"rdp: byte {first:#04x} where a tpkt (3) was expected")
            size = int.from_bytes(buf[start + 2 : start + 4], "big")
            if size < 4 or size > self.limits.max_message:
                raise ParseError(f"rdp: tpkt length {size} out of bounds")
            if len(buf) - start < size:
                if len(buf) - start >= 9 and not self._wanted(direction, buf, start):
                    self.skip[direction] = size - (len(buf) - start)
                    start = len(buf)
                break
            self._pdu(direction, bytes(buf[start + 4 : start + size]), ts_us)
            start += size
        if self.done[direction]:
            buf.clear()
        else:
            del buf[:start]

    def _wanted(self, direction: int, buf: bytearray, start: int) -> bool:
        """Whether a TPKT seen in part (X.224 and MCS headers) is one the parser reads."""
        code = buf[start + 5] >> 4
        if code in (0xE, 0xD):  # connection request / confirm
            return True
        mcs = bytes(buf[start + 7 : start + 9])
        return mcs == (b"\x7f\x65" if direction == TO_SERVER else b"\x7f\x66")

    def _pdu(self, direction: int, tpdu: bytes, ts_us: int) -> None:
        if direction == TO_SERVER:
            request = pdu.connection_request(tpdu)
            if request is not None:
                self._emit(direction, ts_us, "initial_request", cookie=request.cookie)
                return
            initial = pdu.connect_initial(tpdu, self.limits.max_items)
            if initial is not None:
                self._emit(
                    direction,
                    ts_us,
                    "connect_request",
                    client=initial.client,
                    channels=initial.channels or None,
                )
                self.done[TO_SERVER] = True
            return
        confirm = pdu.connection_confirm(tpdu)
        if confirm is not None:
            self._emit(direction, ts_us, "initial_response")
            if confirm.failure is not None:
                self.done[TO_SERVER] = self.done[TO_CLIENT] = True
            elif confirm.selected not in (None, pdu.PROTOCOL_RDP):
                self.done[TO_SERVER] = True  # the client's next bytes are its TLS hello
            return
        if pdu.is_connect_response(tpdu):
            self._emit(direction, ts_us, "connect_response")
            self.done[TO_CLIENT] = True

    def _tls(self, direction: int, ts_us: int) -> None:
        """TLS starts in `direction`: the server's first record marks the handshake."""
        self.done[direction] = True
        if direction == TO_CLIENT:
            self._emit(direction, ts_us, "tls_handshake")
            self.done[TO_SERVER] = True

    def _emit(
        self,
        direction: int,
        ts_us: int,
        event_type: str,
        *,
        cookie: str | None = None,
        client: RdpClient | None = None,
        channels: list[str] | None = None,
    ) -> None:
        self._tx += 1
        info = RdpInfo(
            tx_id=self._tx, event_type=event_type, cookie=cookie, client=client, channels=channels
        )
        self.emit(RdpEvent, info, direction, ts_us, self._tx)
