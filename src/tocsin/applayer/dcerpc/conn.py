"""One DCERPC association (connection-oriented, C706 / MS-RPCE): the shared state machine behind
`DcerpcParser` (DCERPC over TCP) and SMB named pipes (DCERPC over SMB).

`DceConn.feed(direction, data, meta)` takes the next bytes of one direction of the association
(a TCP stream, or the data of the WRITE / READ / IOCTL messages of one pipe) and returns the
calls it completed:

- BIND / ALTER_CONTEXT: completed by their BIND_ACK / BIND_NAK / ALTER_CONTEXT_RESP; the
  presentation contexts they define (context id -> interface UUID, version, ack result) stay
  in `contexts` for the requests that follow;
- REQUEST (one or more fragments): completed by the last RESPONSE fragment or a FAULT;
- a response whose request was not seen gives a call with `req_type` None ("REQUEST_LOST").

Only headers are read: stub data is counted, never kept (`drop`), so a caller over TCP can let
the dispatcher skip it (`take_skip`). Memory is bounded: one PDU (BIND / BIND_ACK whole,
REQUEST / RESPONSE up to their stub) of at most `max_pdu` bytes (a larger BIND... is passed
over and counted in `oversized`), `max_pending` calls (the oldest is completed unreplied
beyond that) and `max_items` contexts. Malformed PDUs raise
`ParseError`; the SMB layer then calls `reset(direction)` and resynchronises on the next message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.applayer.base import ParseError
from tocsin.applayer.dcerpc import pdu
from tocsin.applayer.dcerpc.pdu import HEADER_LEN

_WHOLE = frozenset(
    (pdu.BIND, pdu.ALTER_CONTEXT, pdu.BIND_ACK, pdu.BIND_NAK, pdu.ALTER_CONTEXT_RESP)
)


@dataclass(slots=True)
class Iface:
    """A presentation context: the interface a context id stands for."""

    ctx_id: int
    uuid: str
    version: str
    ack_result: int | None = None
    ack_reason: int | None = None


@dataclass(slots=True)
class Call:
    """One DCERPC exchange (see the module docstring); `*_meta` are the caller's notes on the
    messages that carried the request and the response (SMB command, ids...)."""

    call_id: int
    minor: int
    req_type: int | None = None
    resp_type: int | None = None
    opnum: int | None = None
    ctx_id: int | None = None
    req_frags: int = 0
    req_stub: int = 0
    resp_frags: int = 0
    resp_stub: int = 0
    ifaces: list[Iface] = field(default_factory=list)
    req_meta: object = None
    resp_meta: object = None


class DceConn:
    def __init__(self, max_pdu: int, max_pending: int, max_items: int) -> None:
        self.max_pdu = max_pdu
        self.max_pending = max_pending
        self.max_items = max_items
        self.contexts: dict[int, Iface] = {}
        self.pending: dict[tuple[int, int], Call] = {}  # (call_id, request PTYPE) -> call
        self._buf = [b"", b""]
        self._drop = [0, 0]
        self.oversized = 0  # whole-PDUs (BIND...) larger than max_pdu, passed over

    # ------------------------------------------------------------------ stream
    def feed(self, d: int, data: bytes, meta: object = None) -> list[Call]:
        """Consume `data` (direction `d`); return the calls completed, in order."""
        out: list[Call] = []
        work = self._buf[d] + data if self._buf[d] else data
        pos, end, drop = 0, len(work), self._drop[d]
        while True:
            if drop:
                take = min(drop, end - pos)
                pos += take
                drop -= take
                if drop:
                    break
            if end - pos < HEADER_LEN:
                break
            h = pdu.parse_header(work, pos)
            need = h.frag_len if h.ptype in _WHOLE else pdu.body_len(h)
            if need > h.frag_len:
                raise ParseError(f"dcerpc: {pdu.ptype_name(h.ptype)} of {h.frag_len} bytes")
            if need > self.max_pdu:  # too big to hold: passed over (its answer is REQUEST_LOST)
                self.oversized += 1
                drop = h.frag_len
                continue
            if end - pos < need:
                break
            self._pdu(d, h, work, pos, meta, out)
            pos += need
            drop = h.frag_len - need
        self._buf[d] = work[pos:]
        self._drop[d] = drop
        return out

    def take_skip(self, d: int) -> int:
        """Stub bytes still to come in direction `d` that nothing needs (when no partial PDU
        is buffered): the caller hands them to the dispatcher's `skip`."""
        if self._buf[d]:
            return 0
        n, self._drop[d] = self._drop[d], 0
        return n

    def skip_ahead(self, d: int, n: int) -> None:
        """`n` bytes of direction `d` will not be seen: absorbed if they are stub data, else
        the stream restarts at the next `feed`."""
        if not self._buf[d] and self._drop[d] >= n:
            self._drop[d] -= n
        else:
            self.reset(d)

    def idle(self, d: int) -> bool:
        """True between PDUs in direction `d` (the next byte must start a PDU header)."""
        return not self._buf[d] and not self._drop[d]

    def reset(self, d: int) -> None:
        self._buf[d] = b""
        self._drop[d] = 0

    def flush(self) -> list[Call]:
        """Every call still open (unreplied), oldest first."""
        out = list(self.pending.values())
        self.pending.clear()
        for c in out:
            self._finish(c)
        return out

    # ------------------------------------------------------------------ PDUs
    def _pdu(
        self,
        d: int,
        h: pdu.Header,
        b: bytes,
        off: int,
        meta: object,
        out: list[Call],
    ) -> None:
        t = h.ptype
        if t in (pdu.BIND, pdu.ALTER_CONTEXT):
            call = Call(h.call_id, h.minor, req_type=t, req_frags=1, req_meta=meta)
            for ctx in pdu.parse_bind(b[off : off + h.frag_len], h, self.max_items):
                iface = Iface(ctx.ctx_id, ctx.uuid, ctx.version)
                call.ifaces.append(iface)
                if ctx.ctx_id in self.contexts or len(self.contexts) < self.max_items:
                    self.contexts[ctx.ctx_id] = iface
            self._open(call, out)
        elif t in (pdu.BIND_ACK, pdu.ALTER_CONTEXT_RESP, pdu.BIND_NAK):
            call = self._answer(h, meta)
            if t != pdu.BIND_NAK:
                results = pdu.parse_bind_ack(b[off : off + h.frag_len], h)
                for iface, (result, reason) in zip(call.ifaces, results, strict=False):
                    iface.ack_result, iface.ack_reason = result, reason
            out.append(self._finish(call))
        elif t == pdu.REQUEST:
            ctx_id, opnum = pdu.request_fields(b, off, h)
            key = (h.call_id, t)
            call_or_none = None if h.flags & pdu.PFC_FIRST_FRAG else self.pending.get(key)
            if call_or_none is None:
                call = Call(h.call_id, h.minor, req_type=t, opnum=opnum, ctx_id=ctx_id)
                call.req_meta = meta
                self._open(call, out)
            else:
                call = call_or_none
            call.req_frags += 1
            call.req_stub += pdu.stub_len(h)
        elif t in (pdu.RESPONSE, pdu.FAULT):
            key = (h.call_id, pdu.REQUEST)
            call = self.pending.get(key) or self._answer(h, meta)
            self.pending[key] = call
            call.resp_type = t
            call.resp_meta = meta
            call.resp_frags += 1
            if t == pdu.RESPONSE:
                call.resp_stub += pdu.stub_len(h)
            if t == pdu.FAULT or h.flags & pdu.PFC_LAST_FRAG:
                del self.pending[key]
                out.append(self._finish(call))
        # AUTH3, SHUTDOWN, CO_CANCEL, ORPHANED, RTS: nothing to log

    def _open(self, call: Call, out: list[Call]) -> None:
        key = (call.call_id, call.req_type or 0)
        old = self.pending.pop(key, None)
        if old is not None:  # call id reused before an answer: the old call ends unreplied
            out.append(self._finish(old))
        while len(self.pending) >= self.max_pending:
            out.append(self._finish(self.pending.pop(next(iter(self.pending)))))
        self.pending[key] = call

    def _answer(self, h: pdu.Header, meta: object) -> Call:
        """The pending call a response answers, or a REQUEST_LOST call."""
        req = pdu.REQUEST_OF[h.ptype]
        call = self.pending.pop((h.call_id, req), None)
        if call is None:
            call = Call(h.call_id, h.minor)
        call.resp_type = h.ptype
        call.resp_meta = meta
        return call

    def _finish(self, call: Call) -> Call:
        if call.req_type == pdu.REQUEST and call.ctx_id is not None:
            iface = self.contexts.get(call.ctx_id)
            call.ifaces = [iface] if iface is not None else []
        return call
