"""DCERPC (connection-oriented, C706 / MS-RPCE) over SMB2 named pipes, and the NDR stubs of
the calls a Windows domain makes: svcctl (MS-SCMR), ITaskSchedulerService (MS-TSCH) and
srvsvc (MS-SRVS).

- PDUs: `bind` (the interface with NDR32 and the bind-time feature negotiation, as Windows
  binds), `bind_ack`, `request` / `response` (fragmented at `MAX_FRAG`), `fault`.
- `Ndr`: a little-endian NDR20 writer (alignment, unique pointers with Windows' referent
  ids, conformant varying UTF-16 strings, context handles).
- Stubs: functions returning `(request stub, response stub)` of one operation.
- `RpcPipe`: one association on an `Smb2Session` pipe: CREATE of the pipe, BIND by WRITE and
  BIND_ACK by READ, then each call by IOCTL FSCTL_PIPE_TRANSCEIVE as Windows does (leading
  fragments of a long request by WRITE, trailing fragments of a long response by READ), or
  by WRITE then READ as Impacket does (`transceive=False`); CLOSE.
- `psexec_service` / `remove_service`, `remote_task`, `share_enum`: the call sequences of
  PsExec's service control, of a remote scheduled task (Impacket atexec) and of a share
  listing.

Unauthenticated binds over SMB (the pipe inherits the SMB session), as PsExec does for
svcctl. Deterministic for the `random.Random` given; no I/O.
"""

from __future__ import annotations

import random
import struct
import uuid
from dataclasses import dataclass

from tocsin.exercise.proto.smb2 import Smb2File, Smb2Session, Smb2Tree

BIND, BIND_ACK, REQUEST, RESPONSE, FAULT = 11, 12, 0, 2, 3
FIRST, LAST = 0x01, 0x02
MAX_FRAG = 4280  # max_xmit_frag / max_recv_frag Windows offers on a pipe
_STUB_MAX = MAX_FRAG - 24  # stub bytes per fragment (a multiple of 8)
_NDR32 = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860").bytes_le
_BTFN = uuid.UUID("6cb71c2c-9812-4540-0300-000000000000").bytes_le  # bind time features
NCA_S_ACCESS_DENIED = 0x00000005
ERROR_SERVICE_EXISTS = 1073


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    uuid: str
    version: tuple[int, int]
    pipe: str  # the pipe opened on IPC$
    endpoint: str  # the secondary address the server names in its BIND_ACK


SVCCTL = Interface("svcctl", "367abb81-9844-35f1-ad32-98f038001003", (2, 0), "svcctl",
                   "\\PIPE\\ntsvcs")  # fmt: skip
TSCH = Interface("ITaskSchedulerService", "86d35949-83c9-4044-b424-db363231fd0c", (1, 0),
                 "atsvc", "\\PIPE\\atsvc")  # fmt: skip
SRVSVC = Interface("srvsvc", "4b324fc8-1670-01d3-1278-5a47bf6ee188", (3, 0), "srvsvc",
                   "\\PIPE\\srvsvc")  # fmt: skip


# ---------------------------------------------------------------------------------- PDUs
def _pdu(ptype: int, flags: int, call_id: int, body: bytes) -> bytes:
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, flags, b"\x10\x00\x00\x00",
                       16 + len(body), 0, call_id) + body  # fmt: skip


def _ctx_item(ctx_id: int, iface: Interface, syntax: bytes, version: int) -> bytes:
    major, minor = iface.version
    abstract = uuid.UUID(iface.uuid).bytes_le + struct.pack("<HH", major, minor)
    return struct.pack("<HBx", ctx_id, 1) + abstract + syntax + struct.pack("<I", version)


def bind(iface: Interface, call_id: int) -> bytes:
    """BIND offering `iface` in NDR32 (context 0) and the bind-time feature negotiation
    (context 1: security context multiplexing, keep connection on orphan)."""
    body = struct.pack("<HHIB3x", MAX_FRAG, MAX_FRAG, 0, 2)
    body += _ctx_item(0, iface, _NDR32, 2) + _ctx_item(1, iface, _BTFN, 1)
    return _pdu(BIND, FIRST | LAST, call_id, body)


def bind_ack(iface: Interface, call_id: int, assoc_group: int) -> bytes:
    """BIND_ACK: NDR32 accepted, bind-time features acknowledged (0x0003)."""
    sec = iface.endpoint.encode("ascii") + b"\x00"
    body = struct.pack("<HHIH", MAX_FRAG, MAX_FRAG, assoc_group, len(sec)) + sec
    body += bytes(-(16 + len(body)) % 4)
    body += struct.pack("<B3x", 2)
    body += struct.pack("<HH", 0, 0) + _NDR32 + struct.pack("<I", 2)
    body += struct.pack("<HH", 3, 3) + bytes(20)
    return _pdu(BIND_ACK, FIRST | LAST, call_id, body)


