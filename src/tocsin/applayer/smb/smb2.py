"""SMB2/3 messages (MS-SMB2 2.2): requests and responses of one NetBIOS message, compound
chains split, each command matched to its request by MessageId.

- Interim responses (STATUS_PENDING, async) leave the request pending; the final response
  (same MessageId) completes it.
- Related compound requests name the file of the chain's CREATE with the FileId
  0xFF..FF; it is resolved through the chain (`Tx.parent`) once the CREATE response is seen.
- READ response / WRITE request data on files is not kept (`keep` tells the framing how much
  of a message to keep; the rest is skipped); on pipes it feeds the pipe's DCERPC association,
  as does the input / output of FSCTL_PIPE_TRANSCEIVE.

Offsets inside a command's body are relative to the start of its 64-byte header. Reads past the
end of the kept bytes raise `struct.error` / `IndexError`, turned into `ParseError` by the
parser; data that was deliberately not kept is never read.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, ParseError
from tocsin.applayer.dcerpc.pdu import looks_like_dcerpc
from tocsin.applayer.smb import status as S
from tocsin.applayer.smb.auth import parse_blob
from tocsin.applayer.smb.state import LOGGED, QUIET, Carrier, OpenFile, SmbState, Tree, Tx
from tocsin.model.smb import SmbRename, SmbSetInfo

MAGIC = b"\xfeSMB"
HEADER_LEN = 64
NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, CREATE, CLOSE = range(7)
READ, WRITE, IOCTL, CANCEL, GET_INFO, SET_INFO = 8, 9, 11, 12, 16, 17
FLAG_RESPONSE, FLAG_ASYNC, FLAG_RELATED = 0x1, 0x2, 0x4
NO_FID = b"\xff" * 16
_HDR = struct.Struct("<4sHHIHHIIQIIQ")
_FT_EPOCH = 116_444_736_000_000_000  # FILETIME of 1970-01-01


class Hdr(NamedTuple):
    status: int
    cmd: int
    flags: int
    next_cmd: int
    msg_id: int
    tree_id: int | None  # None in async messages
    session_id: int


def parse_header(msg: bytes, off: int) -> Hdr:
    if len(msg) - off < HEADER_LEN or msg[off : off + 4] != MAGIC:
        raise ParseError("smb2: bad header")
    _, _, _, status, cmd, _, flags, nxt, msg_id, _, r2, sess = _HDR.unpack_from(msg, off)
    tree = None if flags & FLAG_ASYNC else r2
    return Hdr(status, cmd, flags, nxt, msg_id, tree, sess)


def fuid_text(fid: bytes) -> str:
    """A FileId in Suricata's `fuid` form (its GUID rendering of the 16 bytes)."""
    b = fid
    return (
        f"{b[3]:02x}{b[2]:02x}{b[1]:02x}{b[0]:02x}-{b[5]:02x}{b[4]:02x}-{b[7]:02x}{b[6]:02x}-"
        f"{b[9]:02x}{b[8]:02x}-{b[11]:02x}{b[10]:02x}{b[15]:02x}{b[14]:02x}{b[13]:02x}{b[12]:02x}"
    )


def unix_time(filetime: int) -> int:
    return (filetime - _FT_EPOCH) // 10_000_000 if filetime > _FT_EPOCH else 0


