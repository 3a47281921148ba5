"""Synthetic patients and imaging studies for generated DICOM and HL7 traffic.

Everything is made up from the `random.Random` passed in (same seed, same patients): names
drawn from short lists of common French first and last names, IPP-like identifiers (9
digits), birth dates, and studies whose UIDs sit under `2.25.` (UUID-derived UIDs, PS3.5
B.2) with random digits, so no value collides with a real system's. Nothing here reads a
file or the clock.

UIDs are always `UID_LEN` characters long (`2.25.` and 38 digits): the DICOM builders patch
them into encoded templates in place.

Modalities (`MODALITIES`) give each kind of study its storage SOP class, image geometry and
typical size (series per study, images per series), e.g. a CT series of 512x512 16-bit
images, a CR study of one or two 2-3 k pixel radiographs, a mammography of four 3328x2560
views.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

UID_ROOT = "2.25."
UID_LEN = 43  # "2.25." + 38 digits


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_LAST = _words(
    "MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON MICHEL "
    "LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE "
    "ROUSSEAU VINCENT MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER "
    "FRANCOIS LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU"
)
_FIRST_F = _words(
    "MARIE NATHALIE ISABELLE SYLVIE CATHERINE FRANCOISE MARTINE CHRISTINE MONIQUE NICOLE "
    "SOPHIE JULIE CELINE AURELIE CAMILLE EMMA LEA CHLOE MANON INES JEANNE LOUISE ALICE ANNE"
)
_FIRST_M = _words(
    "JEAN PIERRE MICHEL PHILIPPE ALAIN NICOLAS CHRISTOPHE PATRICK DANIEL BERNARD ERIC "
    "LAURENT FREDERIC DAVID JULIEN THOMAS LUCAS HUGO LOUIS GABRIEL ARTHUR PAUL JULES LEO"
)


def uid(rng: random.Random) -> str:
    """A fresh UID under 2.25. (`UID_LEN` characters: the first digit is never 0)."""
    return UID_ROOT + str(rng.randrange(10**37, 10**38))


@dataclass(frozen=True, slots=True)
class Patient:
    """A made-up patient. `ipp`: the hospital's permanent patient identifier."""

    ipp: str
    family: str
    given: str
    sex: str  # "F" or "M"
    birth_date: date

    @property
    def name(self) -> str:
        """DICOM PN / HL7 XPN form: FAMILY^GIVEN."""
        return f"{self.family}^{self.given}"

    @property
    def birth(self) -> str:
        """YYYYMMDD (DICOM DA, HL7 DT)."""
        return self.birth_date.strftime("%Y%m%d")


def make_patient(rng: random.Random, today: date = date(2024, 1, 1)) -> Patient:
    """One patient, born 0-95 years before `today`."""
    sex = rng.choice("FM")
    given = rng.choice(_FIRST_F if sex == "F" else _FIRST_M)
    born = today - timedelta(days=rng.randrange(0, 95 * 365))
    return Patient(str(rng.randrange(10**8, 10**9)), rng.choice(_LAST), given, sex, born)


def make_patients(rng: random.Random, n: int, today: date = date(2024, 1, 1)) -> list[Patient]:
    """`n` patients with distinct IPPs."""
    out: list[Patient] = []
    seen: set[str] = set()
    while len(out) < n:
        p = make_patient(rng, today)
        if p.ipp not in seen:
            seen.add(p.ipp)
            out.append(p)
    return out


@dataclass(frozen=True, slots=True)
class Modality:
    """What a study of one modality looks like on the wire."""

    code: str  # DICOM Modality (0008,0060)
    sop_class: str  # its storage SOP class UID
    rows: int
    columns: int
    bits_allocated: int
    bits_stored: int
    samples: int  # samples per pixel (3: RGB)
    series: tuple[int, int]  # series per study (min, max)
    images: tuple[int, int]  # images per series (min, max)
    descriptions: tuple[str, ...]  # study descriptions

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * self.samples * (self.bits_allocated // 8)


MODALITIES: dict[str, Modality] = {
    m.code: m
    for m in (
        Modality(
            "CT", "1.2.840.10008.5.1.4.1.1.2", 512, 512, 16, 12, 1, (1, 3), (60, 300),
            ("TDM THORAX", "TDM CEREBRAL", "TDM ABDOMINO-PELVIEN", "ANGIOSCANNER"),
        ),
        Modality(
            "MR", "1.2.840.10008.5.1.4.1.1.4", 256, 256, 16, 12, 1, (3, 8), (20, 120),
            ("IRM CEREBRALE", "IRM GENOU", "IRM RACHIS LOMBAIRE"),
        ),
        Modality(
            "CR", "1.2.840.10008.5.1.4.1.1.1", 2500, 2048, 16, 12, 1, (1, 1), (1, 2),
            ("RADIO THORAX", "RADIO BASSIN", "RADIO GENOU"),
        ),
        Modality(
            "DX", "1.2.840.10008.5.1.4.1.1.1.1", 2800, 2300, 16, 14, 1, (1, 1), (1, 3),
            ("RADIO THORAX FACE PROFIL", "RADIO CHEVILLE", "RADIO MAIN"),
        ),
        Modality(
            "US", "1.2.840.10008.5.1.4.1.1.6.1", 480, 640, 8, 8, 3, (1, 1), (8, 40),
            ("ECHO ABDOMINALE", "ECHO THYROIDE", "ECHO DOPPLER"),
        ),
        Modality(
            "MG", "1.2.840.10008.5.1.4.1.1.1.2", 3328, 2560, 16, 12, 1, (1, 1), (4, 4),
            ("MAMMOGRAPHIE BILATERALE", "MAMMOGRAPHIE DE DEPISTAGE"),
        ),
        Modality(
            "NM", "1.2.840.10008.5.1.4.1.1.20", 128, 128, 16, 16, 1, (1, 3), (32, 64),
            ("SCINTIGRAPHIE OSSEUSE", "SCINTIGRAPHIE THYROIDIENNE"),
        ),
        Modality(
            "XA", "1.2.840.10008.5.1.4.1.1.12.1", 1024, 1024, 8, 8, 1, (1, 4), (10, 40),
            ("CORONAROGRAPHIE", "ARTERIOGRAPHIE CEREBRALE"),
        ),
    )
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Series:
    uid: str
    number: int
    description: str
    instance_uids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Study:
    """An imaging study of one patient, one modality."""

    uid: str
    accession: str
    patient: Patient
    modality: Modality
    description: str
    when: datetime
    series: tuple[Series, ...]

    @property
    def images(self) -> int:
        return sum(len(s.instance_uids) for s in self.series)

    @property
    def pixel_bytes(self) -> int:
        return self.images * self.modality.frame_bytes


def make_study(
    rng: random.Random,
    patient: Patient,
    modality: str,
    when: datetime,
    *,
    series: int | None = None,
    images: int | None = None,
) -> Study:
    """A study of `patient` on `modality` (a key of `MODALITIES`) acquired at `when`;
    `series` series of `images` images each (drawn from the modality's ranges when None)."""
    m = MODALITIES[modality]
    n_series = series if series is not None else rng.randint(*m.series)
    all_series = []
    for i in range(n_series):
        count = images if images is not None else rng.randint(*m.images)
        desc = f"{m.code} SERIE {i + 1}"
        all_series.append(Series(uid(rng), i + 1, desc, tuple(uid(rng) for _ in range(count))))
    accession = f"{when:%y}{rng.randrange(10**7, 10**8)}"
    return Study(
        uid(rng),
        accession,
        patient,
        m,
        rng.choice(m.descriptions),
        when,
        tuple(all_series),
    )
