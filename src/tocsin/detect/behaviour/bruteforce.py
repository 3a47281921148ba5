"""Brute force: one source, many failed logins against one server (`behaviour.brute_force`).

One detector, one sub-signature per protocol (the `signature_id` says which), counting failed
logins per (protocol, source, server) in a window of `window_s` that starts at the first
failure; at the protocol's threshold it alerts once, with the count, the successes seen in
the same window, the user names tried (a capped sample; never a password) and the time span.

What counts as one failed login:

- **SSH** (flows with app_proto `ssh`, any port): the result of SSH authentication is
  encrypted, so Zeek's heuristic is used: a session that got past key exchange (at least
  `ssh_kex_min_bytes` each way) and in which the server sent at most
  `ssh_fail_max_bytes_tc` bytes did not get a shell. Larger sessions count as successes.
- **RDP** (flows with app_proto `rdp`): a connection shorter than `rdp_fail_max_s` in which
  the server sent at most `rdp_fail_max_bytes_tc` bytes (no desktop was drawn); the
  `rdp` event's `mstshash` cookie, when sent, gives the user name.
- **FTP** (`ftp` events): `PASS` answered 530 (the `USER` of the same flow gives the name).
- **SMB** (`smb` events): SESSION_SETUP answered LOGON_FAILURE, WRONG_PASSWORD, NO_SUCH_USER
  or ACCOUNT_LOCKED_OUT (the NTLMSSP `domain\\user` gives the name).
- **HTTP** (`http` events): a 401 answer to the client on one host name; the alert also
  needs successes (any 1xx-3xx) to be at most `http_max_success_share` of the answers,
  because NTLM/Negotiate web logins answer two 401s before each 200.
- **Kerberos** (`krb5` events): KRB-ERROR PREAUTH_FAILED (24), C_PRINCIPAL_UNKNOWN (6) or
  CLIENT_REVOKED (18) to one client; an AS-REP counts as a success. The user is the
  error's `cname`, or (Windows KDCs leave it out) the one of the AS-REQ it answers
  (`_auth.KrbClientNames`, at most `max_krb_requests` exchanges remembered).

Default thresholds: SSH 30 (Zeek's `password_guesses_limit`), FTP 20 (Zeek's
`bruteforce_threshold`), RDP, SMB and Kerberos 20, HTTP 30, all within 1800 s.

Near misses it does not alert on: a few failures then a success (a mistyped password), an
SSH client that stops after the banner (a version scan: no key exchange), long RDP sessions,
the KDC's normal PREAUTH_REQUIRED (25) answer, a browser's NTLM handshake 401s. Known false
positive: an automated job opening many short SSH sessions (`ssh host true` every minute)
looks like failed logins to the byte heuristic, as in Zeek; raise `ssh_min_failures` or
tune the byte bound for such pairs' sites.
"""

from __future__ import annotations

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
    capped_add,
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

_USER_CAP = 1000  # distinct user names counted per pair
_USER_SAMPLE = 10  # listed in the evidence

# protocol word -> (signature id, label in the alert text)
SUBSIGS = {
    "ssh": (8_000_201, "SSH"),
    "rdp": (8_000_202, "RDP"),
    "ftp": (8_000_203, "FTP"),
    "smb": (8_000_204, "SMB/NTLM"),
    "http": (8_000_205, "HTTP authentication"),
    "krb5": (8_000_206, "Kerberos"),
}
_KRB_FAILED = frozenset({KRB_PREAUTH_FAILED, KRB_PRINCIPAL_UNKNOWN, KRB_CLIENT_REVOKED})


@dataclass(frozen=True, slots=True)
class BruteForceConfig:
    window_s: int = 1800
    ssh_min_failures: int = 30
    rdp_min_failures: int = 20
    ftp_min_failures: int = 20
    smb_min_failures: int = 20
    http_min_failures: int = 30
    krb5_min_failures: int = 20
    ssh_kex_min_bytes: int = 1200  # each way: the session got past key exchange
    ssh_fail_max_bytes_tc: int = 5000  # server bytes of a session that got no shell
    rdp_fail_max_bytes_tc: int = 30_000
    rdp_fail_max_s: int = 30
    http_max_success_share: float = 0.2
    max_pairs: int = 50_000
    max_flows: int = 50_000  # flows whose user name (FTP USER, RDP cookie) is remembered
    max_krb_requests: int = 50_000  # Kerberos exchanges whose AS-REQ client is remembered


@dataclass(slots=True)
class _Tally:
    first_ts: int
    last_ts: int
    failures: int = 0
    successes: int = 0
    users: dict[str, int] = field(default_factory=dict)
    ports: set[int] = field(default_factory=set)
    l4: str | None = None
    alerted: bool = False


