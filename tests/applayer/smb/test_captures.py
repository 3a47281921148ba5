"""`SmbParser` on whole captures (fixtures: tests/fixtures/applayer/smb/PROVENANCE.md).

Expected values are those of the suricata-verify test each capture comes from (Suricata 8/9),
of Zeek's baseline logs, or of tshark, as stated per test. Known differences with Suricata are
asserted as such (`ack_reason` is the PDU's value; Suricata always writes 0).
"""

from __future__ import annotations

from collections import Counter

from applayer.replay import replay
from applayer.smb.flows import check_schema, chunks, drive, guarded, pcap, run, smb, smb_files
from tocsin.applayer.base import AppLimits
from tocsin.applayer.smb import SmbParser
from tocsin.model.smb import SmbEvent, SmbFileEvent, SmbInfo


def by_command(events: list[SmbInfo]) -> Counter[str | None]:
    return Counter(e.command for e in events)


def procedures(events: list[SmbInfo]) -> list[tuple[str | None, str | None]]:
    out = []
    for e in events:
        if e.dcerpc is not None and e.dcerpc.interfaces and e.dcerpc.request == "REQUEST":
            i = e.dcerpc.interfaces[0]
            out.append((i.service, i.procedure))
    return out


def test_at_schedule_pipe_dcerpc() -> None:
    """suricata-verify smb2-04: 6 events; the atsvc pipe opened, bound (3 contexts, results
    provider rejection / acceptance / negotiate ack) and NetrJobAdd called through IOCTL."""
    ev = smb("smb2_at_schedule")
    assert [e.command for e in ev] == [
        "SMB2_COMMAND_CREATE",
        "SMB2_COMMAND_WRITE",
        "SMB2_COMMAND_IOCTL",
        "SMB2_COMMAND_CLOSE",
        "SMB2_COMMAND_TREE_DISCONNECT",
        "SMB2_COMMAND_SESSION_LOGOFF",
    ]
    create, bind, call = ev[0], ev[1], ev[2]
    assert (create.filename, create.disposition, create.access) == ("atsvc", "FILE_OPEN", "normal")
    assert (create.created, create.size, create.status) == (0, 0, "STATUS_SUCCESS")
    assert create.fuid == "0000004d-0000-0000-0005-0000ffffffff"
    assert bind.dcerpc is not None and bind.dcerpc.interfaces is not None
    assert (bind.dcerpc.request, bind.dcerpc.response) == ("BIND", "BINDACK")
    ifaces = bind.dcerpc.interfaces
    assert {i.uuid for i in ifaces} == {"1ff70682-0a51-30e8-076d-740be8cee98b"}
    assert [(i.version, i.ack_result, i.service) for i in ifaces] == [
        ("1.0", 2, "atsvc"),
        ("1.0", 0, "atsvc"),
        ("1.0", 3, "atsvc"),
    ]
    # the PDU's reasons (Wireshark: "proposed transfer syntaxes not supported"; bind-time
    # features 0x0003); Suricata writes 0 for all three
    assert [i.ack_reason for i in ifaces] == [2, 0, 3]
    assert call.dcerpc is not None and call.dcerpc.interfaces is not None
    assert call.status == "STATUS_SUCCESS"  # the final response, not the interim PENDING
    assert (call.dcerpc.opnum, call.dcerpc.call_id) == (0, 2)
    assert call.dcerpc.interfaces[0].procedure == "NetrJobAdd"
    assert call.dcerpc.req is not None and call.dcerpc.res is not None
    assert (call.dcerpc.req.stub_data_size, call.dcerpc.res.stub_data_size) == (136, 16)
    assert [e.id for e in ev] == [1, 2, 3, 4, 5, 6]