def request(call_id: int, opnum: int, stub: bytes, ctx_id: int = 0) -> list[bytes]:
    """The REQUEST fragments of one call (alloc_hint: the stub bytes still to come)."""
    out, pos = [], 0
    while True:
        part = stub[pos : pos + _STUB_MAX]
        flags = (FIRST if pos == 0 else 0) | (LAST if pos + _STUB_MAX >= len(stub) else 0)
        body = struct.pack("<IHH", len(stub) - pos, ctx_id, opnum) + part
        out.append(_pdu(REQUEST, flags, call_id, body))
        pos += _STUB_MAX
        if pos >= len(stub):
            return out


def response(call_id: int, stub: bytes, ctx_id: int = 0) -> list[bytes]:
    """The RESPONSE fragments of one call."""
    out, pos = [], 0
    while True:
        part = stub[pos : pos + _STUB_MAX]
        flags = (FIRST if pos == 0 else 0) | (LAST if pos + _STUB_MAX >= len(stub) else 0)
        body = struct.pack("<IHBx", len(stub) - pos, ctx_id, 0) + part
        out.append(_pdu(RESPONSE, flags, call_id, body))
        pos += _STUB_MAX
        if pos >= len(stub):
            return out


def fault(call_id: int, status: int, ctx_id: int = 0) -> bytes:
    return _pdu(FAULT, FIRST | LAST, call_id, struct.pack("<IHBxI4x", 0, ctx_id, 0, status))


# ---------------------------------------------------------------------------------- NDR
class Ndr:
    """Little-endian NDR20 marshalling into a buffer; `data()` returns the stub."""

    __slots__ = ("_b", "_ref")

    def __init__(self) -> None:
        self._b = bytearray()
        self._ref = 0x00020000

    def data(self) -> bytes:
        return bytes(self._b)

    def u32(self, v: int) -> Ndr:
        self._b += bytes(-len(self._b) % 4) + struct.pack("<I", v)
        return self

    def ptr(self) -> Ndr:
        """A non-null unique pointer: its referent id (the pointee follows)."""
        self.u32(self._ref)
        self._ref += 4
        return self

    def null(self) -> Ndr:
        return self.u32(0)

    def wstr(self, s: str) -> Ndr:
        """A conformant varying `[string] wchar_t*` (NUL included)."""
        n = len(s) + 1
        self.u32(n).u32(0).u32(n)
        self._b += (s + "\x00").encode("utf-16-le")
        return self

    def opt_wstr(self, s: str | None) -> Ndr:
        """A `[unique, string] wchar_t*`: null, or a referent and the string."""
        return self.null() if s is None else self.ptr().wstr(s)

    def raw(self, b: bytes, align: int = 4) -> Ndr:
        self._b += bytes(-len(self._b) % align) + b
        return self


def handle(rng: random.Random) -> bytes:
    """A context handle as a server makes it (attributes 0, a random GUID)."""
    return bytes(4) + rng.randbytes(16)


# ------------------------------------------------------------------------------ svcctl
def open_sc_manager(machine: str, h: bytes) -> tuple[bytes, bytes]:
    """OpenSCManagerW(\\\\machine, ServicesActive, SC_MANAGER_ALL_ACCESS) -> `h`."""
    req = Ndr().ptr().wstr(machine).ptr().wstr("ServicesActive").u32(0x000F003F).data()
    return req, Ndr().raw(h).u32(0).data()


def create_service(
    scm: bytes, name: str, display: str, binary_path: str, h: bytes, *, error: int = 0
) -> tuple[bytes, bytes]:
    """CreateServiceW: an own-process service started on demand, running as LocalSystem,
    answered with the handle `h`, or with the Win32 `error` (ERROR_SERVICE_EXISTS...)."""
    req = (
        Ndr()
        .raw(scm)
        .wstr(name)
        .opt_wstr(display)
        .u32(0x000F01FF)  # SERVICE_ALL_ACCESS
        .u32(0x10)  # SERVICE_WIN32_OWN_PROCESS
        .u32(3)  # SERVICE_DEMAND_START
        .u32(1)  # SERVICE_ERROR_NORMAL
        .wstr(binary_path)
        .null()  # load order group
        .null()  # tag id
        .null()  # dependencies
        .u32(0)
        .null()  # service start name: LocalSystem
        .null()  # password
        .u32(0)
        .data()
    )
    return req, Ndr().null().raw(bytes(20) if error else h).u32(error).data()


def open_service(scm: bytes, name: str, h: bytes) -> tuple[bytes, bytes]:
    req = Ndr().raw(scm).wstr(name).u32(0x000F01FF).data()
    return req, Ndr().raw(h).u32(0).data()