class BruteForce(Detector):
    """Many failed logins from one source against one server, per protocol."""

    info = DetectorInfo(
        name="behaviour.brute_force",
        signature_id=8_000_200,
        signature="TOCSIN BEHAVIOUR brute force: many failed logins from one source",
        category="Attempted User Privilege Gain",
        technique="T1110.001",
        tactic="TA0006",
        severity=2,
        confidence="medium",
        description=(
            "One source fails to log in many times to one server (SSH, RDP, FTP, SMB/NTLM, "
            "HTTP 401, Kerberos pre-authentication) within a window."
        ),
    )
    subscribes = frozenset({"flow", "ftp", "smb", "http", "krb5", "rdp"})
    prefilter: ClassVar[Prefilters] = {
        "ftp": ftp_login,
        "smb": smb_session_setup,
    }
    Config = BruteForceConfig

    def __init__(self, config: BruteForceConfig | None = None) -> None:
        super().__init__(config or BruteForceConfig())
        self.cfg: BruteForceConfig = self.config
        self.pairs: BoundedMap[tuple[str, str, str], _Tally] = BoundedMap(self.cfg.max_pairs)
        self.flow_user: BoundedMap[int, str] = BoundedMap(self.cfg.max_flows)
        self.krb_names = KrbClientNames(self.cfg.max_krb_requests)

    # -- flows: SSH and RDP ---------------------------------------------------------------

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        names = flows.app_names
        if "ssh" not in names and "rdp" not in names:
            return
        app = flows.app_proto
        ssh = app == names.index("ssh") if "ssh" in names else np.zeros(flows.n, np.bool_)
        rdp = app == names.index("rdp") if "rdp" in names else np.zeros(flows.n, np.bool_)
        c = self.cfg
        kex = (flows.bytes_ts >= c.ssh_kex_min_bytes) & (flows.bytes_tc >= c.ssh_kex_min_bytes)
        ssh &= kex  # a session cut before key exchange tried no password
        ssh_fail = ssh & (flows.bytes_tc <= c.ssh_fail_max_bytes_tc)
        short = (flows.last_ts - flows.first_ts) <= c.rdp_fail_max_s * 1_000_000
        rdp_fail = rdp & short & (flows.bytes_tc <= c.rdp_fail_max_bytes_tc)
        for i in np.flatnonzero(ssh | rdp).tolist():
            proto = "ssh" if ssh[i] else "rdp"
            failed = bool(ssh_fail[i] or rdp_fail[i])
            user = self.flow_user.pop(int(flows.flow_id[i])) if proto == "rdp" else None
            self._count(
                ctx,
                proto,
                flows.src_ip(i),
                flows.dest_ip(i),
                int(flows.last_ts[i]),
                failed=failed,
                user=user,
                dport=int(flows.dport[i]),
                l4="TCP",
            )

    # -- events ---------------------------------------------------------------------------

    def on_event(self, ev: Any, ctx: Context) -> None:
        kind = event_type(ev)
        if kind == "rdp":
            self._on_rdp(ev)
        elif kind == "ftp":
            self._on_ftp(ev, ctx)
        elif kind == "smb":
            self._on_smb(ev, ctx)
        elif kind == "http":
            self._on_http(ev, ctx)
        elif kind == "krb5":
            self._on_krb5(ev, ctx)

    def _on_rdp(self, ev: Any) -> None:
        cookie = text_of(getattr(getattr(ev, "rdp", None), "cookie", None))
        if cookie is not None:
            self.flow_user.get_or_create(int(ev.flow_id), lambda: cookie)

    def _on_ftp(self, ev: Any, ctx: Context) -> None:
        body = getattr(ev, "ftp", None)
        cmd = (text_of(getattr(body, "command", None)) or "").upper()
        if cmd == "USER":
            user = text_of(getattr(body, "command_data", None))
            if user is not None:
                fid = int(ev.flow_id)
                self.flow_user.pop(fid)
                self.flow_user.get_or_create(fid, lambda: user)
            return
        if cmd != "PASS":  # never read PASS's argument
            return
        codes = ftp_codes(body)
        if "530" in codes:
            failed = True
        elif "230" in codes:
            failed = False
        else:
            return
        self._event(ctx, ev, "ftp", failed, self.flow_user.get(int(ev.flow_id)))

    def _on_smb(self, ev: Any, ctx: Context) -> None:
        body = getattr(ev, "smb", None)
        if getattr(body, "command", None) not in SMB_SESSION_SETUP:
            return
        status = getattr(body, "status", None)
        if status in SMB_AUTH_FAILED:
            failed = True
        elif status == "STATUS_SUCCESS":
            failed = False
        else:  # MORE_PROCESSING_REQUIRED: the NTLM challenge, not a result
            return
        ntlm = getattr(body, "ntlmssp", None)
        user = text_of(getattr(ntlm, "user", None))
        if user is not None:
            dom = text_of(getattr(ntlm, "domain", None))
            user = f"{dom}\\{user}" if dom else user
        self._event(ctx, ev, "smb", failed, user)

    def _on_http(self, ev: Any, ctx: Context) -> None:
        status = getattr(getattr(ev, "http", None), "status", None)
        if not isinstance(status, int) or (status >= 400 and status != 401):
            return
        self._event(ctx, ev, "http", status == 401, None)

    def _on_krb5(self, ev: Any, ctx: Context) -> None:
        body = getattr(ev, "krb5", None)
        user = self.krb_names.name(ev, body)
        msg = krb_msg(body)
        if msg == "KRB_ERROR":
            if krb_error(getattr(body, "error_code", None)) not in _KRB_FAILED:
                return
            failed = True
        elif msg == "KRB_AS_REP":
            failed = False
        else:
            return
        self._event(ctx, ev, "krb5", failed, user)

    def _event(self, ctx: Context, ev: Any, proto: str, failed: bool, user: str | None) -> None:
        dport = getattr(ev, "dest_port", None)
        src, dst = str(ev.src_ip), str(ev.dest_ip)
        if proto == "krb5":
            src, dst = krb_ends(ev)
            dport = 88
        self._count(
            ctx,
            proto,
            src,
            dst,
            event_us(ev) or ctx.now_us,
            failed=failed,
            user=user,
            dport=dport if isinstance(dport, int) else None,
            l4=text_of(getattr(ev, "proto", None)),
        )

    # -- counting -------------------------------------------------------------------------

    def _count(
        self,
        ctx: Context,
        proto: str,
        src: str,
        dst: str,
        ts: int,
        *,
        failed: bool,
        user: str | None,
        dport: int | None,
        l4: str | None,
    ) -> None:
        key = (proto, src, dst)
        if not failed and key not in self.pairs:
            return  # a success with no failure before it is of no interest
        t = self.pairs.get_or_create(key, partial(_Tally, ts, ts))
        if ts - t.first_ts > self.cfg.window_s * 1_000_000:
            t.first_ts, t.failures, t.successes, t.users, t.ports = ts, 0, 0, {}, set()
            t.alerted = False
        t.last_ts = max(t.last_ts, ts)
        t.l4 = t.l4 or l4
        if not failed:
            t.successes += 1
            return
        t.failures += 1
        if user is not None:
            capped_add(t.users, user, _USER_CAP)
        if dport is not None and len(t.ports) < 16:
            t.ports.add(dport)
        if t.alerted or t.failures < self._threshold(proto):
            return
        if proto == "http" and t.successes > self.cfg.http_max_success_share * (
            t.failures + t.successes
        ):
            return
        t.alerted = True
        self._report(ctx, proto, src, dst, t)

    def _threshold(self, proto: str) -> int:
        c = self.cfg
        return {
            "ssh": c.ssh_min_failures,
            "rdp": c.rdp_min_failures,
            "ftp": c.ftp_min_failures,
            "smb": c.smb_min_failures,
            "http": c.http_min_failures,
            "krb5": c.krb5_min_failures,
        }[proto]

    def _report(self, ctx: Context, proto: str, src: str, dst: str, t: _Tally) -> None:
        sid, label = SUBSIGS[proto]
        users = sorted(t.users, key=lambda u: (-t.users[u], u))
        ev: dict[str, Any] = {
            "protocol": proto,
            "failed_logins": t.failures,
            "successful_logins": t.successes,
            "distinct_users": len(t.users),
            "users_sample": users[:_USER_SAMPLE],
            "dest_ports": sorted(t.ports),
            "first_seen": eve_timestamp(t.first_ts),
            "last_seen": eve_timestamp(t.last_ts),
            "threshold": f"{self._threshold(proto)} failed logins in {self.cfg.window_s} s",
        }
        if proto == "ssh":
            ev["heuristic"] = (
                "SSH results are encrypted: a session past key exchange in which the server "
                f"sent at most {self.cfg.ssh_fail_max_bytes_tc} bytes is counted as a failure"
            )
        elif proto == "rdp":
            ev["heuristic"] = (
                f"an RDP connection under {self.cfg.rdp_fail_max_s} s with at most "
                f"{self.cfg.rdp_fail_max_bytes_tc} server bytes is counted as a failure"
            )
        ctx.emit(
            Finding(
                key=f"{proto}:{src}>{dst}",
                ts_us=t.last_ts,
                src_ip=src,
                dest_ip=dst,
                dest_port=min(t.ports) if len(t.ports) == 1 else None,
                proto=t.l4,
                app_proto=proto,
                signature=f"TOCSIN BEHAVIOUR {label} brute force: many failed logins "
                "from one source",
                signature_id=sid,
                confidence="medium" if proto in ("ssh", "rdp") else "high",
                evidence=ev,
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.pairs.evicted,
            "tracked": len(self.pairs),
            "flow_users_evicted": self.flow_user.evicted,
            "krb_requests_evicted": self.krb_names.evicted,
        }


DETECTORS = (BruteForce,)
