"""Lateral movement over SMB: admin shares and remote service creation (PsExec, smbexec).

Two detectors, both reading `smb` events (and `dcerpc` events for services over TCP):

`behaviour.smb_admin_share` (8_000_300): a successful TREE_CONNECT to `ADMIN$` or a drive
share (`C$`, `D$`...) from a host not listed in `admin_hosts`. Per (source, target) pair the
detector collects, for `hold_s` seconds, the shares and the files opened on them, then
alerts once: low severity and confidence for the share alone (administrators and software
deployment do this), medium when an executable (`.exe`, `.dll`, `.ps1`...) was created,
written or opened there (a tool being copied, the first half of PsExec).

`behaviour.remote_service` (8_000_301): DCERPC `svcctl` operations that create or
reconfigure a service (`CreateService*`, `ChangeServiceConfig*`) or start one
(`StartService*`) on another host, over the `\\pipe\\svcctl` of `IPC$` or over TCP (port
135 then a dynamic port, as smbexec does). High severity and confidence for a creation or
a reconfiguration; an executable seen on the target's admin share from the same source
within `window_s` (the PsExec pattern: copy, create, start) is named in the evidence. A
start alone (an existing service, e.g. RemoteRegistry before dumping secrets) is medium.
The alert waits until the pair's svcctl calls are quiet for `hold_s`, so that its evidence
lists the whole sequence (and the executable PsExec deletes from ADMIN$ right after).

Near misses ignored: `IPC$`, `SYSVOL`, `NETLOGON`, `print$` and ordinary shares; a service
console reading service state (`OpenSCManager`, `EnumServicesStatus`, `QueryServiceConfig`,
`QueryServiceStatus`, `OpenService`, `ControlService`) with no create/change/start; hosts in
`admin_hosts` (jump servers, deployment servers), for both detectors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tocsin.detect.behaviour._lateral_common import (
    EXECUTABLE_EXT,
    WRITE_DISPOSITIONS,
    Networks,
    RpcPair,
    SmbTrees,
    event_us,
    is_admin_share,
    rpc_call,
    share_name,
)
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.smb import SmbEvent, SmbFileEvent
from tocsin.output.timefmt import eve_timestamp

_SAMPLE = 10  # file names listed in the evidence

_CREATE_OPS = ("CreateService", "ChangeServiceConfig")  # prefixes: W, A, WOW64W, 2W...
_START_OPS = ("StartService",)


@dataclass(frozen=True, slots=True)
class AdminShareConfig:
    hold_s: int = 30  # quiet time before the pair's alert is written (evidence complete)
    admin_hosts: tuple[str, ...] = ()  # CIDRs/addresses allowed to use admin shares
    max_pairs: int = 20_000


@dataclass(slots=True)
class _Admin:
    first_ts: int
    last_ts: int
    flow_id: int
    shares: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)
    executables: dict[str, str] = field(default_factory=dict)  # name -> "written"/"opened"
    user: str | None = None
    done: bool = False


def _executable(name: str) -> bool:
    return name.lower().endswith(EXECUTABLE_EXT)


def _file_action(ev: SmbEvent) -> str | None:
    """ "written" / "opened" for a file CREATE or WRITE, None for anything else."""
    s = ev.smb
    name = s.filename
    if not name or s.dcerpc is not None:
        return None
    if s.command and s.command.endswith("WRITE"):
        return "written"
    if s.command and "CREATE" in s.command and s.status in (None, "STATUS_SUCCESS"):
        return "written" if s.disposition in WRITE_DISPOSITIONS else "opened"
    return None


class AdminShare(Detector):
    """A host mounting another host's ADMIN$ / C$ share."""

    info = DetectorInfo(
        name="behaviour.smb_admin_share",
        signature_id=8_000_300,
        signature="TOCSIN BEHAVIOUR SMB administrative share (ADMIN$/C$) mounted",
        category="Potentially Bad Traffic",
        technique="T1021.002",
        tactic="TA0008",
        severity=3,
        confidence="low",
        description="A host connects to another host's ADMIN$ or drive share (C$...); "
        "medium when an executable is copied or opened there.",
    )
    subscribes = frozenset({"smb", "smb_file"})
    Config = AdminShareConfig
    tick_s = 10

    def __init__(self, config: AdminShareConfig | None = None) -> None:
        super().__init__(config or AdminShareConfig())
        self.cfg: AdminShareConfig = self.config
        self.admins = Networks(self.cfg.admin_hosts)
        self.trees = SmbTrees(self.cfg.max_pairs)
        self.pairs: BoundedMap[tuple[str, str], _Admin] = BoundedMap(self.cfg.max_pairs)

    def on_event(self, ev: Any, ctx: Context) -> None:
        if isinstance(ev, SmbFileEvent):
            sf = ev.smb_file
            p = self.pairs.get((ev.src_ip, ev.dest_ip))
            if p is not None and is_admin_share(share_name(sf.share)) and sf.bytes_written:
                self._file(p, sf.filename, "written")
            return
        if not isinstance(ev, SmbEvent) or self.admins.contains(ev.src_ip):
            return
        self.trees.observe(ev)
        s = ev.smb
        ts = event_us(ev)
        if s.share and s.status == "STATUS_SUCCESS" and is_admin_share(share_name(s.share)):
            p = self.pairs.get_or_create(
                (ev.src_ip, ev.dest_ip), lambda: _Admin(ts, ts, int(ev.flow_id))
            )
            p.shares.add(share_name(s.share))
            p.last_ts = max(p.last_ts, ts)
            p.user = p.user or self.trees.user(ev)
            return
        action = _file_action(ev)
        if action is None:
            return
        p = self.pairs.get((ev.src_ip, ev.dest_ip))
        if p is None or not is_admin_share(self.trees.share(ev)):
            return
        p.last_ts = max(p.last_ts, ts)
        self._file(p, s.filename or "", action)

    @staticmethod
    def _file(p: _Admin, name: str, action: str) -> None:
        if name not in p.files and len(p.files) < 1000:
            p.files.append(name)
        if _executable(name) and p.executables.get(name) != "written":
            p.executables[name] = action

    def on_tick(self, ctx: Context) -> None:
        hold = self.cfg.hold_s * 1_000_000
        for (src, dst), p in self.pairs.items():
            if p.done or not (ctx.final or ctx.now_us - p.last_ts >= hold):
                continue
            p.done = True
            exe = bool(p.executables)
            evidence: dict[str, Any] = {
                "shares": sorted(p.shares),
                "files_seen": len(p.files),
                "files_sample": p.files[:_SAMPLE],
                "first_seen": eve_timestamp(p.first_ts),
                "last_seen": eve_timestamp(p.last_ts),
            }
            if p.executables:
                evidence["executables"] = dict(list(sorted(p.executables.items()))[:_SAMPLE])
            if p.user:
                evidence["account"] = p.user
            ctx.emit(
                Finding(
                    key=f"{src}>{dst}",
                    ts_us=p.last_ts,
                    src_ip=src,
                    dest_ip=dst,
                    dest_port=445,
                    proto="TCP",
                    app_proto="smb",
                    flow_id=p.flow_id,
                    evidence=evidence,
                    signature=(
                        "TOCSIN BEHAVIOUR executable accessed on an SMB administrative share"
                        if exe
                        else None
                    ),
                    severity=2 if exe else None,
                    confidence="medium" if exe else None,
                )
            )
        self.pairs.drop_older(lambda p: not p.done or ctx.now_us - p.last_ts < 86_400_000_000)

    def counters(self) -> dict[str, int]:
        return {"evicted": self.pairs.evicted + self.trees.evicted, "tracked": len(self.pairs)}


