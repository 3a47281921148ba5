"""behaviour.cleartext_credentials: FTP logins, HTTP Basic, POP3/IMAP logins before
STARTTLS, Telnet flows."""

from __future__ import annotations

from pathlib import Path

import pytest
from auth_records import FIXTURES, T0, S, ftp_login, http

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.cleartext import CleartextCredentials
from tocsin.model.flows import FlowRow
from tocsin.model.ids import FlowId
from tocsin.model.imap import ImapEvent, ImapInfo
from tocsin.model.pop3 import (
    PASSWORD_REDACTED,
    SASL_DATA,
    Pop3Event,
    Pop3Info,
    Pop3Request,
    Pop3Response,
)
from tocsin.output.timefmt import eve_timestamp

POP3_FIX = Path(__file__).parents[2] / "fixtures" / "applayer" / "pop3"
IMAP_FIX = Path(__file__).parents[2] / "fixtures" / "applayer" / "imap"


def test_ftp_logins_report_once_per_pair_with_user_and_count() -> None:
    items = [e for i in range(3) for e in ftp_login(T0 + i * S, i + 1, "nurse1", "230")]
    alerts = feed(CleartextCredentials(), items)
    assert names(alerts) == ["behaviour.cleartext_credentials"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_221 and a.dest_port == 21
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["count"] == 3 and ev["accepted"] == 3 and ev["users"] == ["nurse1"]
    assert "<redacted>" not in str(ev)


def test_anonymous_ftp_and_user_without_pass_are_not_reported() -> None:
    items = [e for i in range(3) for e in ftp_login(T0 + i * S, i + 1, "anonymous", "230")]
    items += ftp_login(T0 + 10 * S, 9, "bob", "331")[:1]  # USER only
    assert feed(CleartextCredentials(), items) == []


def test_http_basic_authorization_is_reported_without_the_credential() -> None:
    alerts = feed(CleartextCredentials(), [http(T0, 200, auth="Basic YWxpY2U6c2VjcmV0")])
    assert [a.alert.signature_id for a in alerts] == [8_000_222]
    assert "YWxp" not in str(alerts[0].alert.context)
    assert feed(CleartextCredentials(), [http(T0, 401), http(T0 + S, 200, auth="Bearer x")]) == []


def _flow(port: int, pkts: int, app: str = "") -> FlowRow:
    return FlowRow("10.0.0.5", "10.0.0.23", 50000, port, first_ts=T0, last_ts=T0 + 30 * S,
                   pkts_ts=pkts, pkts_tc=pkts, bytes_ts=pkts * 70, bytes_tc=pkts * 90,
                   state=2, app_proto=app)  # fmt: skip


def test_telnet_sessions_are_low_confidence_and_mail_ports_no_longer_guessed() -> None:
    alerts = feed(CleartextCredentials(), [flows(_flow(23, 40), _flow(110, 12), _flow(143, 9))])
    assert [a.alert.signature for a in alerts] == [
        "TOCSIN BEHAVIOUR clear-text credentials: Telnet session"
    ]
    assert alerts[0].alert.signature_id == 8_000_223
    assert alerts[0].alert.metadata["confidence"] == ["low"]  # type: ignore[index]


def test_probes_and_other_protocols_on_those_ports_are_not() -> None:
    probe = _flow(23, 2)
    tls_on_23 = _flow(23, 30, app="tls")
    assert feed(CleartextCredentials(), [flows(probe, tls_on_23)]) == []


def _pop3(t: int, fid: int, command: str | None, args: list[str], status: str | None) -> Pop3Event:
    req = Pop3Request(command=command, args=args) if command else None
    resp = None
    if status is not None:
        resp = Pop3Response(status=status, success=status == "OK", header="", data=[])
    return Pop3Event(timestamp=eve_timestamp(t), flow_id=FlowId(fid), src_ip="10.0.0.5",
                     src_port=40000 + fid, dest_ip="10.0.0.110", dest_port=110, proto="TCP",
                     pop3=Pop3Info(request=req, response=resp))  # fmt: skip


def _imap(t: int, fid: int, command: str, status: str | None, **kw: str) -> ImapEvent:
    return ImapEvent(timestamp=eve_timestamp(t), flow_id=FlowId(fid), src_ip="10.0.0.5",
                     src_port=40000 + fid, dest_ip="10.0.0.143", dest_port=143, proto="TCP",
                     imap=ImapInfo(command=command, status=status, **kw))  # fmt: skip


def test_pop3_user_pass_and_sasl_logins_are_reported_with_user_and_acceptance() -> None:
    items = [
        _pop3(T0, 1, None, [], "OK"),  # greeting
        _pop3(T0 + 1, 1, "USER", ["nurse1"], "OK"),
        _pop3(T0 + 2, 1, "PASS", [PASSWORD_REDACTED], "ERR"),
        _pop3(T0 + 3, 1, "USER", ["nurse1"], "OK"),
        _pop3(T0 + 4, 1, "PASS", [PASSWORD_REDACTED], "OK"),
        _pop3(T0 + S, 2, "AUTH", ["PLAIN", PASSWORD_REDACTED], "OK"),
        _pop3(T0 + S + 1, 2, "STAT", [], "OK"),  # the server went on: AUTH accepted
        _pop3(T0 + 2 * S, 3, "AUTH", ["LOGIN"], "OK"),
        _pop3(T0 + 2 * S + 1, 3, SASL_DATA, [], "OK"),
        _pop3(T0 + 2 * S + 2, 3, SASL_DATA, [], "ERR"),  # refused
        _pop3(T0 + 2 * S + 3, 3, "QUIT", [], "OK"),
    ]
    alerts = feed(CleartextCredentials(), items)
    assert [a.alert.signature_id for a in alerts] == [8_000_224]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["count"] == 4 and ev["accepted"] == 2 and ev["users"] == ["nurse1"]
    assert ev["methods"] == ["AUTH LOGIN", "AUTH PLAIN", "USER/PASS"]
    assert PASSWORD_REDACTED not in str(alerts[0].alert.context)


def test_pop3_after_stls_and_non_cleartext_mechanisms_are_not_reported() -> None:
    items = [
        _pop3(T0, 1, "STLS", [], "OK"),
        _pop3(T0 + 1, 1, "USER", ["nurse1"], "OK"),  # not seen by Tocsin's parser; other sources
        _pop3(T0 + 2, 1, "PASS", [PASSWORD_REDACTED], "OK"),
        _pop3(T0 + S, 2, "AUTH", ["CRAM-MD5"], "OK"),
        _pop3(T0 + S, 2, "APOP", ["mrose", PASSWORD_REDACTED], "OK"),
        _pop3(T0 + 2 * S, 3, "CAPA", [], "OK"),
    ]
    assert feed(CleartextCredentials(), items) == []


def test_imap_login_and_authenticate_plain_reported_not_after_starttls() -> None:
    items = [
        _imap(T0, 1, "LOGIN", "NO", user="dr.who"),
        _imap(T0 + 1, 1, "LOGIN", "OK", user="dr.who"),
        _imap(T0 + S, 2, "AUTHENTICATE", "OK", user="lab", mechanism="PLAIN"),
        _imap(T0 + S, 3, "AUTHENTICATE", "OK", mechanism="GSSAPI"),
        _imap(T0 + 2 * S, 4, "STARTTLS", "OK"),
        _imap(T0 + 2 * S + 1, 4, "LOGIN", "OK", user="after-tls"),
        _imap(T0 + 3 * S, 5, "STARTTLS", "NO"),  # refused: the login after it is in clear
        _imap(T0 + 3 * S + 1, 5, "LOGIN", "OK", user="nurse2"),
    ]
    alerts = feed(CleartextCredentials(), items)
    assert [a.alert.signature_id for a in alerts] == [8_000_225]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["users"] == ["dr.who", "lab", "nurse2"] and ev["count"] == 4 and ev["accepted"] == 3
    assert ev["methods"] == ["AUTHENTICATE PLAIN", "LOGIN"]


@pytest.mark.parametrize(
    ("pcap", "sid", "users"),
    [
        (POP3_FIX / "sv-pop3-03-bug-7709.pcap", 8_000_224, ["test", "test@tt.com"]),
        (POP3_FIX / "sv-pop3-auth-01.pcap", 8_000_224, []),
        (IMAP_FIX / "sv-imap-detection.pcap", 8_000_225, ["neulingern"]),
    ],
)
def test_mail_captures_end_to_end(tmp_path: Path, pcap: Path, sid: int, users: list[str]) -> None:
    alerts = analyze_alerts([pcap], tmp_path, only=["behaviour.cleartext_credentials"])
    assert [a["alert"]["signature_id"] for a in alerts] == [sid]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["users"] == users and ev["accepted"] >= 1


@pytest.mark.parametrize(
    "pcap", [POP3_FIX / "zeek-pop3-starttls.pcap", IMAP_FIX / "zeek-imap-starttls.pcap"]
)
def test_starttls_captures_are_near_misses(tmp_path: Path, pcap: Path) -> None:
    """Zeek's STARTTLS traces: the sessions upgrade before any login; they alerted when the
    detector guessed from ports 110/143, they must not now."""
    assert analyze_alerts([pcap], tmp_path, only=["behaviour.cleartext_credentials"]) == []


def test_ftp_capture_end_to_end(tmp_path: Path) -> None:
    """Zeek's FTP brute-force trace: user `bro` tried in clear 30 times, one alert."""
    alerts = analyze_alerts(
        [FIXTURES / "zeek-ftp-bruteforce.pcap"],
        tmp_path,
        only=["behaviour.cleartext_credentials"],
    )
    assert names(alerts) == ["behaviour.cleartext_credentials"]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["users"] == ["bro"] and ev["accepted"] == 0 and ev["count"] >= 20
