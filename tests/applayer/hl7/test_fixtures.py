"""The HL7 parser on real MLLP exchanges: the `hl7` library's client/server captures
(scripts/make_hl7_fixture.py) and nDPI's HL7 capture (tests/fixtures/applayer/hl7/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from tocsin.applayer.hl7 import HL7Parser
from tocsin.model.hl7 import HL7Event
from tocsin.model.ids import FlowId

from ..dicom.build import FIXTURES, Driver, assert_no_patient_data, streams
from ..replay import replay

DIR = FIXTURES / "hl7"
PCAPS = sorted(DIR.glob("*.pcap"))


def run(name: str) -> list[Any]:
    events = replay(HL7Parser, DIR / name)
    assert all(e.event_cls is HL7Event for e in events)
    return events


def test_fixtures_and_provenance() -> None:
    assert {p.name for p in PCAPS} == {
        "hl7-aa.pcap",
        "hl7-errors.pcap",
        "hl7-noack.pcap",
        "hl7-ndpi.pcap",
    }
    prov = (DIR / "PROVENANCE.md").read_text()
    assert "LGPL-3.0" in prov and "ntop/nDPI" in prov
    for p in PCAPS:
        assert p.name in prov


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_no_patient_data_in_any_event(pcap: Path) -> None:
    events = replay(HL7Parser, pcap)
    assert events
    assert_no_patient_data(e.body for e in events)


def test_three_messages_acknowledged_aa() -> None:
    events = run("hl7-aa.pcap")
    got = [
        (e.body.message_type, e.body.trigger_event, e.body.control_id, e.body.ack_code)
        for e in events
    ]
    assert got == [
        ("ADT", "A01", "TOCSIN-0001", "AA"),
        ("ORM", "O01", "TOCSIN-0002", "AA"),
        ("ORU", "R01", "TOCSIN-0003", "AA"),
    ]
    adt = events[0].body
    assert adt.acked and adt.ack_control_id == "TOCSIN-0001" and adt.ack_message_type == "ACK"
    assert (adt.sending_application, adt.sending_facility) == ("TOCSIN_SEND", "TOCSIN_HOSP")
    assert (adt.receiving_application, adt.receiving_facility) == ("TOCSIN_RECV", "TOCSIN_LAB")
    assert (adt.version, adt.processing_id, adt.message_structure) == ("2.5.1", "P", "ADT_A01")
    assert adt.segments == ["MSH", "EVN", "PID", "PV1", "NK1"]
    assert not adt.ack_error_segment
    assert events[1].body.version == "2.3" and events[1].body.message_structure is None
    assert [e.direction for e in events] == [0, 0, 0]
    assert [e.tx_id for e in events] == [0, 1, 2]
    for e in events:
        assert e.body.ack_latency_ms is not None and 0 <= e.body.ack_latency_ms < 1000
        assert e.body.message_bytes > 200


def test_ae_with_err_and_ar() -> None:
    adt, orm = (e.body for e in run("hl7-errors.pcap"))
    assert (adt.message_type, adt.trigger_event, adt.ack_code) == ("ADT", "A08", "AE")
    assert adt.ack_error_segment
    assert (orm.message_type, orm.ack_code, orm.ack_error_segment) == ("ORM", "AR", False)


def test_never_acknowledged() -> None:
    [ev] = run("hl7-noack.pcap")
    body = ev.body
    assert not body.acked and body.ack_code is None and body.ack_latency_ms is None
    assert (body.message_type, body.control_id) == ("ORU", "TOCSIN-0006")
    assert body.segments == ["MSH", "PID", "OBX"]


def test_ndpi_capture() -> None:
    [ev] = run("hl7-ndpi.pcap")
    b = ev.body
    assert (b.message_type, b.trigger_event, b.version) == ("ADT", "A01", "2.3")
    assert b.control_id == "934576120110613083617"
    assert b.sending_application == "SENDING_APPLICATION"
    assert b.receiving_facility == "RECEIVING_FACILITY"
    assert b.acked and b.ack_code == "AA"
    assert abs(b.ack_latency_ms - 20.414) < 0.01  # frame 5 (0.022898 s) - frame 4 (0.002484 s)
    assert b.segments == ["MSH", "EVN", "PID", "NK1", "PV1", "AL1", "AL1"]
    assert ev.flow[3] == 6661


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_byte_by_byte_gives_the_same_events(pcap: Path) -> None:
    whole, tiny = Driver(HL7Parser), Driver(HL7Parser, chunk=1)
    for d, ts, payload in streams(pcap):
        whole.send(d, payload, ts)
        tiny.send(d, payload, ts)
    whole.parser.close(0)
    tiny.parser.close(0)
    assert tiny.bodies() == whole.bodies()
    assert whole.bodies() == [e.body for e in replay(HL7Parser, pcap)]


@pytest.mark.parametrize("pcap", PCAPS, ids=lambda p: p.name)
def test_events_round_trip_with_the_eve_header(pcap: Path) -> None:
    """What the dispatcher does: wrap each body in `HL7Event`; the JSON decodes back."""
    for i, e in enumerate(replay(HL7Parser, pcap)):
        ev = HL7Event(
            timestamp="2024-01-01T00:00:00.000000+0000",
            flow_id=FlowId(i + 1),
            src_ip="127.0.0.1",
            dest_ip="127.0.0.1",
            dest_port=2575,
            proto="TCP",
            app_proto="hl7",
            tx_id=e.tx_id,
            hl7=e.body,
        )
        raw = msgspec.json.encode(ev)
        assert b'"event_type":"hl7"' in raw
        assert msgspec.json.decode(raw, type=HL7Event) == ev
