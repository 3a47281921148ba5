"""Imaging: modalities storing studies to the PACS, viewers querying and retrieving them,
verification echoes, and the night backup of the imaging archive.

Activities (`ACTIVITIES`, in this order, each adding the conversations starting in its slice):

- `modality_stores`: each modality sends each study it acquires to the PACS (`PACS_PORT`)
  on one association, C-STORE per image. Rates and sizes by modality (`KINDS`): a CT a
  couple of studies an hour of 30-240 slices, radiographs (CR/DX) many small studies,
  ultrasound a few dozen frames, a mammography four large views. Night keeps a floor of
  the day's rate where emergencies do (CT, radiographs, angiography), none for scheduled
  work (MR, mammography, nuclear medicine).
- `viewer_reads`: radiologists read about `READ_SHARE` of what is acquired: the viewer asks
  the PACS for the patient's studies (C-FIND, STUDY level, on the patient's ID: a normal,
  specific query), then C-MOVEs the study to read, with a prior now and then, to itself;
  the PACS opens an association to the viewer (`VIEWER_PORT`) and C-STOREs the images.
- `verification`: every modality and viewer checks the PACS is there (C-ECHO) every
  `ECHO_PERIOD_S`, day and night, each at its own phase (node status monitoring). Internal
  and periodic: `behaviour.beacon` scores external servers only.
- `archive_backup`: 01:00-04:00 local, the PACS's backup agent uploads the day's new
  images to the backup server's S3-compatible repository over HTTPS (TLS 1.2 to
  `backup.<domain>`, PUTs of 16 MiB parts, the parts of a minute on one keep-alive
  connection): `BACKUP_PER_MODALITY` a night per modality of the site. Internal: no
  exfiltration detector is concerned.

Each association is built, traced and dropped before the next (a store conversation holds
its images). Helpers the scenarios share: `ae_of`, `make_kind_study`, `archive_studies`,
`trace_move`, `local_time`. AE titles come from `site.ae_titles`; the implementations
announced in A-ASSOCIATE are made-up UIDs under 2.25.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.exercise.proto import dicom, tls
from tocsin.exercise.proto.dicom_pdu import Ae
from tocsin.exercise.proto.patients import (
    MODALITIES,
    Patient,
    Study,
    make_patient,
    make_study,
)
from tocsin.exercise.proto.x509 import INTERNAL_CA, chain_for
from tocsin.exercise.site import Site
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.turns import Turn
from tocsin.exercise.world import PARIS, World

PACS_PORT = 104
VIEWER_PORT = 11112
READ_SHARE = 0.4  # studies read on a viewer through C-MOVE, per study acquired
PRIOR_SHARE = 0.3  # reads that also pull a prior study
ECHO_PERIOD_S = 600.0  # each node checks the PACS every 10 minutes, at its own phase
BACKUP_PORT = 443
BACKUP_HOURS = (1.0, 4.0)  # local time
BACKUP_PER_MODALITY = 300 * 2**20  # bytes a night
BACKUP_PART = 16 * 2**20


@dataclass(frozen=True, slots=True)
class Kind:
    """How a modality works: `rate` studies an hour at full activity, `floor` the share of
    it kept at night, series per study and images per series (ranges), and whether it
    proposes Implicit VR Little Endian only (older consoles)."""

    rate: float
    floor: float
    series: tuple[int, int]
    images: tuple[int, int]
    implicit_only: bool = False


KINDS: dict[str, Kind] = {
    "CT": Kind(2.0, 0.35, (1, 2), (30, 120)),
    "MR": Kind(1.2, 0.05, (3, 6), (15, 40)),
    "CR": Kind(5.0, 0.3, (1, 1), (1, 2), implicit_only=True),
    "DX": Kind(5.0, 0.3, (1, 1), (1, 2)),
    "US": Kind(2.5, 0.1, (1, 1), (8, 30)),
    "MG": Kind(1.2, 0.0, (1, 1), (4, 4)),
    "NM": Kind(0.6, 0.0, (1, 2), (32, 64), implicit_only=True),
    "XA": Kind(0.6, 0.15, (1, 3), (10, 30)),
}

# (implementation class UID, version name) announced by each kind of AE (made up)
_IMPLEMENTATIONS = {
    "pacs": ("2.25.190512731904417363027853710911482706", "ARCHIVE_4_2"),
    "viewer": ("2.25.283917042299360183622784007510397341", "RADVIEW_11_3"),
    "modality": ("2.25.317734118120959462331105298870017256", "ACQ_CONSOLE_7"),
}
_MAX_PDU = {"pacs": 32_768, "viewer": 65_536, "modality": 16_384}


def local_time(t: float) -> datetime:
    """The site's wall clock (Europe/Paris, naive) at `t`: what DICOM and HL7 dates carry."""
    return datetime.fromtimestamp(t, PARIS).replace(tzinfo=None)


