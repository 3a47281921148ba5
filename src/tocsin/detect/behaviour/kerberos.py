"""Kerberos ticket roasting: Kerberoasting and AS-REP roasting (`behaviour.kerberoasting`).

Reads `krb5` events (Suricata's field names: `msg_type`, `cname`, `sname`, `encryption`,
`weak_encryption`, `ticket_encryption`, `ticket_weak_encryption`, `error_code`). The client
is the end that is not on port 88.

- **Kerberoasting** (T1558.003): a TGS-REP whose service ticket is encrypted with RC4 or
  DES (`ticket_encryption` rc4-hmac / etype 23, or `ticket_weak_encryption`) can be cracked
  offline for the service account's password. Per client, the distinct services (`sname`,
  krbtgt excluded) given such tickets within `window_s` are counted: at `min_services` the
  alert is high confidence, severity 1 (sid 8_000_231: one client asking for many roastable
  tickets is what Rubeus / Invoke-Kerberoast / GetUserSPNs do). The first weak service
  ticket of a client is reported alone at low confidence, severity 3 (sid 8_000_230): a
  service account without AES keys is itself a finding, and one ticket is all an attacker
  who knows the target needs.
- **AS-REP roasting** (T1558.004, sid 8_000_232): an AS-REP whose `encryption` is weak, for
  a principal to which the KDC did not first answer PREAUTH_REQUIRED (25) from this client
  within `preauth_memory_s` (an error without `cname` covers every principal of the client,
  as KDCs often leave it out): the account does not require pre-authentication and its
  reply can be cracked offline. Medium confidence; high at `min_asrep_users` principals.

Near misses it does not alert on: AES service tickets (the default in a current domain), RC4
TGTs (`krbtgt` snames), an AS-REP after the normal PREAUTH_REQUIRED round trip, an AES
AS-REP without pre-authentication (not crackable cheaply).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tocsin.detect.behaviour._auth import (
    KRB_PREAUTH_REQUIRED,
    event_us,
    krb_ends,
    krb_error,
    krb_msg,
    text_of,
    weak_etype,
)
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.output.timefmt import eve_timestamp

_NAME_CAP = 500  # distinct services / principals kept per client
_SAMPLE = 10
SID_WEAK_TICKET, SID_KERBEROAST, SID_ASREP = 8_000_230, 8_000_231, 8_000_232


@dataclass(frozen=True, slots=True)
class KerberoastConfig:
    min_services: int = 5  # distinct services with weak tickets from one client
    min_asrep_users: int = 3  # distinct principals roasted by AS-REP from one client
    window_s: int = 3600
    preauth_memory_s: int = 300  # how long a PREAUTH_REQUIRED answer is remembered
    report_single_ticket: bool = True  # the low-confidence one-ticket finding
    max_clients: int = 20_000
    max_preauth: int = 50_000


@dataclass(slots=True)
class _Client:
    first_ts: int
    last_ts: int
    services: dict[str, str] = field(default_factory=dict)  # sname -> ticket encryption
    asrep_users: dict[str, str] = field(default_factory=dict)  # cname -> encryption
    cnames: set[str] = field(default_factory=set)
    roast_alerted: bool = False
    asrep_alerted: bool = False


class Kerberoasting(Detector):
    """Roastable Kerberos tickets requested by one client (TGS-REP / AS-REP in RC4)."""

    info = DetectorInfo(
        name="behaviour.kerberoasting",
        signature_id=SID_KERBEROAST,
        signature="TOCSIN BEHAVIOUR Kerberoasting: RC4 service tickets for many services",
        category="Attempted User Privilege Gain",
        technique="T1558.003",
        tactic="TA0006",
        severity=1,
        confidence="high",
        description=(
            "A client obtains RC4/DES-encrypted service tickets (crackable offline) for many "
            "services, or AS-REPs in RC4 for accounts without pre-authentication."
        ),
    )
    subscribes = frozenset({"krb5"})
    Config = KerberoastConfig

    def __init__(self, config: KerberoastConfig | None = None) -> None:
        super().__init__(config or KerberoastConfig())
        self.cfg: KerberoastConfig = self.config
        self.clients: BoundedMap[str, _Client] = BoundedMap(self.cfg.max_clients)
        self.preauth: BoundedMap[tuple[str, str], int] = BoundedMap(self.cfg.max_preauth)

    def on_event(self, ev: Any, ctx: Context) -> None:
        body = getattr(ev, "krb5", None)
        if body is None:
            return
        msg = krb_msg(body)
        client, kdc = krb_ends(ev)
        ts = event_us(ev) or ctx.now_us
        cname = text_of(getattr(body, "cname", None))
        if msg == "KRB_ERROR":
            if krb_error(getattr(body, "error_code", None)) == KRB_PREAUTH_REQUIRED:
                # KDCs often leave cname out of the error: then it covers the client
                k = (client, cname.lower() if cname else "")
                self.preauth.pop(k)
                self.preauth.get_or_create(k, partial(int, ts))
        elif msg == "KRB_TGS_REP":
            enc = getattr(body, "ticket_encryption", None)
            sname = text_of(getattr(body, "sname", None))
            weak = weak_etype(enc, getattr(body, "ticket_weak_encryption", None))
            if weak and sname and not sname.lower().startswith("krbtgt"):
                self._weak_ticket(ctx, client, kdc, ts, sname, str(enc), cname)
        elif msg == "KRB_AS_REP" and cname:
            enc = getattr(body, "encryption", None)
            if weak_etype(enc, getattr(body, "weak_encryption", None)):
                window = self.cfg.preauth_memory_s * 1_000_000
                asked = (self.preauth.get((client, n)) for n in (cname.lower(), ""))
                if not any(a is not None and 0 <= ts - a <= window for a in asked):
                    self._asrep(ctx, client, kdc, ts, cname, str(enc))

    def _client(self, client: str, ts: int) -> _Client:
        c = self.clients.get_or_create(client, partial(_Client, ts, ts))
        if ts - c.first_ts > self.cfg.window_s * 1_000_000:
            c.first_ts, c.services, c.asrep_users, c.cnames = ts, {}, {}, set()
            c.roast_alerted = c.asrep_alerted = False
        c.last_ts = max(c.last_ts, ts)
        return c

    def _weak_ticket(
        self,
        ctx: Context,
        client: str,
        kdc: str,
        ts: int,
        sname: str,
        enc: str,
        cname: str | None,
    ) -> None:
        c = self._client(client, ts)
        if cname and len(c.cnames) < _NAME_CAP:
            c.cnames.add(cname)
        first = not c.services
        if sname not in c.services and len(c.services) < _NAME_CAP:
            c.services[sname] = enc
        n = len(c.services)
        if n >= self.cfg.min_services and not c.roast_alerted:
            c.roast_alerted = True
            self._emit(ctx, client, kdc, c, SID_KERBEROAST, "roast")
        elif first and self.cfg.report_single_ticket:
            self._emit(ctx, client, kdc, c, SID_WEAK_TICKET, "weak")

    def _asrep(self, ctx: Context, client: str, kdc: str, ts: int, cname: str, enc: str) -> None:
        c = self._client(client, ts)
        first = not c.asrep_users
        if cname not in c.asrep_users and len(c.asrep_users) < _NAME_CAP:
            c.asrep_users[cname] = enc
        if len(c.asrep_users) >= self.cfg.min_asrep_users and not c.asrep_alerted:
            c.asrep_alerted = True
            self._emit(ctx, client, kdc, c, SID_ASREP, "asrep-many")
        elif first:
            self._emit(ctx, client, kdc, c, SID_ASREP, "asrep")

    def _emit(self, ctx: Context, client: str, kdc: str, c: _Client, sid: int, kind: str) -> None:
        cfg = self.cfg
        common = {
            "first_seen": eve_timestamp(c.first_ts),
            "last_seen": eve_timestamp(c.last_ts),
        }
        if kind in ("roast", "weak"):
            services = sorted(c.services)
            evidence: dict[str, Any] = {
                "weak_service_tickets": len(services),
                "services_sample": services[:_SAMPLE],
                "ticket_encryption": sorted(set(c.services.values())),
                "client_principals": sorted(c.cnames)[:_SAMPLE],
                **common,
                "threshold": f"{cfg.min_services} services in {cfg.window_s} s",
            }
            if kind == "roast":
                sig = "TOCSIN BEHAVIOUR Kerberoasting: RC4 service tickets for many services"
                sev, conf = 1, "high"
            else:
                sig = "TOCSIN BEHAVIOUR Kerberos service ticket issued with weak RC4/DES encryption"
                sev, conf = 3, "low"
                evidence["note"] = (
                    "one roastable ticket: the service account has no AES keys; many from one "
                    "client in a short time is Kerberoasting"
                )
            technique = "T1558.003"
        else:
            users = sorted(c.asrep_users)
            evidence = {
                "asrep_without_preauth": len(users),
                "principals_sample": users[:_SAMPLE],
                "encryption": sorted(set(c.asrep_users.values())),
                **common,
                "threshold": f"{cfg.min_asrep_users} principals in {cfg.window_s} s",
            }
            sig = "TOCSIN BEHAVIOUR AS-REP roasting: RC4 AS-REP without pre-authentication"
            many = kind == "asrep-many"
            sev, conf = (1, "high") if many else (2, "medium")
            technique = "T1558.004"
        ctx.emit(
            Finding(
                key=f"{kind}:{client}",
                ts_us=c.last_ts,
                src_ip=client,
                dest_ip=kdc,
                dest_port=88,
                app_proto="krb5",
                signature=sig,
                signature_id=sid,
                severity=sev,
                confidence=conf,
                evidence=evidence,
                metadata={"mitre_technique_id": [technique]},
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.clients.evicted + self.preauth.evicted,
            "tracked": len(self.clients),
        }


DETECTORS = (Kerberoasting,)
