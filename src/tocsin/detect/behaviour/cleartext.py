"""Credentials sent in clear text (`behaviour.cleartext_credentials`).

Reads `ftp`, `http`, `pop3` and `imap` events and ended flows. Per (client, server, protocol)
it gathers what was seen for `hold_s` seconds of packet time after the first sighting, then
reports once, with the count; the pair is reported again only after `window_s`.

- **FTP** (sid 8_000_221, high confidence): a `PASS` command, for a `USER` other than
  anonymous / ftp; the evidence says whether the server accepted it (230) and names the user
  (never the password: Tocsin's FTP events redact it).
- **HTTP Basic** (sid 8_000_222, high confidence): a request whose `request_headers` carry
  `Authorization: Basic user=NAME` over plain HTTP (the HTTP parser always logs that field,
  reduced to its scheme and user name; the password is never logged nor put in evidence).
- **POP3** (sid 8_000_224, high confidence): a `PASS` (user from the flow's `USER`), or an
  `AUTH` whose SASL mechanism sends the secret in clear (`CLEARTEXT_SASL`: PLAIN, LOGIN,
  XOAUTH2, OAUTHBEARER), sent before any `STLS` answered `+OK` on that flow. `accepted` counts
  `PASS` answered `+OK`, and `AUTH` exchanges after which the server answered a later command
  `+OK` (a SASL continuation and a final `+OK` look alike in the event).
- **IMAP** (sid 8_000_225, high confidence): a `LOGIN`, or an `AUTHENTICATE` with one of
  those mechanisms, before any `STARTTLS` answered `OK`; `accepted` counts tagged `OK`
  answers. The user is named when the event has it (`LOGIN` atom or quoted string, `PLAIN`
  identity); never the password (Tocsin's POP3/IMAP events never carry it).
- **Telnet** (sid 8_000_223, low confidence): a TCP flow to port 23 whose application was not
  identified as something else and in which both ends sent at least `min_pkts` packets and
  the server at least `min_bytes_tc` bytes. The flow shows that a clear-text login protocol
  is in use, not that a password crossed it: the evidence says so.

Near misses it does not alert on: anonymous FTP, an FTP `USER` with no `PASS`, an HTTP 401
challenge with no credentials sent, a POP3/IMAP session upgraded with `STLS`/`STARTTLS`
before logging in (nothing after the upgrade is parsed), POP3 `APOP` and SASL mechanisms that
never send the password (CRAM-MD5, SCRAM, GSSAPI, NTLM, EXTERNAL), a POP3/IMAP session with
no login (CAPABILITY only), a port-23 probe or banner grab (too few packets), port-23 flows
identified as another protocol (SSH or TLS on a non-standard port). POP3/IMAP are no longer
guessed from ports 110/143: their parsers see the login itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import numpy as np

from tocsin.detect.behaviour._auth import (
    ANONYMOUS_FTP_USERS,
    event_us,
    ftp_codes,
    ftp_login,
    text_of,
)
from tocsin.detect.behaviour._mail_login import MailLogin, mail_login
from tocsin.detect.behaviour._ports import PortSet
from tocsin.detect.correlate.correlator import event_type
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, Prefilters
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

_USER_SAMPLE = 5
# port -> protocol word, for flows whose application was not identified
CLEARTEXT_PORTS = {23: "telnet"}
_CLEARTEXT = PortSet(CLEARTEXT_PORTS)
_UNIDENTIFIED = frozenset({"", "failed", "telnet"})
# protocol -> (signature id, label, confidence, severity)
SUBSIGS = {
    "ftp": (8_000_221, "FTP login", "high", 2),
    "http": (8_000_222, "HTTP Basic authorization", "high", 2),
    "telnet": (8_000_223, "Telnet session", "low", 3),
    "pop3": (8_000_224, "POP3 login", "high", 2),
    "imap": (8_000_225, "IMAP login", "high", 2),
}


@dataclass(frozen=True, slots=True)
class CleartextConfig:
    hold_s: int = 60  # gather this long after the first sighting, then report
    window_s: int = 3600  # one report per (client, server, protocol) per window
    min_pkts: int = 5  # each way, for a Telnet flow
    min_bytes_tc: int = 300
    max_pairs: int = 50_000
    max_flows: int = 50_000  # FTP/POP3/IMAP flows whose login state is remembered


@dataclass(slots=True)
class _Seen:
    first_ts: int
    last_ts: int
    count: int = 0
    accepted: int = 0
    users: dict[str, int] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)
    port: int | None = None
    reported: bool = False


class CleartextCredentials(Detector):
    """Logins over protocols that carry the password in clear."""

    info = DetectorInfo(
        name="behaviour.cleartext_credentials",
        signature_id=8_000_220,
        signature="TOCSIN BEHAVIOUR credentials sent in clear text",
        category="Potential Corporate Privacy Violation",
        technique="T1040",
        tactic="TA0006",
        severity=2,
        confidence="medium",
        description=(
            "Logins that expose the password on the wire: FTP USER/PASS, HTTP Basic "
            "authorization, POP3/IMAP logins before STARTTLS, and Telnet sessions (lower "
            "confidence)."
        ),
    )
    subscribes = frozenset({"flow", "ftp", "http", "pop3", "imap"})
    prefilter: ClassVar[Prefilters] = {"ftp": ftp_login}
    Config = CleartextConfig
    tick_s = 30

    def __init__(self, config: CleartextConfig | None = None) -> None:
        super().__init__(config or CleartextConfig())
        self.cfg: CleartextConfig = self.config
        self.pairs: BoundedMap[tuple[str, str, str], _Seen] = BoundedMap(self.cfg.max_pairs)
        self.ftp_user: BoundedMap[int, str] = BoundedMap(self.cfg.max_flows)
        self.mail: BoundedMap[int, MailLogin] = BoundedMap(self.cfg.max_flows)

    def on_event(self, ev: Any, ctx: Context) -> None:
        kind = event_type(ev)
        ts = event_us(ev) or ctx.now_us
        if kind == "ftp":
            body = getattr(ev, "ftp", None)
            cmd = (text_of(getattr(body, "command", None)) or "").upper()
            fid = int(ev.flow_id)
            if cmd == "USER":
                name = text_of(getattr(body, "command_data", None))
                self.ftp_user.pop(fid)
                if name is not None:
                    self.ftp_user.get_or_create(fid, partial(str, name))
            elif cmd == "PASS":  # its argument is never read
                user = self.ftp_user.get(fid)
                if user is not None and user.lower() not in ANONYMOUS_FTP_USERS:
                    accepted = "230" in ftp_codes(body)
                    self._seen(ev.src_ip, ev.dest_ip, "ftp", ts, ev.dest_port, user, accepted)
        elif kind in ("pop3", "imap"):
            st = self.mail.get_or_create(int(ev.flow_id), MailLogin)
            for login in mail_login(kind, ev, st):
                s = self._seen(ev.src_ip, ev.dest_ip, kind, ts, ev.dest_port, login.user,
                               login.accepted)  # fmt: skip
                s.methods[login.method] = s.methods.get(login.method, 0) + 1
            if st.accepted_later:  # a POP3 AUTH exchange the server went on from
                st.accepted_later = False
                pair = self.pairs.get((ev.src_ip, ev.dest_ip, kind))
                if pair is not None:
                    pair.accepted += 1
        elif kind == "http":
            headers = getattr(getattr(ev, "http", None), "request_headers", None) or []
            for h in headers:
                if str(getattr(h, "name", "")).lower() == "authorization":
                    value = str(getattr(h, "value", ""))
                    scheme, _, rest = value.partition(" ")
                    if scheme.lower() == "basic":
                        # the parser logs the scheme and user name only ("Basic user=alice")
                        user = rest[5:] if rest.startswith("user=") else None
                        self._seen(ev.src_ip, ev.dest_ip, "http", ts, ev.dest_port, user, False)
                    break

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        c = self.cfg
        port = _CLEARTEXT.of(flows.dport) & (flows.proto == 6)
        talk = (flows.pkts_ts >= c.min_pkts) & (flows.pkts_tc >= c.min_pkts)
        rows = np.flatnonzero(port & talk & (flows.bytes_tc >= c.min_bytes_tc))
        for i in rows.tolist():
            if flows.app(i) not in _UNIDENTIFIED:
                continue
            dport = int(flows.dport[i])
            proto = CLEARTEXT_PORTS[dport]
            ts = int(flows.last_ts[i])
            self._seen(flows.src_ip(i), flows.dest_ip(i), proto, ts, dport, None, False)

    def _seen(
        self,
        src: str,
        dst: str,
        proto: str,
        ts: int,
        port: int | None,
        user: str | None,
        accepted: bool,
    ) -> _Seen:
        s = self.pairs.get_or_create((src, dst, proto), partial(_Seen, ts, ts))
        if s.reported and ts - s.first_ts > self.cfg.window_s * 1_000_000:
            s.first_ts, s.count, s.accepted, s.reported = ts, 0, 0, False
            s.users, s.methods = {}, {}
        s.last_ts = max(s.last_ts, ts)
        s.count += 1
        s.accepted += accepted
        s.port = s.port or port
        if user is not None and (user in s.users or len(s.users) < 100):
            s.users[user] = s.users.get(user, 0) + 1
        return s

    def on_tick(self, ctx: Context) -> None:
        hold = self.cfg.hold_s * 1_000_000
        for (src, dst, proto), s in self.pairs.items():
            if not s.reported and (ctx.final or ctx.now_us - s.first_ts >= hold):
                s.reported = True
                self._report(ctx, src, dst, proto, s)
        window = self.cfg.window_s * 1_000_000
        self.pairs.drop_older(lambda s: not s.reported or ctx.now_us - s.first_ts <= window)

    def _report(self, ctx: Context, src: str, dst: str, proto: str, s: _Seen) -> None:
        sid, label, conf, sev = SUBSIGS[proto]
        ev: dict[str, Any] = {
            "protocol": proto,
            "server": dst,
            "server_port": s.port,
            "count": s.count,
            "first_seen": eve_timestamp(s.first_ts),
            "last_seen": eve_timestamp(s.last_ts),
        }
        if proto == "ftp":
            ev["users"] = sorted(s.users)[:_USER_SAMPLE]
            ev["accepted"] = s.accepted
        elif proto == "http":
            ev["users"] = sorted(s.users)[:_USER_SAMPLE]
            ev["note"] = "Authorization: Basic sent over plain HTTP (password not logged)"
        elif proto in ("pop3", "imap"):
            ev["users"] = sorted(s.users)[:_USER_SAMPLE]
            ev["accepted"] = s.accepted
            ev["methods"] = sorted(s.methods)
            ev["note"] = (
                f"{label} sent before any STARTTLS/STLS: the secret crossed the network in "
                "clear (password not logged)"
            )
        else:
            ev["note"] = (
                f"a {label} carried data both ways; the protocol logs in with a clear-text "
                "password, but the login itself was not seen (STARTTLS not ruled out)"
            )
        ctx.emit(
            Finding(
                key=f"{proto}:{src}>{dst}",
                ts_us=s.last_ts,
                src_ip=src,
                dest_ip=dst,
                dest_port=s.port,
                proto="TCP",
                app_proto=proto,
                signature=f"TOCSIN BEHAVIOUR clear-text credentials: {label}",
                signature_id=sid,
                severity=sev,
                confidence=conf,
                evidence=ev,
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.pairs.evicted,
            "tracked": len(self.pairs),
            "ftp_users_evicted": self.ftp_user.evicted,
            "mail_flows_evicted": self.mail.evicted,
        }


DETECTORS = (CleartextCredentials,)