def test_psexec_service_creation() -> None:
    """PsExec (suricata-verify dcerpc-smb-test-01 / smb2-07): IPC$ then ADMIN$, svcctl
    OpenSCManagerW, CreateServiceWOW64W, StartServiceW... over IOCTL; PSEXESVC.exe marked
    delete-on-close; Kerberos SESSION_SETUP."""
    ev = smb("smb2_psexec_svcctl")
    setup = next(e for e in ev if e.command == "SMB2_COMMAND_SESSION_SETUP")
    assert setup.kerberos is not None
    assert (setup.kerberos.realm, setup.kerberos.snames) == (
        "CONTOSO.LOCAL",
        ["cifs", "dc1.contoso.local"],
    )
    trees = [
        (e.named_pipe, e.share, e.share_type)
        for e in ev
        if e.command == "SMB2_COMMAND_TREE_CONNECT"
    ]
    assert trees == [("\\\\dc1\\IPC$", None, "PIPE"), (None, "\\\\dc1\\ADMIN$", "FILE")]
    procs = procedures(ev)
    assert ("svcctl", "CreateServiceWOW64W") in procs
    assert Counter(p for _, p in procs) == {
        "CloseServiceHandle": 6,
        "OpenSCManagerW": 2,
        "OpenServiceW": 3,
        "QueryServiceStatus": 3,
        "CreateServiceWOW64W": 1,
        "StartServiceW": 1,
        "ControlService": 1,
        "DeleteService": 1,
    }
    creates = [e.filename for e in ev if e.command == "SMB2_COMMAND_CREATE"]
    assert "PSEXESVC-VICTIM-PC-2412-stdin" in creates and "PSEXESVC.exe" in creates
    deleted = [e for e in ev if e.access == "delete on close"]
    assert [(e.command, e.filename) for e in deleted] == [("SMB2_COMMAND_SET_INFO", "PSEXESVC.exe")]
    # PsExec's own pipe protocol is no DCERPC: its transceive is a plain IOCTL
    plain = [e.function for e in ev if e.command == "SMB2_COMMAND_IOCTL" and e.dcerpc is None]
    assert plain == ["FSCTL_PIPE_TRANSCEIVE"] + ["FSCTL_PIPE_WAIT"] * 3


def test_smb1_negotiate_session_logoff() -> None:
    """suricata-verify smb1-02: three connections, each NEGOTIATE (id 1), SESSION_SETUP_ANDX
    (id 2, native OS / LM both ways), LOGOFF_ANDX refused with the DOS error SRV_BADUID."""
    ev = smb("smb1_osx")
    assert len(ev) == 9
    neg = [e for e in ev if e.id == 1]
    assert len(neg) == 3
    for e in neg:
        assert (e.command, e.dialect, e.status, e.status_code) == (
            "SMB1_COMMAND_NEGOTIATE_PROTOCOL",
            "NT LM 0.12",
            "STATUS_SUCCESS",
            "0x0",
        )
        assert e.client_dialects is not None and e.client_dialects[0] == "NT LM 0.12"
        assert e.server_guid == "31347374-0032-0000-0000-000000000000"
    for e in (e for e in ev if e.id == 2):
        assert e.command == "SMB1_COMMAND_SESSION_SETUP_ANDX"
        assert (e.status, e.status_code, e.tree_id) == (
            "STATUS_MORE_PROCESSING_REQUIRED",
            "0xc0000016",
            65535,
        )
        assert e.request is not None and e.response is not None
        assert (e.request.native_os, e.request.native_lm) == ("Mac OS X 10.10", "SMBFS 3.0.0")
        assert (e.response.native_os, e.response.native_lm) == ("QTS", "Samba 4.4.16")
    for e in (e for e in ev if e.id == 3):
        assert (e.command, e.status, e.status_code) == (
            "SMB1_COMMAND_LOGOFF_ANDX",
            "SRV_BADUID",
            "0x005b",
        )


def test_compound_and_read() -> None:
    """suricata-verify smb1-01 (SMB2 despite its name, midstream: dialect "unknown"): 17
    events, 7 CREATE / 7 CLOSE / 2 FIND / 1 READ, GET_INFO not logged; the READ names the file
    of its FileId. Zeek smb_files.log: size 25940 and its times. Suricata fileinfo: 25940 bytes
    read."""
    ev = smb("smb2_compound_read")
    assert len(ev) == 17
    assert by_command(ev) == {
        "SMB2_COMMAND_CREATE": 7,
        "SMB2_COMMAND_CLOSE": 7,
        "SMB2_COMMAND_FIND": 2,
        "SMB2_COMMAND_READ": 1,
    }
    assert all(e.dialect == "unknown" and e.status == "STATUS_SUCCESS" for e in ev)
    read = next(e for e in ev if e.command == "SMB2_COMMAND_READ")
    assert (read.filename, read.fuid, read.session_id, read.tree_id) == (
        "Test\\2009-12 Payroll.xlsx",
        "00000065-0030-0000-0025-0020ffffffff",
        4398046511153,
        1,
    )
    payroll = [e for e in ev if (e.command or "").endswith("CREATE") and e.fuid == read.fuid]
    assert len(payroll) == 1 and payroll[0].disposition == "FILE_OPEN"
    p = payroll[0]
    assert (p.size, p.modified, p.accessed, p.created, p.changed) == (
        25940,
        1403148950,
        1403193623,
        1403148950,
        1403193632,
    )
    (f,) = smb_files("smb2_compound_read")
    assert (f.filename, f.bytes_read, f.reads, f.bytes_written, f.size) == (
        "Test\\2009-12 Payroll.xlsx",
        25940,
        1,
        0,
        25940,
    )


