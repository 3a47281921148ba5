"""behaviour.cleartext_credentials: FTP logins, HTTP Basic, Telnet/POP3/IMAP flows."""

from __future__ import annotations

from pathlib import Path

from auth_records import FIXTURES, T0, S, ftp_login, http

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.cleartext import CleartextCredentials
from tocsin.model.flows import FlowRow


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


def test_telnet_pop3_imap_sessions_are_low_confidence() -> None:
    alerts = feed(CleartextCredentials(), [flows(_flow(23, 40), _flow(110, 12), _flow(143, 9))])
    assert sorted(a.alert.signature for a in alerts) == [
        "TOCSIN BEHAVIOUR clear-text credentials: IMAP session",
        "TOCSIN BEHAVIOUR clear-text credentials: POP3 session",
        "TOCSIN BEHAVIOUR clear-text credentials: Telnet session",
    ]
    assert all(a.alert.metadata["confidence"] == ["low"] for a in alerts)  # type: ignore[index]


def test_probes_and_other_protocols_on_those_ports_are_not() -> None:
    probe = _flow(23, 2)
    tls_on_143 = _flow(143, 30, app="tls")
    assert feed(CleartextCredentials(), [flows(probe, tls_on_143)]) == []


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
