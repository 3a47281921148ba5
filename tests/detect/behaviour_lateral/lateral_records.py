"""Model records for the lateral-movement and SMB-ransomware detector tests: `smb`, `smb_file`,
`dcerpc`, `rdp` and `http` events built field by field, as the SMB/DCERPC parsers emit them."""

from __future__ import annotations

from typing import Any

from tocsin.model.dcerpc import DcerpcEvent, DcerpcInfo, DcerpcInterface, DcerpcReq
from tocsin.model.http import HttpEvent, HttpInfo
from tocsin.model.ids import FlowId
from tocsin.model.rdp import RdpEvent, RdpInfo
from tocsin.model.smb import (
    SmbDcerpc,
    SmbDcerpcInterface,
    SmbEvent,
    SmbFileEvent,
    SmbFileInfo,
    SmbInfo,
    SmbNtlmssp,
    SmbRename,
)
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
T0 = 1_700_000_000 * S
CLIENT, SERVER = "10.1.0.50", "10.1.0.10"


def _head(t: int, src: str, dst: str, port: int, flow: int) -> dict[str, Any]:
    return {
        "timestamp": eve_timestamp(T0 + t),
        "flow_id": FlowId(flow),
        "src_ip": src,
        "src_port": 50000,
        "dest_ip": dst,
        "dest_port": port,
        "proto": "TCP",
    }


def smb(
    t: int, command: str, *, src: str = CLIENT, dst: str = SERVER, tree: int = 1, **kw: Any
) -> SmbEvent:
    info = SmbInfo(
        id=1,
        dialect="3.11",
        session_id=77,
        tree_id=tree,
        command=f"SMB2_COMMAND_{command}",
        status="STATUS_SUCCESS",
        **kw,
    )
    return SmbEvent(**_head(t, src, dst, 445, 1), smb=info)


def tree_connect(t: int, share: str, *, tree: int = 1, **kw: Any) -> SmbEvent:
    if share.upper().endswith("IPC$"):
        return smb(t, "TREE_CONNECT", tree=tree, named_pipe=share, share_type="PIPE", **kw)
    return smb(t, "TREE_CONNECT", tree=tree, share=share, share_type="FILE", **kw)


def login(t: int, user: str = "alice", **kw: Any) -> SmbEvent:
    return smb(t, "SESSION_SETUP", tree=0, ntlmssp=SmbNtlmssp("HOSP", user, "WS50"), **kw)


def create(t: int, name: str, disposition: str = "FILE_OPEN", **kw: Any) -> SmbEvent:
    return smb(t, "CREATE", filename=name, disposition=disposition, access="normal", **kw)


def rename(t: int, old: str, new: str, **kw: Any) -> SmbEvent:
    return smb(t, "SET_INFO", rename=SmbRename(from_=old, to=new), **kw)


def delete(t: int, name: str, **kw: Any) -> SmbEvent:
    return smb(t, "SET_INFO", filename=name, access="delete on close", **kw)


def smb_file(t: int, name: str, share: str = "\\\\fs\\Data", **kw: Any) -> SmbFileEvent:
    info = SmbFileInfo(filename=name, fuid="f", session_id=77, tree_id=1, share=share, **kw)
    return SmbFileEvent(**_head(t, CLIENT, SERVER, 445, 1), smb_file=info)


def pipe_call(
    t: int, service: str, procedure: str, *, response: str = "RESPONSE", **kw: Any
) -> SmbEvent:
    """A DCERPC REQUEST over a named pipe of IPC$ (the pipe named after the service)."""
    d = SmbDcerpc(
        request="REQUEST",
        response=response,
        call_id=t,
        opnum=0,
        interfaces=[SmbDcerpcInterface("u", "1.0", service=service, procedure=procedure)],
    )
    return smb(t, "IOCTL", filename=service, dcerpc=d, **kw)


def tcp_call(
    t: int,
    service: str,
    procedure: str,
    *,
    src: str = CLIENT,
    dst: str = SERVER,
    response: str = "RESPONSE",
) -> DcerpcEvent:
    info = DcerpcInfo(
        request="REQUEST",
        response=response,
        call_id=t,
        rpc_version="5.0",
        req=DcerpcReq(frag_cnt=1, stub_data_size=40, opnum=0),
        interfaces=[DcerpcInterface("u", "1.0", service=service, procedure=procedure)],
    )
    return DcerpcEvent(**_head(t, src, dst, 49667, 2), dcerpc=info)


def rdp(t: int, src: str, dst: str = SERVER, cookie: str | None = None) -> RdpEvent:
    info = RdpInfo(tx_id=1, event_type="initial_request", cookie=cookie)
    return RdpEvent(**_head(t, src, dst, 3389, 3), rdp=info)


def http(t: int, url: str, port: int = 5985) -> HttpEvent:
    return HttpEvent(**_head(t, CLIENT, SERVER, port, 4), http=HttpInfo(url=url))
