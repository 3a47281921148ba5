"""medical.hl7_new_sender, medical.hl7_nack_run, medical.cleartext_leaving; no patient data in
any medical alert; the demo samples raise no medical alert."""

from __future__ import annotations

import json
from pathlib import Path

from medical_records import DICOM_FIX, HL7_FIX, SAMPLES, T0, S, hl7

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.detect.medical.cleartext import SID_DICOM, SID_HL7, CleartextLeaving
from tocsin.detect.medical.hl7 import Hl7NackRun, Hl7NewSender, Hl7NewSenderConfig
from tocsin.model.flows import FlowRow

NDPI_HL7 = HL7_FIX / "hl7-ndpi.pcap"


def test_new_sender_after_learning() -> None:
    det = Hl7NewSender(Hl7NewSenderConfig(learn_s=3600))
    later = T0 + 7200 * S
    evs = [
        hl7(T0),
        hl7(T0 + S, app="ADT_SYS", fac="CHU", mtype="ADT", trigger="A01", src="10.2.0.11"),
        hl7(later),  # known
        hl7(later + S, app="ROGUE", fac="X"),  # new application from a known host
        hl7(later + 2 * S, src="10.66.0.1"),  # known MSH-3/4 from a new host
        hl7(later + 3 * S, app="ROGUE", fac="X"),  # now learned
    ]
    alerts = feed(det, evs)
    assert [a.alert.context["evidence"]["new"] for a in alerts] == [["sender"], ["host"]]  # type: ignore[index]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["sending_application"] == "ROGUE" and ev["message_type"] == "ORU^R01"
    assert ev["known_senders"] == 2


def test_new_sender_quiet_during_learning() -> None:
    evs = [hl7(T0 + i * S, app=f"APP{i}", src=f"10.2.0.{i + 20}") for i in range(20)]
    assert feed(Hl7NewSender(), evs) == []


def test_nack_run_consecutive() -> None:
    evs = [hl7(T0 + i * S, ack="AE" if i % 2 else "AR") for i in range(6)]
    alerts = feed(Hl7NackRun(), evs)
    assert names(alerts) == ["medical.hl7_nack_run"]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["consecutive"] == 5 and ev["ack_codes"] == {"AE": 2, "AR": 3}
    assert ev["message_types"] == {"ORU^R01": 5}


def test_nacks_among_accepted_messages_do_not_alert() -> None:
    """Every other message rejected: never 5 in a row, 9 NACKs in 10 minutes (< 10)."""
    evs = [hl7(T0 + i * S, ack="AE" if i % 2 else "AA") for i in range(18)]
    assert feed(Hl7NackRun(), evs) == []
    assert feed(Hl7NackRun(), [hl7(T0 + i * S, ack=None) for i in range(20)]) == []  # no ACK
    many = [hl7(T0 + i * S, ack="AE" if i % 2 else "AA") for i in range(22)]
    assert names(feed(Hl7NackRun(), many)) == ["medical.hl7_nack_run"]  # 11 in the window


def test_nack_fixture_end_to_end(tmp_path: Path) -> None:
    """hl7-errors.pcap (the demo's hl7-feed sample): one AE and one AR."""
    errors = HL7_FIX / "hl7-errors.pcap"
    assert analyze_alerts([errors], tmp_path, only=["medical.hl7_nack_run"]) == []
    cfg = CorrelateConfig(detectors={"medical.hl7_nack_run": {"min_consecutive": 2}})
    alerts = analyze_alerts([errors], tmp_path, only=["medical.hl7_nack_run"], config=cfg)
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["ack_codes"] == {"AE": 1, "AR": 1}
    assert ev["message_types"] == {"ADT^A08": 1, "ORM^O01": 1}
    assert ev["senders"] == ["TOCSIN_SEND|TOCSIN_HOSP"]


