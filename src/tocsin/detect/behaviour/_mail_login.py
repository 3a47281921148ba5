"""Clear-text POP3 / IMAP logins, read from `pop3` and `imap` events one flow at a time.

`mail_login(kind, ev, state)` takes one event of a flow and that flow's `MailLogin` state and
returns the logins the event shows (zero or one), each with the user name when the event has
one and whether the server accepted it. Reads fields by name (`getattr`), so Tocsin's records
and any record with the same field names serve (`pop3`: Suricata 8's `properties.pop3`).

Rules (the contract `behaviour.cleartext_credentials` documents):
- after `STLS` (POP3) or `STARTTLS` (IMAP) answered OK on a flow, nothing more counts there:
  the rest is TLS (Tocsin's parsers stop there anyway; this also covers other sources);
- POP3: `USER name` is remembered; `PASS` is a login for that user, accepted on `+OK`.
  `AUTH MECH` with a mechanism in `CLEARTEXT_SASL` is a login (user unknown: its SASL data is
  never logged) not yet accepted; the first later command answered `+OK` that is not part
  of the SASL exchange marks it accepted (`state.accepted_later`); `-ERR` to the SASL data
  ends it refused;
- IMAP: `LOGIN` is a login (its `user`), `AUTHENTICATE` with a mechanism in `CLEARTEXT_SASL`
  too (`user` for PLAIN); accepted when the tagged status is `OK`.

A password is never read: Tocsin's events do not carry it, and nothing here looks at
arguments other than `USER`'s and `AUTH`'s mechanism.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# SASL mechanisms that send a reusable secret as is (a password, or a bearer token)
CLEARTEXT_SASL = frozenset({"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"})
_SASL_DATA = "<SASL DATA>"


@dataclass(slots=True)
class MailLogin:
    """What one POP3/IMAP flow has shown so far."""

    tls: bool = False  # STLS/STARTTLS answered OK: the rest is encrypted
    user: str | None = None  # POP3 USER, until PASS
    auth_pending: bool = False  # POP3 AUTH in clear, outcome not seen yet
    accepted_later: bool = False  # set when a pending POP3 AUTH turned out accepted


@dataclass(frozen=True, slots=True)
class Login:
    user: str | None
    accepted: bool
    method: str  # "USER/PASS", "LOGIN", "AUTH PLAIN", "AUTHENTICATE PLAIN"...


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def mail_login(kind: str, ev: Any, st: MailLogin) -> list[Login]:
    if st.tls:
        return []
    if kind == "pop3":
        return _pop3(getattr(ev, "pop3", None), st)
    return _imap(getattr(ev, "imap", None), st)


def _pop3(body: Any, st: MailLogin) -> list[Login]:
    req = getattr(body, "request", None)
    resp = getattr(body, "response", None)
    cmd = (_str(getattr(req, "command", None)) or "").upper()
    args = getattr(req, "args", None) or []
    ok = getattr(resp, "success", None) is True
    status = _str(getattr(resp, "status", None))
    if cmd == "STLS" and ok:
        st.tls = True
        return []
    if cmd == "USER":
        st.user = _str(args[0]) if args else None
        return []
    if cmd == "PASS":
        user, st.user = st.user, None
        return [Login(user, ok, "USER/PASS")]
    if cmd == "AUTH":
        mech = (_str(args[0]) if args else None) or ""
        mech = mech.upper()
        if mech not in CLEARTEXT_SASL:
            return []
        st.auth_pending = status != "ERR"
        return [Login(None, False, f"AUTH {mech}")]
    if cmd == _SASL_DATA:
        if status == "ERR":
            st.auth_pending = False
        return []
    if st.auth_pending and ok and cmd:
        st.auth_pending = False
        st.accepted_later = True
    return []


def _imap(body: Any, st: MailLogin) -> list[Login]:
    cmd = (_str(getattr(body, "command", None)) or "").upper()
    status = (_str(getattr(body, "status", None)) or "").upper()
    if cmd == "STARTTLS" and status == "OK":
        st.tls = True
        return []
    user = _str(getattr(body, "user", None))
    if cmd == "LOGIN":
        return [Login(user, status == "OK", "LOGIN")]
    if cmd == "AUTHENTICATE":
        mech = (_str(getattr(body, "mechanism", None)) or "").upper()
        if mech in CLEARTEXT_SASL:
            return [Login(user, status == "OK", f"AUTHENTICATE {mech}")]
    return []
