"""Per-flow SMB state shared by the SMB1 and SMB2 handlers: transactions, trees, open files,
named pipes (each with its DCERPC association), and the events built from them.

Transactions (`Tx`) have `kind`:
- `LOGGED`: one `smb` event when the final response is seen (or at `flush`, unanswered);
- `QUIET`: tracked to interpret the response (READ, WRITE, pipe IOCTL...), never logged
  themselves: READ / WRITE on a file are logged once per file and direction (`OpenFile`), and
  DCERPC on a pipe once per call.

Bounds: `max_pending` transactions awaiting a response (the oldest is evicted: logged
unanswered or dropped), `max_files` open files (the oldest is finalised), `max_files` trees
(the oldest is forgotten), and at most `limits.max_pending` pipes with a DCERPC association,
each buffering at most one PDU of `PIPE_PDU` bytes per direction (BIND / BIND_ACK whole, other
PDUs up to their stub); the pipes beyond that are not decoded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.applayer.base import TO_CLIENT, AppLimits, Emit, ParseError
from tocsin.applayer.dcerpc import pdu
from tocsin.applayer.dcerpc.conn import Call, DceConn
from tocsin.applayer.dcerpc.interfaces import procedure_name, service_name
from tocsin.applayer.dcerpc.pdu import looks_like_dcerpc
from tocsin.applayer.smb.status import dialect_name, smb1_command, smb2_command
from tocsin.model.smb import (
    SmbDcerpc,
    SmbDcerpcInterface,
    SmbDcerpcStub,
    SmbEvent,
    SmbFileEvent,
    SmbFileInfo,
    SmbInfo,
)

LOGGED, QUIET = 0, 1
PIPE_PDU = 16_384  # largest DCERPC PDU buffered whole on a pipe (BIND with many contexts)


def command_name(cmd: int, smb1: bool) -> str:
    return smb1_command(cmd) if smb1 else smb2_command(cmd)


@dataclass(slots=True)
class Tx:
    id: int  # 0 until logged: ids are given in order of creation of logged transactions
    cmd: int
    smb1: bool
    session_id: int
    tree_id: int
    kind: int = LOGGED
    fields: dict[str, Any] = field(default_factory=dict)  # SmbInfo fields
    status: tuple[str, str] | None = None
    fid: bytes | None = None  # the file the request names (READ, WRITE, CLOSE, IOCTL...)
    info: int = 0  # SET_INFO: the FileInformationClass
    parent: Tx | None = None  # SMB2: previous request of a related compound chain
    name: str | None = None  # CREATE / TREE_CONNECT: the requested path


@dataclass(slots=True, frozen=True)
class Carrier:
    """The SMB message that carried DCERPC data to or from a pipe."""

    cmd: int
    smb1: bool
    session_id: int
    tree_id: int
    status: tuple[str, str] | None = None  # of a response


@dataclass(slots=True)
class Tree:
    name: str
    is_pipe: bool


@dataclass(slots=True)
class OpenFile:
    fuid: str
    name: str
    session_id: int
    tree_id: int
    share: str | None
    is_pipe: bool | None  # None: not known yet (TREE_CONNECT not seen)
    size: int | None = None
    opened: int | None = None
    delete_on_close: bool = False
    reads: int = 0
    writes: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    read_tx: Tx | None = None
    write_tx: Tx | None = None
    dce: DceConn | None = None


class SmbState:
    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        self.emit = emit
        self.limits = limits
        self.max_pending = limits.max_pending * 4  # SMB2 credits allow many reads in flight
        self.max_files = limits.max_items * 4
        self.next_id = 1
        self.dialect: int | None = None  # SMB2 dialect revision
        self.smb1_dialect: str | None = None
        self.max_read_size: int | None = None
        self.max_write_size: int | None = None
        self.pending: dict[Any, Tx] = {}  # SMB2 message id / SMB1 (pid, mid, command) -> Tx
        self.trees: dict[tuple[int, int], Tree] = {}  # (session id, tree id)
        self.files: dict[bytes, OpenFile] = {}
        self.pipes = 0  # open files with a DCERPC association

    # ------------------------------------------------------------------ transactions
    def dialect_text(self) -> str:
        if self.dialect is not None:
            return dialect_name(self.dialect)
        return self.smb1_dialect or "unknown"

    def open_tx(self, key: Any, tx: Tx, ts_us: int) -> None:
        old = self.pending.pop(key, None)
        if old is not None:
            self.log(old, TO_CLIENT, ts_us)
        while len(self.pending) >= self.max_pending:
            self.log(self.pending.pop(next(iter(self.pending))), TO_CLIENT, ts_us)
        if tx.kind == LOGGED:
            self.assign_id(tx)
        self.pending[key] = tx

    def assign_id(self, tx: Tx) -> None:
        if not tx.id:
            tx.id = self.next_id
            self.next_id += 1

    def log(self, tx: Tx, direction: int, ts_us: int) -> None:
        """Emit the `smb` event of a LOGGED transaction (QUIET ones are dropped)."""
        if tx.kind != LOGGED:
            return
        self.assign_id(tx)
        status, code = tx.status if tx.status else (None, None)
        info = SmbInfo(
            id=tx.id,
            dialect=self.dialect_text(),
            session_id=tx.session_id,
            tree_id=tx.tree_id,
            command=command_name(tx.cmd, tx.smb1),
            status=status,
            status_code=code,
            **tx.fields,
        )
        self.emit(SmbEvent, info, direction, ts_us, tx.id - 1)

    # ------------------------------------------------------------------ trees and files
    def tree(self, session_id: int, tree_id: int) -> Tree | None:
        return self.trees.get((session_id, tree_id))

    def add_tree(self, session_id: int, tree_id: int, tree: Tree) -> None:
        key = (session_id, tree_id)
        self.trees.pop(key, None)
        while len(self.trees) >= self.max_files:
            del self.trees[next(iter(self.trees))]
        self.trees[key] = tree

    def add_file(self, key: bytes, f: OpenFile, ts_us: int) -> None:
        old = self.files.pop(key, None)
        if old is not None:
            self.close_file(old, None, ts_us)
        while len(self.files) >= self.max_files:
            self.close_file(self.files.pop(next(iter(self.files))), None, ts_us)
        self.files[key] = f

    def file_io(
        self,
        f: OpenFile,
        cmd: int,
        smb1: bool,
        write: bool,
        n: int,
        status: tuple[str, str] | None,
    ) -> None:
        """Count one READ / WRITE of `n` data bytes on a file (not a pipe); its transaction
        (one per file and direction) is created on first use."""
        if write:
            f.writes += 1
            f.bytes_written += n
        else:
            f.reads += 1
            f.bytes_read += n
        tx = f.write_tx if write else f.read_tx
        if tx is None:
            tx = Tx(0, cmd, smb1, f.session_id, f.tree_id)
            tx.fields = {"filename": f.name, "fuid": f.fuid}
            if f.share is not None:
                tx.fields["share"] = f.share
            self.assign_id(tx)
            if write:
                f.write_tx = tx
            else:
                f.read_tx = tx
        self.file_status(f, write, status)

    @staticmethod
    def file_status(f: OpenFile, write: bool, status: tuple[str, str] | None) -> None:
        """Record a response status on a file's READ / WRITE transaction: one success is
        enough for the transaction to be a success."""
        tx = f.write_tx if write else f.read_tx
        if tx is None or status is None:
            return
        if tx.status is None or tx.status[0] != "STATUS_SUCCESS":
            tx.status = status

    def close_file(self, f: OpenFile, ts_closed: int | None, ts_us: int) -> None:
        """Finalise a file: its READ / WRITE transactions, its `smb_file` event, its pipe."""
        for tx in (f.read_tx, f.write_tx):
            if tx is not None:
                self.log(tx, TO_CLIENT, ts_us)
        if f.dce is not None:
            self.pipes -= 1
            for call in f.dce.flush():
                self.log_call(f, call, ts_us)
        if f.reads or f.writes:
            info = SmbFileInfo(
                filename=f.name,
                fuid=f.fuid,
                session_id=f.session_id,
                tree_id=f.tree_id,
                share=f.share,
                bytes_read=f.bytes_read,
                bytes_written=f.bytes_written,
                reads=f.reads,
                writes=f.writes,
                size=f.size,
                delete_on_close=f.delete_on_close,
                opened=f.opened,
                closed=ts_closed,
            )
            self.emit(SmbFileEvent, info, TO_CLIENT, ts_us, None)

    # ------------------------------------------------------------------ pipes
    def pipe_data(
        self, f: OpenFile, d: int, data: bytes, missing: int, meta: Carrier, ts_us: int
    ) -> None:
        """Bytes written to (d = 0) or read from (d = 1) a pipe; `missing` bytes that followed
        them were not kept (message larger than the limit). Pipes that do not carry DCERPC
        (PsExec's own, for one) are ignored."""
        if (f.dce is None or f.dce.idle(d)) and not looks_like_dcerpc(data):
            return
        if f.dce is None:
            lim = self.limits
            if self.pipes >= lim.max_pending:
                return
            self.pipes += 1
            f.dce = DceConn(min(lim.max_message, PIPE_PDU), lim.max_pending, lim.max_items)
        try:
            calls = f.dce.feed(d, data, meta)
        except ParseError:  # not DCERPC, or lost sync: start again at the next message
            f.dce.reset(d)
            return
        if missing:
            f.dce.skip_ahead(d, missing)
        for call in calls:
            self.log_call(f, call, ts_us)

    def log_call(self, f: OpenFile, call: Call, ts_us: int) -> None:
        """Emit the `smb` event of a DCERPC call over a pipe: the command that carried the
        request (WRITE, IOCTL, TRANS...), the status of the message that carried the answer."""
        req, res = call.req_meta, call.resp_meta
        carrier = req if isinstance(req, Carrier) else res
        if not isinstance(carrier, Carrier):
            carrier = Carrier(0, False, f.session_id, f.tree_id)
        tx = Tx(0, carrier.cmd, carrier.smb1, carrier.session_id, carrier.tree_id)
        if isinstance(res, Carrier):
            tx.status = res.status
        is_req = call.req_type == pdu.REQUEST
        ifaces = [
            SmbDcerpcInterface(
                uuid=i.uuid,
                version=i.version,
                ack_result=None if is_req else i.ack_result,
                ack_reason=None if is_req else i.ack_reason,
                service=service_name(i.uuid),
                procedure=procedure_name(i.uuid, call.opnum)
                if is_req and call.opnum is not None
                else None,
            )
            for i in call.ifaces
        ]
        tx.fields = {
            "filename": f.name,
            "fuid": f.fuid,
            "dcerpc": SmbDcerpc(
                request="REQUEST_LOST" if call.req_type is None else pdu.ptype_name(call.req_type),
                response="UNREPLIED" if call.resp_type is None else pdu.ptype_name(call.resp_type),
                call_id=call.call_id,
                opnum=call.opnum if is_req else None,
                req=SmbDcerpcStub(frag_cnt=call.req_frags, stub_data_size=call.req_stub)
                if is_req
                else None,
                res=SmbDcerpcStub(frag_cnt=call.resp_frags, stub_data_size=call.resp_stub)
                if call.resp_type == pdu.RESPONSE
                else None,
                interfaces=ifaces or None,
            ),
        }
        self.log(tx, TO_CLIENT, ts_us)

    # ------------------------------------------------------------------ end of flow
    def flush(self, ts_us: int) -> None:
        """Everything still open: unanswered transactions, open files, pipes' calls."""
        for tx in self.pending.values():
            self.log(tx, TO_CLIENT, ts_us)
        self.pending.clear()
        for f in self.files.values():
            self.close_file(f, None, ts_us)
        self.files.clear()