def start_service(h: bytes) -> tuple[bytes, bytes]:
    return Ndr().raw(h).u32(0).null().data(), Ndr().u32(0).data()


def _status(state: int) -> Ndr:
    """SERVICE_STATUS of an own-process service in `state` (1 stopped, 2 start pending,
    3 stop pending, 4 running)."""
    n = Ndr().u32(0x10).u32(state).u32(1 if state == 4 else 0)
    return n.u32(0).u32(0).u32(0).u32(0)


def control_service(h: bytes, control: int = 1) -> tuple[bytes, bytes]:
    """ControlService (1: SERVICE_CONTROL_STOP), answered stop pending."""
    return Ndr().raw(h).u32(control).data(), _status(3).u32(0).data()


def delete_service(h: bytes) -> tuple[bytes, bytes]:
    return Ndr().raw(h).data(), Ndr().u32(0).data()


def close_service_handle(h: bytes) -> tuple[bytes, bytes]:
    return Ndr().raw(h).data(), Ndr().raw(bytes(20)).u32(0).data()


# -------------------------------------------------------------------------------- tsch
def register_task(path: str, xml: str) -> tuple[bytes, bytes]:
    """SchRpcRegisterTask(path, xml, TASK_CREATE, no SDDL, TASK_LOGON_NONE, no credentials)."""
    req = Ndr().ptr().wstr(path).wstr(xml).u32(2).null().u32(0).u32(0).null().data()
    return req, Ndr().ptr().wstr(path).null().u32(0).data()


def run_task(path: str, rng: random.Random) -> tuple[bytes, bytes]:
    """SchRpcRun(path) with no arguments -> the instance GUID."""
    req = Ndr().wstr(path).u32(0).null().u32(0).u32(0).null().data()
    return req, Ndr().raw(rng.randbytes(16)).u32(0).data()


def delete_task(path: str) -> tuple[bytes, bytes]:
    return Ndr().wstr(path).u32(0).data(), Ndr().u32(0).data()


def task_xml(command: str, arguments: str, author: str) -> str:
    """A Task Scheduler 1.2 definition running `command arguments` once as SYSTEM."""
    return (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n'
        f"  <RegistrationInfo><Author>{author}</Author></RegistrationInfo>\n"
        "  <Triggers><CalendarTrigger><StartBoundary>2015-07-15T20:35:13</StartBoundary>"
        "<Enabled>true</Enabled><ScheduleByDay><DaysInterval>1</DaysInterval></ScheduleByDay>"
        "</CalendarTrigger></Triggers>\n"
        '  <Principals><Principal id="LocalSystem"><UserId>S-1-5-18</UserId>'
        "<RunLevel>HighestAvailable</RunLevel></Principal></Principals>\n"
        "  <Settings><MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>"
        "<DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>"
        "<Enabled>true</Enabled><Hidden>true</Hidden>"
        "<ExecutionTimeLimit>P3D</ExecutionTimeLimit><Priority>7</Priority></Settings>\n"
        '  <Actions Context="LocalSystem"><Exec>'
        f"<Command>{command}</Command><Arguments>{arguments}</Arguments></Exec></Actions>\n"
        "</Task>\n"
    )


# ------------------------------------------------------------------------------ srvsvc
SHARE_DISK, SHARE_IPC, SHARE_SPECIAL = 0x00000000, 0x80000003, 0x80000000


def share_enum_all(server: str, shares: list[tuple[str, int, str]]) -> tuple[bytes, bytes]:
    """NetShareEnumAll(\\\\server, level 1) answered with `shares` (name, type, remark)."""
    req = Ndr().ptr().wstr(f"\\\\{server}").u32(1).u32(1).ptr().u32(0).null()
    req.u32(0xFFFFFFFF).ptr().u32(0)
    n = len(shares)
    resp = Ndr().u32(1).u32(1).ptr().u32(n).ptr().u32(n)
    for _, kind, _ in shares:
        resp.ptr().u32(kind).ptr()
    for name, _, remark in shares:
        resp.wstr(name).wstr(remark)
    resp.u32(n).ptr().u32(0).u32(0)
    return req.data(), resp.data()


