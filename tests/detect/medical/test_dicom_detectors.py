"""medical.dicom_external / dicom_enumeration / dicom_bulk_retrieve / dicom_new_peer: hits
and near misses from records, and end to end on the DICOM fixture captures."""

from __future__ import annotations

from pathlib import Path

from medical_records import CT, DICOM_FIX, MWL_FIND, T0, S, assoc, command, find, key, move

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.detect.medical.dicom_enumeration import (
    SID_MATCHES,
    SID_OPEN,
    SID_RATE,
    DicomEnumeration,
    DicomEnumerationConfig,
)
from tocsin.detect.medical.dicom_exfil import DicomBulkRetrieve, DicomBulkRetrieveConfig
from tocsin.detect.medical.dicom_external import SID_ASSOCIATION, SID_DATA_OUT, DicomExternal
from tocsin.detect.medical.dicom_new_peer import DicomNewPeer, DicomNewPeerConfig


def _ev(a: object) -> dict[str, object]:
    return a.alert.context["evidence"]  # type: ignore[attr-defined, no-any-return]


# -- medical.dicom_external --------------------------------------------------------------


def test_store_to_external_address_is_data_out() -> None:
    evs = [
        assoc(T0, src="10.1.0.5", dst="203.0.113.9", calling="MAIN_PACS", called="CLOUD_AE"),
        command(
            T0 + S,
            "C-STORE",
            src="10.1.0.5",
            dst="203.0.113.9",
            sop_class=CT,
            request_dataset_bytes=500_000,
            status_category="success",
        ),
    ]
    alerts = feed(DicomExternal(), evs)
    assert [a.alert.signature_id for a in alerts] == [SID_ASSOCIATION, SID_DATA_OUT]
    data = alerts[1]
    assert data.alert.severity == 1
    ev = _ev(data)
    assert ev["direction"] == "outbound" and ev["command"] == "C-STORE"
    assert ev["sop_class"] == "CT Image Storage" and ev["request_dataset_bytes"] == 500_000


def test_external_move_request_is_data_out_but_external_find_is_not() -> None:
    move_in = move(T0, "EVIL_AE", 40, src="198.51.100.7")
    assert [a.alert.signature_id for a in feed(DicomExternal(), [move_in])] == [SID_DATA_OUT]
    find_in = find(T0, "STUDY", [], 3, src="198.51.100.7")
    assert feed(DicomExternal(), [find_in]) == []  # queries: the association finding only


def test_inbound_association_from_internet() -> None:
    alerts = feed(DicomExternal(), [assoc(T0, src="198.51.100.7", status="rejected")])
    ev = _ev(alerts[0])
    assert ev["direction"] == "inbound" and ev["status"] == "rejected"
    assert ev["reject_reason"] == "called-ae-title-not-recognized"


def test_modality_storing_inside_home_net_is_normal() -> None:
    evs = [assoc(T0), command(T0 + S, "C-STORE", src="10.1.0.20", sop_class=CT)]
    assert feed(DicomExternal(), evs) == []
    # a C-STORE received from outside (data coming in) is not data out
    inbound = command(T0, "C-STORE", src="203.0.113.9", dst="10.1.0.5", sop_class=CT)
    assert [a.alert.signature_id for a in feed(DicomExternal(), [inbound])] == []


# -- medical.dicom_enumeration -------------------------------------------------------------


def test_patient_level_find_without_identifying_key_alerts() -> None:
    q = find(T0, "PATIENT", [key("PatientName", True), key("PatientBirthDate", True)], 3)
    alerts = feed(DicomEnumeration(), [q])
    assert [a.alert.signature_id for a in alerts] == [SID_OPEN]
    ev = _ev(alerts[0])
    assert ev["patient_constraint"] == "none" and ev["query_level"] == "PATIENT"
    assert ev["query_keys"] == [
        {"keyword": "PatientName", "universal": True, "wildcard": False},
        {"keyword": "PatientBirthDate", "universal": True, "wildcard": False},
    ]


def test_patient_find_with_specific_id_is_a_viewer() -> None:
    q = find(T0, "PATIENT", [key("PatientName", True), key("PatientID")], 1)
    assert feed(DicomEnumeration(), [q]) == []
    prefix = find(T0, "PATIENT", [key("PatientName", wildcard=True)], 12)  # "DUP*": a search
    assert feed(DicomEnumeration(), [prefix]) == []


def test_wildcard_study_query_with_many_matches() -> None:
    q = find(T0, "STUDY", [key("PatientName", True, True), key("PatientID", True)], 500)
    alerts = feed(DicomEnumeration(), [q])
    assert [a.alert.signature_id for a in alerts] == [SID_MATCHES]
    assert _ev(alerts[0])["matches"] == 500
    few = find(T0, "STUDY", [key("PatientName", True, True)], 12)  # a day list
    assert feed(DicomEnumeration(), [few]) == []


def test_find_rate_from_one_ae() -> None:
    qs = [find(T0 + i * S, "PATIENT", [key("PatientID")], 1) for i in range(30)]
    alerts = feed(DicomEnumeration(DicomEnumerationConfig(min_finds=25)), qs)
    assert [a.alert.signature_id for a in alerts] == [SID_RATE]
    assert _ev(alerts[0])["finds"] == 25
    slow = [find(T0 + i * 60 * S, "PATIENT", [key("PatientID")], 1) for i in range(30)]
    assert feed(DicomEnumeration(DicomEnumerationConfig(min_finds=25)), slow) == []
    mwl = [
        find(T0 + i * S, "PATIENT", [key("PatientID")], 1, sop_class=MWL_FIND) for i in range(30)
    ]
    assert feed(DicomEnumeration(DicomEnumerationConfig(min_finds=25)), mwl) == []


