"""behaviour.remote_task, remote_wmi_dcom, winrm, dcsync: records, then real captures
(AT job and DCSync from suricata-verify, a domain join from Zeek)."""

from __future__ import annotations

from pathlib import Path

from lateral_records import CLIENT, SERVER, T0, S, http, pipe_call, tcp_call

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.lateral_rpc import (
    Dcsync,
    DcsyncConfig,
    RemoteTask,
    RemoteWmiDcom,
    RpcPairConfig,
    Winrm,
)
from tocsin.model.flows import TH_ACK, TH_SYN, FlowRow

SMB_FIXTURES = Path(__file__).parents[2] / "fixtures" / "applayer" / "smb"


def test_at_job_and_task_registration_alert() -> None:
    a = feed(RemoteTask(), [pipe_call(0, "atsvc", "NetrJobAdd")])
    assert names(a) == ["behaviour.remote_task"] and a[0].alert.signature_id == 8_000_302
    assert "AT job" in a[0].alert.signature
    assert a[0].alert.metadata["mitre_technique_id"] == ["T1053.002"]  # type: ignore[index]
    b = feed(RemoteTask(), [tcp_call(0, "ITaskSchedulerService", "SchRpcRegisterTask")])
    assert b[0].alert.metadata["mitre_technique_id"] == ["T1053.005"]  # type: ignore[index]
    assert b[0].alert.context["evidence"]["transport"] == "tcp/49667"  # type: ignore[index]


def test_listing_tasks_is_not_an_alert() -> None:
    items = [
        tcp_call(0, "ITaskSchedulerService", "SchRpcEnumTasks"),
        tcp_call(S, "ITaskSchedulerService", "SchRpcGetTaskInfo"),
        pipe_call(2 * S, "atsvc", "NetrJobEnum"),
    ]
    assert feed(RemoteTask(), items) == []
    admin = RemoteTask(RpcPairConfig(admin_hosts=(CLIENT,)))
    assert feed(admin, [pipe_call(0, "atsvc", "NetrJobAdd")]) == []


def test_wmi_exec_method_is_high_and_activation_alone_low() -> None:
    wmi = [
        tcp_call(0, "IRemoteSCMActivator", "RemoteCreateInstance"),
        tcp_call(S, "IWbemLevel1Login", "NTLMLogin"),
        tcp_call(2 * S, "IWbemServices", "ExecMethod"),
    ]
    a = feed(RemoteWmiDcom(), wmi)
    assert a[0].alert.severity == 1 and a[0].alert.context["evidence"]["kind"] == "wmi_exec_method"  # type: ignore[index]
    act = feed(RemoteWmiDcom(), [tcp_call(0, "IRemoteSCMActivator", "RemoteCreateInstance")])
    assert act[0].alert.severity == 3
    assert act[0].alert.metadata["confidence"] == ["low"]  # type: ignore[index]
    dcom = [
        tcp_call(0, "IRemoteSCMActivator", "RemoteCreateInstance"),
        tcp_call(S, "IDispatch", "Invoke"),
    ]
    assert "IDispatch" in feed(RemoteWmiDcom(), dcom)[0].alert.signature


def test_dcom_pings_are_not_an_alert() -> None:
    items = [tcp_call(0, "IObjectExporter", "ServerAlive2"), tcp_call(S, "IRemUnknown2", "x")]
    assert feed(RemoteWmiDcom(), items) == []


def test_winrm_session_and_wsman() -> None:
    row = FlowRow(
        CLIENT,
        SERVER,
        50123,
        5985,
        first_ts=T0,
        last_ts=T0 + 5 * S,
        pkts_ts=12,
        pkts_tc=10,
        bytes_ts=4000,
        bytes_tc=9000,
        tcp_flags_tc=TH_SYN | TH_ACK,
    )
    a = feed(Winrm(), [flows(row)])
    assert names(a) == ["behaviour.winrm"] and a[0].alert.severity == 3
    b = feed(Winrm(), [http(0, "/wsman?PSVersion=5.1")])
    assert b[0].alert.severity == 2 and b[0].alert.context["evidence"]["wsman_requests"] == 1  # type: ignore[index]


def test_winrm_probe_without_answer_and_other_urls_are_ignored() -> None:
    probe = FlowRow(CLIENT, SERVER, 50123, 5985, first_ts=T0, last_ts=T0, pkts_ts=2)
    assert feed(Winrm(), [flows(probe)]) == []
    assert feed(Winrm(), [http(0, "/index.html", port=80)]) == []


def test_dcsync_from_a_workstation_alerts() -> None:
    items = [tcp_call(0, "drsuapi", "DRSBind"), tcp_call(S, "drsuapi", "DRSGetNCChanges")]
    a = feed(Dcsync(), items)
    assert names(a) == ["behaviour.dcsync"] and a[0].alert.severity == 1
    assert a[0].alert.metadata["confidence"] == ["medium"]  # type: ignore[index]
    ev = a[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["caller_known_as_dc"] is False and ev["target_known_as_dc"] is True
    cfg = DcsyncConfig(domain_controllers=(SERVER,))
    assert feed(Dcsync(cfg), items)[0].alert.metadata["confidence"] == ["high"]  # type: ignore[index]


def test_replication_between_dcs_is_not_dcsync() -> None:
    # the caller answered Kerberos: a DC (learned), within the hold time of its request
    krb = FlowRow(
        "10.1.0.99",
        "10.1.0.11",
        50000,
        88,
        proto=17,
        first_ts=T0,
        last_ts=T0 + 2 * S,
        pkts_tc=1,
        bytes_tc=1400,
    )
    call = tcp_call(S, "drsuapi", "DRSGetNCChanges", src="10.1.0.11", dst="10.1.0.10")
    assert feed(Dcsync(), [call, flows(krb)]) == []
    cfg = DcsyncConfig(domain_controllers=("10.1.0.11",))
    assert feed(Dcsync(cfg), [call]) == []
    join = [tcp_call(0, "drsuapi", "DRSBind"), tcp_call(S, "drsuapi", "DRSCrackNames")]
    assert feed(Dcsync(), join) == []


def test_at_schedule_capture_end_to_end(tmp_path: Path) -> None:
    """suricata-verify smb2-04: an AT job scheduled over \\pipe\\atsvc (capture midstream)."""
    alerts = analyze_alerts(
        [SMB_FIXTURES / "smb2_at_schedule.pcap"], tmp_path, only=["behaviour.remote_task"]
    )
    assert names(alerts) == ["behaviour.remote_task"]
    assert alerts[0]["alert"]["context"]["evidence"]["task_operations"] == ["atsvc.NetrJobAdd"]


def test_dcsync_capture_and_domain_join_end_to_end(tmp_path: Path) -> None:
    """suricata-verify bug-5162 (DRSGetNCChanges) alerts; Zeek's Windows 7 domain join
    (DRSCrackNames only) does not."""
    alerts = analyze_alerts(
        [SMB_FIXTURES / "dcerpc_dcsync.pcap"], tmp_path, only=["behaviour.dcsync"]
    )
    assert names(alerts) == ["behaviour.dcsync"]
    assert alerts[0]["src_ip"] == "192.168.56.104"
    join = analyze_alerts(
        [SMB_FIXTURES / "dcerpc_drsuapi_join.pcap"],
        tmp_path,
        only=["behaviour.dcsync"],
        eve_name="join.json",
    )
    assert join == []
