"""Exercise mode's medical protocols (`exercise.proto.dicom`, `hl7`, `patients`): bytes checked
by the libraries that define them (pynetdicom, pydicom, hl7), then a generated capture run
through `tocsin analyze` (the `dicom` / `hl7` events, the medical detectors, no patient value
in any event) and through tshark (no malformed packet, no expert error).

Synthetic patients only (made up from the seed)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import hl7 as hl7lib
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom.dimse_messages import DIMSEMessage
from pynetdicom.dsutils import decode
from pynetdicom.pdu import A_ASSOCIATE_AC, A_ASSOCIATE_RQ, P_DATA_TF

from applayer.replay import Feeder
from correlate_kit import analyze_alerts
from exercise_kit import tshark
from tocsin.applayer.dicom import DicomParser
from tocsin.applayer.hl7 import HL7Parser
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.exercise.proto import dicom, hl7
from tocsin.exercise.proto.dicom_pdu import Ae
from tocsin.exercise.proto.patients import Patient, Study, make_patients, make_study
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

WHEN = datetime(2024, 3, 4, 9, 30)
T0 = 1_709_544_600.0  # the same instant, epoch seconds
MODALITY = Ae("CT_URG01", max_pdu=16_384)
PACS = Ae("PACS_CHX", max_pdu=32_768, implementation_uid="1.2.826.0.1.3680043.9.3811.3.0")
VIEWER = Ae("VIEWER07", max_pdu=65_536)
INSIDER = Ae("WS_INSIDER", max_pdu=16_384)
EXTERNAL = Ae("CLOUD_AE", max_pdu=0)


def pdus(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, whole PDU) of each upper-layer PDU of a turn."""
    pos = 0
    while pos < len(data):
        length = int.from_bytes(data[pos + 2 : pos + 6], "big")
        yield data[pos], data[pos : pos + 6 + length]
        pos += 6 + length
    assert pos == len(data)


def messages(turns: list[Turn], side: int) -> list[tuple[Dataset, bytes]]:
    """The DIMSE messages `side` sent, reassembled by pynetdicom: (command set, data set)."""
    out = []
    msg = DIMSEMessage()
    for t in turns:
        if t.side != side:
            continue
        for ptype, raw in pdus(t.data):
            if ptype != 4:
                continue
            tf = P_DATA_TF()
            tf.decode(raw)
            if msg.decode_msg(tf.to_primitive()):
                assert msg.data_set is not None
                out.append((msg.command_set, msg.data_set.getvalue()))
                msg = DIMSEMessage()
    return out


# --- bytes, checked by the libraries ------------------------------------------------------


def test_association_pdus_decode_with_pynetdicom() -> None:
    rng = random.Random(1)
    study = make_study(rng, make_patients(rng, 1)[0], "CT", WHEN, series=1, images=2)
    turns = dicom.store(rng, MODALITY, PACS, [study])
    rq, ac = A_ASSOCIATE_RQ(), A_ASSOCIATE_AC()
    rq.decode(turns[0].data)
    ac.decode(turns[1].data)
    assert (rq.calling_ae_title, rq.called_ae_title) == ("CT_URG01", "PACS_CHX")
    [cx] = rq.presentation_context
    assert cx.abstract_syntax == "1.2.840.10008.5.1.4.1.1.2"
    assert cx.transfer_syntax == ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"]
    assert rq.user_information.maximum_length == 16_384
    assert ac.user_information.maximum_length == 32_768
    assert ac.user_information.implementation_class_uid == PACS.implementation_uid
    [res] = ac.presentation_context
    assert (res.result, res.transfer_syntax) == (0, "1.2.840.10008.1.2.1")
    assert turns[-2].data == bytes.fromhex("050000000004 00000000".replace(" ", ""))
    assert turns[-1].data == bytes.fromhex("060000000004 00000000".replace(" ", ""))


