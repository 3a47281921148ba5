"""PACS study exfiltration from a compromised workstation: list the archive, pull dozens of
studies to a new AE title, send them out in DICOM and over HTTPS.

The intruder on a users' PC runs DICOM command-line tools with a viewer's AE title copied
from its configuration (AE titles are names, not credentials): a date-range C-FIND lists
the last month's studies, then C-MOVEs pull `MOVED` of them to a store SCP the intruder
started on the PC under the tools' default AE title (`ANY-SCP`), which this PACS, like many,
accepts as a destination at the requesting address. A few are C-STOREd in clear to a DICOM
server the intruder rents (port 11112), the rest packed and uploaded to a file-sharing
service over HTTPS. The extortion playbook of health-data thefts: the images carry the
patients' names.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.exercise.background.imaging import (
    PACS_PORT,
    ae_of,
    archive_studies,
    local_time,
    trace_move,
)
from tocsin.exercise.proto import dicom, tls
from tocsin.exercise.proto.dicom_pdu import Ae
from tocsin.exercise.world import World

LISTED = 240  # studies the date-range query returns
MOVED = 24  # studies pulled to the intruder's store SCP
SENT_DICOM = 5  # studies C-STOREd to the intruder's DICOM server
UPLOAD_PARTS = 4  # HTTPS PUTs of `PART` bytes (the packed studies)
PART = 30 * 2**20
DROP_AE = "ANY-SCP"
DROP_PORT = 11112
EXTERNAL_AE = "STORESCP"
EXTERNAL_IP = "203.0.113.66"
UPLOAD_NAME = "upload.cloudsend.example"
UPLOAD_IP = "203.0.113.80"
INTERNET_RTT_S = 0.03


@dataclass(frozen=True, slots=True)
class PacsExfil:
    name: str = "pacs_exfil"
    summary: str = (
        "A compromised workstation lists the PACS's studies, C-MOVEs two dozen to a new AE "
        "title on itself, then sends them out: DICOM C-STORE to an external server, HTTPS "
        "upload to a file-sharing service."
    )
    duration_s: float = 1200.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        pc = rng.choice(site.role("workstation")[10:])
        pacs = site.one("pacs")
        pacs_ae = ae_of(site, pacs)
        viewer = site.role("viewer")[0]
        spoofed = Ae(site.ae_titles[viewer], 16_384)  # dcmtk's defaults, a viewer's title
        # 1. a date-range query: every study of the last month
        t0 = t
        listed = archive_studies(rng, site, LISTED, local_time(t))
        keys = {"StudyDate": f"{local_time(t - 30 * 86400):%Y%m%d}-{local_time(t):%Y%m%d}"}
        turns = dicom.find(rng, spoofed, pacs_ae, "STUDY", keys, listed)
        t = w.trace.tcp(t, pc, w.ports.take(pc), pacs, PACS_PORT, turns)
        w.step(
            "pacs_exfil.query", "Date-range C-FIND listing the archive's studies", t0, t,
            [pc], [pacs], "T1213", "TA0009",
            ["medical.dicom_enumeration", "medical.dicom_new_peer"],
            f"{pc.ip} (a users' PC) opens a DICOM association to the PACS with the AE title "
            f"of {viewer.name} and lists {LISTED} studies with no patient key.",
        )  # fmt: skip
        # 2. C-MOVE of two dozen studies to a store SCP on the PC, under a new AE title
        t0 = t = t + rng.uniform(60, 180)
        moved = rng.sample(listed, MOVED)
        drop = Ae(DROP_AE, 16_384)
        t = trace_move(w, t, pc, spoofed, pc, drop, moved, dest_port=DROP_PORT)
        w.step(
            "pacs_exfil.retrieve", f"C-MOVE of {MOVED} studies to a new AE title", t0, t,
            [pc], [pacs], "T1213", "TA0009", ["medical.dicom_bulk_retrieve"],
            f"{pc.ip} asks the PACS for {MOVED} studies; the PACS sends every image to AE "
            f"{DROP_AE} at {pc.ip}:{DROP_PORT}, a destination never seen before.",
        )  # fmt: skip
        # 3. a few studies C-STOREd in clear to the intruder's DICOM server
        t0 = t = t + rng.uniform(120, 300)
        ext = site.external("dicom-drop", EXTERNAL_IP)
        turns = dicom.store(rng, drop, Ae(EXTERNAL_AE, 0), moved[:SENT_DICOM])
        t = w.trace.tcp(t, pc, w.ports.take(pc), ext, DROP_PORT, turns, rtt_s=INTERNET_RTT_S)
        w.step(
            "pacs_exfil.dicom_out", "Studies sent in clear to an external DICOM server", t0, t,
            [pc], [ext], "T1048.003", "TA0010",
            ["medical.dicom_external", "medical.cleartext_leaving"],
            f"{pc.ip} C-STOREs {SENT_DICOM} studies to AE {EXTERNAL_AE} at "
            f"{EXTERNAL_IP}:{DROP_PORT}, outside the site, unencrypted.",
        )  # fmt: skip
        # 4. the rest, packed, uploaded to a file-sharing service
        t0 = t = t + rng.uniform(60, 240)
        up = site.external(UPLOAD_NAME, UPLOAD_IP)
        reqs = [rng.randint(380, 460) + PART for _ in range(UPLOAD_PARTS)]
        resps = [rng.randint(300, 700) for _ in range(UPLOAD_PARTS)]
        turns = tls.session(rng, UPLOAD_NAME, "go", reqs, resps, "1.3", think_s=(0.05, 0.3))
        t = w.trace.tcp(t, pc, w.ports.take(pc), up, 443, turns, rtt_s=INTERNET_RTT_S)
        mb = UPLOAD_PARTS * PART // 2**20
        w.step(
            "pacs_exfil.https_upload", "Packed studies uploaded to a file-sharing service",
            t0, t, [pc], [up], "T1567.002", "TA0010", ["behaviour.exfil"],
            f"{pc.ip} uploads {mb} MiB over HTTPS to {UPLOAD_NAME} ({UPLOAD_IP}), a "
            "destination it never used before.",
        )  # fmt: skip
        return t


SCENARIO = PacsExfil()
