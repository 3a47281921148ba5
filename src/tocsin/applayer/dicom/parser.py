"""The DICOM parser: upper-layer PDUs and DIMSE messages of one TCP association, sans-io.

Input: each direction's reassembled bytes (`TO_SERVER` = the association requestor). Output:
`dicom` events (`model.dicom`): the association, each command with its final response, and the
release / abort / close with the association's summary.

How bytes are handled, per direction:

- PDU headers (6 bytes) are buffered across chunks. A-ASSOCIATE, A-RELEASE and A-ABORT PDUs
  are buffered whole (bounded by `AppLimits.max_message`, larger is a `ParseError`) and decoded
  by `pdu`.
- P-DATA-TF PDUs are streamed PDV by PDV, never buffered whole. Command fragments are collected
  (bounded) until the last one, then decoded by `dimse.parse_command`. Data set fragments are
  counted, not read: the parser sets `skip` to the rest of each PDV it does not need, so image
  data never reaches Python. The one exception is the identifier of a C-FIND/C-MOVE/C-GET
  request, collected (bounded by `max_message`) for `dimse.scan_identifier`.

State rules (checked, `ParseError` otherwise): A-ASSOCIATE-RQ comes once, from the requestor;
AC/RJ once, from the acceptor; a data set fragment follows a command that announced one; a
command fragment never interrupts a data set. P-DATA-TF before the AC is accepted (a capture that
starts mid-association), decoded as Implicit VR LE.

Requests are matched to their final responses by `transactions` (pending ones bounded by
`max_pending`). After A-RELEASE-RP, A-ABORT or A-ASSOCIATE-RJ both directions are `done`.
Not done: DICOM over TLS (port 2762 is encrypted), DICOMweb (HTTP), resynchronisation after a
gap (the default `gap` gives up on that direction; `close` still reports what is pending).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.dicom import dimse, pdu
from tocsin.applayer.dicom.transactions import Report, Transactions
from tocsin.model.dicom import (
    DicomAbort,
    DicomAssociation,
    DicomContextResult,
    DicomEvent,
    DicomInfo,
    DicomReject,
    DicomSummary,
)

MAX_COMMAND_SET = 16_384  # a command set is a few hundred bytes; more is not DICOM


@dataclass(slots=True)
class _Dir:
    """Per-direction stream state."""

    hdr: bytearray = field(default_factory=bytearray)  # partial PDU or PDV header
    body: bytearray = field(default_factory=bytearray)  # PDU buffered whole
    pdu_type: int = 0
    body_need: int = 0  # bytes still missing from `body`
    pdu_left: int = 0  # bytes left in the current P-DATA-TF body
    pdv_left: int = 0  # bytes left in the current PDV fragment
    in_pdv: bool = False
    pdv_pcid: int = 0
    pdv_cmd: bool = False
    pdv_last: bool = False
    pdv_keep: bool = False
    cmd: bytearray = field(default_factory=bytearray)  # command fragments
    msg: dimse.CommandSet | None = None  # command awaiting its data set
    msg_pcid: int = 0
    collect: bool = False  # the data set is an identifier to scan
    ds: bytearray = field(default_factory=bytearray)
    ds_bytes: int = 0
    bytes: int = 0


class DicomParser(AppParser):
    """DICOM upper layer + DIMSE; see the module docstring for the contract."""

    name = "dicom"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._dirs = (_Dir(), _Dir())
        self._rq: pdu.AssociateRQ | None = None
        self._rq_ts = -1
        self._answered = False  # AC or RJ seen
        self._assoc_emitted = False
        self._syntaxes: dict[int, str | None] = {}  # presentation context id -> transfer syntax
        self._tx = Transactions(limits)
        self._release_rq: tuple[int, int] | None = None  # (direction, ts) of A-RELEASE-RQ
        self._ended = False
        self._first_ts = -1
        self._last_ts = 0

    # --- stream --------------------------------------------------------------------------

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        st = self._dirs[direction]
        st.bytes += len(data)
        if self._first_ts < 0:
            self._first_ts = ts_us
        self._last_ts = max(self._last_ts, ts_us)
        pos, n = 0, len(data)
        while pos < n and not self.done[direction]:
            if st.pdu_left:
                pos = self._pdata(direction, st, data, pos, ts_us)
            elif st.body_need:
                take = min(st.body_need, n - pos)
                st.body += data[pos : pos + take]
                pos += take
                st.body_need -= take
                if not st.body_need:
                    body = bytes(st.body)
                    st.body.clear()
                    self._pdu(direction, st.pdu_type, body, ts_us)
            else:
                take = min(pdu.HEADER_LEN - len(st.hdr), n - pos)
                st.hdr += data[pos : pos + take]
                pos += take
                if len(st.hdr) == pdu.HEADER_LEN:
                    ptype, length = pdu.unpack_header(st.hdr)
                    st.hdr.clear()
                    self._header(st, ptype, length)

    def _header(self, st: _Dir, ptype: int, length: int) -> None:
        if ptype == pdu.P_DATA_TF:
            if length < pdu.PDV_HEADER_LEN:
                raise ParseError(f"P-DATA-TF PDU of {length} bytes holds no PDV")
            st.pdu_left = length
        elif pdu.ASSOCIATE_RQ <= ptype <= pdu.ABORT:
            if length > self.limits.max_message:
                raise ParseError(f"PDU type 0x{ptype:02x} of {length} bytes exceeds the limit")
            if length < 4:
                raise ParseError(f"PDU type 0x{ptype:02x} of {length} bytes is too short")
            st.pdu_type = ptype
            st.body_need = length
        else:
            raise ParseError(f"unknown PDU type 0x{ptype:02x}")

    def _pdata(self, d: int, st: _Dir, data: bytes, pos: int, ts: int) -> int:
        """Consume P-DATA-TF body bytes from data[pos:]; returns the new position."""
        n = len(data)
        if not st.in_pdv:
            need = pdu.PDV_HEADER_LEN - len(st.hdr)
            if need > st.pdu_left:
                raise ParseError("P-DATA-TF PDU ends inside a PDV header")
            take = min(need, n - pos)
            st.hdr += data[pos : pos + take]
            pos += take
            st.pdu_left -= take
            if len(st.hdr) < pdu.PDV_HEADER_LEN:
                return pos
            ilen, pcid, mch = pdu.unpack_pdv(st.hdr)
            st.hdr.clear()
            if ilen < 2 or ilen - 2 > st.pdu_left:
                raise ParseError(f"PDV of {ilen} bytes does not fit its P-DATA-TF PDU")
            st.in_pdv = True
            st.pdv_left = ilen - 2
            st.pdv_pcid, st.pdv_cmd, st.pdv_last = pcid, bool(mch & 1), bool(mch & 2)
            st.pdv_keep = self._start_fragment(st)
        take = min(st.pdv_left, n - pos)
        if take:
            if st.pdv_keep:
                self._keep(st, data[pos : pos + take])
            elif not st.pdv_cmd:
                st.ds_bytes += take
            pos += take
            st.pdv_left -= take
            st.pdu_left -= take
        if st.pdv_left and not st.pdv_keep:
            # the rest of this fragment is not needed: the dispatcher drops it unseen
            self.skip[d] = st.pdv_left
            st.bytes += st.pdv_left
            st.ds_bytes += st.pdv_left
            st.pdu_left -= st.pdv_left
            st.pdv_left = 0
        if not st.pdv_left:
            st.in_pdv = False
            self._end_fragment(d, st, ts)
        return pos

    def _start_fragment(self, st: _Dir) -> bool:
        """Check the fragment is allowed here; True when its bytes are kept."""
        if st.pdv_cmd:
            if st.msg is not None:
                raise ParseError("command fragment while a data set was expected")
            return True
        if st.msg is None:
            raise ParseError("data set fragment without a command announcing it")
        return st.collect

    def _keep(self, st: _Dir, chunk: bytes) -> None:
        if st.pdv_cmd:
            if len(st.cmd) + len(chunk) > MAX_COMMAND_SET:
                raise ParseError("command set larger than 16 KiB")
            st.cmd += chunk
            return
        st.ds_bytes += len(chunk)
        room = self.limits.max_message - len(st.ds)
        if room > 0:
            st.ds += chunk[:room]
        if len(st.ds) >= self.limits.max_message:
            st.collect = False  # enough for the query facts: skip the rest
            st.pdv_keep = False

    def _end_fragment(self, d: int, st: _Dir, ts: int) -> None:
        if st.pdv_cmd:
            if not st.pdv_last:
                return
            cs = dimse.parse_command(bytes(st.cmd))
            st.cmd.clear()
            if cs.has_dataset:
                st.msg, st.msg_pcid, st.ds_bytes = cs, st.pdv_pcid, 0
                st.collect = not cs.is_response and cs.field in dimse.QUERY_COMMANDS
            else:
                self._message(d, cs, st.pdv_pcid, 0, None, ts)
        elif st.pdv_last and st.msg is not None:
            cs, st.msg = st.msg, None
            ident = bytes(st.ds) if cs.field in dimse.QUERY_COMMANDS else None
            st.ds.clear()
            st.collect = False
            self._message(d, cs, st.msg_pcid, st.ds_bytes, ident, ts)

    def _message(
        self, d: int, cs: dimse.CommandSet, pcid: int, ds_bytes: int, ident: bytes | None, ts: int
    ) -> None:
        syntax = self._syntaxes.get(pcid)
        self._emit_reports(self._tx.message(d, cs, pcid, ds_bytes, ident, syntax, ts))

    # --- whole PDUs ------------------------------------------------------------------------

    def _pdu(self, d: int, ptype: int, body: bytes, ts: int) -> None:
        if ptype == pdu.ASSOCIATE_RQ:
            if d != TO_SERVER or self._rq is not None:
                raise ParseError("unexpected A-ASSOCIATE-RQ")
            self._rq = pdu.parse_associate_rq(body, self.limits.max_items)
            self._rq_ts = ts
        elif ptype in (pdu.ASSOCIATE_AC, pdu.ASSOCIATE_RJ):
            if d != TO_CLIENT or self._answered:
                raise ParseError("unexpected A-ASSOCIATE answer")
            self._answered = True
            if ptype == pdu.ASSOCIATE_AC:
                self._accept(pdu.parse_associate_ac(body, self.limits.max_items), ts)
            else:
                rej = pdu.parse_reject(body)
                self._emit_association("rejected", ts, rejected=rej)
                self._end()
        elif ptype in (pdu.RELEASE_RQ, pdu.RELEASE_RP):
            pdu.check_release(body, ptype)
            if ptype == pdu.RELEASE_RQ:
                if self._release_rq is None:
                    self._release_rq = (d, ts)
                return
            rq_dir = self._release_rq[0] if self._release_rq else 1 - d
            self._finish("release", rq_dir, ts)
        else:
            self._finish("abort", d, ts, pdu.parse_abort(body))

    def _accept(self, ac: pdu.AssociateAC, ts: int) -> None:
        proposed = {c.id: c.abstract_syntax for c in self._rq.contexts} if self._rq else {}
        results = []
        for pcid, result, syntax in ac.results:
            self._syntaxes[pcid] = syntax if result == 0 else None
            results.append(pdu.context_result(pcid, result, syntax, proposed.get(pcid)))
        if self._rq is not None:
            self._emit_association("accepted", ts, accepted=results, acceptor=ac)

    def _emit_association(
        self,
        status: str,
        ts: int,
        *,
        accepted: list[DicomContextResult] | None = None,
        acceptor: pdu.AssociateAC | None = None,
        rejected: DicomReject | None = None,
    ) -> None:
        rq = self._rq
        if rq is None or self._assoc_emitted:
            return
        self._assoc_emitted = True
        assoc = DicomAssociation(
            status=status,
            protocol_version=rq.protocol_version,
            application_context=rq.application_context,
            proposed=rq.contexts,
            accepted=accepted or [],
            rejected=rejected,
            requestor=rq.user,
            acceptor=acceptor.user if acceptor else None,
            truncated=rq.truncated,
        )
        self._send("association", TO_SERVER, ts, 0, association=assoc)

    def _send(self, kind: str, d: int, ts: int, tx_id: int, **parts: Any) -> None:
        """Emit a `dicom` event of type `kind` with the association's AE titles."""
        rq = self._rq
        info = DicomInfo(
            type=kind,
            calling_ae=rq.calling_ae if rq else None,
            called_ae=rq.called_ae if rq else None,
            **parts,
        )
        self.emit(DicomEvent, info, d, ts, tx_id)

    # --- end of association ----------------------------------------------------------------

    def _emit_reports(self, reports: list[Report]) -> None:
        for r in reports:
            self._send("command", r.direction, r.ts_us, r.tx_id, command=r.command)

    def _finish(self, kind: str, d: int, ts: int, abort: DicomAbort | None = None) -> None:
        """Emit what is pending and the `release` / `abort` / `close` event, once."""
        if self._ended:
            return
        self._emit_association("aborted" if kind == "abort" else "unanswered", ts)
        self._emit_reports(self._tx.flush(ts))
        start = self._rq_ts if self._rq_ts >= 0 else max(self._first_ts, 0)
        summary = DicomSummary(
            duration_ms=max(ts - start, 0) / 1000,
            bytes_toserver=self._dirs[TO_SERVER].bytes,
            bytes_toclient=self._dirs[TO_CLIENT].bytes,
            commands=self._tx.counts(),
        )
        self._send(kind, d, ts, self._tx.next_tx, abort=abort, summary=summary)
        self._tx.next_tx += 1
        self._end()

    def _end(self) -> None:
        self._ended = True
        self.done[TO_SERVER] = self.done[TO_CLIENT] = True

    def close(self, ts_us: int) -> None:
        """End of flow: unanswered requests, the association if never answered, and a `close`
        event when neither A-RELEASE nor A-ABORT ended it."""
        if self._ended or (self._rq is None and self._first_ts < 0):
            return
        self._finish("close", TO_SERVER, max(ts_us, self._last_ts))
