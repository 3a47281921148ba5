"""behaviour.password_spray: many users failing from one source, few tries each."""

from __future__ import annotations

from typing import Any

from auth_records import T0, S, ftp_login, krb, rdp_cookie, smb_setup

from correlate_kit import feed, flows, names
from tocsin.detect.behaviour.spray import PasswordSpray, PasswordSprayConfig
from tocsin.model.flows import FlowRow


def test_smb_failures_for_many_users_across_servers_are_spraying() -> None:
    items = [
        smb_setup(T0 + i * S, "STATUS_LOGON_FAILURE", user=f"user{i}", dst=f"10.0.0.{30 + i % 3}")
        for i in range(12)
    ]
    alerts = feed(PasswordSpray(), items)
    assert names(alerts) == ["behaviour.password_spray"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_210 and a.src_ip == "10.0.0.5"
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["distinct_users"] == 10 and ev["targets"] == 3
    assert ev["median_failures_per_user"] == 1 and ev["protocols"] == {"smb": 10}


def test_one_user_failing_five_times_is_not_spraying() -> None:
    items = [smb_setup(T0 + i * S, "STATUS_LOGON_FAILURE", user="alice") for i in range(5)]
    assert feed(PasswordSpray(), items) == []


def test_many_users_with_many_tries_each_is_not_spraying() -> None:
    """Ten users hammered 8 times each, one after the other: brute force per user (a
    round-robin over the users, one password per round, is a spray from its first round)."""
    items = [
        smb_setup(T0 + (u * 8 + k) * S, "STATUS_LOGON_FAILURE", user=f"user{u}")
        for u in range(10)
        for k in range(8)
    ]
    assert feed(PasswordSpray(), items) == []


def test_successful_logins_of_many_users_are_not_spraying() -> None:
    items = [smb_setup(T0 + i * S, "STATUS_SUCCESS", user=f"user{i}") for i in range(30)]
    assert feed(PasswordSpray(), items) == []


def test_kerberos_ftp_and_rdp_failures_count_together() -> None:
    items: list[Any] = [
        krb(T0 + i * S, "KRB_ERROR", cname=f"k{i}", error="KDC_ERR_PREAUTH_FAILED")
        for i in range(4)
    ]
    items += [e for i in range(3) for e in ftp_login(T0 + (10 + i) * S, 100 + i, f"f{i}", "530")]
    items += [rdp_cookie(T0 + (20 + i) * S, 200 + i, f"r{i}") for i in range(3)]
    rows = [
        FlowRow("10.0.0.5", "10.0.0.40", 50000 + i, 3389, first_ts=T0 + (20 + i) * S,
                last_ts=T0 + (21 + i) * S, pkts_ts=10, pkts_tc=10, bytes_ts=3000,
                bytes_tc=6000, state=2, app_proto="rdp", flow_id=200 + i)
        for i in range(3)
    ]  # fmt: skip
    alerts = feed(PasswordSpray(), [*items, flows(*rows)])
    assert names(alerts) == ["behaviour.password_spray"]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["protocols"] == {"ftp": 3, "krb5": 4, "rdp": 3}


def test_kerberos_preauth_required_is_not_a_failure() -> None:
    items = [
        krb(T0 + i * S, "KRB_ERROR", cname=f"u{i}", error="KDC_ERR_PREAUTH_REQUIRED")
        for i in range(30)
    ]
    assert feed(PasswordSpray(), items) == []


def _win_error(t: int, error: str = "KDC_ERR_PREAUTH_FAILED", **kw: Any) -> Any:
    """A Windows KDC's KRB-ERROR: no client name, no client realm."""
    return krb(t, "KRB_ERROR", cname="<empty>", realm="<empty>", error=error, **kw)


def _windows_logon_failure(i: int, user: str, *, tcp: bool, port: int | None = None) -> list[Any]:
    """A Windows client's failed logon: AS-REQ naming `user`, PREAUTH_FAILED naming no one;
    TCP: one connection (flow) per exchange, UDP: one client port per exchange."""
    t = T0 + i * S
    kw: dict[str, Any] = {"fid": 100 + i, "port": port if port is not None else 50000 + i}
    kw["proto"] = "TCP" if tcp else "UDP"
    return [krb(t, "KRB_AS_REQ", cname=user, **kw), _win_error(t + 2000, **kw)]


def test_windows_kdc_errors_without_cname_are_named_by_their_as_req() -> None:
    """Spraying against a Windows DC over TCP and UDP: each error names no one, the AS-REQ
    it answers does."""
    items = [e for i in range(6) for e in _windows_logon_failure(i, f"tcp{i}", tcp=True)]
    items += [e for i in range(6, 12) for e in _windows_logon_failure(i, f"udp{i}", tcp=False)]
    alerts = feed(PasswordSpray(), items)
    assert names(alerts) == ["behaviour.password_spray"]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["distinct_users"] == 10 and ev["protocols"] == {"krb5": 10}
    assert {"tcp0", "tcp5", "udp6"} <= set(ev["users_sample"])
    assert alerts[0].src_ip == "10.0.0.5" and ev["targets_sample"] == ["10.0.0.2"]


def test_one_users_retries_and_others_normal_logons_are_not_spraying() -> None:
    """Near miss: a user mistyping again and again from one UDP port, and AS-REQs of other
    users answered normally (PREAUTH_REQUIRED, AS-REP): one failing user, no spray. An
    error on an exchange whose AS-REQ was not seen, or answering a TGS-REQ, names no one."""
    items: list[Any] = []
    for i in range(12):
        items += _windows_logon_failure(i, "marie.martin", tcp=False, port=50000)
        t = T0 + (20 + i) * S
        other = {"fid": 300 + i, "port": 51000 + i, "proto": "TCP"}
        items.append(krb(t, "KRB_AS_REQ", cname=f"user{i}", **other))
        items.append(_win_error(t + 1000, "KDC_ERR_PREAUTH_REQUIRED", **other))
        items.append(krb(t + 2000, "KRB_AS_REP", cname=f"user{i}", **other))
        items.append(_win_error(t + 3000, fid=400 + i, port=52000 + i, proto="TCP"))
        items.append(_win_error(t + 4000, failed="KRB_TGS_REQ", **other))
    det = PasswordSpray()
    assert feed(det, items) == []
    src = det.sources.get("10.0.0.5")
    assert src is not None and src.users == {"marie.martin": 12}


def test_remembered_requests_are_bounded() -> None:
    det = PasswordSpray(PasswordSprayConfig(max_krb_requests=4))
    items = [krb(T0 + i * S, "KRB_AS_REQ", cname=f"u{i}", fid=i, proto="TCP") for i in range(10)]
    items += [_win_error(T0 + (10 + i) * S, fid=i, proto="TCP") for i in range(10)]
    feed(det, items)
    assert len(det.krb_names.names) == 4 and det.counters()["krb_requests_evicted"] == 6
    src = det.sources.get("10.0.0.5")
    assert src is not None and sorted(src.users) == ["u6", "u7", "u8", "u9"]