def _u16(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", b, off)[0])


def _u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", b, off)[0])


def _text(b: bytes, start: int, n: int) -> str:
    if start + n > len(b):
        raise ParseError("smb2: string past the message")
    return b[start : start + n].decode("utf-16-le", "replace")


class Smb2:
    def __init__(self, st: SmbState) -> None:
        self.st = st

    # ------------------------------------------------------------------ framing
    def keep(self, head: bytes, ln: int, cap: int) -> int:
        """How many bytes of an `ln`-byte message (of which `head` is the start) to keep:
        READ / WRITE data on files is left out, everything else up to `cap`. Requests and
        responses are told apart by their flags, not by the direction (midstream captures)."""
        whole = min(ln, cap)
        h = parse_header(head, 0)
        if h.next_cmd:
            return whole
        if h.cmd == READ and h.flags & FLAG_RESPONSE:
            if h.status not in (S.STATUS_SUCCESS, S.STATUS_BUFFER_OVERFLOW) or len(head) < 68:
                return whole
            data_off = head[66]
            tx = self.st.pending.get(h.msg_id)
            f = self._file(self._fid(tx)) if tx is not None else None
        elif h.cmd == WRITE and not h.flags & FLAG_RESPONSE:
            if len(head) < 96:
                return whole
            data_off = _u16(head, 66)
            f = self._file(head[80:96])
        else:
            return whole
        if data_off < 80 or data_off >= ln:
            return whole
        if f is not None and f.is_pipe:
            return whole
        if (f is None or f.is_pipe is None) and looks_like_dcerpc(head, data_off):
            return whole
        return min(data_off, whole)

    # ------------------------------------------------------------------ messages
    def message(self, msg: bytes, ln: int, ts_us: int) -> None:
        """One NetBIOS message of `ln` bytes holding SMB2 commands; `msg` is what was kept of
        it (all of it, or less when it exceeds the limit or carries file data)."""
        off, prev = 0, None
        while True:
            h = parse_header(msg, off)
            end = len(msg)
            if h.next_cmd:
                if h.next_cmd < HEADER_LEN or h.next_cmd % 8 or off + h.next_cmd > ln:
                    raise ParseError(f"smb2: NextCommand {h.next_cmd}")
                end = min(off + h.next_cmd, end)
            if h.flags & FLAG_RESPONSE:
                self.response(h, msg, off, end, ts_us)
            else:
                prev = self.request(h, msg, off, end, ts_us, prev)
            if not h.next_cmd or off + h.next_cmd >= len(msg):
                return  # end of the chain, or of what was kept of it
            off += h.next_cmd

    def request(self, h: Hdr, m: bytes, off: int, end: int, ts: int, prev: Tx | None) -> Tx | None:
        st, b, cmd = self.st, off + HEADER_LEN, h.cmd
        if cmd in (CANCEL, GET_INFO):
            return prev
        tx = Tx(0, cmd, False, h.session_id, h.tree_id or 0)
        if h.flags & FLAG_RELATED:
            tx.parent = prev
        f = tx.fields
        if cmd == NEGOTIATE:
            n = min(_u16(m, b + 2), st.limits.max_items)
            dialects = struct.unpack_from(f"<{n}H", m, b + 36)
            if n:
                f["client_dialects"] = [S.dialect_name(x) for x in dialects]
            f["client_guid"] = fuid_text(m[b + 12 : b + 28])
        elif cmd == SESSION_SETUP:
            so, sl = _u16(m, b + 12), _u16(m, b + 14)
            ntlm, krb = parse_blob(m[off + so : off + so + sl], st.limits.max_items)
            if ntlm:
                f["ntlmssp"] = ntlm
            if krb:
                f["kerberos"] = krb
        elif cmd == TREE_CONNECT:
            tx.name = _text(m, off + _u16(m, b + 4), _u16(m, b + 6))
        elif cmd == CREATE:
            disp, opts = _u32(m, b + 36), _u32(m, b + 40)
            name = _text(m, off + _u16(m, b + 44), _u16(m, b + 46)) or "<share_root>"
            tx.name = name
            f["directory" if opts & 0x1 else "filename"] = name
            f["disposition"] = S.disposition_name(disp)
            f["access"] = "delete on close" if opts & 0x1000 else "normal"
        elif cmd == CLOSE:
            tx.fid = m[b + 8 : b + 24]
        elif cmd == READ:
            tx.kind, tx.fid = QUIET, m[b + 16 : b + 32]
        elif cmd == WRITE:
            tx.kind, tx.fid = QUIET, m[b + 16 : b + 32]
            self._write(tx, m, off, _u16(m, b + 2), _u32(m, b + 4), end, ts)
        elif cmd == IOCTL:
            ctl, tx.fid = _u32(m, b + 4), m[b + 8 : b + 24]
            if ctl == S.FSCTL_PIPE_TRANSCEIVE and self._ioctl_pipe(tx, m, off, b, end, ts):
                tx.kind = QUIET
            else:
                f["function"] = S.fsctl_name(ctl)
        elif cmd == SET_INFO and not self._set_info(tx, m, off, b):
            return prev
        st.open_tx(h.msg_id, tx, ts)
        return tx

    def response(self, h: Hdr, m: bytes, off: int, end: int, ts: int) -> None:
        st, b = self.st, off + HEADER_LEN
        tx = st.pending.get(h.msg_id)
        if tx is None and h.cmd == NEGOTIATE:  # SMB2 answer to an SMB1 multi-protocol NEGOTIATE
            key = next((k for k in st.pending if isinstance(k, tuple) and k[2] == 0x72), None)
            tx = st.pending.get(key) if key is not None else None
            if tx is not None:
                del st.pending[key]
                st.pending[h.msg_id] = tx
        if tx is None or h.status == S.STATUS_PENDING:
            return  # unknown request (capture started later), or an interim response
        del st.pending[h.msg_id]
        tx.status = S.nt_status(h.status)
        if not tx.session_id:
            tx.session_id = h.session_id
        ok, cmd, f = h.status == S.STATUS_SUCCESS, h.cmd, tx.fields
        if cmd == NEGOTIATE and ok:
            st.dialect = _u16(m, b + 4)
            f["server_guid"] = fuid_text(m[b + 8 : b + 24])
            st.max_read_size, st.max_write_size = _u32(m, b + 32), _u32(m, b + 36)
            f["max_read_size"], f["max_write_size"] = st.max_read_size, st.max_write_size
        elif cmd == TREE_CONNECT:
            name = tx.name or ""
            if ok and h.tree_id is not None:
                tx.tree_id = h.tree_id
                share_type = m[b + 2]
                st.add_tree(tx.session_id, h.tree_id, Tree(name, share_type == 2))
                f["named_pipe" if share_type == 2 else "share"] = name
                f["share_type"] = S.SHARE_TYPES.get(share_type, "UNKNOWN")
            else:
                f["share"] = name
        elif cmd == CREATE and ok:
            self._created(tx, m, b, ts)
        elif cmd == CLOSE:
            fid = self._fid(tx)
            of = st.files.pop(fid, None) if fid is not None else None
            if of is not None:
                f["filename"], f["fuid"] = of.name, of.fuid
                st.close_file(of, ts // 1_000_000, ts)
        elif cmd == READ:
            self._read(tx, h, m, off, b, end, ts)
        elif cmd == WRITE:
            of = self._file(self._fid(tx))
            if of is not None and not of.is_pipe:
                st.file_status(of, True, tx.status)
        elif cmd == IOCTL and tx.kind == QUIET:
            if h.status in (S.STATUS_SUCCESS, S.STATUS_BUFFER_OVERFLOW):
                out_off, out_n = _u32(m, b + 32), _u32(m, b + 36)
                of = self._file(self._fid(tx))
                if of is not None:
                    self._pipe(of, TO_CLIENT, tx, h.status, m, off + out_off, out_n, end, ts)
        elif cmd == SET_INFO:
            self._name_set_info(tx)
        elif cmd == TREE_DISCONNECT:
            st.trees.pop((tx.session_id, tx.tree_id), None)
        if tx.kind == LOGGED:
            st.log(tx, TO_CLIENT, ts)

    # ------------------------------------------------------------------ commands
    def _created(self, tx: Tx, m: bytes, b: int, ts: int) -> None:
        st = self.st
        fid = m[b + 64 : b + 80]
        if len(fid) < 16:
            raise ParseError("smb2: CREATE response cut short")
        tx.fid = fid
        record_create(st, tx, fid, fuid_text(fid), m, b + 8, b + 48, ts)

    def _write(self, tx: Tx, m: bytes, off: int, data_off: int, n: int, end: int, ts: int) -> None:
        of = self._open_file(tx, m, off + data_off)
        if of is None:
            return
        if of.is_pipe:
            self._pipe(of, TO_SERVER, tx, None, m, off + data_off, n, end, ts)
        else:
            self.st.file_io(of, WRITE, False, True, n, None)

    def _read(self, tx: Tx, h: Hdr, m: bytes, off: int, b: int, end: int, ts: int) -> None:
        st = self.st
        if h.status not in (S.STATUS_SUCCESS, S.STATUS_BUFFER_OVERFLOW):
            of = self._file(self._fid(tx))
            if of is not None and not of.is_pipe:
                st.file_status(of, False, tx.status)
            return
        data_off, n = m[b + 2], _u32(m, b + 4)
        of = self._open_file(tx, m, off + data_off)
        if of is None:
            return
        if of.is_pipe:
            self._pipe(of, TO_CLIENT, tx, h.status, m, off + data_off, n, end, ts)
        else:
            st.file_io(of, READ, False, False, n, tx.status)

    def _ioctl_pipe(self, tx: Tx, m: bytes, off: int, b: int, end: int, ts: int) -> bool:
        in_off, in_n = _u32(m, b + 24), _u32(m, b + 28)
        of = self._open_file(tx, m, off + in_off)
        if of is None or not of.is_pipe:
            return False
        if (of.dce is None or of.dce.idle(TO_SERVER)) and not looks_like_dcerpc(m, off + in_off):
            return False  # a pipe that does not carry DCERPC: logged as a plain IOCTL
        self._pipe(of, TO_SERVER, tx, None, m, off + in_off, in_n, end, ts)
        return True

    def _set_info(self, tx: Tx, m: bytes, off: int, b: int) -> bool:
        """RENAME and delete-on-close SET_INFO requests become transactions; others do not.
        The file is named again when the response comes (a related compound request names
        the chain's CREATE, whose FileId is only known then)."""
        info_type, cls, buf = m[b + 2], m[b + 3], off + _u16(m, b + 8)
        tx.fid = m[b + 16 : b + 32]
        if info_type != 1 or cls not in (10, 13, 64):
            return False
        tx.info = cls
        if cls == 10:  # FileRenameInformation
            tx.name = _text(m, buf + 20, _u32(m, buf + 16))
            tx.fields["set_info"] = SmbSetInfo(
                class_="FILE_INFO", info_level="SMB2_FILE_RENAME_INFO"
            )
        else:  # FileDispositionInformation(Ex)
            tx.fields["access"] = "delete on close" if m[buf] & 1 else "normal"
        self._name_set_info(tx)
        return True

    def _name_set_info(self, tx: Tx) -> None:
        of = self._file(self._fid(tx))
        if of is not None:
            old, tx.fields["fuid"] = of.name, of.fuid
        else:  # the CREATE of the same compound chain, if any, names the file
            p = tx.parent
            while p is not None and p.cmd != CREATE:
                p = p.parent
            old = p.name if p is not None and p.name else "<unknown>"
        if tx.info == 10:
            tx.fields["rename"] = SmbRename(from_=old, to=tx.name or "")
        else:
            tx.fields["filename"] = old
            if of is not None and tx.fields["access"] == "delete on close":
                of.delete_on_close = True

    def _pipe(
        self,
        of: OpenFile,
        d: int,
        tx: Tx,
        status: int | None,
        m: bytes,
        start: int,
        n: int,
        end: int,
        ts: int,
    ) -> None:
        data = m[start : min(start + n, end)]
        st = S.nt_status(status) if status is not None else None
        meta = Carrier(tx.cmd, False, tx.session_id, tx.tree_id, st)
        self.st.pipe_data(of, d, data, n - len(data), meta, ts)

    # ------------------------------------------------------------------ files
    def _fid(self, tx: Tx | None) -> bytes | None:
        """The FileId a request names, resolved through its compound chain if related."""
        while tx is not None and (tx.fid is None or tx.fid == NO_FID):
            tx = tx.parent
        return tx.fid if tx is not None else None

    def _file(self, fid: bytes | None) -> OpenFile | None:
        return self.st.files.get(fid) if fid is not None else None

    def _open_file(self, tx: Tx, m: bytes, data_at: int) -> OpenFile | None:
        """The file `tx` names; one opened before the capture started is registered on first
        use (a pipe if its tree is, or if the data looks like DCERPC)."""
        fid = self._fid(tx)
        if fid is None or len(fid) < 16:
            return None
        of = self.st.files.get(fid)
        if of is None:
            tree = self.st.tree(tx.session_id, tx.tree_id)
            of = OpenFile(
                fuid=fuid_text(fid),
                name="<unknown>",
                session_id=tx.session_id,
                tree_id=tx.tree_id,
                share=tree.name if tree else None,
                is_pipe=tree.is_pipe if tree else None,
            )
            self.st.add_file(fid, of, 0)
        if of.is_pipe is None:
            of.is_pipe = looks_like_dcerpc(m, data_at)
        return of


def record_create(
    st: SmbState, tx: Tx, key: bytes, fuid: str, m: bytes, times_at: int, size_at: int, ts: int
) -> None:
    """A CREATE that succeeded (SMB2, or SMB1 NT_CREATE_ANDX): its times, size and file id on
    the transaction, and the file among the open ones (for reads, writes and closes)."""
    f = tx.fields
    times = struct.unpack_from("<QQQQ", m, times_at)
    for k, t in zip(("created", "accessed", "modified", "changed"), times, strict=True):
        f[k] = unix_time(t)
    f["size"] = int(struct.unpack_from("<Q", m, size_at)[0])
    f["fuid"] = fuid
    tree = st.tree(tx.session_id, tx.tree_id)
    of = OpenFile(
        fuid=fuid,
        name=tx.name or "<share_root>",
        session_id=tx.session_id,
        tree_id=tx.tree_id,
        share=tree.name if tree else None,
        is_pipe=tree.is_pipe if tree else None,
        size=f["size"],
        opened=ts // 1_000_000,
        delete_on_close=f.get("access") == "delete on close",
    )
    st.add_file(key, of, ts)