def test_store_messages_decode_and_respect_the_receivers_pdu_limit() -> None:
    rng = random.Random(2)
    patient = make_patients(rng, 1)[0]
    study = make_study(rng, patient, "CT", WHEN, series=2, images=3)
    turns = dicom.store(rng, MODALITY, PACS, [study])
    for t in turns:  # the requestor writes to the PACS's limit, the PACS to the modality's
        limit = PACS.max_pdu if t.side == CLIENT else MODALITY.max_pdu
        assert all(len(raw) - 6 <= limit for ptype, raw in pdus(t.data) if ptype == 4)
    sent = messages(turns, CLIENT)
    assert len(sent) == 6
    uids = [u for s in study.series for u in s.instance_uids]
    for i, (cmd, data) in enumerate(sent):
        assert (cmd.CommandField, cmd.MessageID) == (0x0001, i + 1)
        assert cmd.AffectedSOPInstanceUID == uids[i]
        ds = decode(BytesIO(data), False, True)  # Explicit VR LE, as negotiated
        assert ds.SOPInstanceUID == uids[i]
        assert ds.InstanceNumber == i % 3 + 1
        assert ds.SeriesInstanceUID == study.series[i // 3].uid
        assert (ds.PatientName, ds.PatientID) == (patient.name, patient.ipp)
        assert (ds.Rows, ds.Columns, ds.BitsStored) == (512, 512, 12)
        assert ds.ImagePositionPatient[2] == ds.SliceLocation
        assert len(ds.PixelData) == 512 * 512 * 2
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        assert ds.pixel_array.shape == (512, 512)
        assert ds.pixel_array.max() < 4096  # noise masked to the 12 bits stored
    answers = messages(turns, SERVER)
    assert [(c.MessageIDBeingRespondedTo, c.Status) for c, _ in answers] == [
        (i, 0) for i in range(1, 7)
    ]


def test_find_move_get_messages() -> None:
    rng = random.Random(3)
    patients = make_patients(rng, 5)
    turns = dicom.find(rng, INSIDER, PACS, "PATIENT", {"PatientName": "*"}, patients)
    [rq] = messages(turns, CLIENT)
    *pending, final = messages(turns, SERVER)
    ident = decode(BytesIO(rq[1]), False, True)
    assert (ident.QueryRetrieveLevel, ident.PatientName, ident.PatientID) == ("PATIENT", "*", "")
    assert [decode(BytesIO(d), False, True).PatientID for _, d in pending] == [
        p.ipp for p in patients
    ]
    assert [c.Status for c, _ in pending] == [0xFF00] * 5 and final[0].Status == 0

    studies = [make_study(rng, p, "MR", WHEN, series=1, images=3) for p in patients[:2]]
    r = dicom.move(rng, VIEWER, PACS, EXTERNAL, studies)
    rqs = messages(r.control, CLIENT)
    assert [c.MoveDestination for c, _ in rqs] == ["CLOUD_AE", "CLOUD_AE"]
    finals = [c for c, _ in messages(r.control, SERVER) if c.Status == 0]
    assert [c.NumberOfCompletedSuboperations for c in finals] == [3, 3]
    assert [off for off, _ in r.transfers] == sorted(off for off, _ in r.transfers)
    for (_, tx), (rq_cmd, _) in zip(r.transfers, rqs, strict=True):
        stores = messages(tx, CLIENT)
        assert len(stores) == 3
        assert {c.MoveOriginatorMessageID for c, _ in stores} == {rq_cmd.MessageID}
        assert {c.MoveOriginatorApplicationEntityTitle for c, _ in stores} == {"VIEWER07"}

    refused = dicom.move(rng, VIEWER, PACS, EXTERNAL, studies, known_destination=False)
    assert refused.transfers == []
    assert [c.Status for c, _ in messages(refused.control, SERVER)] == [0xA801, 0xA801]

    turns = dicom.get(rng, VIEWER, PACS, studies[:1])
    rq_ac = A_ASSOCIATE_RQ()
    rq_ac.decode(turns[0].data)
    assert rq_ac.user_information.role_selection  # SCP role proposed for MR storage
    back = [c for c, _ in messages(turns, SERVER)]
    assert [c.CommandField for c in back] == [0x0001, 0x8010] * 3
    assert [c.Status for c in back[1::2]] == [0xFF00, 0xFF00, 0]


def test_same_seed_same_bytes() -> None:
    def build(seed: int) -> list[Turn]:
        rng = random.Random(seed)
        study = make_study(rng, make_patients(rng, 1)[0], "CT", WHEN, series=1, images=100)
        return dicom.store(rng, MODALITY, PACS, [study])

    assert build(5) == build(5)
    assert build(5) != build(6)
    turns = build(7)
    assert sum(len(t.data) for t in turns) > 100 * 512 * 512 * 2


def test_hl7_messages_and_acks_parse_with_the_hl7_library() -> None:
    rng = random.Random(4)
    p = make_patients(rng, 2)
    specs: list[hl7.Spec] = [
        hl7.Adt("A01", p[0]),
        hl7.Adt("A04", p[1]),
        hl7.Order(p[0], "LAB"),
        hl7.Result(p[0], tests=5),
        hl7.Adt("A08", p[0]),
        hl7.Adt("A03", p[0]),
    ]
    sender, engine = hl7.App("GAM", "CHX"), hl7.App("EAI", "CHX")
    turns = hl7.exchange(rng, sender, engine, specs, nack_rate=0.5)
    assert [t.side for t in turns] == [CLIENT, SERVER] * 6
    for t in turns:
        assert t.data[:1] == b"\x0b" and t.data[-2:] == b"\x1c\r"
    sent = [hl7lib.parse(t.data[1:-2].decode()) for t in turns[::2]]
    acks = [hl7lib.parse(t.data[1:-2].decode()) for t in turns[1::2]]
    kinds = [str(m.segment("MSH")(9)) for m in sent]
    assert kinds == [
        "ADT^A01^ADT_A01",
        "ADT^A04^ADT_A01",
        "ORM^O01^ORM_O01",
        "ORU^R01^ORU_R01",
        "ADT^A08^ADT_A01",
        "ADT^A03^ADT_A03",
    ]
    assert str(sent[3].segment("PID")(5)) == p[0].name and len(sent[3]["OBX"]) == 5
    assert str(sent[3]["OBX.F2"]) == "NM"
    assert str(sent[5]["PV1.F45"]).startswith("20240101")  # discharge time
    codes = [str(a["MSA.F1"]) for a in acks]
    assert set(codes) >= {"AA"} and set(codes) - {"AA"}  # some refused at nack_rate 0.5
    for m, a in zip(sent, acks, strict=True):
        assert str(a["MSA.F2"]) == str(m.segment("MSH")(10))
        assert str(a.segment("MSH")(3)) == "EAI" and str(a.segment("MSH")(5)) == "GAM"
        refused = str(a["MSA.F1"]) != "AA"
        assert ("ERR" in [s[0][0] for s in a]) == refused
    f = Feeder(HL7Parser)
    for t in turns:
        f.feed(t.side, t.data)
    f.parser.close(0)
    got = [(b.message_type, b.trigger_event, b.ack_code, b.ack_error_segment) for b in f.bodies()]
    assert got == [
        (k.split("^")[0], k.split("^")[1], c, c != "AA") for k, c in zip(kinds, codes, strict=True)
    ]


def test_dicom_parser_fed_directly_answers_every_command() -> None:
    """The parser alone, fed the turns as a dispatcher would (skip honoured)."""
    rng = random.Random(8)
    patient = make_patients(rng, 1)[0]
    study = make_study(rng, patient, "CT", WHEN, series=1, images=8)
    f = Feeder(DicomParser)
    for t in dicom.store(rng, MODALITY, PACS, [study]):
        for i in range(0, len(t.data), 1460):
            f.feed(t.side, t.data[i : i + 1460])
    cmds = [b.command for b in f.bodies() if b.type == "command"]
    assert [(c.command, c.message_id, c.answered, c.status) for c in cmds] == [
        ("C-STORE", i, True, 0) for i in range(1, 9)
    ]
    assert f.bodies()[-1].type == "release"


# --- a capture through tocsin analyze and tshark -------------------------------------------


@dataclass
class Capture:
    pcap: Path
    events: list[dict[str, Any]]  # EVE dicom / hl7 events
    alerts: list[dict[str, Any]]
    stored: Study
    moved: list[Study]
    bulk: list[Study]
    got: Study
    patients: list[Patient]
    studies: list[Study]
    nack_codes: list[str]


def _host(name: str, ip: str) -> Host:
    return Host.make(name, ip)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    rng = random.Random(2024)
    tmp = tmp_path_factory.mktemp("medical")
    ct, pacs, viewer = (
        _host("ct", "10.20.1.10"),
        _host("pacs", "10.20.0.5"),
        _host("v", "10.20.2.7"),
    )
    insider, cloud = _host("insider", "10.20.3.66"), _host("cloud", "203.0.113.80")
    gam, eai, lab = _host("gam", "10.20.4.2"), _host("eai", "10.20.4.3"), _host("lis", "10.20.4.9")
    patients = make_patients(rng, 150)
    studies = [make_study(rng, p, "CR", WHEN) for p in patients[:120]]
    stored = make_study(rng, patients[0], "CT", WHEN, series=1, images=12)
    moved = [make_study(rng, p, "MR", WHEN, series=1, images=2) for p in patients[1:3]]
    bulk = [make_study(rng, p, "MR", WHEN, series=1, images=1) for p in patients[10:32]]
    got = make_study(rng, patients[5], "US", WHEN, images=2)
    tr = Trace(seed=9)
    t = T0
    port = iter(range(50_000, 60_000))

    def conv(cli: Host, srv: Host, turns: list[Turn], sport: int = 104, gap: float = 2.0) -> None:
        nonlocal t
        t = tr.tcp(t, cli, next(port), srv, sport, turns) + gap

    conv(ct, pacs, dicom.echo(rng, MODALITY, PACS))
    conv(ct, pacs, dicom.store(rng, MODALITY, PACS, [stored]))
    conv(viewer, pacs, dicom.find(rng, VIEWER, PACS, "STUDY", {"PatientID": "123"}, studies[:1]))
    r = dicom.move(rng, VIEWER, PACS, EXTERNAL, moved)
    for off, turns in r.transfers:
        tr.tcp(t + off, pacs, next(port), cloud, 11112, turns)
    conv(viewer, pacs, r.control, gap=5.0)
    conv(viewer, pacs, dicom.get(rng, VIEWER, PACS, [got]))
    conv(cloud, pacs, dicom.reject(rng, EXTERNAL, PACS))
    a = dicom.Association(rng, VIEWER, PACS, dicom.contexts_for([dicom.VERIFICATION]))
    a.echo()
    conv(viewer, pacs, a.abort())
    # the insider: every patient, every study, then 22 studies to a new AE
    wild = {"PatientName": "*", "PatientID": "*"}
    conv(insider, pacs, dicom.find(rng, INSIDER, PACS, "PATIENT", wild, patients))
    conv(insider, pacs, dicom.find(rng, INSIDER, PACS, "STUDY", {"PatientName": "*"}, studies))
    r = dicom.move(rng, INSIDER, PACS, INSIDER, bulk)
    for off, turns in r.transfers:
        tr.tcp(t + off, pacs, next(port), insider, 11112, turns)
    conv(insider, pacs, r.control, gap=5.0)
    # HL7: admissions all accepted; a laboratory feed the engine refuses
    adt = [hl7.Adt(e, patients[i]) for i, e in enumerate(("A01", "A04", "A08", "A03"))]
    ok = hl7.exchange(rng, hl7.App("GAM", "CHX"), hl7.App("EAI", "CHX"), adt, start=WHEN)
    conv(gam, eai, ok, sport=2575)
    res = [hl7.Result(p) for p in patients[:6]]
    bad = hl7.exchange(rng, hl7.App("LIS", "LABO"), hl7.App("EAI", "CHX"), res, 1.0, start=WHEN)
    conv(lab, eai, bad, sport=2575)
    nack_codes = [str(hl7lib.parse(x.data[1:-2].decode())["MSA.F1"]) for x in bad[1::2]]
    pcap = tmp / "medical.pcap"
    tr.write(str(pcap))

    cfg = CorrelateConfig(detectors={"medical.dicom_bulk_retrieve": {"learn_s": 0}})
    alerts = analyze_alerts([pcap], tmp, only=["medical"], config=cfg)
    events = [json.loads(x) for x in (tmp / "eve.json").read_text().splitlines()]
    events = [e for e in events if e["event_type"] in ("dicom", "hl7")]
    return Capture(pcap, events, alerts, stored, moved, bulk, got, patients, studies, nack_codes)


def _commands(cap: Capture, name: str, calling: str | None = None) -> list[dict[str, Any]]:
    return [
        e["dicom"]
        for e in cap.events
        if e["event_type"] == "dicom"
        and e["dicom"]["type"] == "command"
        and e["dicom"]["command"]["command"] == name
        and (calling is None or e["dicom"]["calling_ae"] == calling)
    ]


def test_dicom_events(capture: Capture) -> None:
    dev = [e["dicom"] for e in capture.events if e["event_type"] == "dicom"]
    assocs = [d for d in dev if d["type"] == "association"]
    pairs = {(d["calling_ae"], d["called_ae"], d["association"]["status"]) for d in assocs}
    assert pairs == {
        ("CT_URG01", "PACS_CHX", "accepted"),
        ("VIEWER07", "PACS_CHX", "accepted"),
        ("PACS_CHX", "CLOUD_AE", "accepted"),
        ("CLOUD_AE", "PACS_CHX", "rejected"),
        ("WS_INSIDER", "PACS_CHX", "accepted"),
        ("PACS_CHX", "WS_INSIDER", "accepted"),
    }
    [rej] = [
        d["association"]["rejected"] for d in assocs if d["association"]["status"] != "accepted"
    ]
    assert rej["reason"] == "calling-ae-title-not-recognized"
    ct = next(
        d
        for d in assocs
        if d["calling_ae"] == "CT_URG01"
        and len(d["association"]["proposed"]) == 1
        and d["association"]["proposed"][0]["abstract_syntax"]["uid"].endswith(".1.2")
    )
    assert ct["association"]["proposed"][0]["abstract_syntax"]["name"] == "CT Image Storage"
    assert ct["association"]["requestor"]["max_pdu_length"] == 16_384
    assert ct["association"]["acceptor"]["max_pdu_length"] == 32_768
    assert [d["type"] for d in dev].count("abort") == 1
    assert [d["type"] for d in dev].count("release") == len(assocs) - 2  # rejected, aborted

    echo = _commands(capture, "C-ECHO")
    assert [(c["command"]["status_category"], c["command"]["answered"]) for c in echo] == [
        ("success", True)
    ] * 2
    finds = {
        c["command"]["query_level"]: c["command"]
        for c in _commands(capture, "C-FIND", "WS_INSIDER")
    }
    assert finds["PATIENT"]["pending_responses"] == 150
    assert finds["PATIENT"]["sop_class"]["uid"] == dicom.PATIENT_ROOT_FIND
    keys = {k["keyword"]: k for k in finds["PATIENT"]["query_keys"]}
    assert keys["PatientName"]["universal"] and keys["PatientID"]["universal"]
    assert finds["STUDY"]["pending_responses"] == 120
    moves = _commands(capture, "C-MOVE")
    dests = [
        (m["command"]["move_destination"], m["command"]["sub_operations"]["completed"])
        for m in moves
    ]
    assert dests == [("CLOUD_AE", 2)] * 2 + [("WS_INSIDER", 1)] * 22
    assert all(m["command"]["status"] == 0 for m in moves)
    [get] = _commands(capture, "C-GET")
    assert get["command"]["sub_operations"]["completed"] == 2
    assert get["command"]["status"] == 0


def test_dicom_store_events(capture: Capture) -> None:
    stores = _commands(capture, "C-STORE")
    want = capture.stored.images + 2 * 2 + 22 + capture.got.images
    assert len(stores) == want
    assert all(s["command"]["answered"] and s["command"]["status"] == 0 for s in stores)
    sent = [s for s in stores if s["calling_ae"] == "CT_URG01"]
    assert all(s["command"]["request_dataset_bytes"] > 512 * 512 * 2 for s in sent)


def test_hl7_events(capture: Capture) -> None:
    ev = [e for e in capture.events if e["event_type"] == "hl7"]
    ok = [e["hl7"] for e in ev if e["src_ip"] == "10.20.4.2"]
    assert [(h["message_type"], h["trigger_event"], h["ack_code"]) for h in ok] == [
        ("ADT", t, "AA") for t in ("A01", "A04", "A08", "A03")
    ]
    bad = [e["hl7"] for e in ev if e["src_ip"] == "10.20.4.9"]
    assert [(h["message_type"], h["ack_code"], h["ack_error_segment"]) for h in bad] == [
        ("ORU", c, True) for c in capture.nack_codes
    ]
    assert all(h["sending_application"] == "LIS" for h in bad)


def test_no_patient_value_in_any_event(capture: Capture) -> None:
    secrets = set()
    for p in capture.patients:
        secrets |= {p.name, p.ipp, p.birth, p.family + "^"}
    for s in [*capture.studies, capture.stored, *capture.moved, *capture.bulk, capture.got]:
        secrets |= {s.uid, s.accession, *(x.uid for x in s.series)}
        secrets |= {u for x in s.series for u in x.instance_uids}
    wire = capture.pcap.read_bytes()  # the values are on the wire (DICOM data sets, PID)...
    p = capture.stored.patient
    assert all(v.encode() in wire for v in (p.name, p.ipp, p.birth, capture.stored.accession))
    text = json.dumps(capture.events + capture.alerts)  # ...and in no event
    leaked = sorted(v for v in secrets if v in text)
    assert not leaked


def test_medical_detectors_fire(capture: Capture) -> None:
    got = {
        (a["alert"]["metadata"]["detector"][0], a["alert"]["signature_id"]) for a in capture.alerts
    }
    assert got == {
        ("medical.dicom_external", 8_000_400),  # association to the cloud AE
        ("medical.dicom_external", 8_000_401),  # C-STOREs carrying images out
        ("medical.cleartext_leaving", 8_000_460),
        ("medical.dicom_enumeration", 8_000_410),  # PATIENT-level C-FIND, no key
        ("medical.dicom_enumeration", 8_000_411),  # 120 studies for PatientName=*
        ("medical.dicom_bulk_retrieve", 8_000_420),  # 22 C-MOVEs to a new AE
        ("medical.hl7_nack_run", 8_000_450),
    }


def _tshark(pcap: Path, *args: str) -> str:
    return tshark(pcap, "-d", "tcp.port==11112,dicom", *args)


def test_tshark_finds_nothing_malformed(capture: Capture) -> None:
    assert _tshark(capture.pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error") == ""
    warns = _tshark(capture.pcap, "-q", "-z", "expert,warn")
    lines = [x for x in warns.splitlines() if x.strip()[:1].isdigit()]
    assert sorted(x.split("DICOM")[-1].strip() for x in lines) == [
        "Association aborted",
        "Association rejected",
    ]
    info = _tshark(capture.pcap, "-Y", "dicom || hl7", "-T", "fields", "-e", "_ws.col.Info")
    assert info.count("C-STORE-RQ ID=") == capture.stored.images + 2 * 2 + 22 + capture.got.images
    lines = info.splitlines()
    assert sum("C-FIND-RSP" in x for x in lines) == 1 + 1 + 150 + 1 + 120 + 1
    assert sum(x.startswith("ACK (") for x in lines) == 10