def ae_of(site: Site, host: Host, title: str | None = None) -> Ae:
    """The AE of `host` (its `site.ae_titles` title unless `title` is given), announcing its
    role's implementation and maximum PDU."""
    role = "pacs" if host is site.one("pacs") else "viewer"
    if host in site.role("modality"):
        role = "modality"
    uid, version = _IMPLEMENTATIONS[role]
    return Ae(title or site.ae_titles[host], _MAX_PDU[role], uid, version)


def modality_code(site: Site, host: Host) -> str:
    """The modality (key of `KINDS`) a modality host acquires: its AE title's prefix."""
    return site.ae_titles[host][:2]


def make_kind_study(
    rng: random.Random, code: str, when: datetime, patient: Patient | None = None
) -> Study:
    """A study of modality `code` with `KINDS`' sizes, of `patient` (a new one if None)."""
    k = KINDS[code]
    p = patient or make_patient(rng, when.date())
    return make_study(
        rng, p, code, when, series=rng.randint(*k.series), images=rng.randint(*k.images)
    )


def archive_studies(
    rng: random.Random,
    site: Site,
    n: int,
    now: datetime,
    *,
    max_bytes: int = 12 * 2**20,
    patients: Sequence[Patient] = (),
) -> list[Study]:
    """`n` studies the archive holds, acquired in the 30 days before `now` on the site's
    modalities, one series each of at most `max_bytes` of pixels (at least one image: the
    key images and reconstructions kept online): what a query by date lists and what a
    bulk retrieve pulls. The i-th study is of `patients[i % len(patients)]`, or of a new
    patient each when none are given."""
    codes = [modality_code(site, h) for h in site.role("modality")] or ["CR"]
    out = []
    for i in range(n):
        code = rng.choice(codes)
        when = now - timedelta(days=rng.uniform(0.1, 30))
        fit = max(1, max_bytes // MODALITIES[code].frame_bytes)
        images = min(fit, rng.randint(*KINDS[code].images))
        patient = patients[i % len(patients)] if patients else make_patient(rng, when.date())
        out.append(make_study(rng, patient, code, when, series=1, images=images))
    return out


def trace_move(
    w: World,
    t: float,
    requestor: Host,
    requestor_ae: Ae,
    destination: Host,
    destination_ae: Ae,
    studies: list[Study],
    *,
    dest_port: int = VIEWER_PORT,
    rtt_s: float = 0.0006,
) -> float:
    """C-MOVE of `studies` asked by `requestor` of the PACS for `destination`: the control
    association from `requestor` to the PACS, and per study the PACS's association to
    `destination:dest_port`, each traced as soon as it is built. Returns the end."""
    pacs = w.site.one("pacs")
    pacs_ae = ae_of(w.site, pacs)
    end = t

    def sink(start: float, turns: list[Turn]) -> None:
        nonlocal end
        port = w.ports.take(pacs)
        e = w.trace.tcp(t + start, pacs, port, destination, dest_port, turns, rtt_s=rtt_s)
        end = max(end, e)

    r = dicom.move(w.rng, requestor_ae, pacs_ae, destination_ae, studies, sink=sink)
    port = w.ports.take(requestor)
    e = w.trace.tcp(t, requestor, port, pacs, PACS_PORT, r.control, rtt_s=rtt_s)
    return max(end, e)


def _rate(w: World, kind: Kind, t: float) -> float:
    return kind.rate * max(w.activity(t), kind.floor)


def modality_stores(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    pacs = site.one("pacs")
    pacs_ae = ae_of(site, pacs)
    for host in site.role("modality"):
        kind = KINDS[modality_code(site, host)]
        n = w.count(_rate(w, kind, t0), t0, t1, rhythm=False)
        if not n:
            continue
        me = ae_of(site, host)
        syntaxes = (dicom.SYNTAXES[1],) if kind.implicit_only else dicom.SYNTAXES
        for t in w.times(n, t0, t1):
            acquired = local_time(t) - timedelta(minutes=rng.uniform(3, 25))
            study = make_kind_study(rng, modality_code(site, host), acquired)
            turns = dicom.store(rng, me, pacs_ae, [study], syntaxes=syntaxes)
            w.trace.tcp(t, host, w.ports.take(host), pacs, PACS_PORT, turns, rtt_s=0.0005)


def viewer_reads(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    viewers = site.role("viewer")
    mods = site.role("modality")
    if not viewers or not mods:
        return
    codes = [modality_code(site, h) for h in mods]
    weights = [_rate(w, KINDS[c], t0) for c in codes]
    per_viewer = READ_SHARE * sum(weights) / len(viewers)
    pacs = site.one("pacs")
    pacs_ae = ae_of(site, pacs)
    for viewer in viewers:
        n = w.count(per_viewer, t0, t1, rhythm=False)
        if not n:
            continue
        me = ae_of(site, viewer)
        for t in w.times(n, t0, t1):
            now = local_time(t)
            code = rng.choices(codes, weights)[0]
            current = make_kind_study(rng, code, now - timedelta(minutes=rng.uniform(10, 240)))
            patient = current.patient
            priors = [
                make_kind_study(
                    rng, rng.choice(codes), now - timedelta(days=rng.randint(20, 2000)), patient
                )
                for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))
            ]
            matches = [current, *priors]
            keys = {"PatientID": patient.ipp}
            turns = dicom.find(rng, me, pacs_ae, "STUDY", keys, matches)
            end = w.trace.tcp(t, viewer, w.ports.take(viewer), pacs, PACS_PORT, turns)
            moved = [current]
            if priors and rng.random() < PRIOR_SHARE:
                moved.append(rng.choice(priors))
            trace_move(w, end + rng.uniform(0.3, 3.0), viewer, me, viewer, me, moved)


def verification(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    pacs = site.one("pacs")
    pacs_ae = ae_of(site, pacs)
    for host in (*site.role("modality"), *site.role("viewer")):
        phase = zlib.crc32(host.name.encode()) / 2**32 * ECHO_PERIOD_S
        k = math.ceil((t0 - w.start - phase) / ECHO_PERIOD_S)
        t = w.start + phase + k * ECHO_PERIOD_S
        while t < t1:
            at = max(t0, t + rng.uniform(-1.0, 1.0))
            turns = dicom.echo(rng, ae_of(site, host), pacs_ae)
            w.trace.tcp(at, host, w.ports.take(host), pacs, PACS_PORT, turns)
            t += ECHO_PERIOD_S


def archive_backup(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    if not BACKUP_HOURS[0] <= w.local_hour(t0) < BACKUP_HOURS[1]:
        return
    hours = BACKUP_HOURS[1] - BACKUP_HOURS[0]
    per_hour = len(site.role("modality")) * BACKUP_PER_MODALITY / BACKUP_PART / hours
    parts = w.count(per_hour, t0, t1, rhythm=False)
    if not parts:
        return
    pacs, backup = site.one("pacs"), site.one("backup")
    name = f"backup.{site.domain}"
    # each part: an S3 PUT (signed headers, ~550 bytes) and its 16 MiB body; a 200 OK back
    reqs = [rng.randint(520, 600) + BACKUP_PART for _ in range(parts)]
    resps = [rng.randint(260, 320) for _ in range(parts)]
    chain = chain_for(name, INTERNAL_CA, seed=7)
    turns = tls.session(rng, name, "java", reqs, resps, chain=chain, think_s=(0.01, 0.2))
    t = rng.uniform(t0, t1)
    w.trace.tcp(t, pacs, w.ports.take(pacs), backup, BACKUP_PORT, turns, rtt_s=0.0004)


ACTIVITIES = (modality_stores, viewer_reads, verification, archive_backup)
