"""behaviour.password_spray: many users failing from one source, few tries each."""

from __future__ import annotations

from typing import Any

from auth_records import T0, S, ftp_login, krb, rdp_cookie, smb_setup

from correlate_kit import feed, flows, names
from tocsin.detect.behaviour.spray import PasswordSpray
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
