"""The DICOM parser on real exchanges: pynetdicom SCU/SCP captures (scripts/make_dicom_fixture.py,
tests/fixtures/applayer/dicom/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from tocsin.applayer.base import AppLimits
from tocsin.applayer.dicom import DicomParser
from tocsin.model.dicom import DicomEvent, DicomInfo
from tocsin.model.ids import FlowId

from ..replay import replay
from .build import (
    CT_STORAGE,
    EXPLICIT,
    FIXTURES,
    IMPLICIT,
    JPEG,
    MR_STORAGE,
    VERIFICATION,
    Driver,
    assert_no_patient_data,
    streams,
)

DIR = FIXTURES / "dicom"
PCAPS = sorted(DIR.glob("*.pcap"))


def run(name: str, port: int | None = None) -> list[Any]:
    events = replay(DicomParser, DIR / name, port=port)
    assert all(e.event_cls is DicomEvent for e in events)
    return events


def by_type(events: list[Any], kind: str) -> list[DicomInfo]:
    return [e.body for e in events if e.body.type == kind]


def test_fixtures_exist() -> None:
    names = {p.name for p in PCAPS}
    for s in ("echo", "store", "find", "move", "get", "reject", "abort"):
        assert f"dicom-{s}.pcap" in names
    assert (DIR / "PROVENANCE.md").read_text().count(".pcap") >= 7


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_no_patient_data_in_any_event(pcap: Path) -> None:
    events = replay(DicomParser, pcap)
    assert events
    assert_no_patient_data(e.body for e in events)


def test_echo() -> None:
    events = run("dicom-echo.pcap")
    assert [e.body.type for e in events] == ["association", "command", "release"]
    assert [e.tx_id for e in events] == [0, 1, 2]
    a = events[0].body
    assert (a.calling_ae, a.called_ae) == ("TOCSIN_MODALITY", "TOCSIN_PACS")
    assoc = a.association
    assert assoc.status == "accepted"
    assert assoc.application_context.name == "DICOM Application Context Name"
    [ctx] = assoc.proposed
    assert ctx.id == 1
    assert ctx.abstract_syntax.uid == VERIFICATION
    assert ctx.abstract_syntax.name == "Verification SOP Class"
    assert [t.uid for t in ctx.transfer_syntaxes][:2] == [IMPLICIT, EXPLICIT]
    [res] = assoc.accepted
    assert (res.id, res.result, res.result_code) == (1, "acceptance", 0)
    assert res.transfer_syntax.name == "Implicit VR Little Endian"
    assert assoc.requestor.max_pdu_length == 16382
    assert assoc.acceptor.max_pdu_length == 4096
    assert assoc.requestor.implementation_version_name.startswith("PYNETDICOM_")
    assert assoc.requestor.implementation_class_uid.startswith("1.2.826.0.1.3680043.9.3811.")
    cmd = events[1].body.command
    assert events[1].body.calling_ae == "TOCSIN_MODALITY"
    assert (cmd.command, cmd.message_id, cmd.answered) == ("C-ECHO", 1, True)
    assert (cmd.status, cmd.status_category) == (0, "success")
    assert cmd.sop_class.uid == VERIFICATION
    assert cmd.issuer == "requestor" and events[1].direction == 0
    assert cmd.latency_ms is not None and 0 <= cmd.latency_ms < 1000
    summ = events[2].body.summary
    assert [(c.command, c.count, c.failed) for c in summ.commands] == [("C-ECHO", 1, 0)]
    assert 0 < summ.duration_ms < 10_000


def test_store_contexts_and_commands() -> None:
    events = run("dicom-store.pcap")
    assoc = by_type(events, "association")[0].association
    proposed = {c.id: c for c in assoc.proposed}
    assert proposed[5].abstract_syntax.uid == CT_STORAGE
    assert [t.uid for t in proposed[5].transfer_syntaxes] == [JPEG]
    res = {r.id: r for r in assoc.accepted}
    assert res[1].result == "acceptance" and res[1].transfer_syntax.uid == EXPLICIT
    assert res[3].result == "acceptance" and res[3].transfer_syntax.uid == IMPLICIT
    assert res[3].abstract_syntax.name == "MR Image Storage"
    assert (res[5].result, res[5].result_code) == ("transfer-syntaxes-not-supported", 4)
    assert res[5].transfer_syntax is None
    assert (res[7].result, res[7].result_code) == ("abstract-syntax-not-supported", 3)
    assert res[7].abstract_syntax.name == "Ultrasound Image Storage"
    cmds = [b.command for b in by_type(events, "command")]
    assert [c.command for c in cmds] == ["C-STORE"] * 3
    assert [c.sop_class.uid for c in cmds] == [CT_STORAGE, CT_STORAGE, MR_STORAGE]
    assert [c.presentation_context_id for c in cmds] == [1, 1, 3]
    assert all(c.status == 0 and c.answered for c in cmds)
    # the 64x64x16-bit image: 8192 bytes of pixel data plus its header elements
    assert 8192 < cmds[1].request_dataset_bytes < 8192 + 1024
    assert 512 < cmds[0].request_dataset_bytes < 512 + 1024
    summ = by_type(events, "release")[0].summary
    [count] = summ.commands
    assert count.count == 3
    assert count.request_dataset_bytes == sum(c.request_dataset_bytes for c in cmds)


def test_store_bytes_and_skip() -> None:
    """Byte counts match the capture, and image data is skipped, not fed."""
    segs = streams(DIR / "dicom-store.pcap")
    total = [sum(len(p) for d, _, p in segs if d == k) for k in (0, 1)]
    drv = Driver(DicomParser, chunk=1460)  # Ethernet-sized segments
    for d, ts, payload in segs:
        drv.send(d, payload, ts)
    drv.parser.close(0)
    summ = next(b for b in drv.bodies() if b.type == "release").summary
    assert (summ.bytes_toserver, summ.bytes_toclient) == tuple(total)
    # the 64x64 image spans 3 PDUs of at most 4096 bytes: all but the first segment of each
    # PDV is skipped, never fed
    assert drv.skipped[0] > 5000
    assert drv.fed[0] + drv.skipped[0] == total[0]


def test_find_query_facts() -> None:
    cmds = [b.command for b in by_type(run("dicom-find.pcap"), "command")]
    study, patient = cmds
    assert study.command == "C-FIND"
    assert study.sop_class.name == "Study Root Query/Retrieve Information Model - FIND"
    assert study.query_level == "STUDY"
    keys = {k.keyword: k for k in study.query_keys}
    assert set(keys) == {"PatientName", "PatientID"}
    assert keys["PatientName"].wildcard and keys["PatientName"].universal  # "*"
    assert keys["PatientID"].universal and not keys["PatientID"].wildcard  # empty
    assert study.pending_responses == 2 and study.status == 0
    assert study.response_dataset_bytes > 0
    assert patient.query_level == "PATIENT"
    assert patient.sop_class.uid == "1.2.840.10008.5.1.4.1.2.1.1"
    keys = {k.keyword: k for k in patient.query_keys}
    assert set(keys) == {"PatientName", "PatientID", "PatientBirthDate"}
    assert not keys["PatientID"].universal and not keys["PatientID"].wildcard  # one patient
    assert keys["PatientName"].universal and keys["PatientBirthDate"].universal
    assert patient.pending_responses == 1


def test_move_and_its_sub_association() -> None:
    events = run("dicom-move.pcap")
    main = [e for e in events if 11112 in (e.flow[1], e.flow[3])]
    sub = [e for e in events if 104 in (e.flow[1], e.flow[3])]
    moves = [e.body.command for e in main if e.body.type == "command"]
    ok, unknown = moves
    assert (ok.command, ok.move_destination, ok.status) == ("C-MOVE", "TOCSIN_DEST", 0)
    assert ok.query_level == "STUDY" and ok.query_keys == []
    assert ok.pending_responses == 2
    assert ok.sub_operations is not None
    assert (ok.sub_operations.completed, ok.sub_operations.failed) == (2, 0)
    assert ok.sub_operations.remaining == 0
    assert unknown.move_destination == "UNKNOWN_DEST"
    assert (unknown.status, unknown.status_category) == (0xA801, "failure")
    assert unknown.status_meaning == "refused: move destination unknown"
    summ = next(e.body.summary for e in main if e.body.type == "release")
    assert [(c.command, c.count, c.failed) for c in summ.commands] == [("C-MOVE", 2, 1)]
    assert sub[0].body.calling_ae == "TOCSIN_PACS" and sub[0].body.called_ae == "TOCSIN_DEST"
    stores = [e.body.command for e in sub if e.body.type == "command"]
    assert [s.command for s in stores] == ["C-STORE", "C-STORE"]
    assert all(s.move_originator_ae for s in stores)


def test_get_sub_operation_from_the_acceptor() -> None:
    events = run("dicom-get.pcap")
    assoc = by_type(events, "association")[0].association
    assert assoc.requestor.role_selections == 1
    cmds = [e for e in events if e.body.type == "command"]
    store = next(e for e in cmds if e.body.command.command == "C-STORE")
    assert store.body.command.issuer == "acceptor" and store.direction == 1
    get = next(e.body.command for e in cmds if e.body.command.command == "C-GET")
    assert get.query_level == "PATIENT"
    assert [(k.keyword, k.universal, k.wildcard) for k in get.query_keys] == [
        ("PatientID", False, False)
    ]
    assert get.sub_operations.completed == 1 and get.status == 0


def test_rejected_association() -> None:
    events = run("dicom-reject.pcap")
    assert [e.body.type for e in events] == ["association"]
    a = events[0].body
    assert (a.calling_ae, a.called_ae) == ("TOCSIN_ROGUE", "UNKNOWN_AE")
    assert a.association.status == "rejected"
    rej = a.association.rejected
    assert (rej.result, rej.source, rej.reason) == (
        "rejected-permanent",
        "service-user",
        "called-ae-title-not-recognized",
    )
    assert (rej.result_code, rej.source_code, rej.reason_code) == (1, 1, 7)


def test_abort() -> None:
    events = run("dicom-abort.pcap")
    assert [e.body.type for e in events] == ["association", "command", "abort"]
    ab = events[2].body
    assert (ab.abort.source, ab.abort.source_code) == ("service-user", 0)
    assert events[2].direction == 0
    assert ab.summary.commands[0].command == "C-ECHO"


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_byte_by_byte_gives_the_same_events(pcap: Path) -> None:
    """Chunking (1 byte at a time, skip honoured) changes nothing but latencies' rounding."""
    for port in {e.flow[3] for e in replay(DicomParser, pcap)}:
        whole = Driver(DicomParser)
        tiny = Driver(DicomParser, chunk=1)
        for d, ts, payload in streams(pcap, port):
            whole.send(d, payload, ts)
            tiny.send(d, payload, ts)
        whole.parser.close(0)
        tiny.parser.close(0)
        assert tiny.bodies() == whole.bodies()


def test_small_limits_bound_the_lists() -> None:
    events = replay(DicomParser, DIR / "dicom-store.pcap", limits=AppLimits(max_items=2))
    assoc = by_type(events, "association")[0].association
    assert len(assoc.proposed) == 2 and assoc.truncated
    assert len(assoc.accepted) == 2


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_events_round_trip_with_the_eve_header(pcap: Path) -> None:
    """What the dispatcher does: wrap each body in `DicomEvent`; the JSON decodes back."""
    for i, e in enumerate(replay(DicomParser, pcap)):
        ev = DicomEvent(
            timestamp="2024-01-01T00:00:00.000000+0000",
            flow_id=FlowId(i + 1),
            src_ip="127.0.0.1",
            src_port=40000,
            dest_ip="127.0.0.1",
            dest_port=11112,
            proto="TCP",
            app_proto="dicom",
            tx_id=e.tx_id,
            dicom=e.body,
        )
        raw = msgspec.json.encode(ev)
        assert b'"event_type":"dicom"' in raw
        assert msgspec.json.decode(raw, type=DicomEvent) == ev
