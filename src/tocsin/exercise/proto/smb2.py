"""An SMB 3.1.1 client session over TCP 445, as `Turn`s (MS-SMB2, NetBIOS session framing).

`Smb2Session` is a fluent builder: each method appends one request and its response, with
consistent message ids (advanced by the credit charge), credits requested and granted,
session id, tree ids, file ids and NT status codes::

    s = Smb2Session(rng, client="PC-SOINS-12", server="FS01", user="jdupont", domain="CHU")
    s.negotiate()
    s.session_setup()                       # SPNEGO/NTLMSSP; ok=False: STATUS_LOGON_FAILURE
    t = s.tree_connect(r"\\\\FS01\\Soins")
    f = s.create(t, r"dossiers\\planning.xlsx", size=48_000)
    s.read(f, 48_000); s.write(f, 48_000); s.rename(f, r"dossiers\\planning.xlsx.lockbit")
    s.close(f); s.tree_disconnect(t); s.logoff()
    turns = s.turns()

Conventions: a Windows 10 client and a Windows Server 2019 server (`server` is its NetBIOS
name, `target` the name or address the client uses, the server's by default); dialect 3.1.1
with the preauth-integrity, encryption and netname contexts; messages after authentication
are flagged signed with random signatures (`signing=False`: an unsigned session); file data
is pseudo-random filler. A failed command is answered with the SMB2 ERROR response. Files
opened on a pipe tree (IPC$) are pipes: `write` / `read` / `transceive` carry the bytes
given (DCERPC, see `dcerpc`). Times in the messages follow `now` (Unix seconds), advanced by
`pause`. Deterministic for the `random.Random` given; no I/O. Not done: encryption, compound
requests, leases and oplocks. Message layouts: `smb2msg`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from tocsin.exercise.proto import kerberos, ntlm
from tocsin.exercise.proto import smb2msg as m
from tocsin.exercise.proto.smb2msg import (
    FILE_CREATE,
    FILE_OPEN,
    FILE_OPEN_IF,
    FILE_OVERWRITE,
    FILE_OVERWRITE_IF,
    FILE_SUPERSEDE,
    STATUS_ACCESS_DENIED,
    STATUS_BAD_NETWORK_NAME,
    STATUS_LOGON_FAILURE,
    STATUS_MORE_PROCESSING_REQUIRED,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_SUCCESS,
)
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

__all__ = [
    "FILE_CREATE",
    "FILE_OPEN",
    "FILE_OPEN_IF",
    "FILE_OVERWRITE",
    "FILE_OVERWRITE_IF",
    "FILE_SUPERSEDE",
    "STATUS_ACCESS_DENIED",
    "STATUS_BAD_NETWORK_NAME",
    "STATUS_LOGON_FAILURE",
    "STATUS_OBJECT_NAME_NOT_FOUND",
    "STATUS_SUCCESS",
    "Smb2File",
    "Smb2Session",
    "Smb2Tree",
]

_ZERO_SIG = bytes(16)
_CREDIT_TARGET = 256  # credits a server keeps granted to an authenticated client


@dataclass(frozen=True, slots=True)
class Smb2Tree:
    tree_id: int
    path: str
    is_pipe: bool


@dataclass(slots=True)
class Smb2File:
    fid: bytes
    tree: Smb2Tree
    name: str
    size: int = 0


def _is_ip(name: str) -> bool:
    return name.replace(".", "").isdigit() or ":" in name


class Smb2Session:
    """One TCP connection of an SMB2 client (see the module docstring)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        client: str,
        server: str,
        user: str,
        domain: str,
        target: str | None = None,
        dns_domain: str | None = None,
        now: float = 1_710_000_000.0,
        signing: bool = True,
        signing_required: bool = False,
    ) -> None:
        self.rng = rng
        self.client, self.server = client.upper(), server.upper()
        self.target = target or self.server
        self.user, self.domain = user, domain.upper()
        self.dns_domain = dns_domain or f"{domain.lower()}.local"
        self.now = now
        self.signing, self.signing_required = signing, signing_required
        self.session_id = 0
        self.authenticated = False
        self._turns: list[Turn] = []
        self._msg_id = 0
        self._credits = 1
        self._delay = 0.0
        self._next_tree = 1
        self._persistent = rng.randrange(0x20, 0x4000)
        self._volatile = rng.getrandbits(40) << 4

    # ------------------------------------------------------------------ plumbing
    def turns(self) -> list[Turn]:
        """The conversation so far, client first."""
        return list(self._turns)

    def pause(self, seconds: float) -> None:
        """Think time before the next request (and the clock of the messages moves on)."""
        self._delay += seconds
        self.now += seconds

    def _exchange(
        self,
        cmd: int,
        req: bytes,
        resp: bytes | None,
        *,
        status: int = STATUS_SUCCESS,
        tree_id: int = 0,
        charge: int = 1,
        new_session: int | None = None,
        new_tree: int | None = None,
    ) -> None:
        """Append one request and its response (`resp` None: the ERROR body). A response
        with `new_session` / `new_tree` carries the id the server allocated."""
        rng = self.rng
        msg_id, cost = self._msg_id, max(charge, 1)
        self._msg_id += cost
        self._credits -= cost
        ask = max(1, (_CREDIT_TARGET if self.authenticated else 1) - self._credits)
        self._credits += ask
        signed = self.signing and self.authenticated
        hdr = m.header(
            cmd, 0, m.FLAG_SIGNED if signed else 0, msg_id, tree_id, self.session_id,
            charge=charge, credits=ask, signature=rng.randbytes(16) if signed else _ZERO_SIG,
        )  # fmt: skip
        self._turns.append(Turn(CLIENT, m.frame(hdr, req), self._delay))
        self._delay = 0.0
        if new_session is not None:
            self.session_id = new_session
        if cmd == m.SESSION_SETUP and status == STATUS_SUCCESS:
            self.authenticated = True  # the final SESSION_SETUP response is signed
        signed = self.signing and self.authenticated
        hdr = m.header(
            cmd, status, m.FLAG_RESPONSE | (m.FLAG_SIGNED if signed else 0), msg_id,
            tree_id if new_tree is None else new_tree, self.session_id, charge=charge,
            credits=ask, signature=rng.randbytes(16) if signed else _ZERO_SIG,
        )  # fmt: skip
        body = m.ERROR_BODY if resp is None else resp
        self._turns.append(Turn(SERVER, m.frame(hdr, body), rng.uniform(0.00008, 0.0006)))

    # ------------------------------------------------------------------ connection
    def negotiate(self) -> None:
        """NEGOTIATE: dialects 2.0.2 to 3.1.1 offered, 3.1.1 chosen, with contexts."""
        req = m.negotiate_request(self.rng, self.target)
        resp = m.negotiate_response(self.rng, self.now, self.signing_required)
        self._exchange(m.NEGOTIATE, req, resp, charge=0)

    def _setup(self, blob: bytes, status: int, resp: bytes | None, new: int | None = None) -> None:
        body = None if resp is None else m.session_setup_response(resp)
        self._exchange(
            m.SESSION_SETUP, m.session_setup_request(blob), body, status=status, new_session=new
        )

    def _session_id(self) -> int:
        if self.authenticated:
            raise ValueError("smb2: the session is already authenticated")
        self.session_id = 0
        return (self.rng.randrange(1, 0x10000) << 32) | (self.rng.getrandbits(28) << 4) | 1

    def session_setup(
        self,
        ok: bool = True,
        *,
        user: str | None = None,
        domain: str | None = None,
        failure: int = STATUS_LOGON_FAILURE,
    ) -> bool:
        """SESSION_SETUP with SPNEGO/NTLMSSP (NEGOTIATE, CHALLENGE, AUTHENTICATE) as
        `domain\\user` (the session's by default). `ok=False`: the AUTHENTICATE is answered
        `failure` and the client may try again on the same connection. Returns `ok`."""
        rng = self.rng
        sid = self._session_id()
        chal = ntlm.challenge(
            rng, nb_domain=self.domain, nb_computer=self.server, dns_domain=self.dns_domain,
            now=self.now,
        )  # fmt: skip
        self._setup(
            ntlm.spnego_init((ntlm.OID_NTLMSSP,), ntlm.negotiate()),
            STATUS_MORE_PROCESSING_REQUIRED,
            ntlm.spnego_resp(ntlm.ACCEPT_INCOMPLETE, ntlm.OID_NTLMSSP, chal),
            sid,
        )
        auth = ntlm.authenticate(
            rng, domain=domain or self.domain, user=user or self.user, workstation=self.client,
            server_info=ntlm.challenge_target_info(chal), spn=f"cifs/{self.target}", now=self.now,
        )  # fmt: skip
        blob = ntlm.spnego_resp(token=auth, mic=ntlm.ntlm_mic(rng))
        if ok:
            self._setup(blob, STATUS_SUCCESS, ntlm.spnego_resp(0, mic=ntlm.ntlm_mic(rng)))
        else:
            self._setup(blob, failure, None)
            self.session_id = 0
        return ok

    def session_setup_kerberos(self, *, realm: str | None = None) -> None:
        """SESSION_SETUP with SPNEGO/Kerberos: an AP-REQ for `cifs/<server fqdn>` with a
        ticket of `realm` (the DNS domain by default), accepted with an AP-REP. (A client
        addressing the server by IP address cannot use Kerberos: use `session_setup`.)"""
        if _is_ip(self.target):
            raise ValueError("smb2: Kerberos needs the server's name, not its address")
        sid = self._session_id()
        realm = realm or self.dns_domain.upper()
        host = f"{self.server.lower()}.{self.dns_domain}"
        token = kerberos.gss_ap_req(self.rng, realm=realm, sname=("cifs", host))
        mechs = (ntlm.OID_MS_KRB5, ntlm.OID_KRB5, ntlm.OID_NEGOEX, ntlm.OID_NTLMSSP)
        rep = ntlm.spnego_resp(0, ntlm.OID_MS_KRB5, kerberos.gss_ap_rep(self.rng))
        self._setup(ntlm.spnego_init(mechs, token), STATUS_SUCCESS, rep, sid)

    def logoff(self) -> None:
        self._exchange(m.LOGOFF, m.EMPTY_BODY, m.EMPTY_BODY)
        self.authenticated = False
        self.session_id = 0

    # ------------------------------------------------------------------ trees
    def tree_connect(self, path: str, *, status: int = STATUS_SUCCESS) -> Smb2Tree | None:
        """TREE_CONNECT to `\\\\server\\share`; IPC$ is a pipe share. None when refused
        (`status`: STATUS_ACCESS_DENIED, STATUS_BAD_NETWORK_NAME...)."""
        req = m.tree_connect_request(path)
        if status != STATUS_SUCCESS:
            self._exchange(m.TREE_CONNECT, req, None, status=status)
            return None
        share = path.rstrip("\\").rsplit("\\", 1)[-1].upper()
        tree = Smb2Tree(self._next_tree, path, share == "IPC$")
        self._next_tree += 4
        resp = m.tree_connect_response(tree.is_pipe)
        self._exchange(m.TREE_CONNECT, req, resp, new_tree=tree.tree_id)
        return tree

    def tree_disconnect(self, tree: Smb2Tree) -> None:
        self._exchange(m.TREE_DISCONNECT, m.EMPTY_BODY, m.EMPTY_BODY, tree_id=tree.tree_id)

    # ------------------------------------------------------------------ files
    def create(
        self,
        tree: Smb2Tree,
        name: str,
        *,
        disposition: int = FILE_OPEN,
        access: int | None = None,
        size: int = 0,
        directory: bool = False,
        delete_on_close: bool = False,
        status: int = STATUS_SUCCESS,
    ) -> Smb2File | None:
        """CREATE `name` (relative to the share root; a pipe name on IPC$). `size` is the
        end of file of an existing file; a file created or overwritten starts empty. Access
        by default: read (FILE_OPEN of a file), read/write otherwise, plus DELETE with
        `delete_on_close`. None when answered with an error `status`."""
        rng = self.rng
        if access is None:
            access = m.RW_ACCESS if tree.is_pipe or disposition != FILE_OPEN else m.READ_ACCESS
            access |= m.DELETE_ACCESS if delete_on_close else 0
        opts = m.OPT_DIRECTORY if directory else m.OPT_NON_DIRECTORY
        opts |= m.OPT_DELETE_ON_CLOSE if delete_on_close else 0
        req = m.create_request(name, disposition, access, opts)
        if status != STATUS_SUCCESS:
            self._exchange(m.CREATE, req, None, status=status, tree_id=tree.tree_id)
            return None
        fid = self._persistent.to_bytes(8, "little") + self._volatile.to_bytes(8, "little")
        self._persistent += rng.randrange(1, 4)
        self._volatile += rng.randrange(4, 64)
        if disposition in (FILE_OPEN, FILE_OPEN_IF):
            action = 1  # FILE_OPENED
        else:
            action = 2 if disposition == FILE_CREATE or not size else 3  # CREATED / OVERWRITTEN
            size = 0
        if tree.is_pipe:
            times, attrs = (0, 0, 0, 0), 0x80
        else:
            now = ntlm.filetime(self.now)
            born = now - rng.randrange(0, 900 * 86400) * 10_000_000 if action == 1 else now
            mod = born + (now - born) * rng.randrange(0, 101) // 100
            times, attrs = (born, now, mod, mod), 0x10 if directory else 0x20
        resp = m.create_response(action, times, size, attrs, fid)
        self._exchange(m.CREATE, req, resp, tree_id=tree.tree_id)
        return Smb2File(fid, tree, name, size)

    def close(self, f: Smb2File) -> None:
        self._exchange(m.CLOSE, m.close_request(f.fid), m.CLOSE_RESPONSE, tree_id=f.tree.tree_id)

    def read(self, f: Smb2File, n: int, *, offset: int = 0, data: bytes | None = None) -> None:
        """READ `n` bytes from `offset` in chunks of at most 1 MiB (filler data), or, on a
        pipe, one READ of up to `n` bytes answered with `data`."""
        if data is not None:
            self._read_one(f, n, offset, data)
            return
        end = offset + n
        while offset < end:
            k = min(m.CHUNK, end - offset)
            self._read_one(f, k, offset, m.filler(self.rng, k))
            offset += k

    def _read_one(self, f: Smb2File, n: int, offset: int, data: bytes) -> None:
        req, resp = m.read_request(f.fid, n, offset), m.read_response(data)
        self._exchange(m.READ, req, resp, tree_id=f.tree.tree_id, charge=-(-n // 65536))

    def write(self, f: Smb2File, n: int = 0, *, offset: int = 0, data: bytes | None = None) -> None:
        """WRITE `n` bytes of filler at `offset` in chunks of at most 1 MiB, or `data` whole
        (pipe messages, ransom notes)."""
        if data is not None:
            self._write_one(f, offset, data)
            return
        end = offset + n
        while offset < end:
            k = min(m.CHUNK, end - offset)
            self._write_one(f, offset, m.filler(self.rng, k))
            offset += k

    def _write_one(self, f: Smb2File, offset: int, data: bytes) -> None:
        n = len(data)
        req, resp = m.write_request(f.fid, offset, data), m.write_response(n)
        self._exchange(m.WRITE, req, resp, tree_id=f.tree.tree_id, charge=max(1, -(-n // 65536)))
        if not f.tree.is_pipe:
            f.size = max(f.size, offset + n)

    def rename(self, f: Smb2File, new_name: str, *, status: int = STATUS_SUCCESS) -> None:
        """SET_INFO FileRenameInformation: `f` becomes `new_name` (path from the share
        root). The file must have been opened with DELETE access."""
        req = m.set_info_request(f.fid, 10, m.rename_info(new_name))
        resp = m.SET_INFO_RESPONSE if status == STATUS_SUCCESS else None
        self._exchange(m.SET_INFO, req, resp, status=status, tree_id=f.tree.tree_id)
        if status == STATUS_SUCCESS:
            f.name = new_name

    def list_dir(self, tree: Smb2Tree, path: str, entries: list[tuple[str, int]]) -> None:
        """A folder listed as Explorer lists it: CREATE of the directory `path` ("" for the
        share root), QUERY_DIRECTORY "*" answered with `.`, `..` and `entries` (name, size;
        a negative size: a sub-folder) in as many responses as the output buffer needs, one
        more answered STATUS_NO_MORE_FILES, CLOSE."""
        d = self.create(tree, path, directory=True)
        if d is None:
            return
        rng, now = self.rng, ntlm.filetime(self.now)
        rows = [(n, -1) for n in (".", "..")] + entries
        batch: list[tuple[str, tuple[int, int, int, int], int, int, int]] = []
        used, first = 0, True
        for i, (name, size) in enumerate(rows):
            born = now - rng.randrange(86400, 900 * 86400) * 10_000_000
            wrote = born + (now - born) * rng.randrange(0, 101) // 100
            times = (born, now - rng.randrange(0, 86400) * 10_000_000, wrote, wrote)
            attrs, size = (0x10, 0) if size < 0 else (0x20, size)
            batch.append((name, times, size, attrs, rng.getrandbits(44)))
            used += 112 + 2 * len(name)
            if used > m.DIR_OUT - 700 or i == len(rows) - 1:
                req = m.query_directory_request(d.fid, "*", restart=first)
                resp = m.query_directory_response(m.directory_info(batch))
                self._exchange(m.QUERY_DIRECTORY, req, resp, tree_id=tree.tree_id)
                batch, used, first = [], 0, False
        req = m.query_directory_request(d.fid, "*", restart=False)
        self._exchange(m.QUERY_DIRECTORY, req, None, status=m.STATUS_NO_MORE_FILES,
                       tree_id=tree.tree_id)  # fmt: skip
        self.close(d)

    def delete(self, f: Smb2File) -> None:
        """SET_INFO FileDispositionInformation (delete pending): removed at its CLOSE."""
        req = m.set_info_request(f.fid, 13, b"\x01")
        self._exchange(m.SET_INFO, req, m.SET_INFO_RESPONSE, tree_id=f.tree.tree_id)

    def transceive(self, f: Smb2File, data_in: bytes, data_out: bytes) -> None:
        """IOCTL FSCTL_PIPE_TRANSCEIVE on a pipe: write `data_in`, read back `data_out`
        (one DCERPC fragment each way; ValueError when `data_out` exceeds `MAX_PIPE_OUT`)."""
        if len(data_out) > m.MAX_PIPE_OUT:
            raise ValueError(f"smb2: {len(data_out)} bytes over the pipe's MaxOutputResponse")
        req, resp = m.ioctl_request(f.fid, data_in), m.ioctl_response(f.fid, data_out)
        self._exchange(m.IOCTL, req, resp, tree_id=f.tree.tree_id)
