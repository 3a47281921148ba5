"""The HL7 parser on built messages (the `hl7` library builds and acknowledges them): MSH
separators, MSA matching, framing errors, bounds, resynchronisation, privacy."""

from __future__ import annotations

import hl7
import pytest

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.hl7 import HL7Parser
from tocsin.applayer.hl7.message import parse_message

from ..dicom.build import Driver, assert_no_patient_data

PID = "PID|1||FAKE-ID-12345^^^TOCSIN^MR||TOCSIN^FAKE^PATIENT||19010101|O"


def msg(kind: str = "ADT^A01^ADT_A01", cid: str = "C1", *extra: str) -> hl7.Message:
    head = f"MSH|^~\\&|APP_A|FAC_A|APP_B|FAC_B|20240101120000||{kind}|{cid}|T^A|2.5.1^FRA"
    return hl7.parse("\r".join([head, PID, *extra]))


def frame(m: hl7.Message | str | bytes) -> bytes:
    raw = m if isinstance(m, bytes) else str(m).encode()
    return b"\x0b" + raw + b"\x1c\x0d"


def ack(m: hl7.Message, code: str = "AA", err: bool = False) -> bytes:
    a = str(m.create_ack(code, message_id="ACK1"))
    if err:
        a = a.rstrip("\r") + "\rERR||PID^1^3|103^Table value not found^HL70357|E"
    return frame(a)


def test_header_fields_and_ack() -> None:
    m = msg()
    drv = Driver(HL7Parser)
    drv.send(0, frame(m), 1_000)
    assert drv.events == []  # waits for its ACK
    drv.send(1, ack(m, "AE", err=True), 3_500)
    [(b, d, ts, tx)] = drv.events
    assert (d, ts, tx) == (0, 3_500, 0)
    assert (b.sending_application, b.sending_facility) == ("APP_A", "FAC_A")
    assert (b.receiving_application, b.receiving_facility) == ("APP_B", "FAC_B")
    assert (b.message_type, b.trigger_event, b.message_structure) == ("ADT", "A01", "ADT_A01")
    assert (b.control_id, b.processing_id, b.version) == ("C1", "T", "2.5.1")
    assert (b.ack_code, b.ack_control_id, b.ack_message_type) == ("AE", "C1", "ACK")
    assert b.ack_error_segment and b.acked and b.ack_latency_ms == 2.5
    assert b.segments == ["MSH", "PID"]
    assert b.message_bytes == len(str(m))
    assert_no_patient_data(drv.bodies())


def test_separators_come_from_msh() -> None:
    raw = (
        b"MSH#*~\\&#SEND*ONE#FAC#RECV#FAC2#2024##ORU*R01*ORU_R01#X9#P#2.4\r"
        b"PID#1##FAKE-ID-12345##TOCSIN*FAKE*PATIENT\r"
    )
    h = parse_message(raw, 10)
    assert (h.sending_application, h.message_type, h.trigger_event) == ("SEND*ONE", "ORU", "R01")
    assert (h.control_id, h.version, h.segments) == ("X9", "2.4", ["MSH", "PID"])


def test_lf_separated_segments_and_whitespace_between_frames() -> None:
    raw = str(msg()).replace("\r", "\r\n").encode()
    drv = Driver(HL7Parser)
    drv.send(0, b"\r\n" + frame(raw) + b"\r\n", 1)
    drv.parser.close(2)
    [b] = drv.bodies()
    assert b.segments == ["MSH", "PID"] and not b.acked


def test_line_break_inside_a_value_is_not_a_segment() -> None:
    m = msg("ORU^R01", "C2", "OBX|1|TX|NOTE||first line\rMOUSE^MICKEY typed on\rOBX2 text")
    drv = Driver(HL7Parser)
    drv.send(0, frame(m), 1)
    drv.parser.close(2)
    [b] = drv.bodies()
    assert b.segments == ["MSH", "PID", "OBX"]
    assert_no_patient_data(drv.bodies())


def test_application_response_and_unsolicited_ack() -> None:
    order = msg("ORM^O01", "ORD1")
    orr = msg("ORR^O02", "R1", "MSA|AA|ORD1")
    drv = Driver(HL7Parser)
    drv.send(0, frame(order), 1)
    drv.send(1, frame(orr), 2)
    drv.send(1, ack(msg("ADT^A01", "NOT-SEEN")), 3)  # an ACK for nothing seen here
    a, b = drv.bodies()
    assert (a.message_type, a.ack_message_type, a.ack_code) == ("ORM", "ORR", "AA")
    assert b.unsolicited_ack and not b.acked and b.message_type == "ACK"
    assert (b.ack_code, b.ack_control_id) == ("AA", "NOT-SEEN")
    assert drv.events[1][1] == 1  # the ACK's own direction


