"""DIMSE request/response matching for one association (sans-io, no emitting of its own).

`Transactions.message(...)` takes each complete DIMSE message (its decoded command set, data
set size and, for C-FIND/C-MOVE/C-GET requests, the collected identifier) and returns the
`Report`s that became final: a request's final (non-pending) response, or requests reported
unanswered because their message ID was reused or `max_pending` were already waiting.
`flush()` reports every waiting request unanswered (release, abort, end of flow); `counts()`
gives the per-command totals of what was reported.

Requests are keyed by (direction, message ID); a response answers the request of the other
direction whose ID is its MessageIDBeingRespondedTo. Pending responses are counted, their
sub-operation counts kept; C-CANCEL marks the request it cancels. Transaction IDs start at 1
(0 is the association's).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.applayer.base import TO_SERVER, AppLimits
from tocsin.applayer.dicom import dimse
from tocsin.applayer.dicom.uids import uid_record
from tocsin.model.dicom import DicomCommand, DicomCommandCount, DicomQueryKey, DicomSubOperations


@dataclass(slots=True)
class _Tx:
    """A request awaiting its final response."""

    tx_id: int
    direction: int
    ts_us: int
    cs: dimse.CommandSet
    pcid: int
    req_bytes: int
    query_level: str | None = None
    query_keys: list[DicomQueryKey] = field(default_factory=list)
    query_truncated: bool = False
    pending: int = 0
    rsp_bytes: int = 0
    subops: DicomSubOperations | None = None
    last_status: int | None = None
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Report:
    """A command event to emit: its body, the request's direction, time and transaction ID."""

    command: DicomCommand
    direction: int
    ts_us: int
    tx_id: int


class Transactions:
    """Pending DIMSE requests of one association; see the module docstring."""

    def __init__(self, limits: AppLimits) -> None:
        self.limits = limits
        self.pending: dict[tuple[int, int], _Tx] = {}
        self.next_tx = 1
        self._counts: dict[str, list[int]] = {}  # command -> [count, failed, req, rsp bytes]

    def message(
        self,
        d: int,
        cs: dimse.CommandSet,
        pcid: int,
        ds_bytes: int,
        ident: bytes | None,
        syntax: str | None,
        ts: int,
    ) -> list[Report]:
        """Account for one DIMSE message sent in direction `d`; `syntax` is the transfer syntax
        of its presentation context (for the identifier)."""
        if cs.field == dimse.C_CANCEL:
            tx = self.pending.get((d, cs.responded_to or 0))
            if tx is not None:
                tx.cancelled = True
            return []
        if not cs.is_response:
            return self._request(d, cs, pcid, ds_bytes, ident, syntax, ts)
        key = (1 - d, cs.responded_to or 0)
        tx = self.pending.get(key)
        if tx is None:  # a response to a request not seen
            tx = _Tx(self._take_id(), 1 - d, ts, cs, pcid, 0, rsp_bytes=ds_bytes)
            return [self._report(tx, cs, ts, request_seen=False)]
        tx.rsp_bytes += ds_bytes
        if cs.completed is not None or cs.remaining is not None:
            tx.subops = DicomSubOperations(cs.remaining, cs.completed, cs.failed, cs.warning)
        tx.last_status = cs.status
        if cs.status in dimse.PENDING:
            tx.pending += 1
            return []
        del self.pending[key]
        return [self._report(tx, cs, ts)]

    def flush(self, ts: int) -> list[Report]:
        """Every waiting request, reported unanswered."""
        out = [self._report(tx, None, ts) for tx in self.pending.values()]
        self.pending.clear()
        return out

    def counts(self) -> list[DicomCommandCount]:
        return [DicomCommandCount(name, *c) for name, c in sorted(self._counts.items())]

    def _take_id(self) -> int:
        self.next_tx += 1
        return self.next_tx - 1

    def _request(
        self,
        d: int,
        cs: dimse.CommandSet,
        pcid: int,
        ds_bytes: int,
        ident: bytes | None,
        syntax: str | None,
        ts: int,
    ) -> list[Report]:
        out = []
        key = (d, cs.message_id or 0)
        old = self.pending.pop(key, None)
        if old is not None:  # message ID reused before its answer
            out.append(self._report(old, None, ts))
        if len(self.pending) >= self.limits.max_pending:
            out.append(self._report(self.pending.pop(next(iter(self.pending))), None, ts))
        tx = _Tx(self._take_id(), d, ts, cs, pcid, ds_bytes)
        if ident is not None:
            lim = self.limits
            tx.query_level, tx.query_keys, complete = dimse.scan_identifier(
                ident, syntax, lim.max_items, lim.max_message
            )
            tx.query_truncated = not complete and ds_bytes > len(ident)
        self.pending[key] = tx
        return out

    def _report(
        self, tx: _Tx, rsp: dimse.CommandSet | None, ts: int, *, request_seen: bool = True
    ) -> Report:
        """The command event of `tx`; `rsp` is its final response (None: unanswered)."""
        rq = tx.cs
        status = rsp.status if rsp is not None else tx.last_status
        category = dimse.status_category(status) if status is not None else None
        meaning = None
        if status is not None:
            meaning = dimse.status_meaning(status, rq.field & ~dimse.RESPONSE)
        cmd = DicomCommand(
            command=rq.name,
            message_id=(rq.message_id if request_seen else rq.responded_to) or 0,
            answered=rsp is not None,
            issuer="requestor" if tx.direction == TO_SERVER else "acceptor",
            presentation_context_id=tx.pcid,
            sop_class=uid_record(rq.sop_class) if rq.sop_class else None,
            priority=rq.priority if request_seen else None,
            move_destination=rq.move_destination,
            move_originator_ae=rq.move_originator,
            status=status,
            status_category=category,
            status_meaning=meaning,
            pending_responses=tx.pending,
            sub_operations=tx.subops,
            request_dataset_bytes=tx.req_bytes,
            response_dataset_bytes=tx.rsp_bytes,
            query_level=tx.query_level,
            query_keys=tx.query_keys,
            query_truncated=tx.query_truncated,
            cancelled=tx.cancelled,
            latency_ms=(ts - tx.ts_us) / 1000 if request_seen else None,
            request_seen=request_seen,
        )
        c = self._counts.setdefault(rq.name, [0, 0, 0, 0])
        c[0] += 1
        c[1] += rsp is None or category == "failure"
        c[2] += tx.req_bytes
        c[3] += tx.rsp_bytes
        return Report(cmd, tx.direction, ts, tx.tx_id)