def _flow(src: str, dst: str, app: str, bytes_ts: int = 900, bytes_tc: int = 300) -> FlowRow:
    return FlowRow(
        src,
        dst,
        40000,
        104 if app == "dicom" else 2575,
        first_ts=T0,
        last_ts=T0 + S,
        pkts_ts=5,
        pkts_tc=4,
        bytes_ts=bytes_ts,
        bytes_tc=bytes_tc,
        app_proto=app,
    )


def test_cleartext_dicom_and_hl7_leaving() -> None:
    batch = flows(
        _flow("10.1.0.5", "203.0.113.9", "dicom"),
        _flow("198.51.100.4", "10.2.0.2", "hl7"),  # inbound feed, ACKs sent back
        _flow("10.1.0.20", "10.1.0.5", "dicom"),  # inside: normal
        _flow("10.1.0.5", "203.0.113.10", "tls"),  # encrypted: not this detector
        _flow("10.1.0.5", "203.0.113.11", "dicom", bytes_ts=0),  # nothing sent
    )
    alerts = feed(CleartextLeaving(), [batch])
    assert [a.alert.signature_id for a in alerts] == [SID_DICOM, SID_HL7]
    ev = alerts[1].alert.context["evidence"]  # type: ignore[index]
    assert ev["external"] == "198.51.100.4" and ev["protocol"] == "hl7"


def test_cleartext_hl7_capture_with_external_sender(tmp_path: Path) -> None:
    """nDPI's hl7.pcap 10.0.0.155 -> 10.0.0.126:6661, with HOME_NET = the engine only."""
    only = ["medical.cleartext_leaving"]
    assert analyze_alerts([NDPI_HL7], tmp_path, only=only) == []
    cfg = CorrelateConfig(home_net=("10.0.0.126/32",))
    alerts = analyze_alerts([NDPI_HL7], tmp_path, only=only, config=cfg)
    assert [a["alert"]["signature_id"] for a in alerts] == [SID_HL7]
    assert alerts[0]["alert"]["context"]["evidence"]["external"] == "10.0.0.155"


FAKE_VALUES = (
    "TOCSIN^FAKE^PATIENT",
    "FAKE-ID-12345",
    "19010101",
    "FAKEACC777",
    "TOCSIN^SECOND^FAKE",
    "FAKE-ID-67890",
    "FAKE STREET",
    "FAKETOWN",
    "555-0100",
)


def test_no_patient_value_in_any_medical_alert(tmp_path: Path) -> None:
    """Every DICOM and HL7 fixture (fake patients), every medical detector at its most
    sensitive, HOME_NET excluding loopback so the boundary findings fire too."""
    caps = sorted(DICOM_FIX.glob("*.pcap")) + sorted(HL7_FIX.glob("*.pcap"))
    cfg = CorrelateConfig(
        home_net=("10.0.0.126/32",),
        detectors={
            "medical.dicom_enumeration": {"min_matches": 1, "min_finds": 1},
            "medical.dicom_bulk_retrieve": {"learn_s": 0, "min_retrieves": 1},
            "medical.dicom_new_peer": {"learn_s": 1},
            "medical.hl7_new_sender": {"learn_s": 1},
            "medical.hl7_nack_run": {"min_consecutive": 1},
        },
    )
    alerts = analyze_alerts(caps, tmp_path, only=["medical"], config=cfg)
    assert {"medical.dicom_enumeration", "medical.dicom_bulk_retrieve"} <= set(names(alerts))
    assert "medical.hl7_nack_run" in names(alerts)
    text = json.dumps(alerts)
    for value in FAKE_VALUES:
        assert value not in text


def test_demo_samples_raise_no_medical_alert(tmp_path: Path) -> None:
    caps = sorted(SAMPLES.glob("*.pcap*"))
    assert analyze_alerts(caps, tmp_path, only=["medical"]) == []
    assert analyze_alerts([DICOM_FIX / "dicom-store.pcap"], tmp_path, only=["medical"]) == []
