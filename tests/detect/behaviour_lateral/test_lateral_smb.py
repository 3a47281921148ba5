"""behaviour.smb_admin_share and behaviour.remote_service: records, then real captures
(PsExec over IPC$/ADMIN$, smbexec over TCP, both from suricata-verify)."""

from __future__ import annotations

from pathlib import Path

from lateral_records import S, create, login, pipe_call, tcp_call, tree_connect

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour.lateral_smb import (
    AdminShare,
    AdminShareConfig,
    RemoteService,
    RemoteServiceConfig,
)

SMB_FIXTURES = Path(__file__).parents[2] / "fixtures" / "applayer" / "smb"
SAMPLES = Path(__file__).parents[3] / "samples"


def _ev(a: object) -> dict:  # type: ignore[type-arg]
    return a.alert.context["evidence"]  # type: ignore[attr-defined,no-any-return]


def test_admin_share_with_an_executable_is_medium_with_file_and_account() -> None:
    items = [
        login(0),
        tree_connect(1 * S, "\\\\ws9\\ADMIN$", tree=5),
        create(2 * S, "evil.exe", "FILE_OVERWRITE_IF", tree=5),
        create(3 * S, "notes\\a.log", tree=5),
    ]
    alerts = feed(AdminShare(), items)
    assert names(alerts) == ["behaviour.smb_admin_share"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_300 and a.alert.severity == 2
    ev = _ev(a)
    assert ev["shares"] == ["ADMIN$"] and ev["executables"] == {"evil.exe": "written"}
    assert ev["account"] == "HOSP\\alice" and ev["files_seen"] == 2


def test_drive_share_alone_is_low_and_ordinary_shares_are_ignored() -> None:
    alerts = feed(AdminShare(), [tree_connect(0, "\\\\fs\\D$"), create(S, "x.txt")])
    assert len(alerts) == 1 and alerts[0].alert.severity == 3
    assert alerts[0].alert.metadata["confidence"] == ["low"]  # type: ignore[index]
    quiet = [
        tree_connect(0, "\\\\fs\\IPC$"),
        tree_connect(S, "\\\\fs\\SYSVOL", tree=2),
        tree_connect(2 * S, "\\\\fs\\print$", tree=3),
        tree_connect(3 * S, "\\\\fs\\Radiology", tree=4),
        create(4 * S, "tool.exe", "FILE_CREATE", tree=4),
    ]
    assert feed(AdminShare(), quiet) == []


def test_admin_hosts_are_exempt() -> None:
    cfg = AdminShareConfig(admin_hosts=("10.1.0.0/24",))
    assert feed(AdminShare(cfg), [tree_connect(0, "\\\\ws9\\C$")]) == []


def test_service_creation_over_a_pipe_names_the_admin_share_executable() -> None:
    items = [
        tree_connect(0, "\\\\ws9\\ADMIN$", tree=5),
        create(1 * S, "PSEXESVC.exe", "FILE_OVERWRITE_IF", tree=5),
        tree_connect(2 * S, "\\\\ws9\\IPC$", tree=1),
        pipe_call(3 * S, "svcctl", "OpenSCManagerW"),
        pipe_call(4 * S, "svcctl", "CreateServiceW"),
        pipe_call(5 * S, "svcctl", "StartServiceW"),
    ]
    alerts = feed(RemoteService(), items)
    assert names(alerts) == ["behaviour.remote_service"]
    a = alerts[0]
    assert a.alert.severity == 1 and "PsExec pattern" in a.alert.signature
    assert a.alert.metadata["mitre_technique_id"] == ["T1021.002", "T1569.002"]  # type: ignore[index]
    ev = _ev(a)
    assert ev["operations"]["CreateServiceW"] == 1 and ev["transport"] == "smb pipe svcctl"
    assert ev["admin_share_executables"] == ["PSEXESVC.exe"]


def test_service_start_alone_is_medium_and_denied_calls_lower_confidence() -> None:
    start = [tcp_call(0, "svcctl", "OpenServiceW"), tcp_call(S, "svcctl", "StartServiceW")]
    alerts = feed(RemoteService(), start)
    assert len(alerts) == 1 and alerts[0].alert.severity == 2
    denied = [tcp_call(0, "svcctl", "CreateServiceW", response="FAULT")]
    alerts = feed(RemoteService(), denied)
    assert alerts[0].alert.metadata["confidence"] == ["medium"]  # type: ignore[index]


def test_a_service_console_reading_state_is_not_an_alert() -> None:
    """services.msc against a remote host: open, enumerate, query, control; no creation."""
    ops = ["OpenSCManagerW", "EnumServicesStatusW", "OpenServiceW", "QueryServiceConfigW"]
    ops += ["QueryServiceStatus", "ControlService", "CloseServiceHandle"]
    items = [pipe_call(i * S, "svcctl", op) for i, op in enumerate(ops)]
    assert feed(RemoteService(), items) == []
    cfg = RemoteServiceConfig(admin_hosts=("10.1.0.50",))
    assert feed(RemoteService(cfg), [pipe_call(0, "svcctl", "CreateServiceW")]) == []


def test_psexec_capture_end_to_end(tmp_path: Path) -> None:
    """suricata-verify dcerpc-smb-test-01: PsExec creating PSEXESVC then adding a user."""
    alerts = analyze_alerts(
        [SMB_FIXTURES / "smb2_psexec_svcctl.pcap"],
        tmp_path,
        only=["behaviour.remote_service", "behaviour.smb_admin_share"],
    )
    by = {a["alert"]["metadata"]["detector"][0]: a for a in alerts}
    svc = by["behaviour.remote_service"]
    assert (svc["src_ip"], svc["dest_ip"]) == ("192.168.10.31", "192.168.10.10")
    ev = svc["alert"]["context"]["evidence"]
    assert ev["operations"]["CreateServiceWOW64W"] == 1 and ev["operations"]["StartServiceW"] == 1
    assert ev["admin_share_executables"] == ["PSEXESVC.exe"]
    share = by["behaviour.smb_admin_share"]["alert"]["context"]["evidence"]
    assert share["shares"] == ["ADMIN$"] and "PSEXESVC.exe" in share["executables"]


def test_smbexec_capture_end_to_end(tmp_path: Path) -> None:
    """suricata-verify bug-5133: smbexec, svcctl CreateServiceA over TCP, output via C$."""
    alerts = analyze_alerts(
        [SMB_FIXTURES / "dcerpc_smbexec_svcctl.pcap"],
        tmp_path,
        only=["behaviour.remote_service", "behaviour.smb_admin_share"],
    )
    assert sorted(names(alerts)) == ["behaviour.remote_service", "behaviour.smb_admin_share"]
    svc = next(a for a in alerts if a["alert"]["signature_id"] == 8_000_301)
    ev = svc["alert"]["context"]["evidence"]
    assert ev["transport"] == "tcp/49683" and ev["operations"]["CreateServiceA"] == 2
    share = next(a for a in alerts if a["alert"]["signature_id"] == 8_000_300)
    assert share["alert"]["context"]["evidence"]["account"] == "3B\\Backdoor"


def test_file_share_sample_gives_no_lateral_alert(tmp_path: Path) -> None:
    alerts = analyze_alerts(
        [SAMPLES / "smb2-file-share.pcap"],
        tmp_path,
        only=["behaviour.remote_service", "behaviour.smb_admin_share"],
    )
    assert alerts == []
