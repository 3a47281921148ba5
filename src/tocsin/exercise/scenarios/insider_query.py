"""An insider browsing the archive: every patient listed, then dozens of studies copied to
their own PC.

A member of the imaging staff, logged on a viewer, lists every patient of the PACS with a
patient-level C-FIND on `PatientName = *`, looks up the studies of the ones they are
curious about (a colleague, a public figure, a neighbour: one C-FIND on each patient's ID),
and C-MOVEs `MOVED` studies to a DICOM viewer installed on their office PC, declared in the
PACS under a new AE title. Nothing leaves the site; the breach of medical secrecy is the
access itself (the CNIL has fined hospitals over this pattern).
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
from tocsin.exercise.proto import dicom
from tocsin.exercise.proto.dicom_pdu import Ae
from tocsin.exercise.proto.patients import make_patients
from tocsin.exercise.world import World

PATIENTS = 320  # patients the open query returns
LOOKED_UP = 14  # patients whose studies the insider looks up
MOVED = 24  # studies copied to the insider's PC
PC_PORT = 11112


@dataclass(frozen=True, slots=True)
class InsiderQuery:
    name: str = "insider_query"
    summary: str = (
        "An insider on a viewer lists every patient of the PACS (C-FIND PatientName=*), "
        "then C-MOVEs two dozen studies to their own PC under a new AE title."
    )
    duration_s: float = 900.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        viewer = rng.choice(site.role("viewer"))
        me = ae_of(site, viewer)
        pacs = site.one("pacs")
        pacs_ae = ae_of(site, pacs)
        pc = rng.choice(site.role("workstation")[10:])
        user = rng.choice(site.users)
        pc_ae = Ae(("WS_" + user.split(".")[-1].upper())[:16], 16_384)
        # 1. every patient, then the studies of a few of them
        t0 = t
        patients = make_patients(rng, PATIENTS, local_time(t).date())
        turns = dicom.find(rng, me, pacs_ae, "PATIENT", {"PatientName": "*"}, patients)
        t = w.trace.tcp(t, viewer, w.ports.take(viewer), pacs, PACS_PORT, turns)
        chosen = rng.sample(patients, LOOKED_UP)
        studies = archive_studies(rng, site, MOVED, local_time(t), patients=chosen)
        for i, p in enumerate(chosen):
            t += rng.uniform(5, 40)
            keys = {"PatientID": p.ipp}
            turns = dicom.find(rng, me, pacs_ae, "STUDY", keys, studies[i::LOOKED_UP])
            t = w.trace.tcp(t, viewer, w.ports.take(viewer), pacs, PACS_PORT, turns)
        w.step(
            "insider_query.enumerate", "Patient-level C-FIND listing every patient", t0, t,
            [viewer], [pacs], "T1213", "TA0009", ["medical.dicom_enumeration"],
            f"{viewer.ip} (AE {me.title}) asks the PACS for every patient (PatientName=*) and "
            f"gets {PATIENTS}, then looks up the studies of {LOOKED_UP} of them.",
        )  # fmt: skip
        # 2. the studies copied to the insider's PC
        t0 = t = t + rng.uniform(30, 120)
        t = trace_move(w, t, viewer, me, pc, pc_ae, studies, dest_port=PC_PORT)
        w.step(
            "insider_query.retrieve", f"C-MOVE of {MOVED} studies to the insider's PC", t0, t,
            [viewer, pc], [pacs], "T1213", "TA0009", ["medical.dicom_bulk_retrieve"],
            f"{viewer.ip} asks the PACS to send {MOVED} studies to AE {pc_ae.title} at "
            f"{pc.ip}:{PC_PORT}, a destination never seen before.",
        )  # fmt: skip
        return t


SCENARIO = InsiderQuery()
