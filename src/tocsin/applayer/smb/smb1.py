"""SMB1 / CIFS messages (MS-CIFS 2.2, MS-SMB 2.2): recognised and logged, one `smb` event per
command (AndX chains followed), with the dialect ("NT LM 0.12"), status (NT status, or DOS
error class / code), the negotiated dialects and server GUID, SESSION_SETUP_ANDX native OS /
LAN manager and NTLMSSP, TREE_CONNECT_ANDX share and services, NT_CREATE_ANDX file details.
READ_ANDX / WRITE_ANDX are counted per file like SMB2 (data on files is skipped), and named-pipe
DCERPC is read from WRITE_ANDX / READ_ANDX and TRANS (TransactNmPipe).

An AndX chain whose offset does not move forward, or longer than `MAX_ANDX`, raises
`ParseError` (Zeek: smb_andx_offset_not_advancing / smb_andx_depth_exceeded).

Not interpreted: TRANS2 / NT_TRANS sub-commands (TRANS2 is not logged, as in Suricata), the
pre-NT LM dialects' share-level authentication, SMB1 signing.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, ParseError
from tocsin.applayer.dcerpc.pdu import looks_like_dcerpc
from tocsin.applayer.smb import status as S
from tocsin.applayer.smb.auth import parse_blob
from tocsin.applayer.smb.smb2 import fuid_text, record_create
from tocsin.applayer.smb.state import LOGGED, QUIET, Carrier, OpenFile, SmbState, Tree, Tx
from tocsin.model.smb import SmbHost, SmbService

MAGIC = b"\xffSMB"
HEADER_LEN = 32
CLOSE, TRANS, READ_ANDX, WRITE_ANDX, TRANS2, TRANS2_SECONDARY = 0x04, 0x25, 0x2E, 0x2F, 0x32, 0x33
NEGOTIATE, SESSION_SETUP, TREE_CONNECT, NT_CREATE, NT_CANCEL = 0x72, 0x73, 0x75, 0xA2, 0xA4
_ANDX = frozenset((0x24, 0x2D, READ_ANDX, WRITE_ANDX, SESSION_SETUP, 0x74, TREE_CONNECT, NT_CREATE))
_SKIP = frozenset((TRANS2, TRANS2_SECONDARY, NT_CANCEL, 0x26))  # no transaction
_HDR = struct.Struct("<4sBIBHH8sHHHHH")
MAX_ANDX = 8  # commands in one AndX chain; more (or an offset going back) is malformed


class Hdr(NamedTuple):
    cmd: int
    status: tuple[str, str]
    response: bool
    unicode: bool
    tid: int
    uid: int
    key: tuple[int, int]  # (pid, mid)


def parse_header(m: bytes) -> Hdr:
    if len(m) < HEADER_LEN + 3 or m[:4] != MAGIC:
        raise ParseError("smb1: bad header")
    _, cmd, status, flags, flags2, pid_hi, _, _, tid, pid, uid, mid = _HDR.unpack_from(m)
    # SMB_FLAGS2_NT_STATUS: an NT status, else a DOS error (class, reserved, code)
    st = S.nt_status(status) if flags2 & 0x4000 else S.dos_status(status & 0xFF, status >> 16)
    return Hdr(
        cmd, st, bool(flags & 0x80), bool(flags2 & 0x8000), tid, uid, (pid_hi << 16 | pid, mid)
    )


def _u16(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<H", b, off)[0])


def _u32(b: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", b, off)[0])


def string(m: bytes, pos: int, end: int, unicode: bool) -> tuple[str, int]:
    """The NUL-terminated string at `pos` (UTF-16 strings are 2-aligned from the header start)
    and the offset after it; an unterminated string runs to `end`."""
    if not unicode:
        z = m.find(b"\x00", pos, end)
        z = end if z < 0 else z
        return m[pos:z].decode("latin-1"), z + 1
    pos += pos & 1
    z = pos
    while True:
        z = m.find(b"\x00\x00", z, end)
        if z < 0 or not (z - pos) & 1:
            break
        z += 1
    z = end - ((end - pos) & 1) if z < 0 else z
    return m[pos:z].decode("utf-16-le", "replace"), z + 2


def fid_key(fid: int, uid: int) -> bytes:
    return fid.to_bytes(2, "little") + uid.to_bytes(2, "little")


class Smb1:
    def __init__(self, st: SmbState) -> None:
        self.st = st

    def keep(self, head: bytes, ln: int, cap: int) -> int:
        """Bytes of the message to keep: READ_ANDX / WRITE_ANDX data on files is left out."""
        whole = min(ln, cap)
        h = parse_header(head)
        if len(head) < 60 or head[33] != 0xFF:
            return whole
        if h.cmd == READ_ANDX and h.response:
            data_off = _u16(head, 45)
            tx = self.st.pending.get((*h.key, READ_ANDX))
            of = self.st.files.get(tx.fid) if tx is not None and tx.fid else None
        elif h.cmd == WRITE_ANDX and not h.response:
            data_off = _u16(head, 55)
            of = self.st.files.get(fid_key(_u16(head, 37), h.uid))
        else:
            return whole
        if data_off < HEADER_LEN or data_off >= ln or (of is not None and of.is_pipe):
            return whole
        if (of is None or of.is_pipe is None) and looks_like_dcerpc(head, data_off):
            return whole
        return min(data_off, whole)

    def message(self, m: bytes, ts: int) -> None:
        h = parse_header(m)
        cmd, off, seen = h.cmd, HEADER_LEN, 0
        while True:
            wc = m[off]
            words = off + 1
            bc = _u16(m, words + 2 * wc)
            data = words + 2 * wc + 2
            end = min(data + bc, len(m))
            if h.response:
                self.response(h, cmd, m, wc, words, data, end, ts)
            else:
                self.request(h, cmd, m, wc, words, data, end, ts)
            if cmd not in _ANDX or wc < 2 or m[words] == 0xFF:
                return
            nxt = _u16(m, words + 2)
            seen += 1
            if nxt <= off or seen >= MAX_ANDX:
                raise ParseError(f"smb1: AndX chain {'too deep' if nxt > off else 'loops'}")
            if nxt + 3 > len(m):
                return  # the rest of the chain was not kept
            cmd, off = m[words], nxt

    def request(
        self, h: Hdr, cmd: int, m: bytes, wc: int, w: int, b: int, end: int, ts: int
    ) -> None:
        if cmd in _SKIP:
            return
        tx = Tx(0, cmd, True, h.uid, h.tid)
        f = tx.fields
        if cmd == NEGOTIATE:
            names = [x.rstrip(b"\x00").decode("latin-1") for x in m[b:end].split(b"\x02")[1:]]
            if names:
                f["client_dialects"] = names[: self.st.limits.max_items]
        elif cmd == SESSION_SETUP and wc in (12, 13):
            pos = b
            if wc == 12:
                blob_len = _u16(m, w + 14)
                ntlm, krb = parse_blob(m[b : b + blob_len], self.st.limits.max_items)
                if ntlm:
                    f["ntlmssp"] = ntlm
                if krb:
                    f["kerberos"] = krb
                pos = b + blob_len
            else:
                pos = b + _u16(m, w + 14) + _u16(m, w + 16)
                for _ in range(2):  # account name, primary domain
                    _, pos = string(m, pos, end, h.unicode)
            f["request"] = self._host(m, pos, end, h.unicode)
        elif cmd == TREE_CONNECT and wc == 4:
            tx.name, pos = string(m, b + _u16(m, w + 6), end, h.unicode)
            f["service"] = SmbService(request=string(m, pos, end, False)[0])
        elif cmd == NT_CREATE and wc == 24:
            name = string(m, b, end, h.unicode)[0] or "<share_root>"
            tx.name = name
            opts = _u32(m, w + 39)
            f["directory" if opts & 0x1 else "filename"] = name
            f["disposition"] = S.disposition_name(_u32(m, w + 35))
            f["access"] = "delete on close" if opts & 0x1000 else "normal"
        elif cmd == CLOSE and wc >= 1:
            tx.fid = fid_key(_u16(m, w), h.uid)
        elif cmd == READ_ANDX and wc >= 10:
            tx.kind, tx.fid = QUIET, fid_key(_u16(m, w + 4), h.uid)
        elif cmd == WRITE_ANDX and wc >= 12:
            tx.kind, tx.fid = QUIET, fid_key(_u16(m, w + 4), h.uid)
            n = _u16(m, w + 18) << 16 | _u16(m, w + 20)
            of = self._open_file(tx, m, _u16(m, w + 22))
            if of is not None and of.is_pipe:
                self._pipe(of, TO_SERVER, tx, h, m, _u16(m, w + 22), n, ts)
            elif of is not None:
                self.st.file_io(of, WRITE_ANDX, True, True, n, None)
        elif cmd == TRANS and wc >= 16 and m[w + 26] >= 2 and _u16(m, w + 28) == 0x26:
            tx.kind, tx.fid = QUIET, fid_key(_u16(m, w + 30), h.uid)
            of = self._open_file(tx, m, _u16(m, w + 24))
            if of is not None and of.is_pipe:
                self._pipe(of, TO_SERVER, tx, h, m, _u16(m, w + 24), _u16(m, w + 22), ts)
        elif cmd == TRANS:
            return
        self.st.open_tx((*h.key, cmd), tx, ts)

    def response(
        self, h: Hdr, cmd: int, m: bytes, wc: int, w: int, b: int, end: int, ts: int
    ) -> None:
        st = self.st
        tx = st.pending.pop((*h.key, cmd), None)
        if tx is None:
            return
        tx.status = h.status
        ok = h.status[0] == "STATUS_SUCCESS"
        f = tx.fields
        if h.uid and not tx.session_id:
            tx.session_id = h.uid
        if cmd == NEGOTIATE and wc >= 1:
            idx, offered = _u16(m, w), f.get("client_dialects", [])
            if idx < len(offered):
                st.smb1_dialect = offered[idx]
            if wc == 17 and _u32(m, w + 19) & 0x80000000 and end - b >= 16:
                f["server_guid"] = fuid_text(m[b : b + 16])
        elif cmd == SESSION_SETUP and wc in (3, 4):
            pos = b + (_u16(m, w + 6) if wc == 4 else 0)
            f["response"] = self._host(m, pos, end, h.unicode)
        elif cmd == TREE_CONNECT:
            name = tx.name or ""
            service = string(m, b, end, False)[0] if ok and wc >= 3 else None
            is_pipe = service == "IPC"
            if ok:
                tx.tree_id = h.tid
                st.add_tree(tx.session_id, h.tid, Tree(name, is_pipe))
            f["named_pipe" if is_pipe else "share"] = name
            req = f.get("service")
            f["service"] = SmbService(request=req.request if req else None, response=service)
        elif cmd == NT_CREATE and ok and wc >= 34:
            self._created(tx, h, m, w, ts)
        elif cmd == CLOSE and tx.fid is not None:
            of = st.files.pop(tx.fid, None)
            if of is not None:
                f["filename"], f["fuid"] = of.name, of.fuid
                st.close_file(of, ts // 1_000_000, ts)
        elif cmd == READ_ANDX and tx.fid is not None and wc >= 12:
            n, data_off = _u16(m, w + 14) << 16 | _u16(m, w + 10), _u16(m, w + 12)
            of = self._open_file(tx, m, data_off)
            if of is not None and of.is_pipe:
                self._pipe(of, TO_CLIENT, tx, h, m, data_off, n, ts)
            elif of is not None:
                st.file_io(of, READ_ANDX, True, False, n, h.status)
        elif cmd == WRITE_ANDX and tx.fid is not None:
            of = st.files.get(tx.fid)
            if of is not None and not of.is_pipe:
                st.file_status(of, True, h.status)
        elif cmd == TRANS and tx.fid is not None and wc >= 10:
            of = st.files.get(tx.fid)
            if of is not None and of.is_pipe:
                self._pipe(of, TO_CLIENT, tx, h, m, _u16(m, w + 14), _u16(m, w + 12), ts)
        if tx.kind == LOGGED:
            st.log(tx, TO_CLIENT, ts)

    def _created(self, tx: Tx, h: Hdr, m: bytes, w: int, ts: int) -> None:
        fid = _u16(m, w + 5)
        record_create(self.st, tx, fid_key(fid, tx.session_id), f"{fid:04x}", m, w + 11, w + 55, ts)

    def _open_file(self, tx: Tx, m: bytes, data_off: int) -> OpenFile | None:
        if tx.fid is None:
            return None
        of = self.st.files.get(tx.fid)
        if of is None:
            tree = self.st.tree(tx.session_id, tx.tree_id)
            of = OpenFile(
                fuid=f"{_u16(tx.fid, 0):04x}",
                name="<unknown>",
                session_id=tx.session_id,
                tree_id=tx.tree_id,
                share=tree.name if tree else None,
                is_pipe=tree.is_pipe if tree else None,
            )
            self.st.add_file(tx.fid, of, 0)
        if of.is_pipe is None:
            of.is_pipe = looks_like_dcerpc(m, data_off)
        return of

    def _pipe(
        self, of: OpenFile, d: int, tx: Tx, h: Hdr, m: bytes, start: int, n: int, ts: int
    ) -> None:
        data = m[start : start + n]
        status = h.status if d == TO_CLIENT else None
        meta = Carrier(tx.cmd, True, tx.session_id, tx.tree_id, status)
        self.st.pipe_data(of, d, data, n - len(data), meta, ts)

    @staticmethod
    def _host(m: bytes, pos: int, end: int, unicode: bool) -> SmbHost:
        native_os, pos = string(m, pos, end, unicode)
        native_lm, _ = string(m, pos, end, unicode) if pos < end else ("", pos)
        return SmbHost(native_os=native_os, native_lm=native_lm)
