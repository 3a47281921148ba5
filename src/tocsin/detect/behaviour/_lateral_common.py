"""Helpers shared by the lateral-movement and SMB-ransomware detectors (not a detector module).

- `rpc_call(ev)`: the DCERPC operation an `smb` (named pipe) or `dcerpc` (TCP) event carries,
  as one `RpcCall` (service, procedure, failed, transport), or None for binds and others;
- `share_name(path)`: the last component of `\\\\server\\SHARE`;
- `is_admin_share(name)`: `ADMIN$` or a drive share (`C$`, `D$`...);
- `Networks`: a small set of CIDRs from a detector's config (`admin_hosts`...);
- `RpcPair`: the calls one source made to one target (remote service, task, WMI, DCSync);
- `event_us(ev)`: the event's packet time in microseconds;
- `SmbTrees`: the share behind each SMB tree id and the account of each session.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tocsin.detect.correlate.plugin import event_us as event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.dcerpc import DcerpcEvent
from tocsin.model.smb import SmbEvent


@dataclass(frozen=True, slots=True)
class RpcCall:
    """One DCERPC REQUEST: who called what, over which transport."""

    service: str  # "svcctl", "atsvc", "drsuapi"... ("" when the bind was not seen)
    procedure: str  # "CreateServiceW"... ("opnum N" when the table has no name)
    failed: bool  # FAULT answer (access denied...) or no answer
    transport: str  # "smb pipe <name>" or "tcp/<port>"


@dataclass(slots=True)
class RpcPair:
    """The DCERPC calls one source made to one target, until reported."""

    first_ts: int
    last_ts: int
    flow_id: int
    transport: str
    ops: Counter[str] = field(default_factory=Counter)
    failed: int = 0
    reported: bool = False


def rpc_call(ev: Any) -> RpcCall | None:
    """The DCERPC REQUEST an `smb` or `dcerpc` event carries; None for anything else."""
    if isinstance(ev, SmbEvent):
        d = ev.smb.dcerpc
        if d is None or d.request != "REQUEST":
            return None
        ifaces = d.interfaces or []
        opnum = d.opnum
        transport = f"smb pipe {ev.smb.filename or '?'}"
        service = ifaces[0].service if ifaces else None
        proc = ifaces[0].procedure if ifaces else None
        response = d.response
    elif isinstance(ev, DcerpcEvent):
        dc = ev.dcerpc
        if dc.request != "REQUEST":
            return None
        ifaces2 = dc.interfaces or []
        opnum = dc.req.opnum if dc.req is not None else None
        transport = f"tcp/{ev.dest_port}"
        service = ifaces2[0].service if ifaces2 else None
        proc = ifaces2[0].procedure if ifaces2 else None
        response = dc.response
    else:
        return None
    if proc is None:
        proc = f"opnum {opnum}" if opnum is not None else "?"
    failed = response in ("FAULT", "UNREPLIED", "REJECT")
    return RpcCall(service or "", proc, failed, transport)


def share_name(path: str | None) -> str:
    """`ADMIN$` for `\\\\dc1\\ADMIN$` (upper-cased); "" for None."""
    if not path:
        return ""
    return path.rstrip("\\").rsplit("\\", 1)[-1].upper()


def is_admin_share(name: str) -> bool:
    """ADMIN$ or a drive's administrative share (C$, D$...); not IPC$, PRINT$, SYSVOL."""
    n = name.upper()
    return n == "ADMIN$" or (len(n) == 2 and n[0].isalpha() and n[1] == "$")


class Networks:
    """CIDRs or addresses from a config list; `contains(ip)` (False for a bad address)."""

    def __init__(self, items: Iterable[str]) -> None:
        self.nets = tuple(ipaddress.ip_network(x.strip(), strict=False) for x in items if x)

    def contains(self, ip: str | None) -> bool:
        if not self.nets or not ip:
            return False
        try:
            a = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(a in n for n in self.nets if n.version == a.version)

    def __bool__(self) -> bool:
        return bool(self.nets)


EXECUTABLE_EXT = (".exe", ".dll", ".sys", ".bat", ".cmd", ".ps1", ".vbs", ".js", ".hta", ".scr")
WRITE_DISPOSITIONS = frozenset(
    {"FILE_CREATE", "FILE_OVERWRITE_IF", "FILE_OVERWRITE", "FILE_SUPERSEDE", "FILE_OPEN_IF"}
)


class SmbTrees:
    """What a detector needs to remember of SMB sessions: the share each tree id names and
    the account each session authenticated as (`DOMAIN\\user`), both in `BoundedMap`s."""

    def __init__(self, capacity: int) -> None:
        self.shares: BoundedMap[tuple[int, int, int], str] = BoundedMap(capacity)
        self.users: BoundedMap[tuple[int, int], str] = BoundedMap(capacity)

    def observe(self, ev: SmbEvent) -> None:
        s = ev.smb
        fid = int(ev.flow_id)
        if s.share or s.named_pipe:
            name = share_name(s.share or s.named_pipe)
            self.shares.get_or_create((fid, s.session_id, s.tree_id), lambda: name)
        if s.ntlmssp is not None and s.ntlmssp.user:
            acct = f"{s.ntlmssp.domain}\\{s.ntlmssp.user}" if s.ntlmssp.domain else s.ntlmssp.user
            self.users.get_or_create((fid, s.session_id), lambda: acct)
        elif s.kerberos is not None and s.kerberos.realm:
            realm = f"{s.kerberos.realm} (kerberos)"
            self.users.get_or_create((fid, s.session_id), lambda: realm)

    def share(self, ev: SmbEvent) -> str:
        s = ev.smb
        return self.shares.get((int(ev.flow_id), s.session_id, s.tree_id)) or ""

    def user(self, ev: SmbEvent) -> str | None:
        return self.users.get((int(ev.flow_id), ev.smb.session_id))

    @property
    def evicted(self) -> int:
        return self.shares.evicted + self.users.evicted