def test_read_data_is_skipped() -> None:
    """The 25940 bytes of file data never reach `feed` when they come in MTU-sized pieces:
    after the READ response header they go to `skip`; the events are the same."""
    flows = chunks("smb2_compound_read")
    whole, _, _ = drive(SmbParser, flows, 1 << 20)
    cut, fed, skipped = drive(SmbParser, flows, 1460)
    assert skipped >= 25940 - 1460
    assert fed + skipped == sum(len(b) for f in flows for _, b in f)
    assert cut.events == whole.events


def test_encrypted_then_clear() -> None:
    """suricata-verify smb3-01 / Zeek smb3 smb_mapping.log: SMB 3.0, a TREE_CONNECT to an
    encrypted share, encrypted traffic (skipped, counted), then a clear TREE_CONNECT to IPC$."""
    parsers: list[SmbParser] = []

    class Keep(SmbParser):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, **k)  # type: ignore[arg-type]
            parsers.append(self)

    ev = [e.body for e in run("smb3_encrypted", Keep) if e.event_cls is SmbEvent]
    trees = [(e.share or e.named_pipe, e.share_type, e.dialect) for e in ev if e.tree_id]
    assert trees == [
        ("\\\\WS2016\\encrypted", "FILE", "3.00"),
        ("\\\\10.160.65.202\\IPC$", "PIPE", "3.00"),
    ]
    assert parsers[0].encrypted[0] > 0 and parsers[0].encrypted[1] > 0


def test_async_rename() -> None:
    """suricata-verify smb2-async (GandCrab): the rename answered after STATUS_PENDING."""
    ev = smb("smb2_async_rename")
    rename = next(e for e in ev if e.rename is not None)
    assert rename.rename is not None and rename.set_info is not None
    old = "UsuarioA\\Desktop\\directorioCompartido\\11\\148\\1538\\F9768.pdf"
    assert (rename.rename.from_, rename.rename.to) == (old, old + ".hdcjuh")
    assert (rename.set_info.class_, rename.set_info.info_level) == (
        "FILE_INFO",
        "SMB2_FILE_RENAME_INFO",
    )
    assert rename.status == "STATUS_SUCCESS"


def test_delete_on_close_in_compound() -> None:
    """suricata-verify smb2-delete: one event "delete on close" for "test" (a SET_INFO related
    to the CREATE of its compound chain, FileId 0xFF..FF); the 10 bytes written earlier."""
    ev = smb("smb2_delete_on_close")
    deleted = [e for e in ev if e.access == "delete on close"]
    assert [(e.command, e.filename) for e in deleted] == [("SMB2_COMMAND_SET_INFO", "test")]
    assert deleted[0].fuid is not None and deleted[0].fuid.startswith("00000111")
    files = smb_files("smb2_delete_on_close")
    assert [(f.filename, f.bytes_written, f.writes) for f in files] == [("test", 10, 1)]
    assert {e.dialect for e in ev if (e.command or "").startswith("SMB2")} == {"3.02"}


def test_printnightmare_spoolss() -> None:
    """RpcAddPrinterDriverEx over a spoolss pipe (WRITE request, READ response)."""
    ev = smb("smb2_spoolss")
    setup = [e.ntlmssp for e in ev if e.ntlmssp is not None]
    assert [(n.user, n.domain, n.host) for n in setup] == [("robin", "cylera.lab", "")]
    assert procedures(ev) == [
        ("spoolss", "RpcEnumPrinterDrivers"),
        ("spoolss", "RpcEnumPrinterDrivers"),
        ("spoolss", "RpcAddPrinterDriverEx"),
    ]
    nightmare = ev[-1]
    assert nightmare.dcerpc is not None and nightmare.dcerpc.opnum == 89
    assert (nightmare.command, nightmare.filename) == ("SMB2_COMMAND_WRITE", "spoolss")


def test_smb1_ascii_named_pipe() -> None:
    """suricata-verify smb-named-pipe-ascii: SMB1 without Unicode strings."""
    ev = smb("smb1_named_pipe_ascii")
    tree = next(e for e in ev if e.command == "SMB1_COMMAND_TREE_CONNECT_ANDX")
    assert tree.named_pipe == "\\\\127.0.0.1\\IPC$" and tree.share is None
    assert tree.service is not None
    assert (tree.service.request, tree.service.response) == ("?????", "IPC")
    auth = next(e.ntlmssp for e in ev if e.ntlmssp is not None)
    assert (auth.user, auth.domain, auth.host, auth.version) == (
        "Administrateur",
        "WORKGROUP",
        "HOST",
        "6.1 build 0 rev 15",
    )


