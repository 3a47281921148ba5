"""The medical background of a generated hospital (`exercise.background.imaging`, `hl7feeds`)
on its own, as the sensor sees it: modalities storing to the PACS, viewers querying and
retrieving, the interface engine's feeds and their ACKs, the lab analysers, the bedside
monitors, the night backup of the archive. Captures of a CHU's morning and a clinic's night
go through `tocsin exercise run`: the events Tocsin's parsers produce, no patient value in
them, no alert, and tshark finds nothing malformed.

Synthetic patients only (made up from the seed)."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tocsin.exercise.background import hl7feeds, imaging
from tocsin.exercise.generate import SLICE_S
from tocsin.exercise.run import replay
from tocsin.exercise.site import HOME_NET, Site, build_site
from tocsin.exercise.truth import Truth
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.world import World
from tocsin.output.timefmt import parse_eve_timestamp

MEDICAL = (*imaging.ACTIVITIES, *hl7feeds.ACTIVITIES)


@dataclass(frozen=True, slots=True)
class Run:
    pcap: Path
    site: Site
    events: list[dict[str, Any]]
    alerts: int


def _generate(out: Path, profile: str, start: str, hours: float, seed: int = 3) -> Site:
    rng = random.Random(seed)
    site = build_site(profile, rng)
    trace = Trace(seed)
    t0 = World.parse_start(start)
    w = World(site, trace, rng, t0, t0 + hours * 3600)
    with out.open("wb") as f:
        t = t0
        while t < w.end:
            t1 = min(t + SLICE_S, w.end)
            for activity in MEDICAL:
                activity(w, t, t1)
            trace.flush_before(t, f)
            t = t1
        trace.write_to(f)
    return site


def _run(tmp: Path, profile: str, start: str, hours: float) -> Run:
    pcap = tmp / f"{profile}.pcap"
    site = _generate(pcap, profile, start, hours)
    t0 = World.parse_start(start)
    truth = Truth(
        generator="test", profile=profile, site=site.name, seed=3, start=World.iso(t0),
        end=World.iso(t0 + hours * 3600), hours=hours, packets=0, home_net=list(HOME_NET),
        scenarios=[], steps=[],
    )  # fmt: skip
    eve = tmp / f"{profile}.eve.json"
    r = replay(pcap, truth, eve)
    events = [json.loads(line) for line in eve.read_bytes().splitlines()]
    return Run(pcap, site, events, r.sheet.alerts)


@pytest.fixture(scope="module")
def chu_morning(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("chu"), "chu", "2024-03-12T10:00", 0.4)


@pytest.fixture(scope="module")
def clinic_night(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return _run(tmp_path_factory.mktemp("clinic"), "clinic", "2024-03-12T00:00", 2.0)


def _dicom(run: Run, kind: str) -> list[dict[str, Any]]:
    return [e for e in run.events if e["event_type"] == "dicom" and e["dicom"]["type"] == kind]


def _hl7(run: Run) -> list[dict[str, Any]]:
    return [e["hl7"] | {"_ev": e} for e in run.events if e["event_type"] == "hl7"]


def test_modalities_store_and_viewers_query_then_retrieve_to_themselves(chu_morning: Run) -> None:
    site = chu_morning.site
    pacs = site.one("pacs")
    commands = _dicom(chu_morning, "command")
    by_name = Counter(e["dicom"]["command"]["command"] for e in commands)
    assert by_name["C-STORE"] > 500 and by_name["C-FIND"] and by_name["C-MOVE"]
    assert by_name["C-ECHO"] >= len(site.role("modality")) + len(site.role("viewer"))
    assocs = _dicom(chu_morning, "association")
    assert assocs and all(e["dicom"]["association"]["status"] == "accepted" for e in assocs)
    assert all(e["dicom"]["command"]["status_category"] == "success" for e in commands)
    viewers = {site.ae_titles[h]: h.ip for h in site.role("viewer")}
    # every modality stores to the PACS under its own AE title, on port 104
    stores = [e for e in commands if e["dicom"]["command"]["command"] == "C-STORE"]
    to_pacs = {(e["src_ip"], e["dicom"]["calling_ae"]) for e in stores if e["dest_ip"] == pacs.ip}
    titles = {h.ip: site.ae_titles[h] for h in site.role("modality")}
    assert all(titles.get(ip) == ae for ip, ae in to_pacs if ip not in viewers.values())
    assert len(to_pacs) >= len(titles) // 2
    # a viewer asks for one patient's studies (a specific PatientID, STUDY level) ...
    finds = [
        e["dicom"]["command"] for e in commands if e["dicom"]["command"]["command"] == "C-FIND"
    ]
    for f in finds:
        keys = {k["keyword"]: k for k in f["query_keys"]}
        assert f["query_level"] == "STUDY" and f["pending_responses"] >= 1
        assert not keys["PatientID"].get("universal") and not keys["PatientID"].get("wildcard")
    # ... and moves studies to itself: the PACS opens the association to the viewer's SCP
    moves = [e for e in commands if e["dicom"]["command"]["command"] == "C-MOVE"]
    for e in moves:
        c = e["dicom"]["command"]
        assert c["move_destination"] == e["dicom"]["calling_ae"] in viewers
        assert c["sub_operations"]["completed"] >= 1 and c["sub_operations"]["failed"] == 0
    sub = [e for e in stores if e["src_ip"] == pacs.ip]
    assert sub and all(e["dest_port"] == imaging.VIEWER_PORT for e in sub)
    assert {e["dicom"]["command"]["move_originator_ae"] for e in sub} <= set(viewers)
    assert {e["dest_ip"] for e in sub} <= set(viewers.values())


def test_interface_engine_fans_admissions_out_and_every_message_is_acknowledged(
    chu_morning: Run,
) -> None:
    site = chu_morning.site
    msgs = _hl7(chu_morning)
    assert msgs and all(m["acked"] for m in msgs)
    codes = Counter(m["ack_code"] for m in msgs)
    assert codes["AA"] >= len(msgs) - 2 and set(codes) <= {"AA", "AE"}
    kinds = Counter((m["sending_application"], m["message_type"], m["trigger_event"]) for m in msgs)
    adt_in = sum(n for (app, t, _), n in kinds.items() if app == "ADT_GAM" and t == "ADT")
    adt_out = sum(n for (app, t, _), n in kinds.items() if app == "EAI" and t == "ADT")
    systems = [a for h, a in site.hl7_apps.items() if h in site.role("hl7_peer")]
    readers = len(systems) - 1 + 2  # every peer but the admissions system, the SIL, the DPI
    assert adt_in > 20 and adt_out == readers * adt_in
    assert {t for (_, k, t) in kinds if k == "ADT"} >= {"A01", "A03", "A04", "A08"}
    assert kinds[("DPI", "ORM", "O01")] > 10 and kinds[("EAI", "ORM", "O01")] > 10
    assert kinds[("SIL", "ORU", "R01")] > 10 and kinds[("EAI", "ORU", "R01")] > 10
    to_eai = {m["receiving_application"] for m in msgs if m["sending_application"] != "EAI"}
    assert "EAI" in to_eai
    from_eai = {m["receiving_application"] for m in msgs if m["sending_application"] == "EAI"}
    assert from_eai == {*systems[1:], "SIL", "DPI"}
    # results come in on the engine's second channel
    sil = [m["_ev"] for m in msgs if m["sending_application"] == "SIL"]
    assert {e["dest_port"] for e in sil} == {hl7feeds.RESULTS_PORT}
    analysers = {h.name for h in site.role("lab_analyser")}
    assert analysers & {m["sending_application"] for m in msgs}


def test_bedside_monitors_send_vitals_to_their_central_station_on_the_biomedical_vlan(
    chu_morning: Run,
) -> None:
    site = chu_morning.site
    monitors = {h.ip for h in site.role("monitor")}
    stations = {h.ip for h in site.role("central_station")}
    vitals = [m for m in _hl7(chu_morning) if m["_ev"]["src_ip"] in monitors]
    assert {m["_ev"]["src_ip"] for m in vitals} == monitors
    for m in vitals:
        ev = m["_ev"]
        assert ev["dest_ip"] in stations and ev["vlan"] == [40] and ev["dest_port"] == 2575
        assert (m["message_type"], m["trigger_event"], m["ack_code"]) == ("ORU", "R01", "AA")
        assert m["segments"][:4] == ["MSH", "PID", "PV1", "OBR"] and m["segments"].count("OBX") == 6
    # one persistent connection per monitor: every 15 to 60 s, never a new flow per message
    flows = {m["_ev"]["flow_id"] for m in vitals}
    assert len(flows) == len(monitors)
    per_monitor = Counter(m["_ev"]["src_ip"] for m in vitals)
    assert min(per_monitor.values()) >= 0.4 * 3600 / 60 - 1


def test_no_patient_name_or_id_reaches_the_eve(chu_morning: Run) -> None:
    raw = chu_morning.pcap.read_bytes()
    # HL7 PID-3 / PID-5 and DICOM (0010,0010) / (0010,0020) as they travel in the capture
    pid = re.findall(rb"PID\|1\|\|(\d{9})\^\^\^[^|]*\|\|([A-Z]+)\^([A-Z]+)\|", raw)
    dcm_ids = re.findall(rb"\x10\x00\x20\x00LO\x0a\x00(\d{9}) ", raw)
    dcm_names = re.findall(rb"\x10\x00\x10\x00PN..([A-Z]+\^[A-Z]+)", raw, re.S)
    assert len(pid) > 100 and len(dcm_ids) > 100 and len(dcm_names) > 100
    ids = {p[0] for p in pid} | set(dcm_ids)
    names = {p[1] + b"^" + p[2] for p in pid} | {n.rstrip() for n in dcm_names}
    eve = b"\n".join(json.dumps(e).encode() for e in chu_morning.events)
    assert not [i for i in ids if i in eve]
    assert not [n for n in names if n in eve]


def test_a_clinic_night_raises_no_alert_and_backs_the_archive_up(clinic_night: Run) -> None:
    assert clinic_night.alerts == 0
    site = clinic_night.site
    pacs, backup = site.one("pacs").ip, site.one("backup").ip
    flows = [
        e for e in clinic_night.events
        if e["event_type"] == "flow" and (e["src_ip"], e["dest_ip"]) == (pacs, backup)
    ]  # fmt: skip
    assert flows and all(e["dest_port"] == imaging.BACKUP_PORT for e in flows)
    sent = sum(e["flow"]["bytes_toserver"] for e in flows)
    assert 100 * 2**20 < sent < 400 * 2**20  # a third of the night's 600 MiB, in one hour
    starts = [parse_eve_timestamp(e["flow"]["start"]) or 0 for e in flows]
    assert all(1 <= World.local_hour(s / 1e6) < 4 for s in starts)  # 01:00-04:00 in Paris
    tls = [e["tls"] for e in clinic_night.events if e["event_type"] == "tls"]
    assert {t.get("sni") for t in tls} == {f"backup.{site.domain}"}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_finds_no_malformed_packet_and_no_expert_error(clinic_night: Run) -> None:
    args = ["tshark", "-n", "-r", str(clinic_night.pcap), "-o", "tcp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE", "-d", "tcp.port==104,dicom",
            "-d", "tcp.port==11112,dicom", "-d", "tcp.port==2575,hl7",
            "-d", f"tcp.port=={hl7feeds.RESULTS_PORT},hl7"]  # fmt: skip
    bad = subprocess.run(
        [*args, "-Y", "_ws.malformed || _ws.expert.severity == error"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout[:2000]
    hl7 = subprocess.run([*args, "-Y", "hl7", "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert len(hl7.stdout.split()) > 1000  # tshark read them as HL7


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.pcap", tmp_path / "b.pcap"
    _generate(a, "ch", "2024-03-12T09:00", 0.1, seed=5)
    _generate(b, "ch", "2024-03-12T09:00", 0.1, seed=5)
    assert a.read_bytes() == b.read_bytes()