# ------------------------------------------------------------------------------ over SMB
class RpcPipe:
    """One DCERPC association over the named pipe `iface.pipe` of an SMB2 IPC$ tree."""

    def __init__(
        self,
        smb: Smb2Session,
        tree: Smb2Tree,
        iface: Interface,
        rng: random.Random,
        *,
        transceive: bool = True,
    ) -> None:
        if not tree.is_pipe:
            raise ValueError(f"dcerpc: {tree.path} is not a pipe share (IPC$)")
        self.smb, self.tree, self.iface, self.rng = smb, tree, iface, rng
        self.transceive = transceive  # False: calls by WRITE then READ (Impacket, Samba)
        self.call_id = 1
        self.file: Smb2File | None = None

    def open(self) -> None:
        """CREATE the pipe, BIND (WRITE) and read the BIND_ACK (READ)."""
        f = self.smb.create(self.tree, self.iface.pipe)
        if f is None:
            raise ValueError("dcerpc: the pipe was not opened")
        self.file = f
        self.smb.write(f, data=bind(self.iface, self.call_id))
        ack = bind_ack(self.iface, self.call_id, self.rng.randrange(0x1000, 0x10000))
        self.smb.read(f, 1024, data=ack)
        self.call_id += 1

    def call(self, opnum: int, stubs: tuple[bytes, bytes], *, fault_status: int = 0) -> None:
        """One call: its request fragments (leading ones by WRITE, the last one by a
        transceive IOCTL) and its response fragments (the first as the IOCTL's output, the
        rest by READ), or a FAULT `fault_status` (e.g. NCA_S_ACCESS_DENIED). Without
        `transceive`: every request fragment by WRITE, every response fragment by READ."""
        f = self.file
        if f is None:
            raise ValueError("dcerpc: call before open")
        reqs = request(self.call_id, opnum, stubs[0])
        resps = (
            [fault(self.call_id, fault_status)]
            if fault_status
            else response(self.call_id, stubs[1])
        )
        for frag in reqs[:-1] if self.transceive else reqs:
            self.smb.write(f, data=frag)
        if self.transceive:
            self.smb.transceive(f, reqs[-1], resps[0])
        for frag in resps[1:] if self.transceive else resps:
            self.smb.read(f, MAX_FRAG, data=frag)
        self.call_id += 1

    def close(self) -> None:
        if self.file is not None:
            self.smb.close(self.file)
            self.file = None


def psexec_service(
    smb: Smb2Session,
    ipc: Smb2Tree,
    rng: random.Random,
    *,
    target: str,
    service: str = "PSEXESVC",
    binary_path: str = "%SystemRoot%\\PSEXESVC.exe",
    start: bool = True,
) -> None:
    """PsExec's service creation over \\PIPE\\svcctl: OpenSCManagerW, CreateServiceW,
    StartServiceW, CloseServiceHandle twice. The executable itself is copied to ADMIN$ by
    the caller (`Smb2Session.create` / `write`); `remove_service` undoes it."""
    p = RpcPipe(smb, ipc, SVCCTL, rng)
    p.open()
    scm, svc = handle(rng), handle(rng)
    p.call(15, open_sc_manager(f"\\\\{target}", scm))
    p.call(12, create_service(scm, service, service, binary_path, svc))
    if start:
        smb.pause(0.01)
        p.call(19, start_service(svc))
    p.call(0, close_service_handle(svc))
    p.call(0, close_service_handle(scm))
    p.close()


def remove_service(
    smb: Smb2Session, ipc: Smb2Tree, rng: random.Random, *, target: str, service: str
) -> None:
    """A service stopped and deleted over \\PIPE\\svcctl: OpenSCManagerW, OpenServiceW,
    ControlService (stop), DeleteService, CloseServiceHandle twice."""
    p = RpcPipe(smb, ipc, SVCCTL, rng)
    p.open()
    scm, svc = handle(rng), handle(rng)
    p.call(15, open_sc_manager(f"\\\\{target}", scm))
    p.call(16, open_service(scm, service, svc))
    p.call(1, control_service(svc))
    p.call(2, delete_service(svc))
    p.call(0, close_service_handle(svc))
    p.call(0, close_service_handle(scm))
    p.close()


def remote_task(
    smb: Smb2Session,
    ipc: Smb2Tree,
    rng: random.Random,
    *,
    name: str,
    command: str,
    arguments: str,
    author: str = "Administrator",
    transceive: bool = False,
) -> None:
    """A remote scheduled task over \\PIPE\\atsvc (ITaskSchedulerService): SchRpcRegisterTask,
    SchRpcRun, then SchRpcDelete a few seconds later, as Impacket's atexec does (its calls
    go by WRITE and READ; `transceive` for a Windows client's IOCTLs)."""
    p = RpcPipe(smb, ipc, TSCH, rng, transceive=transceive)
    p.open()
    path = f"\\{name}"
    p.call(1, register_task(path, task_xml(command, arguments, author)))
    p.call(12, run_task(path, rng))
    smb.pause(rng.uniform(1.0, 4.0))
    p.call(13, delete_task(path))
    p.close()


def share_enum(
    smb: Smb2Session,
    ipc: Smb2Tree,
    rng: random.Random,
    *,
    server: str,
    shares: list[tuple[str, int, str]],
) -> None:
    """Listing a server's shares (Explorer on \\\\server): srvsvc NetShareEnumAll level 1."""
    p = RpcPipe(smb, ipc, SRVSVC, rng)
    p.open()
    p.call(15, share_enum_all(server, shares))
    p.close()