def test_smb1_write_andx() -> None:
    """tshark: WRITE_ANDX of 20 then 17 bytes to \\file.txt (padded data offset)."""
    files = smb_files("smb1_write_andx")
    assert [(f.filename, f.fuid, f.bytes_written, f.share) for f in files] == [
        ("\\file.txt", "4004", 20, "\\\\127.0.0.1\\VIDEOS"),
        ("\\file.txt", "4005", 17, "\\\\127.0.0.1\\VIDEOS"),
    ]
    writes = [e for e in smb("smb1_write_andx") if e.command == "SMB1_COMMAND_WRITE_ANDX"]
    assert [(w.filename, w.status) for w in writes] == [("\\file.txt", "STATUS_SUCCESS")] * 2


def test_smb1_read_andx() -> None:
    """Zeek mapi.pcap, port 139: six READ_ANDX of a file (tshark: 28672 data bytes), whose data
    goes to `skip` when it spans segments; the file is still open when the capture ends."""
    (f,) = smb_files("smb1_read_andx", port=139)
    assert (f.filename, f.fuid, f.reads, f.bytes_read, f.size, f.closed) == (
        "\\Exchange\\mailbox.PAB",
        "c006",
        6,
        28672,
        114688,
        None,
    )
    read = [e for e in smb("smb1_read_andx", port=139) if e.command == "SMB1_COMMAND_READ_ANDX"]
    assert [(e.filename, e.status) for e in read] == [("\\Exchange\\mailbox.PAB", "STATUS_SUCCESS")]
    flows = chunks("smb1_read_andx", 139)
    whole, _, _ = drive(SmbParser, flows, 1 << 20)
    cut, _, skipped = drive(SmbParser, flows, 1460)
    assert cut.events == whole.events and skipped > 20_000


def test_smb1_malformed_andx_chains() -> None:
    """Zeek's weird smb_andx_depth_exceeded / smb_andx_offset_not_advancing become a
    ParseError (an anomaly for the dispatcher), after the commands read so far."""
    for name, logged, why in (
        ("smb1_andx_too_deep", 8, "too deep"),
        ("smb1_andx_no_advance", 1, "loops"),
    ):
        errors: list[str] = []
        ev = [e for e in replay(guarded(SmbParser, errors), pcap(name), port=445)]
        assert len(ev) == logged
        assert errors == [f"smb1: AndX chain {why}"]


def test_smb1_trans_lsarpc() -> None:
    """Zeek mapi.pcap, port 139: lsarpc over SMB1 TRANS (TransactNmPipe)."""
    ev = smb("smb1_lsarpc_trans", port=139)
    calls = [e for e in ev if e.dcerpc is not None]
    assert all(e.command == "SMB1_COMMAND_TRANS" for e in calls)
    # tshark: opnums 44 x8, 7 x16, 15 x4, 0 x8, and 2 x2 on a pipe opened before the capture
    assert Counter(p for _, p in procedures(ev)) == {
        "LsarOpenPolicy2": 8,
        "LsarQueryInformationPolicy": 16,
        "LsarLookupSids": 4,
        "LsarClose": 8,
    }
    unbound = [e for e in calls if not e.dcerpc or not e.dcerpc.interfaces]
    assert [(e.filename, e.dcerpc.opnum if e.dcerpc else None) for e in unbound] == [
        ("<unknown>", 2),
        ("<unknown>", 2),
    ]


def test_ntlmssp_version() -> None:
    """suricata-verify smb2-ntlmssp-negotiateflags: 7 events with the client's version (six
    connections to 445, one to 139 in SMB1)."""
    ev = smb("smb2_ntlmssp_version") + smb("smb2_ntlmssp_version", port=139)
    versions = [e.ntlmssp.version for e in ev if e.ntlmssp is not None]
    assert versions.count("10.0 build 10586 rev 15") == 7


def test_events_fit_suricata_schema() -> None:
    """Every `smb` body validates against Suricata's schema (additionalProperties false)."""
    names = [
        "smb2_at_schedule",
        "smb2_psexec_svcctl",
        "smb1_osx",
        "smb2_compound_read",
        "smb3_encrypted",
        "smb2_async_rename",
        "smb2_delete_on_close",
        "smb2_spoolss",
        "smb1_named_pipe_ascii",
        "smb1_write_andx",
    ]
    n = 0
    for name in names:
        for e in run(name):
            if e.event_cls is SmbEvent:
                check_schema("smb", e.body)
                n += 1
            else:
                assert e.event_cls is SmbFileEvent
    for e in run("smb1_lsarpc_trans", port=139):
        check_schema("smb", e.body)
    assert n > 150


def test_small_limits_still_parse() -> None:
    """With 512-byte messages kept, big messages are cut and pipe PDUs lost, but the commands
    are still logged, with no error."""
    full = smb("smb2_spoolss")
    small = smb("smb2_spoolss", limits=AppLimits(max_message=512, max_pending=2, max_items=2))
    assert [e.command for e in small][:5] == [e.command for e in full][:5]
    assert len(small) >= 5