def test_find_fixture_end_to_end(tmp_path: Path) -> None:
    """dicom-find.pcap: STUDY level PatientName=* (2 matches), PATIENT level with an ID."""
    assert analyze_alerts([DICOM_FIX / "dicom-find.pcap"], tmp_path, only=["medical"]) == []
    cfg = CorrelateConfig(detectors={"medical.dicom_enumeration": {"min_matches": 2}})
    alerts = analyze_alerts(
        [DICOM_FIX / "dicom-find.pcap"], tmp_path, only=["medical.dicom_enumeration"], config=cfg
    )
    assert [a["alert"]["signature_id"] for a in alerts] == [SID_MATCHES]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["calling_ae"] == "TOCSIN_VIEWER" and ev["query_level"] == "STUDY"


# -- medical.dicom_bulk_retrieve ---------------------------------------------------------


def _bulk(**kw: int) -> DicomBulkRetrieve:
    return DicomBulkRetrieve(DicomBulkRetrieveConfig(learn_s=3600, **kw))


def test_many_moves_to_a_new_destination_after_learning() -> None:
    learn = [move(T0 + i * S, "READING_WS1", 50) for i in range(30)]  # known destination
    later = T0 + 7200 * S
    new = [assoc(later, src="10.1.0.5", dst="10.9.9.9", calling="MAIN_PACS", called="EXFIL")]
    new += [move(later + i * S, "EXFIL", 100) for i in range(1, 25)]
    alerts = feed(_bulk(), learn + new)
    assert names(alerts) == ["medical.dicom_bulk_retrieve"]
    ev = _ev(alerts[0])
    assert ev["destination"] == "AE EXFIL" and ev["retrieves"] == 20
    assert ev["destination_host"] == "10.9.9.9" and ev["instances"] == 2000


def test_bulk_to_known_destination_and_few_to_new_one_are_normal() -> None:
    learn = [move(T0, "READING_WS1", 5)]
    later = T0 + 7200 * S
    routine = [move(later + i * S, "READING_WS1", 200) for i in range(40)]
    few_new = [move(later + i * S, "NEW_WS", 20) for i in range(3)]
    refused = [
        move(later + i * S, "UNKNOWN_DEST", 0, status=0xA801, status_category="failure")
        for i in range(30)
    ]
    assert feed(_bulk(), learn + routine + few_new + refused) == []


def test_move_fixture_end_to_end(tmp_path: Path) -> None:
    cfg = CorrelateConfig(
        detectors={"medical.dicom_bulk_retrieve": {"learn_s": 0, "min_retrieves": 1}}
    )
    alerts = analyze_alerts(
        [DICOM_FIX / "dicom-move.pcap"], tmp_path, only=["medical.dicom_bulk_retrieve"], config=cfg
    )
    assert len(alerts) == 1  # TOCSIN_DEST; the refused move to UNKNOWN_DEST moved nothing
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["destination"] == "AE TOCSIN_DEST" and ev["instances"] == 2
    assert ev["destination_host"] == "127.0.0.1" and ev["requestors"] == [
        "127.0.0.1 AE TOCSIN_VIEWER"
    ]


# -- medical.dicom_new_peer --------------------------------------------------------------


def test_new_ae_and_new_host_after_learning() -> None:
    det = DicomNewPeer(DicomNewPeerConfig(learn_s=3600))
    later = T0 + 7200 * S
    evs = [
        assoc(T0),  # CT_SCANNER1 from 10.1.0.20 -> learned
        assoc(later),  # known: nothing
        assoc(later + S, calling="ROGUE_SCU", src="10.1.0.20"),  # new AE
        assoc(later + 2 * S, src="10.1.7.7"),  # known AE from a new host (spoofed?)
        assoc(later + 3 * S, calling="GUESS", src="10.1.7.8", status="rejected"),
    ]
    alerts = feed(det, evs)
    news = [_ev(a)["new"] for a in alerts]
    assert news == [["calling_ae"], ["host"], ["calling_ae", "host"]]
    assert _ev(alerts[2])["reject_reason"] == "called-ae-title-not-recognized"


def test_everything_is_learned_in_a_short_capture() -> None:
    """Default learning period (1 day): peers seen in the first day never alert."""
    evs = [assoc(T0 + i * 60 * S, calling=f"AE{i}", src=f"10.1.0.{i + 1}") for i in range(50)]
    assert feed(DicomNewPeer(), evs) == []


def test_new_peer_fixture_end_to_end(tmp_path: Path) -> None:
    """store (modality, learned) then find (a viewer) and reject (a rogue AE), 1 s learning."""
    cfg = CorrelateConfig(detectors={"medical.dicom_new_peer": {"learn_s": 1}})
    caps = [DICOM_FIX / f"dicom-{n}.pcap" for n in ("store", "find", "reject")]
    alerts = analyze_alerts(caps, tmp_path, only=["medical.dicom_new_peer"], config=cfg)
    got = [
        (
            a["alert"]["context"]["evidence"]["calling_ae"],
            a["alert"]["context"]["evidence"]["status"],
        )
        for a in alerts
    ]
    assert got == [("TOCSIN_VIEWER", "accepted"), ("TOCSIN_ROGUE", "rejected")]
