"""Helpers shared by the credential detectors (brute force, spraying, cleartext, Kerberos).

Reads app-layer events defensively, by EVE field name and `getattr`, so the same code serves
Tocsin's typed records and any record with Suricata's field names (`ftp`, `krb5` bodies:
`properties.ftp` / `properties.krb5` of Suricata's EVE JSON Schema). Nothing here keeps
module state (`KrbClientNames` is a detector's own bounded memory); nothing here ever reads
a password (FTP `PASS` arguments are never looked at).
"""

from __future__ import annotations

from typing import Any

from tocsin.detect.correlate.plugin import event_us as event_us
from tocsin.detect.correlate.state import BoundedMap

# Kerberos error codes (RFC 4120 section 7.5.9) by number and by the names Suricata logs
KRB_PRINCIPAL_UNKNOWN = 6  # KDC_ERR_C_PRINCIPAL_UNKNOWN
KRB_CLIENT_REVOKED = 18  # KDC_ERR_CLIENT_REVOKED (account locked out or disabled)
KRB_PREAUTH_FAILED = 24  # KDC_ERR_PREAUTH_FAILED (wrong password)
KRB_PREAUTH_REQUIRED = 25  # KDC_ERR_PREAUTH_REQUIRED (the normal first answer)
_KRB_ERROR_NAMES = {
    "KDC_ERR_C_PRINCIPAL_UNKNOWN": KRB_PRINCIPAL_UNKNOWN,
    "KDC_ERR_CLIENT_REVOKED": KRB_CLIENT_REVOKED,
    "KDC_ERR_PREAUTH_FAILED": KRB_PREAUTH_FAILED,
    "KDC_ERR_PREAUTH_REQUIRED": KRB_PREAUTH_REQUIRED,
}
WEAK_ETYPES = frozenset({"rc4-hmac", "rc4-hmac-exp", "des-cbc-crc", "des-cbc-md5", "des-cbc-md4"})

SMB_SESSION_SETUP = frozenset({"SMB2_COMMAND_SESSION_SETUP", "SMB1_COMMAND_SESSION_SETUP_ANDX"})
SMB_AUTH_FAILED = frozenset(
    {
        "STATUS_LOGON_FAILURE",
        "STATUS_WRONG_PASSWORD",
        "STATUS_NO_SUCH_USER",
        "STATUS_ACCOUNT_LOCKED_OUT",
    }
)

ANONYMOUS_FTP_USERS = frozenset({"anonymous", "ftp"})


def text_of(v: Any) -> str | None:
    """A non-empty string field, None otherwise (Suricata writes "<empty>" for none)."""
    if isinstance(v, str) and v and v != "<empty>":
        return v
    return None


def krb_error(code: Any) -> int | None:
    """A Kerberos error code as a number, from a name ("KDC_ERR_PREAUTH_FAILED"), a number,
    or a numeric string; None when absent or unknown."""
    if isinstance(code, bool) or code is None:
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str):
        if code.isdigit():
            return int(code)
        return _KRB_ERROR_NAMES.get(code.upper())
    return None


def krb_msg(body: Any) -> str:
    """The krb5 `msg_type`, upper case with underscores ("KRB_TGS_REP", "KRB_ERROR")."""
    m = getattr(body, "msg_type", None)
    return m.upper().replace("-", "_") if isinstance(m, str) else ""


def weak_etype(name: Any, flag: Any) -> bool:
    """Whether a krb5 encryption (name, weak flag) is RC4 or DES."""
    if flag is True:
        return True
    if isinstance(name, str):
        n = name.lower()
        return n in WEAK_ETYPES or n == "23" or n.startswith("rc4") or n.startswith("des")
    return False


def ftp_codes(body: Any) -> list[str]:
    """The completion codes of an ftp event's reply ("530", "230"...)."""
    codes = getattr(body, "completion_code", None)
    return [str(c) for c in codes] if isinstance(codes, list) else []


def capped_add(d: dict[str, int], key: str, cap: int) -> None:
    """Count `key` in `d`, adding no new key past `cap` entries."""
    if key in d:
        d[key] += 1
    elif len(d) < cap:
        d[key] = 1


def krb_ends(ev: Any) -> tuple[str, str]:
    """(client, KDC) of a krb5 event: Tocsin writes replies KDC to client (`by_packet`),
    Suricata in flow direction; the KDC is the end on port 88."""
    src, dst = str(ev.src_ip), str(ev.dest_ip)
    if getattr(ev, "src_port", None) == 88 and getattr(ev, "dest_port", None) != 88:
        return dst, src
    return src, dst


class KrbClientNames:
    """Who a KRB-ERROR is about. Windows KDCs leave the client's name (`cname`) out of their
    errors; the AS-REQ the error answers names it. `name(ev, body)` is called with every krb5
    event, in order, and returns the message's `cname` (None when it has none), except for a
    KRB-ERROR without one that answers an AS-REQ: it gets the `cname` of the last AS-REQ of
    its exchange — the same flow over TCP (Windows opens one connection per exchange), the
    same client, KDC and client port over UDP — or None. An AS-REQ's name stays remembered
    for a retry on the same exchange; at most `capacity` exchanges are remembered, the least
    recently used evicted first (counted in `evicted`)."""

    __slots__ = ("names",)

    def __init__(self, capacity: int) -> None:
        self.names: BoundedMap[tuple[Any, ...], str] = BoundedMap(capacity)

    @property
    def evicted(self) -> int:
        return self.names.evicted

    @staticmethod
    def _key(ev: Any) -> tuple[Any, ...]:
        if getattr(ev, "proto", None) == "TCP":
            return ("tcp", getattr(ev, "flow_id", None))
        client, kdc = krb_ends(ev)
        src = str(ev.src_ip) == client
        port = getattr(ev, "src_port" if src else "dest_port", None)
        return ("udp", client, kdc, port)

    def name(self, ev: Any, body: Any) -> str | None:
        msg = krb_msg(body)
        own = text_of(getattr(body, "cname", None))
        if msg == "KRB_AS_REQ" and own is not None:
            key = self._key(ev)
            self.names.pop(key)
            self.names.get_or_create(key, lambda: own)
        elif msg == "KRB_ERROR" and own is None:
            answers = text_of(getattr(body, "failed_request", None))
            if answers is None or answers == "KRB_AS_REQ":  # not a TGS-REQ's error
                return self.names.get(self._key(ev))
        return own


# -- prefilters (`Detector.prefilter`): the events a credential detector can use at all ----

_FTP_LOGIN = frozenset({"USER", "PASS", "user", "pass"})


def ftp_login(ev: Any) -> bool:
    """An ftp event of a USER or PASS command (every FTP credential detector ignores the
    others: RETR, LIST, CWD... are most of an FTP session)."""
    cmd = getattr(getattr(ev, "ftp", None), "command", None)
    return isinstance(cmd, str) and (cmd in _FTP_LOGIN or cmd.upper() in _FTP_LOGIN)


def smb_session_setup(ev: Any) -> bool:
    """An smb event of a SESSION_SETUP (where logons succeed or fail)."""
    return getattr(getattr(ev, "smb", None), "command", None) in SMB_SESSION_SETUP
