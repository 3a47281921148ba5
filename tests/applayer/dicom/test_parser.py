"""The DICOM parser's state machine on built PDUs: chunking, skip, bounds, errors, edge cases."""

from __future__ import annotations

import struct

import pytest
from pydicom.dataset import Dataset

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.dicom import DicomParser

from .build import (
    CT_STORAGE,
    EXPLICIT,
    IMPLICIT,
    PATIENT_FIND,
    STUDY_FIND,
    Driver,
    abort,
    assert_no_patient_data,
    associate_ac,
    associate_rj,
    associate_rq,
    command_set,
    dataset,
    item,
    message,
    p_data,
    pdu,
    pdv,
    release_rp,
    release_rq,
    user_info,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on odd values

CONTEXTS = [(1, STUDY_FIND, [EXPLICIT, IMPLICIT]), (3, CT_STORAGE, [IMPLICIT])]
ACCEPT = [(1, 0, EXPLICIT), (3, 0, IMPLICIT)]


def find_request(msg_id: int = 1, name: str = "TOCSIN^FAKE^PATIENT") -> bytes:
    ident = Dataset()
    ident.QueryRetrieveLevel = "PATIENT"
    ident.PatientName = name
    ident.PatientID = ""
    cmd = command_set(
        AffectedSOPClassUID=STUDY_FIND,
        CommandField=0x0020,
        MessageID=msg_id,
        Priority=0,
        CommandDataSetType=0,
    )
    return message(1, cmd, dataset(ident, EXPLICIT))


def find_response(msg_id: int, status: int, match: bool) -> bytes:
    cmd = command_set(
        AffectedSOPClassUID=STUDY_FIND,
        CommandField=0x8020,
        MessageIDBeingRespondedTo=msg_id,
        Status=status,
        CommandDataSetType=0 if match else 0x0101,
    )
    ds = Dataset()
    ds.PatientName = "TOCSIN^FAKE^PATIENT"
    ds.PatientID = "FAKE-ID-12345"
    return message(1, cmd, dataset(ds, EXPLICIT) if match else None)


def store_request(msg_id: int, data: bytes, max_pdv: int = 16_000) -> bytes:
    cmd = command_set(
        AffectedSOPClassUID=CT_STORAGE,
        CommandField=0x0001,
        MessageID=msg_id,
        Priority=0,
        CommandDataSetType=0,
        AffectedSOPInstanceUID="1.2.3",
    )
    return message(3, cmd, data, max_pdv)


def store_response(msg_id: int, status: int = 0) -> bytes:
    cmd = command_set(
        AffectedSOPClassUID=CT_STORAGE,
        CommandField=0x8001,
        MessageIDBeingRespondedTo=msg_id,
        Status=status,
    )
    return message(3, cmd)


def session(drv: Driver) -> None:
    drv.send(0, associate_rq(CONTEXTS), 1_000)
    drv.send(1, associate_ac(ACCEPT), 2_000)
    drv.send(0, find_request(1), 3_000)
    drv.send(1, find_response(1, 0xFF00, True) + find_response(1, 0xFF00, True), 4_000)
    drv.send(1, find_response(1, 0x0000, False), 5_000)
    drv.send(0, release_rq(), 6_000)
    drv.send(1, release_rp(), 7_000)


def test_a_find_session() -> None:
    drv = Driver(DicomParser)
    session(drv)
    kinds = [b.type for b in drv.bodies()]
    assert kinds == ["association", "command", "release"]
    assoc = drv.bodies()[0].association
    assert [c.abstract_syntax.uid for c in assoc.proposed] == [STUDY_FIND, CT_STORAGE]
    assert assoc.requestor.implementation_version_name == "TEST_1"
    cmd = drv.bodies()[1].command
    assert (cmd.command, cmd.pending_responses, cmd.status) == ("C-FIND", 2, 0)
    assert cmd.latency_ms == 2.0  # 3 000 -> 5 000 µs
    assert cmd.query_level == "PATIENT"
    assert [(k.keyword, k.universal, k.wildcard) for k in cmd.query_keys] == [
        ("PatientName", False, False),
        ("PatientID", True, False),
    ]
    assert drv.events[1][2:] == (5_000, 1)  # ts of the final response, tx_id
    summ = drv.bodies()[2].summary
    assert summ.duration_ms == 6.0
    assert drv.parser.done == [True, True]
    assert_no_patient_data(drv.bodies())


@pytest.mark.parametrize("chunk", [1, 2, 5, 7, 64, 1460])
def test_chunking_does_not_matter(chunk: int) -> None:
    whole, split = Driver(DicomParser), Driver(DicomParser, chunk=chunk)
    session(whole)
    session(split)
    assert split.bodies() == whole.bodies()


def test_image_data_is_skipped_not_fed() -> None:
    image = bytes(range(256)) * 400  # 102 400 bytes "pixel data"
    drv = Driver(DicomParser, chunk=1460)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, associate_ac(ACCEPT), 2)
    drv.send(0, store_request(5, image), 3)
    drv.send(1, store_response(5), 4)
    cmd = drv.bodies()[1].command
    assert cmd.request_dataset_bytes == len(image)
    assert cmd.status == 0
    assert drv.skipped[0] > 0.85 * len(image)  # 7 PDUs: one 1460-byte segment fed of each
    assert not drv.parser._dirs[0].ds  # nothing of it kept