def test_pending_bound_and_reused_control_id() -> None:
    drv = Driver(HL7Parser, AppLimits(max_pending=2))
    for cid in ("A", "B", "C"):
        drv.send(0, frame(msg("ADT^A01", cid)), 1)
    assert [b.control_id for b in drv.bodies()] == ["A"]  # evicted unacknowledged
    drv.send(0, frame(msg("ADT^A01", "B")), 2)  # B again before its ACK
    assert [b.control_id for b in drv.bodies()] == ["A", "B"]
    drv.send(1, ack(msg("ADT^A01", "B")), 3)
    drv.parser.close(0)
    got = [(b.control_id, b.acked) for b in drv.bodies()]
    assert got == [("A", False), ("B", False), ("B", True), ("C", False)]


def test_messages_both_ways() -> None:
    """Either side may send; each ACK matches the message of the other direction."""
    m0, m1 = msg("ADT^A01", "X"), msg("ADT^A01", "X")
    drv = Driver(HL7Parser)
    drv.send(0, frame(m0), 1)
    drv.send(1, frame(m1), 2)
    drv.send(0, ack(m1), 3)
    drv.send(1, ack(m0), 4)
    assert [(e[1], e[0].acked) for e in drv.events] == [(1, True), (0, True)]


def test_large_message_is_bounded() -> None:
    big = msg("ORU^R01", "BIG", "OBX|1|ED|PDF||" + "QUJD" * 50_000)
    drv = Driver(HL7Parser, AppLimits(max_message=1024), chunk=1460)
    drv.send(0, frame(big), 1)
    assert len(drv.parser._dirs[0].buf) <= 1024
    drv.send(1, ack(big), 2)
    [b] = drv.bodies()
    assert b.truncated and b.message_bytes == len(str(big)) and b.ack_code == "AA"


def test_gap_resynchronises_on_the_next_frame() -> None:
    drv = Driver(HL7Parser)
    first = frame(msg("ADT^A01", "LOST"))
    drv.send(0, first[:40], 1)
    drv.parser.gap(0, 2)
    drv.send(0, b"rest of a lost frame" + first[60:] + frame(msg("ADT^A02", "OK")), 3)
    drv.parser.close(4)
    assert [b.control_id for b in drv.bodies()] == ["OK"]


@pytest.mark.parametrize(
    "data",
    [
        b"hello",  # not MLLP
        frame(b"PID|1||X"),  # no MSH
        frame(b"MSH"),  # MSH too short
        frame(b"MSHA^~\\&|A|B|C|D"),  # alphanumeric field separator
        frame(b"MSH||~\\&|A|B|C|D"),  # empty encoding characters
        b"\x0bMSH|^~\\&|A\x0bMSH|^~\\&|B\x1c\x0d",  # start block inside a frame
    ],
)
def test_malformed_raises_parse_error(data: bytes) -> None:
    with pytest.raises(ParseError) as exc:
        Driver(HL7Parser).send(0, data, 1)
    assert "MSH|" not in str(exc.value)


def test_batch_is_read_from_its_first_msh() -> None:
    raw = b"FHS|^~\\&|BATCHER\rBHS|^~\\&\r" + str(msg("ADT^A04", "B1")).encode()
    h = parse_message(raw, 10)
    assert (h.message_type, h.trigger_event, h.control_id) == ("ADT", "A04", "B1")


def test_lost_separator_withholds_msh_text() -> None:
    """MSH merged with the PID that followed it: nothing of MSH is reported, the ACK still
    matches by MSH-10."""
    raw = (
        b"MSH|^~\\&|APP_A|FAC_A|APP_B|FAC_B|20240101||ORU^PID|1||FAKE-ID-12345^^^X||"
        b"TOCSIN^FAKE^PATIENT||19010101|O\rOBX|1|ST|X||TOCSIN-FAKE-OBSERVATION"
    )
    drv = Driver(HL7Parser)
    drv.send(0, frame(raw), 1)
    drv.send(1, frame(b"MSH|^~\\&|B|B|A|A|20240101||ACK|K1|P|2.5\rMSA|AA|1"), 2)
    [b] = drv.bodies()
    assert b.malformed_header and b.acked and b.ack_code == "AA"
    assert b.message_type is None and b.control_id is None and b.sending_application is None
    assert b.segments == ["MSH", "OBX"]
    assert_no_patient_data(drv.bodies())


def test_msa_shapes() -> None:
    ok = b"MSH|^~\\&|B|B|A|A|20240101||ACK|K1|P|2.5\rMSA|CA|ORIG-1"
    h = parse_message(ok, 10)
    assert (h.ack_code, h.ack_control_id, h.ack_match_id) == ("CA", "ORIG-1", "ORIG-1")
    merged = b"MSH|^~\\&|B|B|A|A|20240101||ACK|K1|P|2.5\rMSA|PID^1^3|Table value^X"
    h = parse_message(merged, 10)
    assert h.has_msa and h.ack_code is None and h.ack_control_id is None
    spaced = b"MSH|^~\\&|B|B|A|A|20240101||ACK|K1|P|2.5\rMSA|AE|not an id^X"
    h = parse_message(spaced, 10)
    assert h.ack_code == "AE" and h.ack_control_id is None and h.ack_match_id == "not an id^X"
