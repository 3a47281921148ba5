"""DIMSE command sets, statuses, identifier query facts and UID names, against pydicom's
encoders and dictionaries."""

from __future__ import annotations

import pytest
from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tocsin.applayer.base import ParseError
from tocsin.applayer.dicom import dimse, pdu, uids

from .build import BIG, CT_STORAGE, DEFLATED, EXPLICIT, IMPLICIT, JPEG, command_set, dataset

# wildcards and fake levels are what the tests are about; pydicom warns about them
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR")


def test_command_set_request() -> None:
    cs = dimse.parse_command(
        command_set(
            AffectedSOPClassUID=CT_STORAGE,
            CommandField=0x0001,
            MessageID=7,
            Priority=0,
            CommandDataSetType=0x0000,
            AffectedSOPInstanceUID="1.2.3.4.5",
            MoveOriginatorApplicationEntityTitle="ORIGIN",
        )
    )
    assert (cs.field, cs.name, cs.message_id, cs.priority) == (1, "C-STORE", 7, 0)
    assert cs.sop_class == CT_STORAGE and cs.has_dataset and not cs.is_response
    assert cs.move_originator == "ORIGIN"


def test_command_set_move_response() -> None:
    cs = dimse.parse_command(
        command_set(
            CommandField=0x8021,
            MessageIDBeingRespondedTo=3,
            Status=0xFF00,
            NumberOfRemainingSuboperations=4,
            NumberOfCompletedSuboperations=5,
            NumberOfFailedSuboperations=1,
            NumberOfWarningSuboperations=0,
            ErrorComment="a comment that is never kept",
        )
    )
    assert cs.is_response and cs.name == "C-MOVE" and cs.responded_to == 3
    assert (cs.status, cs.remaining, cs.completed, cs.failed, cs.warning) == (0xFF00, 4, 5, 1, 0)
    assert not cs.has_dataset


def test_requested_sop_class_is_used_for_n_commands() -> None:
    cs = dimse.parse_command(
        command_set(CommandField=0x0110, MessageID=1, RequestedSOPClassUID="1.2.840.10008.5.1.1.16")
    )
    assert cs.name == "N-GET" and cs.sop_class == "1.2.840.10008.5.1.1.16"


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # no CommandField
        command_set(CommandField=0x0030),  # request without MessageID
        command_set(CommandField=0x8030),  # response without MessageIDBeingRespondedTo
        command_set(CommandField=0x0777, MessageID=1),  # unknown command
        command_set(CommandField=0x0030, MessageID=1)[:-3],  # truncated
        b"\x08\x00\x52\x00\x02\x00\x00\x00AB",  # group 0008 in a command set
        b"\x00\x00\x00\x01\x04\x00\x00\x00\x01\x00\x00\x00",  # CommandField of 4 bytes
    ],
)
def test_bad_command_sets(raw: bytes) -> None:
    with pytest.raises(ParseError):
        dimse.parse_command(raw)


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (0x0000, "success"),
        (0xFF00, "pending"),
        (0xFF01, "pending"),
        (0xFE00, "cancel"),
        (0x0001, "warning"),
        (0xB000, "warning"),
        (0xB007, "warning"),
        (0xA700, "failure"),
        (0xA801, "failure"),
        (0xC001, "failure"),
        (0x0122, "failure"),
        (0x0124, "failure"),
    ],
)
def test_status_category(status: int, category: str) -> None:
    assert dimse.status_category(status) == category


def test_status_meaning_depends_on_the_command() -> None:
    assert dimse.status_meaning(0xB000, 0x0021).startswith("sub-operations complete")
    assert dimse.status_meaning(0xB000, 0x0001) == "coercion of data elements"
    assert dimse.status_meaning(0xC123, 0x0001) == "cannot understand"
    assert dimse.status_meaning(0xC123, 0x0020) == "unable to process"
    assert dimse.status_meaning(0x0122, 0x0001) == "refused: SOP class not supported"
    assert dimse.status_meaning(0x9999, 0x0001) is None


def _query() -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.QueryRetrieveLevel = "STUDY"
    ds.PatientName = "TOCSIN^FAKE*"
    ds.PatientID = "FAKE-ID-12345"
    ds.PatientBirthDate = ""
    ds.PatientSex = "*"
    ds.IssuerOfPatientID = "H?SP"
    item = Dataset()
    item.PatientID = "OTHER-FAKE"
    ds.OtherPatientIDsSequence = Sequence([item])
    ds.StudyInstanceUID = ""
    ds.ModalitiesInStudy = "CT"
    return ds


