"""Password spraying: failed logins for many users, few each (`behaviour.password_spray`).

Reads the failed logins that name a user:

- `smb` SESSION_SETUP answered LOGON_FAILURE / WRONG_PASSWORD / NO_SUCH_USER /
  ACCOUNT_LOCKED_OUT, user from the NTLMSSP AUTHENTICATE (`domain\\user`);
- `krb5` KRB-ERROR PREAUTH_FAILED (24), C_PRINCIPAL_UNKNOWN (6) or CLIENT_REVOKED (18),
  user from `cname` (unknown principals: spraying and user enumeration look alike), or,
  as Windows KDCs leave it out of their errors, from the AS-REQ the error answers
  (`_auth.KrbClientNames`, at most `max_krb_requests` exchanges remembered);
- `ftp` `PASS` answered 530, user from the flow's `USER`;
- RDP: a short connection (under `rdp_fail_max_s`, at most `rdp_fail_max_bytes_tc` server
  bytes: no desktop drawn) whose `rdp` event carried a `mstshash` cookie naming the user.

Per source, across every target and protocol, the distinct users that failed within
`window_s` are counted; at `min_users`, if the median number of failures per user is at
most `max_per_user` (few tries each: the opposite of brute force), it alerts once per window,
with the users (a sample), targets, protocols and counts. Severity 1, high confidence.

Near misses it does not alert on: one user failing many times (that is brute force, see
`behaviour.brute_force`), a handful of users mistyping their password on one shared host
(below `min_users`), successful logins of many users (a terminal server, a proxy).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np

from tocsin.detect.behaviour._auth import (
    KRB_CLIENT_REVOKED,
    KRB_PREAUTH_FAILED,
    KRB_PRINCIPAL_UNKNOWN,
    SMB_AUTH_FAILED,
    SMB_SESSION_SETUP,
    KrbClientNames,
    event_us,
    ftp_codes,
    ftp_login,
    krb_ends,
    krb_error,
    krb_msg,
    smb_session_setup,
    text_of,
)
from tocsin.detect.correlate.correlator import event_type
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, Prefilters
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

_USER_CAP = 2000
_SAMPLE = 10
_KRB_FAILED = frozenset({KRB_PREAUTH_FAILED, KRB_PRINCIPAL_UNKNOWN, KRB_CLIENT_REVOKED})


@dataclass(frozen=True, slots=True)
class PasswordSprayConfig:
    min_users: int = 10  # distinct users failing from one source
    max_per_user: float = 3.0  # median failures per user at most
    window_s: int = 3600
    rdp_fail_max_bytes_tc: int = 30_000
    rdp_fail_max_s: int = 30
    max_sources: int = 20_000
    max_flows: int = 50_000  # flows whose user (FTP USER, RDP cookie) is remembered
    max_krb_requests: int = 50_000  # Kerberos exchanges whose AS-REQ client is remembered


@dataclass(slots=True)
class _Source:
    first_ts: int
    last_ts: int
    users: dict[str, int] = field(default_factory=dict)  # user -> failures
    targets: dict[str, int] = field(default_factory=dict)
    protocols: dict[str, int] = field(default_factory=dict)
    alerted: bool = False


class PasswordSpray(Detector):
    """Failed logins for many distinct users from one source, a few each."""

    info = DetectorInfo(
        name="behaviour.password_spray",
        signature_id=8_000_210,
        signature="TOCSIN BEHAVIOUR password spraying: failed logins for many users",
        category="Attempted User Privilege Gain",
        technique="T1110.003",
        tactic="TA0006",
        severity=1,
        confidence="high",
        description=(
            "One source fails to log in as many different users (SMB/NTLM, Kerberos, FTP, "
            "RDP), a few attempts each, on one or many servers."
        ),
    )
    subscribes = frozenset({"flow", "smb", "krb5", "ftp", "rdp"})
    prefilter: ClassVar[Prefilters] = {
        "ftp": ftp_login,
        "smb": smb_session_setup,
    }
    Config = PasswordSprayConfig

    def __init__(self, config: PasswordSprayConfig | None = None) -> None:
        super().__init__(config or PasswordSprayConfig())
        self.cfg: PasswordSprayConfig = self.config
        self.sources: BoundedMap[str, _Source] = BoundedMap(self.cfg.max_sources)
        self.flow_user: BoundedMap[int, str] = BoundedMap(self.cfg.max_flows)
        self.krb_names = KrbClientNames(self.cfg.max_krb_requests)

    def on_event(self, ev: Any, ctx: Context) -> None:
        kind = event_type(ev)
        ts = event_us(ev) or ctx.now_us
        if kind == "smb":
            body = getattr(ev, "smb", None)
            if getattr(body, "command", None) not in SMB_SESSION_SETUP:
                return
            if getattr(body, "status", None) not in SMB_AUTH_FAILED:
                return
            ntlm = getattr(body, "ntlmssp", None)
            user = text_of(getattr(ntlm, "user", None))
            if user is not None:
                dom = text_of(getattr(ntlm, "domain", None))
                user = f"{dom}\\{user}" if dom else user
                self._fail(ctx, str(ev.src_ip), str(ev.dest_ip), "smb", user, ts)
        elif kind == "krb5":
            body = getattr(ev, "krb5", None)
            user = self.krb_names.name(ev, body)
            if krb_msg(body) != "KRB_ERROR":
                return
            if krb_error(getattr(body, "error_code", None)) not in _KRB_FAILED:
                return
            if user is not None:
                realm = text_of(getattr(body, "realm", None))
                client, kdc = krb_ends(ev)
                name = f"{user}@{realm}" if realm else user
                self._fail(ctx, client, kdc, "krb5", name, ts)
        elif kind == "ftp":
            body = getattr(ev, "ftp", None)
            cmd = (text_of(getattr(body, "command", None)) or "").upper()
            fid = int(ev.flow_id)
            if cmd == "USER":
                user = text_of(getattr(body, "command_data", None))
                self.flow_user.pop(fid)
                if user is not None:
                    self.flow_user.get_or_create(fid, lambda: user)
            elif cmd == "PASS" and "530" in ftp_codes(body):
                known = self.flow_user.get(fid)
                if known is not None:
                    self._fail(ctx, str(ev.src_ip), str(ev.dest_ip), "ftp", known, ts)
        elif kind == "rdp":
            cookie = text_of(getattr(getattr(ev, "rdp", None), "cookie", None))
            if cookie is not None:
                self.flow_user.get_or_create(int(ev.flow_id), lambda: cookie)

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        if "rdp" not in flows.app_names or len(self.flow_user) == 0:
            return
        c = self.cfg
        rdp = flows.app_proto == flows.app_names.index("rdp")
        short = (flows.last_ts - flows.first_ts) <= c.rdp_fail_max_s * 1_000_000
        for i in np.flatnonzero(rdp).tolist():
            user = self.flow_user.pop(int(flows.flow_id[i]))
            if user is None or not short[i] or int(flows.bytes_tc[i]) > c.rdp_fail_max_bytes_tc:
                continue
            ts = int(flows.last_ts[i])
            self._fail(ctx, flows.src_ip(i), flows.dest_ip(i), "rdp", user, ts)

    def _fail(self, ctx: Context, src: str, dst: str, proto: str, user: str, ts: int) -> None:
        s = self.sources.get_or_create(src, partial(_Source, ts, ts))
        if ts - s.first_ts > self.cfg.window_s * 1_000_000:
            s.first_ts, s.users, s.targets, s.protocols, s.alerted = ts, {}, {}, {}, False
        s.last_ts = max(s.last_ts, ts)
        u = user.lower()
        if u in s.users or len(s.users) < _USER_CAP:
            s.users[u] = s.users.get(u, 0) + 1
        if dst in s.targets or len(s.targets) < 256:
            s.targets[dst] = s.targets.get(dst, 0) + 1
        s.protocols[proto] = s.protocols.get(proto, 0) + 1
        if s.alerted or len(s.users) < self.cfg.min_users:
            return
        median = statistics.median(s.users.values())
        if median > self.cfg.max_per_user:
            return
        s.alerted = True
        self._report(ctx, src, s, median)

    def _report(self, ctx: Context, src: str, s: _Source, median: float) -> None:
        users = sorted(s.users)
        targets = sorted(s.targets, key=lambda t: (-s.targets[t], t))
        c = self.cfg
        ctx.emit(
            Finding(
                key=src,
                ts_us=s.last_ts,
                src_ip=src,
                dest_ip=targets[0] if len(targets) == 1 else None,
                evidence={
                    "distinct_users": len(users),
                    "failed_logins": sum(s.users.values()),
                    "median_failures_per_user": median,
                    "users_sample": users[:_SAMPLE],
                    "targets": len(targets),
                    "targets_sample": targets[:_SAMPLE],
                    "protocols": dict(sorted(s.protocols.items())),
                    "first_seen": eve_timestamp(s.first_ts),
                    "last_seen": eve_timestamp(s.last_ts),
                    "threshold": (
                        f"{c.min_users} users failing in {c.window_s} s, "
                        f"median at most {c.max_per_user:g} failures each"
                    ),
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.sources.evicted,
            "tracked": len(self.sources),
            "flow_users_evicted": self.flow_user.evicted,
            "krb_requests_evicted": self.krb_names.evicted,
        }


DETECTORS = (PasswordSpray,)
