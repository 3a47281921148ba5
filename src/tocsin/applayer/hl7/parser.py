"""The HL7 v2 parser: MLLP framing and message / acknowledgement matching, sans-io.

Input: each direction's reassembled bytes. MLLP (HL7 v2.5.1 Appendix C) frames a message as
`0x0B <message> 0x1C 0x0D`. Between frames only CR, LF and spaces are tolerated; any other
byte, or a 0x0B inside a frame, is a `ParseError`. A frame is buffered up to
`AppLimits.max_message` bytes; the rest of a larger one is only scanned for its end (0x1C, found
with `bytes.find`) and the event says `truncated`.

Output: one `hl7` event (`model.hl7`) per message, emitted when a message in the other
direction acknowledges it (its MSA-2 equals the message's control ID: an ACK or an application
response), with the ACK code, ERR presence and latency; or with `acked: false` at `close()`, when
`max_pending` messages already wait in that direction (the oldest goes), or when a new message
reuses a waiting control ID. An "ACK" message matching nothing is reported alone
(`unsolicited_ack`). Enhanced-mode commit ACKs (CA/CE/CR) are matched like any other: an
application ACK that follows for the same message is then unsolicited.

`gap()` drops the partial frame and resynchronises on the next 0x0B (MLLP frames are
self-delimiting), so a capture loss costs one message, not the flow.

No patient data: `message.parse_message` reads MSH, MSA and segment IDs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.hl7.message import Header, parse_message
from tocsin.model.hl7 import HL7Event, HL7Info

START_BLOCK = 0x0B
END_BLOCK = 0x1C
_BETWEEN_FRAMES = frozenset(b"\r\n ")


@dataclass(slots=True)
class _Dir:
    in_frame: bool = False
    buf: bytearray = field(default_factory=bytearray)  # frame payload, first max_message bytes
    size: int = 0  # frame payload bytes seen
    resync: bool = False  # after a gap: drop bytes up to the next start block


@dataclass(slots=True)
class _Msg:
    header: Header
    size: int
    truncated: bool
    ts_us: int
    tx_id: int


class HL7Parser(AppParser):
    """MLLP + HL7 v2 headers; see the module docstring for the contract."""

    name = "hl7"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._dirs = (_Dir(), _Dir())
        self._pending: tuple[dict[str | None, _Msg], dict[str | None, _Msg]] = ({}, {})
        self._next_tx = 0
        self._last_ts = 0

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        st = self._dirs[direction]
        self._last_ts = max(self._last_ts, ts_us)
        pos, n = 0, len(data)
        while pos < n:
            if not st.in_frame:
                b = data[pos]
                if b == START_BLOCK:
                    st.in_frame, st.resync = True, False
                    pos += 1
                elif st.resync:
                    i = data.find(b"\x0b", pos)
                    pos = n if i < 0 else i
                elif b in _BETWEEN_FRAMES or b == END_BLOCK:
                    pos += 1  # 0x1C: a stray end block, as some senders double it
                else:
                    raise ParseError(f"byte 0x{b:02x} outside an MLLP frame")
                continue
            i = data.find(b"\x1c", pos)
            end = n if i < 0 else i
            if data.find(b"\x0b", pos, end) >= 0:
                raise ParseError("MLLP start block inside a frame")
            room = self.limits.max_message - len(st.buf)
            if room > 0:
                st.buf += data[pos : min(end, pos + room)]
            st.size += end - pos
            pos = end
            if i >= 0:
                pos += 1
                content, size = bytes(st.buf), st.size
                st.in_frame, st.size = False, 0
                st.buf.clear()
                self._frame(direction, content, size, ts_us)

    def _frame(self, d: int, content: bytes, size: int, ts: int) -> None:
        h = parse_message(content, self.limits.max_items)
        truncated = size > len(content)
        if h.has_msa:
            msg = self._pending[1 - d].pop(h.ack_match_id, None)
            if msg is not None:
                self._report(msg, 1 - d, ts, h)
                return
            if h.message_type == "ACK" or h.malformed:
                self._report(_Msg(h, size, truncated, ts, self._tx()), d, ts, None, True)
                return
        pending = self._pending[d]
        old = pending.pop(h.match_id, None)
        if old is not None:  # control ID reused before its ACK
            self._report(old, d, ts, None)
        if len(pending) >= self.limits.max_pending:
            self._report(pending.pop(next(iter(pending))), d, ts, None)
        pending[h.match_id] = _Msg(h, size, truncated, ts, self._tx())

    def _tx(self) -> int:
        self._next_tx += 1
        return self._next_tx - 1

    def _report(
        self, msg: _Msg, d: int, ts: int, ack: Header | None, unsolicited: bool = False
    ) -> None:
        """Emit the event of `msg` (direction `d`), acknowledged by `ack` or not."""
        h = msg.header
        own = h if unsolicited else ack  # where the MSA facts come from
        info = HL7Info(
            acked=ack is not None,
            message_type=h.message_type,
            trigger_event=h.trigger_event,
            message_structure=h.message_structure,
            control_id=h.control_id,
            sending_application=h.sending_application,
            sending_facility=h.sending_facility,
            receiving_application=h.receiving_application,
            receiving_facility=h.receiving_facility,
            processing_id=h.processing_id,
            version=h.version,
            segments=h.segments,
            malformed_header=h.malformed,
            message_bytes=msg.size,
            truncated=msg.truncated,
            ack_code=own.ack_code if own else None,
            ack_control_id=own.ack_control_id if own else None,
            ack_message_type=ack.message_type if ack else None,
            ack_error_segment=own.has_err if own else False,
            ack_latency_ms=(ts - msg.ts_us) / 1000 if ack else None,
            unsolicited_ack=unsolicited,
        )
        self.emit(HL7Event, info, d, ts, msg.tx_id)

    def gap(self, direction: int, ts_us: int) -> None:
        """Bytes lost: drop the partial frame, resume at the next start block."""
        st = self._dirs[direction]
        st.in_frame, st.resync, st.size = False, True, 0
        st.buf.clear()

    def close(self, ts_us: int) -> None:
        """End of flow: every message still waiting is reported with `acked: false`."""
        ts = max(ts_us, self._last_ts)
        waiting = [(m, d) for d in (TO_SERVER, TO_CLIENT) for m in self._pending[d].values()]
        for m, d in sorted(waiting, key=lambda md: md[0].tx_id):
            self._report(m, d, ts, None)
        for p in self._pending:
            p.clear()