EXPECTED = [
    ("PatientName", False, True),
    ("PatientID", False, False),
    ("IssuerOfPatientID", False, True),
    ("PatientBirthDate", True, False),
    ("PatientSex", True, True),
    ("OtherPatientIDsSequence", False, False),
]


@pytest.mark.parametrize("syntax", [IMPLICIT, EXPLICIT, BIG, DEFLATED, JPEG])
def test_identifier_in_every_encoding(syntax: str) -> None:
    raw = dataset(_query(), BIG if syntax == BIG else syntax if syntax != JPEG else EXPLICIT)
    level, keys, complete = dimse.scan_identifier(raw, syntax, 256)
    assert level == "STUDY" and complete
    assert [(k.keyword, k.universal, k.wildcard) for k in keys] == EXPECTED


@pytest.mark.parametrize("syntax", [IMPLICIT, EXPLICIT])
def test_identifier_with_undefined_length_sequences(syntax: str) -> None:
    ds = _query()
    ds["OtherPatientIDsSequence"].is_undefined_length = True
    ds.OtherPatientIDsSequence[0].is_undefined_length_sequence_item = True
    nested = Dataset()
    nested.CodeValue = "X"
    ds.OtherPatientIDsSequence[0].IssuerOfPatientIDQualifiersSequence = Sequence([nested])
    ds.OtherPatientIDsSequence[0]["IssuerOfPatientIDQualifiersSequence"].is_undefined_length = True
    ds.ReferencedStudySequence = Sequence([Dataset()])  # group 0008, before the patient keys
    ds["ReferencedStudySequence"].is_undefined_length = True
    level, keys, complete = dimse.scan_identifier(dataset(ds, syntax), syntax, 256)
    assert level == "STUDY" and complete
    assert [(k.keyword, k.universal, k.wildcard) for k in keys] == EXPECTED


def test_identifier_cut_short_and_odd_levels() -> None:
    raw = dataset(_query())
    level, keys, complete = dimse.scan_identifier(raw[:60], IMPLICIT, 256)
    assert level == "STUDY" and len(keys) < len(EXPECTED) and not complete
    ds = Dataset()
    ds.QueryRetrieveLevel = "TOCSIN^FAKE"
    assert dimse.scan_identifier(dataset(ds), None, 256) == ("other", [], True)
    level, keys, complete = dimse.scan_identifier(raw, IMPLICIT, 2)
    assert len(keys) == 2 and complete


def test_identifier_errors() -> None:
    with pytest.raises(ParseError):
        dimse.scan_identifier(b"not deflate at all", DEFLATED, 256)
    # an undefined-length element holding something other than items
    bad = b"\x10\x00\x02\x10\xff\xff\xff\xff" + b"\x10\x00\x10\x00\x00\x00\x00\x00"
    with pytest.raises(ParseError):
        dimse.scan_identifier(bad, IMPLICIT, 256)


def test_patient_keywords_match_pydicom() -> None:
    for elem, keyword in dimse.PATIENT_KEYWORDS.items():
        assert keyword_for_tag(0x00100000 | elem) == keyword
    for elem in dimse.PATIENT_SEQUENCES:
        assert dictionary_VR(0x00100000 | elem) == "SQ"


def test_uid_names_match_pydicom() -> None:
    table = {**uids.TRANSFER_SYNTAXES, **uids.SOP_CLASSES}
    assert len(table) > 100
    for uid, name in table.items():
        assert uid in UID_dictionary, uid
        assert name.removesuffix(" (Retired)") == UID_dictionary[uid][0]
    assert uids.uid_name(uids.APPLICATION_CONTEXT) == "DICOM Application Context Name"
    assert uids.uid_record("1.2.3").name is None


def test_pdu_reject_and_abort_names() -> None:
    rej = pdu.parse_reject(bytes([0, 2, 3, 1]))
    assert (rej.result, rej.source, rej.reason) == (
        "rejected-transient",
        "service-provider-presentation",
        "temporary-congestion",
    )
    assert pdu.parse_reject(bytes([0, 9, 9, 9])).reason == "reserved-9"
    ab = pdu.parse_abort(bytes([0, 0, 2, 2]))
    assert (ab.source, ab.reason) == ("service-provider", "unexpected-pdu")
    with pytest.raises(ParseError):
        pdu.parse_abort(bytes(5))