@dataclass(frozen=True, slots=True)
class RemoteServiceConfig:
    hold_s: int = 30  # quiet time before a pending creation is reported
    window_s: int = 600  # an executable on the admin share this close in time counts
    admin_hosts: tuple[str, ...] = ()
    max_pairs: int = 20_000


@dataclass(slots=True)
class _Svc(RpcPair):
    created: bool = False
    started: bool = False


@dataclass(slots=True)
class _Exe:
    ts: int
    names: list[str] = field(default_factory=list)


class RemoteService(Detector):
    """svcctl service creation/start on another host (PsExec, smbexec, Impacket)."""

    info = DetectorInfo(
        name="behaviour.remote_service",
        signature_id=8_000_301,
        signature="TOCSIN BEHAVIOUR remote service creation over DCERPC svcctl (PsExec-like)",
        category="Attempted Administrator Privilege Gain",
        technique="T1021.002",
        tactic="TA0008",
        severity=1,
        confidence="high",
        description="A host creates, reconfigures or starts a service on another host through "
        "svcctl (PsExec, smbexec, Impacket); the executable copied to ADMIN$ is named.",
    )
    subscribes = frozenset({"smb", "dcerpc"})
    Config = RemoteServiceConfig
    tick_s = 10

    def __init__(self, config: RemoteServiceConfig | None = None) -> None:
        super().__init__(config or RemoteServiceConfig())
        self.cfg: RemoteServiceConfig = self.config
        self.admins = Networks(self.cfg.admin_hosts)
        self.trees = SmbTrees(self.cfg.max_pairs)
        self.pairs: BoundedMap[tuple[str, str], _Svc] = BoundedMap(self.cfg.max_pairs)
        self.exes: BoundedMap[tuple[str, str], _Exe] = BoundedMap(self.cfg.max_pairs)

    def on_event(self, ev: Any, ctx: Context) -> None:
        if self.admins.contains(ev.src_ip):
            return
        ts = event_us(ev)
        pair = (ev.src_ip, ev.dest_ip)
        if isinstance(ev, SmbEvent):
            self.trees.observe(ev)
            name = ev.smb.filename or ""
            if _file_action(ev) and _executable(name) and is_admin_share(self.trees.share(ev)):
                e = self.exes.get_or_create(pair, lambda: _Exe(ts))
                e.ts = ts
                if name not in e.names and len(e.names) < _SAMPLE:
                    e.names.append(name)
        call = rpc_call(ev)
        if call is None or call.service != "svcctl":
            return
        p = self.pairs.get_or_create(pair, lambda: _Svc(ts, ts, int(ev.flow_id), call.transport))
        if p.reported and ts - p.last_ts > self.cfg.window_s * 1_000_000:
            self.pairs.pop(pair)  # a new sequence, long after the reported one
            p = self.pairs.get_or_create(
                pair, lambda: _Svc(ts, ts, int(ev.flow_id), call.transport)
            )
        p.last_ts = max(p.last_ts, ts)
        p.ops[call.procedure] += 1
        p.failed += call.failed
        if call.procedure.startswith(_CREATE_OPS):
            p.created = True
        elif call.procedure.startswith(_START_OPS):
            p.started = True

    def on_tick(self, ctx: Context) -> None:
        hold = self.cfg.hold_s * 1_000_000
        for pair, p in self.pairs.items():
            if p.reported or not (p.created or p.started):
                continue
            if ctx.final or ctx.now_us - p.last_ts >= hold:
                self._report(pair, p, ctx)
        keep = self.cfg.window_s * 1_000_000 * 6
        self.pairs.drop_older(lambda p: ctx.now_us - p.last_ts < keep)
        self.exes.drop_older(lambda e: ctx.now_us - e.ts < keep)

    def _report(self, pair: tuple[str, str], p: _Svc, ctx: Context) -> None:
        p.reported = True
        src, dst = pair
        exe = self.exes.get(pair)
        window = self.cfg.window_s * 1_000_000
        evidence: dict[str, Any] = {
            "interface": "svcctl",
            "transport": p.transport,
            "operations": dict(sorted(p.ops.items())),
            "failed_calls": p.failed,
            "first_seen": eve_timestamp(p.first_ts),
            "last_seen": eve_timestamp(p.last_ts),
        }
        psexec = exe is not None and abs(p.first_ts - exe.ts) <= window
        if exe is not None and psexec:
            evidence["admin_share_executables"] = exe.names
        all_failed = p.failed >= sum(p.ops.values())
        if p.created:
            sig = (
                "TOCSIN BEHAVIOUR PsExec pattern: executable on ADMIN$ then remote service created"
                if psexec
                else None
            )
            sev, conf = None, "medium" if all_failed else None
        else:
            sig = "TOCSIN BEHAVIOUR remote service started over DCERPC svcctl"
            sev, conf = 2, "low" if all_failed else "medium"
        ctx.emit(
            Finding(
                key=f"{src}>{dst}",
                ts_us=p.last_ts,
                src_ip=src,
                dest_ip=dst,
                proto="TCP",
                flow_id=p.flow_id,
                app_proto="smb" if p.transport.startswith("smb") else "dcerpc",
                evidence=evidence,
                signature=sig,
                severity=sev,
                confidence=conf,
                metadata={"mitre_technique_id": ["T1021.002", "T1569.002"]},
            )
        )

    def counters(self) -> dict[str, int]:
        ev = self.pairs.evicted + self.exes.evicted + self.trees.evicted
        return {"evicted": ev, "tracked": len(self.pairs)}


DETECTORS = (AdminShare, RemoteService)