@pytest.mark.parametrize(
    ("keyword", "complete"),
    [("RequestedProcedureDescription", True), ("StudyDescription", False)],
)
def test_large_identifier_is_bounded(keyword: str, complete: bool) -> None:
    """Collection stops at max_message; a big value after the patient keys costs nothing, one
    before them hides them (`query_truncated`)."""
    lim = AppLimits(max_message=300)
    drv = Driver(DicomParser, lim, chunk=50)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, associate_ac(ACCEPT), 2)
    ident = Dataset()
    ident.QueryRetrieveLevel = "STUDY"
    ident.PatientName = "*"
    setattr(ident, keyword, "X" * 5000)  # (0032,1060) after group 0010, (0008,1030) before
    cmd = command_set(
        AffectedSOPClassUID=STUDY_FIND, CommandField=0x0020, MessageID=1, CommandDataSetType=0
    )
    drv.send(0, message(1, cmd, dataset(ident, EXPLICIT)), 3)
    drv.send(1, find_response(1, 0, False), 4)
    cmd_ev = drv.bodies()[1].command
    assert cmd_ev.query_level == "STUDY"
    assert [k.keyword for k in cmd_ev.query_keys] == (["PatientName"] if complete else [])
    assert cmd_ev.query_truncated is not complete
    assert cmd_ev.request_dataset_bytes > 5000
    assert drv.skipped[0] > 4000


def test_unanswered_commands_and_close() -> None:
    drv = Driver(DicomParser, AppLimits(max_pending=2))
    drv.send(0, associate_rq(CONTEXTS), 1_000)
    drv.send(1, associate_ac(ACCEPT), 2_000)
    for i in (1, 2, 3):
        drv.send(0, store_request(i, b"\x00" * 10), 3_000 + i)
    assert [b.command.message_id for b in drv.bodies()[1:]] == [1]  # evicted when 3 came
    drv.send(1, store_response(3), 4_000)
    drv.parser.close(0)
    bodies = drv.bodies()
    assert [b.type for b in bodies] == ["association", "command", "command", "command", "close"]
    unanswered = [b.command for b in bodies if b.type == "command" and not b.command.answered]
    assert [c.message_id for c in unanswered] == [1, 2]
    assert all(c.status is None for c in unanswered)
    [count] = bodies[-1].summary.commands
    assert (count.command, count.count, count.failed) == ("C-STORE", 3, 2)
    assert bodies[-1].summary.duration_ms == 3.0  # last seen ts, close(0) gives no time


def test_cancel_and_unsolicited_response() -> None:
    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, associate_ac(ACCEPT), 2)
    drv.send(0, find_request(9), 3)
    cancel = command_set(CommandField=0x0FFF, MessageIDBeingRespondedTo=9)
    drv.send(0, message(1, cancel), 4)
    drv.send(1, find_response(9, 0xFE00, False), 5)
    drv.send(1, store_response(77, 0xA700), 6)
    c1, c2 = (b.command for b in drv.bodies()[1:])
    assert c1.cancelled and c1.status_category == "cancel"
    assert (c2.message_id, c2.request_seen, c2.status_category) == (77, False, "failure")
    assert c2.status_meaning == "refused: out of resources"


def test_rejected_and_aborted_associations() -> None:
    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, associate_rj(2, 2, 2), 2)
    [a] = drv.bodies()
    assert a.association.status == "rejected"
    assert a.association.rejected.reason == "protocol-version-not-supported"
    assert drv.parser.done == [True, True]

    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, abort(2, 1), 2)
    a, ab = drv.bodies()
    assert a.association.status == "aborted"
    assert (ab.abort.source, ab.abort.reason) == ("service-provider", "unrecognized-pdu")
    assert drv.events[1][1] == 1  # the acceptor aborted

    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.parser.close(5)
    a, close = drv.bodies()
    assert a.association.status == "unanswered" and close.type == "close"


