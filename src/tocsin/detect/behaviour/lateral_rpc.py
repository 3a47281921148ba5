"""Lateral movement over DCERPC and WinRM: remote tasks, WMI/DCOM, WinRM, DCSync.

Each detector reads DCERPC calls from `dcerpc` events (TCP) and `smb` events (named pipes),
keeps per (source, target) pair the operations seen, and alerts once the pair has been quiet
for `hold_s` (or at the end of the run), so that the evidence lists the whole sequence:
interface, transport, operations with counts, failed calls, first/last seen.

- `behaviour.remote_task` (8_000_302): `atsvc` `NetrJobAdd` (the `at` command) or
  `ITaskSchedulerService` `SchRpcRegisterTask` / `SchRpcRun` (schtasks /s, Impacket
  atexec). High. Near miss: listing or reading tasks (`NetrJobEnum`, `SchRpcEnumTasks`,
  `SchRpcGetTaskInfo`).
- `behaviour.remote_wmi_dcom` (8_000_303): WMI `IWbemServices` `ExecMethod*` (process
  creation through Win32_Process.Create): high; other `IWbemServices` calls after an
  `IWbemLevel1Login` (a remote WMI session): medium; `IDispatch` `Invoke` after a DCOM
  activation (MMC20.Application, ShellWindows...): medium; an activation alone
  (`IRemoteSCMActivator`/ISystemActivator `RemoteCreateInstance`, `IActivation`): low,
  severity 3. Near miss: `IObjectExporter` pings, `IRemUnknown` reference counting.
- `behaviour.winrm` (8_000_304): a TCP session with data both ways to 5985/5986, or an HTTP
  request to `/wsman` on any port. Severity 3 for the port alone, 2 with `/wsman` seen.
  Near miss: an unanswered connection attempt (a port scan's probe).
- `behaviour.dcsync` (8_000_305): `drsuapi` `DRSGetNCChanges` (directory replication: what
  mimikatz lsadump::dcsync and secretsdump do) from a host that is not a domain controller.
  Domain controllers are `domain_controllers` from the config plus those learned passively:
  hosts answering Kerberos (88) or LDAP (389, 636, 3268, 3269) and hosts serving `drsuapi`.
  The judgment waits `hold_s` so that flows ending meanwhile can teach a DC. Severity 1;
  confidence high when the DC list is configured, medium when only learned. Near miss:
  replication between DCs; a workstation joining the domain (`DRSCrackNames`, no
  `DRSGetNCChanges`).

Every detector skips sources in its `admin_hosts` (jump servers, management servers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import numpy as np

from tocsin.detect.behaviour._lateral_common import (
    Networks,
    RpcCall,
    RpcPair,
    event_us,
    rpc_call,
)
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import FlowBatch
from tocsin.model.http import HttpEvent
from tocsin.output.timefmt import eve_timestamp

_DAY_US = 86_400_000_000


@dataclass(frozen=True, slots=True)
class RpcPairConfig:
    hold_s: int = 30  # quiet time before a pair's alert is written
    admin_hosts: tuple[str, ...] = ()  # CIDRs/addresses whose remote administration is normal
    max_pairs: int = 20_000


class _RpcPairDetector(Detector, ABC):
    """Collects DCERPC calls per (source, target) and reports quiet pairs through `judge`."""

    Config: ClassVar[type[Any] | None] = RpcPairConfig
    subscribes = frozenset({"smb", "dcerpc"})
    tick_s = 10
    services: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, config: Any = None) -> None:
        super().__init__(config or self._default_config())
        self.admins = Networks(self.config.admin_hosts)
        self.pairs: BoundedMap[tuple[str, str], RpcPair] = BoundedMap(self.config.max_pairs)

    def _default_config(self) -> Any:
        assert self.Config is not None
        return self.Config()

    def on_event(self, ev: Any, ctx: Context) -> None:
        call = rpc_call(ev)
        if call is None or call.service not in self.services:
            return
        self.observe(ev, call, ctx)
        if self.admins.contains(ev.src_ip):
            return
        ts = event_us(ev)
        p = self.pairs.get_or_create(
            (ev.src_ip, ev.dest_ip), lambda: RpcPair(ts, ts, int(ev.flow_id), call.transport)
        )
        if p.reported and ts - p.last_ts > _DAY_US:
            p.reported, p.ops, p.failed, p.first_ts = False, Counter(), 0, ts
        p.last_ts = max(p.last_ts, ts)
        p.ops[f"{call.service}.{call.procedure}"] += 1
        p.failed += call.failed

    def observe(self, ev: Any, call: RpcCall, ctx: Context) -> None:
        """Every matching call, admin hosts included (for learning)."""

    @abstractmethod
    def judge(self, src: str, dst: str, p: RpcPair) -> dict[str, Any] | None:
        """Finding overrides (signature, severity, confidence...) for a quiet pair, or None."""

    def on_tick(self, ctx: Context) -> None:
        hold = self.config.hold_s * 1_000_000
        for (src, dst), p in self.pairs.items():
            if p.reported or not (ctx.final or ctx.now_us - p.last_ts >= hold):
                continue
            p.reported = True
            verdict = self.judge(src, dst, p)
            if verdict is None:
                continue
            extra = verdict.pop("evidence", {})
            ctx.emit(
                Finding(
                    key=f"{src}>{dst}",
                    ts_us=p.last_ts,
                    src_ip=src,
                    dest_ip=dst,
                    proto="TCP",
                    flow_id=p.flow_id,
                    app_proto="smb" if p.transport.startswith("smb") else "dcerpc",
                    evidence={
                        "transport": p.transport,
                        "operations": dict(sorted(p.ops.items())),
                        "failed_calls": p.failed,
                        "first_seen": eve_timestamp(p.first_ts),
                        "last_seen": eve_timestamp(p.last_ts),
                        **extra,
                    },
                    **verdict,
                )
            )
        self.pairs.drop_older(lambda p: not p.reported or ctx.now_us - p.last_ts < _DAY_US)

    def counters(self) -> dict[str, int]:
        return {"evicted": self.pairs.evicted, "tracked": len(self.pairs)}


def _weakened(p: RpcPair, confidence: str) -> str:
    """Every call answered with a fault (access denied): one step less confident."""
    if p.failed < sum(p.ops.values()):
        return confidence
    return {"high": "medium", "medium": "low"}.get(confidence, "low")


class RemoteTask(_RpcPairDetector):
    info = DetectorInfo(
        name="behaviour.remote_task",
        signature_id=8_000_302,
        signature="TOCSIN BEHAVIOUR remote scheduled task created over DCERPC",
        category="Attempted Administrator Privilege Gain",
        technique="T1053.005",
        tactic="TA0002",
        severity=1,
        confidence="high",
        description="A host schedules a task on another host (atsvc NetrJobAdd, "
        "ITaskSchedulerService SchRpcRegisterTask/SchRpcRun).",
    )
    services = frozenset({"atsvc", "ITaskSchedulerService"})
    _TRIGGER = frozenset(
        {
            "atsvc.NetrJobAdd",
            "ITaskSchedulerService.SchRpcRegisterTask",
            "ITaskSchedulerService.SchRpcRun",
        }
    )

    def judge(self, src: str, dst: str, p: RpcPair) -> dict[str, Any] | None:
        hits = sorted(op for op in p.ops if op in self._TRIGGER)
        if not hits:
            return None
        at = any(op.startswith("atsvc.") for op in hits)
        at_sig = "TOCSIN BEHAVIOUR remote AT job created (atsvc NetrJobAdd)"
        return {
            "signature": at_sig if at else None,
            "confidence": _weakened(p, "high"),
            "metadata": {"mitre_technique_id": ["T1053.002" if at else "T1053.005"]},
            "evidence": {"task_operations": hits},
        }


class RemoteWmiDcom(_RpcPairDetector):
    info = DetectorInfo(
        name="behaviour.remote_wmi_dcom",
        signature_id=8_000_303,
        signature="TOCSIN BEHAVIOUR remote WMI/DCOM execution",
        category="Attempted Administrator Privilege Gain",
        technique="T1047",
        tactic="TA0002",
        severity=1,
        confidence="high",
        description="Remote WMI (IWbemServices ExecMethod, WMI sessions) or DCOM "
        "(activation then IDispatch Invoke) from a host that is not an admin host.",
    )
    services = frozenset(
        {"IWbemServices", "IWbemLevel1Login", "IRemoteSCMActivator", "IActivation", "IDispatch"}
    )

    def judge(self, src: str, dst: str, p: RpcPair) -> dict[str, Any] | None:
        ops = p.ops
        names = set(ops)
        if any(n.startswith("IWbemServices.ExecMethod") for n in names):
            return {"confidence": _weakened(p, "high"), "evidence": {"kind": "wmi_exec_method"}}
        wmi = any(n.startswith("IWbemServices.") for n in names)
        login = any(n.startswith("IWbemLevel1Login.") for n in names)
        activation = any(n.startswith(("IRemoteSCMActivator.", "IActivation.")) for n in names)
        if wmi or login:
            return {
                "signature": "TOCSIN BEHAVIOUR remote WMI session",
                "severity": 2,
                "confidence": _weakened(p, "medium"),
                "evidence": {"kind": "wmi_session"},
            }
        if "IDispatch.Invoke" in names:
            return {
                "signature": "TOCSIN BEHAVIOUR remote DCOM method invocation (IDispatch Invoke)",
                "severity": 2,
                "confidence": _weakened(p, "medium"),
                "metadata": {"mitre_technique_id": ["T1021.003"], "mitre_tactic_id": ["TA0008"]},
                "evidence": {"kind": "dcom_invoke"},
            }
        if activation:
            return {
                "signature": "TOCSIN BEHAVIOUR remote DCOM activation",
                "severity": 3,
                "confidence": "low",
                "metadata": {"mitre_technique_id": ["T1021.003"], "mitre_tactic_id": ["TA0008"]},
                "evidence": {"kind": "dcom_activation"},
            }
        return None


@dataclass(frozen=True, slots=True)
class DcsyncConfig:
    hold_s: int = 60  # wait this long for flows that would show the caller is a DC
    domain_controllers: tuple[str, ...] = ()  # CIDRs/addresses of the site's DCs
    admin_hosts: tuple[str, ...] = ()
    max_pairs: int = 20_000
    max_dcs: int = 10_000


_DC_PORTS = np.array([88, 389, 636, 3268, 3269], dtype=np.uint16)


class Dcsync(_RpcPairDetector):
    info = DetectorInfo(
        name="behaviour.dcsync",
        signature_id=8_000_305,
        signature="TOCSIN BEHAVIOUR DCSync: directory replication requested by a non-DC host",
        category="Attempted Administrator Privilege Gain",
        technique="T1003.006",
        tactic="TA0006",
        severity=1,
        confidence="high",
        description="drsuapi DRSGetNCChanges from a host that is not a domain controller "
        "(configured or learned from Kerberos/LDAP/drsuapi servers).",
    )
    Config = DcsyncConfig
    subscribes = frozenset({"smb", "dcerpc", "flow"})
    services = frozenset({"drsuapi"})

    def __init__(self, config: DcsyncConfig | None = None) -> None:
        super().__init__(config or DcsyncConfig())
        self.cfg: DcsyncConfig = self.config
        self.configured = Networks(self.cfg.domain_controllers)
        self.dcs: BoundedMap[str, str] = BoundedMap(self.cfg.max_dcs)  # ip -> how learned

    def observe(self, ev: Any, call: RpcCall, ctx: Context) -> None:
        self.dcs.get_or_create(ev.dest_ip, lambda: "drsuapi server")

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        m = np.isin(flows.dport, _DC_PORTS) & (flows.pkts_tc > 0) & (flows.bytes_tc > 0)
        for i in np.flatnonzero(m).tolist():
            how = f"answers port {int(flows.dport[i])}"
            self.dcs.get_or_create(flows.dest_ip(i), partial(str, how))

    def judge(self, src: str, dst: str, p: RpcPair) -> dict[str, Any] | None:
        if not any(op.endswith(".DRSGetNCChanges") for op in p.ops):
            return None
        if self.configured.contains(src) or src in self.dcs:
            return None
        conf = "high" if self.configured else "medium"
        return {
            "confidence": _weakened(p, conf),
            "evidence": {
                "caller_known_as_dc": False,
                "target_known_as_dc": self.configured.contains(dst) or dst in self.dcs,
                "dc_list": "configured" if self.configured else "learned",
                "dcs_known": len(self.dcs),
            },
        }

    def counters(self) -> dict[str, int]:
        c = super().counters()
        c["evicted"] += self.dcs.evicted
        c["dcs_learned"] = len(self.dcs)
        return c


@dataclass(frozen=True, slots=True)
class WinrmConfig:
    ports: tuple[int, ...] = (5985, 5986)
    admin_hosts: tuple[str, ...] = ()
    max_pairs: int = 20_000


@dataclass(slots=True)
class _Winrm:
    first_ts: int
    last_ts: int
    sessions: int = 0
    bytes_out: int = 0
    wsman: int = 0
    port: int = 0


class Winrm(Detector):
    info = DetectorInfo(
        name="behaviour.winrm",
        signature_id=8_000_304,
        signature="TOCSIN BEHAVIOUR WinRM remote management session",
        category="Potentially Bad Traffic",
        technique="T1021.006",
        tactic="TA0008",
        severity=3,
        confidence="low",
        description="A TCP session with data both ways to WinRM (5985/5986), or HTTP to "
        "/wsman, from a host that is not an admin host.",
    )
    subscribes = frozenset({"flow", "http"})
    Config = WinrmConfig

    def __init__(self, config: WinrmConfig | None = None) -> None:
        super().__init__(config or WinrmConfig())
        self.cfg: WinrmConfig = self.config
        self.admins = Networks(self.cfg.admin_hosts)
        self.ports = np.array(self.cfg.ports, dtype=np.uint16)
        self.pairs: BoundedMap[tuple[str, str], _Winrm] = BoundedMap(self.cfg.max_pairs)

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        m = (flows.proto == 6) & np.isin(flows.dport, self.ports)
        m &= (flows.bytes_tc > 0) & (flows.bytes_ts > 0) & (flows.pkts_tc > 2)
        for i in np.flatnonzero(m).tolist():
            src, dst = flows.src_ip(i), flows.dest_ip(i)
            if self.admins.contains(src):
                continue
            t0, t1 = int(flows.first_ts[i]), int(flows.last_ts[i])
            w = self.pairs.get_or_create((src, dst), partial(_Winrm, t0, t0))
            w.sessions += 1
            w.bytes_out += int(flows.bytes_ts[i])
            w.port = int(flows.dport[i])
            w.last_ts = max(w.last_ts, t1)
            self._report(src, dst, w, ctx, int(flows.flow_id[i]))

    def on_event(self, ev: Any, ctx: Context) -> None:
        if not isinstance(ev, HttpEvent) or self.admins.contains(ev.src_ip):
            return
        url = (ev.http.url or "").lower()
        if not url.startswith("/wsman"):
            return
        ts = event_us(ev)
        w = self.pairs.get_or_create((ev.src_ip, ev.dest_ip), lambda: _Winrm(ts, ts))
        w.wsman += 1
        w.port = ev.dest_port or 0
        w.last_ts = max(w.last_ts, ts)
        self._report(ev.src_ip, ev.dest_ip, w, ctx, int(ev.flow_id))

    def _report(self, src: str, dst: str, w: _Winrm, ctx: Context, flow_id: int | None) -> None:
        ctx.emit(
            Finding(
                key=f"{src}>{dst}",
                ts_us=w.last_ts,
                src_ip=src,
                dest_ip=dst,
                dest_port=w.port or None,
                proto="TCP",
                flow_id=flow_id,
                severity=2 if w.wsman else None,
                confidence="medium" if w.wsman else None,
                evidence={
                    "port": w.port,
                    "sessions": w.sessions,
                    "bytes_to_server": w.bytes_out,
                    "wsman_requests": w.wsman,
                    "first_seen": eve_timestamp(w.first_ts),
                    "last_seen": eve_timestamp(w.last_ts),
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.pairs.evicted, "tracked": len(self.pairs)}


DETECTORS = (RemoteTask, RemoteWmiDcom, Winrm, Dcsync)
