"""behaviour.kerberoasting: RC4 service tickets (one, many) and AS-REP roasting; end to end."""

from __future__ import annotations

from pathlib import Path

from auth_records import FIXTURES, T0, S, krb

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour.kerberos import KerberoastConfig, Kerberoasting


def _tgs(i: int, ticket: str, sname: str | None = None, client: str = "10.0.0.5") -> object:
    return krb(T0 + i * S, "KRB_TGS_REP", sname=sname or f"MSSQLSvc/db{i}.corp.local",
               ticket=ticket, client=client)  # fmt: skip


def test_rc4_tickets_for_many_services_are_kerberoasting() -> None:
    alerts = feed(Kerberoasting(), [_tgs(i, "rc4-hmac") for i in range(8)])
    # the first ticket alone (low confidence), then the burst (high confidence)
    assert [a.alert.signature_id for a in alerts] == [8_000_230, 8_000_231]
    a = alerts[1]
    assert (a.src_ip, a.dest_ip) == ("10.0.0.5", "10.0.0.2")
    assert a.alert.metadata is not None and a.alert.metadata["confidence"] == ["high"]
    assert a.alert.metadata["mitre_technique_id"] == ["T1558.003"]
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["weak_service_tickets"] == 5 and ev["ticket_encryption"] == ["rc4-hmac"]


def test_aes_tickets_and_rc4_tgts_are_not() -> None:
    aes = [_tgs(i, "aes256-cts-hmac-sha1-96") for i in range(20)]
    tgt = [_tgs(i, "rc4-hmac", sname="krbtgt/CORP.LOCAL") for i in range(20)]
    assert feed(Kerberoasting(), aes + tgt) == []


def test_a_few_rc4_services_stay_low_confidence() -> None:
    alerts = feed(Kerberoasting(), [_tgs(i, "rc4-hmac") for i in range(4)])
    assert [a.alert.signature_id for a in alerts] == [8_000_230]
    cfg = KerberoastConfig(report_single_ticket=False)
    assert feed(Kerberoasting(cfg), [_tgs(i, "rc4-hmac") for i in range(4)]) == []


def test_asrep_without_preauth_in_rc4_is_asrep_roasting() -> None:
    users = [krb(T0 + i * S, "KRB_AS_REP", cname=f"user{i}", enc="rc4-hmac") for i in range(3)]
    alerts = feed(Kerberoasting(), users)
    assert [a.alert.signature_id for a in alerts] == [8_000_232, 8_000_232]
    assert alerts[1].alert.metadata is not None
    assert alerts[1].alert.metadata["mitre_technique_id"] == ["T1558.004"]
    assert alerts[1].alert.metadata["confidence"] == ["high"]


def test_asrep_after_preauth_required_is_a_normal_login() -> None:
    items = []
    for i in range(5):
        t = T0 + i * 10 * S
        items += [
            krb(t, "KRB_ERROR", cname=f"user{i}", error="KDC_ERR_PREAUTH_REQUIRED"),
            krb(t + S, "KRB_AS_REP", cname=f"user{i}", enc="rc4-hmac"),
        ]
    items.append(krb(T0, "KRB_AS_REP", cname="svc", enc="aes256-cts-hmac-sha1-96"))
    assert feed(Kerberoasting(), items) == []


def test_kerberoast_capture_end_to_end(tmp_path: Path) -> None:
    """suricata-verify krb5-kerberoasting: one RC4 service ticket for HTTP/dc-mantvydas."""
    alerts = analyze_alerts(
        [FIXTURES / "sv-krb5-kerberoast.pcap"], tmp_path, only=["behaviour.kerberoasting"]
    )
    assert names(alerts) == ["behaviour.kerberoasting"]
    a = alerts[0]
    assert a["alert"]["signature_id"] == 8_000_230
    assert (a["src_ip"], a["dest_ip"]) == ("10.0.0.2", "10.0.0.6")
    ev = a["alert"]["context"]["evidence"]
    assert ev["services_sample"] == ["HTTP/dc-mantvydas.offense.local"]
    assert ev["client_principals"] == ["spotless"]


def test_normal_as_exchange_with_rc4_reply_is_not_asrep_roasting(tmp_path: Path) -> None:
    """suricata-verify bug-8278-krb5-03: AS-REQ, PREAUTH_REQUIRED (no cname in the error),
    AS-REQ with pre-authentication, AS-REP in RC4: a normal login, not AS-REP roasting."""
    alerts = analyze_alerts(
        [FIXTURES / "sv-krb5-preauth-login.pcap"], tmp_path, only=["behaviour.kerberoasting"]
    )
    assert alerts == []
