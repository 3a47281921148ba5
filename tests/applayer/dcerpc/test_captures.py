"""`DcerpcParser` (DCERPC over TCP) on whole captures (fixtures:
tests/fixtures/applayer/smb/PROVENANCE.md). Expected values: the suricata-verify test each
capture comes from (Suricata 9 for `service` / `procedure`), Zeek's dce_rpc.log, or tshark."""

from __future__ import annotations

from collections import Counter

from applayer.smb.flows import ZEROLOGON, check_schema, chunks, dcerpc, drive, pcap, run
from tocsin.applayer.dcerpc import DcerpcParser
from tocsin.model.dcerpc import DcerpcEvent, DcerpcInfo


def calls(events: list[DcerpcInfo]) -> Counter[tuple[str | None, str | None]]:
    out: Counter[tuple[str | None, str | None]] = Counter()
    for e in events:
        if e.request == "REQUEST" and e.interfaces:
            out[(e.interfaces[0].service, e.interfaces[0].procedure)] += 1
    return out


def test_alter_context_midstream() -> None:
    """suricata-verify bug-6191 (two connections picked up midstream): ALTER_CONTEXT calls and
    requests whose PDUs carry an object UUID and an auth verifier; Suricata's stub sizes."""
    ev = dcerpc(pcap("dcerpc_alter_context"))
    assert len(ev) == 40
    by_call = {(e.call_id, e.request): e for e in ev}
    alter = by_call[(69, "ALTER_CONTEXT")]
    assert (alter.response, alter.rpc_version) == ("ALTER_CONTEXT_RESP", "5.0")
    assert alter.interfaces is not None
    assert alter.interfaces[0].uuid == "39c13a54-011e-11d0-9675-0020afd8adb3"
    sizes = {
        (e.call_id, e.req.opnum, e.req.stub_data_size, e.res.stub_data_size)
        for e in ev
        if e.req is not None and e.res is not None
    }
    assert {(69, 3, 180, 60), (4, 3, 140, 20), (72, 6, 64, 32), (74, 7, 68, 32)} <= sizes
    assert all(e.rpc_version == "5.0" for e in ev)


def test_drsuapi_domain_join() -> None:
    """Zeek dce-rpc.context dce_rpc.log: drsuapi DRSBind, DRSCrackNames, DRSUnbind."""
    ev = dcerpc(pcap("dcerpc_drsuapi_join"))
    assert [(e.request, e.response) for e in ev] == [
        ("BIND", "BINDACK"),
        ("ALTER_CONTEXT", "ALTER_CONTEXT_RESP"),
        ("REQUEST", "RESPONSE"),
        ("REQUEST", "RESPONSE"),
        ("REQUEST", "RESPONSE"),
    ]
    assert [p for _, p in calls(ev)] == ["DRSBind", "DRSCrackNames", "DRSUnbind"]


def test_dcsync() -> None:
    """DCSync (secretsdump-style) in suricata-verify bug-5162: DRSGetNCChanges on drsuapi
    (tshark: opnum 3, 2480-byte response stub)."""
    ev = dcerpc(pcap("dcerpc_dcsync"))
    assert calls(ev) == {
        ("drsuapi", "DRSBind"): 2,
        ("drsuapi", "DRSDomainControllerInfo"): 1,
        ("drsuapi", "DRSCrackNames"): 1,
        ("drsuapi", "DRSGetNCChanges"): 1,
    }
    get = next(e for e in ev if e.req is not None and e.req.opnum == 3)
    assert get.res is not None and get.res.stub_data_size == 2480
    assert get.interfaces is not None and get.interfaces[0].uuid == (
        "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
    )


def test_smbexec_service_control() -> None:
    """suricata-verify bug-5133 (smbexec): 16 dcerpc events, the endpoint mapper then svcctl
    over TCP: CreateServiceA / StartServiceA / DeleteService."""
    ev = dcerpc(pcap("dcerpc_smbexec_svcctl"))
    assert len(ev) == 16
    assert calls(ev) == {
        ("epmapper", "ept_map"): 1,
        ("svcctl", "OpenSCManagerA"): 2,
        ("svcctl", "CreateServiceA"): 2,
        ("svcctl", "StartServiceA"): 2,
        ("svcctl", "DeleteService"): 2,
        ("svcctl", "CloseServiceHandle"): 4,
    }


def test_winreg() -> None:
    """suricata-verify dcerpc-dce-stub-data-04 (Suricata 9 service / procedure)."""
    assert calls(dcerpc(pcap("dcerpc_winreg"))) == {
        ("winreg", "OpenLocalMachine"): 1,
        ("winreg", "BaseRegOpenKey"): 1,
        ("winreg", "BaseRegSetValue"): 1,
    }


def test_zerologon() -> None:
    """The golden Zerologon capture: 21 challenge / authenticate rounds on netlogon, then the
    password reset (NetrServerPasswordSet2)."""
    got = calls(dcerpc(ZEROLOGON))
    assert got[("netlogon", "NetrServerReqChallenge")] == 21
    assert got[("netlogon", "NetrServerAuthenticate3")] == 21
    assert got[("netlogon", "NetrServerPasswordSet2")] == 1
    assert got[("epmapper", "ept_map")] == 21


def test_stub_data_is_skipped_and_events_kept() -> None:
    flows = chunks(pcap("dcerpc_dcsync"), None)
    whole, _, _ = drive(DcerpcParser, flows, 1 << 20)
    cut, fed, skipped = drive(DcerpcParser, flows, 512)
    assert cut.events == whole.events
    assert skipped > 2000 and fed + skipped == sum(len(b) for f in flows for _, b in f)


def test_events_fit_suricata_schema() -> None:
    n = 0
    for name in ("dcerpc_alter_context", "dcerpc_drsuapi_join", "dcerpc_dcsync", "dcerpc_winreg"):
        for e in run(pcap(name), DcerpcParser, None):
            assert e.event_cls is DcerpcEvent
            check_schema("dcerpc", e.body)
            n += 1
    assert n > 50