def test_user_identity_type_only() -> None:
    # type 2 (user name and passcode), positive response requested, then both fields
    value = bytes([2, 1]) + struct.pack(">H", 10) + b"secretuser"
    sub = item(0x58, value + struct.pack(">H", 8) + b"passw0rd")
    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS, user=user_info(extra=sub)), 1)
    drv.send(1, associate_ac(ACCEPT), 2)
    user = drv.bodies()[0].association.requestor
    assert user.user_identity == "username-passcode"
    text = repr(drv.bodies())
    assert "secretuser" not in text and "passw0rd" not in text


def test_n_event_report_from_the_acceptor() -> None:
    drv = Driver(DicomParser)
    drv.send(0, associate_rq(CONTEXTS), 1)
    drv.send(1, associate_ac(ACCEPT), 2)
    rq = command_set(
        AffectedSOPClassUID="1.2.840.10008.1.20.1",
        CommandField=0x0100,
        MessageID=1,
        EventTypeID=1,
    )
    rsp = command_set(CommandField=0x8100, MessageIDBeingRespondedTo=1, Status=0)
    drv.send(1, message(1, rq), 3)
    drv.send(0, message(1, rsp), 4)
    ev = drv.events[1]
    assert ev[0].command.command == "N-EVENT-REPORT" and ev[0].command.issuer == "acceptor"
    assert ev[0].command.sop_class.name == "Storage Commitment Push Model SOP Class"
    assert ev[1] == 1


def test_p_data_before_any_association() -> None:
    """A capture that starts mid-association: commands still parsed, no AE titles."""
    drv = Driver(DicomParser)
    drv.send(0, store_request(1, b"\x01" * 100), 1)
    drv.send(1, store_response(1), 2)
    drv.parser.close(3)
    cmd, close = drv.bodies()
    assert cmd.command.command == "C-STORE" and cmd.calling_ae is None
    assert close.type == "close"


GOOD_RQ = associate_rq(CONTEXTS)


@pytest.mark.parametrize(
    ("direction", "data"),
    [
        (1, GOOD_RQ),  # A-ASSOCIATE-RQ from the acceptor
        (0, GOOD_RQ + GOOD_RQ),  # twice
        (0, associate_ac(ACCEPT)),  # AC from the requestor
        (0, pdu(0x09, bytes(4))),  # unknown PDU type
        (0, pdu(0x01, bytes(70_000))),  # PDU larger than max_message
        (0, pdu(0x01, bytes(10))),  # shorter than its fixed fields
        (0, pdu(0x05, bytes(6))),  # release of 6 bytes
        (0, pdu(0x04, bytes(3))),  # P-DATA-TF without room for a PDV
        (0, p_data(pdv(1, False, True, b"data"))),  # data set without a command
        (0, p_data(struct.pack(">IBB", 50, 1, 3) + b"xx")),  # PDV larger than its PDU
        (0, p_data(pdv(1, True, True, b"\x00\x00"))),  # not a command set
        (0, associate_rq([(1, "1." * 40, [IMPLICIT])])),  # UID longer than 64 bytes
        (0, associate_rq(CONTEXTS, user=item(0x50, b"\x51\x00\x00\x10\x00\x00\x40\x00"))),
    ],
)
def test_malformed_raises_parse_error(direction: int, data: bytes) -> None:
    drv = Driver(DicomParser)
    with pytest.raises(ParseError):
        drv.send(direction, data, 1)


def test_command_interrupting_a_data_set() -> None:
    drv = Driver(DicomParser)
    drv.send(0, GOOD_RQ, 1)
    cmd = command_set(
        AffectedSOPClassUID=CT_STORAGE, CommandField=1, MessageID=1, CommandDataSetType=0
    )
    with pytest.raises(ParseError):
        drv.send(0, p_data(pdv(3, True, True, cmd)) + p_data(pdv(3, True, True, cmd)), 2)


def test_patient_find_key_values_never_in_events() -> None:
    drv = Driver(DicomParser)
    drv.send(0, associate_rq([(1, PATIENT_FIND, [IMPLICIT])]), 1)
    drv.send(1, associate_ac([(1, 0, IMPLICIT)]), 2)
    ident = Dataset()
    ident.QueryRetrieveLevel = "PATIENT"
    ident.PatientID = "FAKE-ID-12345"
    ident.PatientBirthDate = "19010101"
    cmd = command_set(
        AffectedSOPClassUID=PATIENT_FIND, CommandField=0x20, MessageID=1, CommandDataSetType=0
    )
    drv.send(0, message(1, cmd, dataset(ident, IMPLICIT)), 3)
    drv.send(1, find_response(1, 0xFF00, True) + find_response(1, 0, False), 4)
    keys = drv.bodies()[1].command.query_keys
    assert [k.keyword for k in keys] == ["PatientID", "PatientBirthDate"]
    assert_no_patient_data(drv.bodies())
