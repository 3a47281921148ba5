"""Make the DICOM fixture captures: a real SCU and SCP (pynetdicom) talking over loopback.

Usage (root, or a user allowed to capture on `lo` and to bind port 104)::

    .venv/bin/python scripts/make_dicom_fixture.py [--out tests/fixtures/applayer/dicom]

For each scenario it starts `tcpdump -i lo` filtered on the DICOM ports (11112: the archive
"TOCSIN_PACS"; 104: the C-MOVE destination "TOCSIN_DEST"), runs the exchange with pynetdicom in
this process (the servers run in pynetdicom's threads), stops the capture and writes
`<out>/dicom-<scenario>.pcap`, then `<out>/PROVENANCE.md` (command, date, versions, sha256).

Every dataset is synthetic, built here with pydicom: 16x16 / 64x64 CT and MR images of the fake
patient "TOCSIN^FAKE^PATIENT" (ID "FAKE-ID-12345", born 19010101), whose values the parser
tests assert never appear in an event. Scenarios:

- `echo`: C-ECHO.
- `store`: C-STORE of 3 images (2 CT in Explicit VR LE, one 64x64 so its dataset spans several
  P-DATA PDUs of the SCP's 4096-byte maximum, 1 MR in Implicit VR LE); two more proposed
  contexts are rejected: CT with JPEG Baseline only (transfer syntaxes not supported) and
  Ultrasound (abstract syntax not supported).
- `find`: C-FIND Study Root at STUDY level with PatientName "*" (2 matches), then Patient Root
  at PATIENT level with PatientID "FAKE-ID-12345" (1 match).
- `move`: C-MOVE Study Root at STUDY level to "TOCSIN_DEST" (the SCP opens a second
  association to port 104 and stores 2 images there), then a C-MOVE to an unknown
  destination (status 0xA801).
- `get`: C-GET Patient Root at PATIENT level (SCP/SCU role selection; the image comes back as a
  C-STORE sub-operation on the same association).
- `reject`: an A-ASSOCIATE-RQ to called AE "UNKNOWN_AE", rejected (permanent, service user,
  called AE title not recognised).
- `abort`: association, C-ECHO, then A-ABORT from the SCU.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import platform
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pydicom
import pynetdicom
from loopback_capture import capture, tcpdump_command  # scripts/, beside this script
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    MRImageStorage,
    UltrasoundImageStorage,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]  # built at import time
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "applayer" / "dicom"
HOST = "127.0.0.1"
PACS_PORT = 11112
DEST_PORT = 104
PORTS = (PACS_PORT, DEST_PORT)
UID_ROOT = "1.2.826.0.1.3680043.8.498.4242"  # pydicom's UID root + a fixed Tocsin suffix
STUDY_UID = f"{UID_ROOT}.1"
SERIES_UID = f"{UID_ROOT}.2"

FAKE_NAME = "TOCSIN^FAKE^PATIENT"
FAKE_ID = "FAKE-ID-12345"
FAKE_BIRTH = "19010101"
FAKE_ACCESSION = "FAKEACC777"
SECOND_NAME = "TOCSIN^SECOND^FAKE"
SECOND_ID = "FAKE-ID-67890"


def image(sop_class: str, modality: str, n: int, size: int, syntax: str) -> Dataset:
    """A synthetic single-frame 16-bit image of the fake patient."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = UID(syntax)
    ds.file_meta.MediaStorageSOPClassUID = UID(sop_class)
    ds.file_meta.MediaStorageSOPInstanceUID = UID(f"{UID_ROOT}.3.{n}")
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = f"{UID_ROOT}.3.{n}"
    ds.StudyInstanceUID = STUDY_UID
    ds.SeriesInstanceUID = SERIES_UID if modality == "CT" else f"{SERIES_UID}.4"
    ds.Modality = modality
    ds.PatientName = FAKE_NAME
    ds.PatientID = FAKE_ID
    ds.PatientBirthDate = FAKE_BIRTH
    ds.PatientSex = "O"
    ds.AccessionNumber = FAKE_ACCESSION
    ds.StudyDescription = "TOCSIN SYNTHETIC STUDY"
    ds.InstanceNumber = n
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelData = bytes((i * 7 + n) & 0xFF for i in range(size * size * 2))
    return ds


IMAGES = [
    image(CTImageStorage, "CT", 1, 16, ExplicitVRLittleEndian),
    image(CTImageStorage, "CT", 2, 64, ExplicitVRLittleEndian),
    image(MRImageStorage, "MR", 3, 16, ImplicitVRLittleEndian),
]


def match(name: str, pid: str, level: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    ds.PatientName = name
    ds.PatientID = pid
    if level == "STUDY":
        ds.StudyInstanceUID = STUDY_UID
        ds.AccessionNumber = FAKE_ACCESSION
    return ds


# --- the archive (SCP) ---------------------------------------------------------------------


def on_store(event: Any) -> int:
    return 0x0000


def on_find(event: Any) -> Iterator[tuple[int, Dataset]]:
    level = event.identifier.QueryRetrieveLevel
    if level == "STUDY":
        yield 0xFF00, match(FAKE_NAME, FAKE_ID, "STUDY")
        yield 0xFF00, match(SECOND_NAME, SECOND_ID, "STUDY")
    else:
        yield 0xFF00, match(FAKE_NAME, FAKE_ID, "PATIENT")


def on_move(event: Any) -> Iterator[Any]:
    if event.move_destination != "TOCSIN_DEST":
        yield None, None  # pynetdicom answers 0xA801 (move destination unknown)
        return
    yield HOST, DEST_PORT
    yield 2
    for ds in IMAGES[:2]:
        yield 0xFF00, ds


def on_get(event: Any) -> Iterator[Any]:
    yield 1
    yield 0xFF00, IMAGES[0]


def archive() -> AE:
    ae = AE(ae_title="TOCSIN_PACS")
    ae.require_called_aet = True
    ae.maximum_pdu_size = 4096
    ae.add_supported_context(Verification)
    for sop in (CTImageStorage, MRImageStorage):
        ae.add_supported_context(
            sop, [ExplicitVRLittleEndian, ImplicitVRLittleEndian], scu_role=True, scp_role=True
        )
    for sop in (
        PatientRootQueryRetrieveInformationModelFind,
        PatientRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelMove,
    ):
        ae.add_supported_context(sop)
    # as C-MOVE SCP it stores the matches to the move destination
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    return ae


def destination() -> AE:
    ae = AE(ae_title="TOCSIN_DEST")
    ae.add_supported_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    return ae


# --- the scenarios (SCU side) --------------------------------------------------------------


def scu(title: str) -> AE:
    ae = AE(ae_title=title)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    return ae


def echo() -> None:
    ae = scu("TOCSIN_MODALITY")
    ae.add_requested_context(Verification)
    assoc = ae.associate(HOST, PACS_PORT, ae_title="TOCSIN_PACS")
    assert assoc.is_established
    assert assoc.send_c_echo(msg_id=1).Status == 0
    assoc.release()


def store() -> None:
    ae = scu("TOCSIN_MODALITY")
    ae.add_requested_context(CTImageStorage, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    ae.add_requested_context(MRImageStorage, ImplicitVRLittleEndian)
    ae.add_requested_context(CTImageStorage, JPEGBaseline8Bit)  # rejected: transfer syntax
    ae.add_requested_context(UltrasoundImageStorage, ExplicitVRLittleEndian)  # rejected: SOP
    assoc = ae.associate(HOST, PACS_PORT, ae_title="TOCSIN_PACS")
    assert assoc.is_established
    for i, ds in enumerate(IMAGES, start=1):
        assert assoc.send_c_store(ds, msg_id=i).Status == 0
    assoc.release()


def find() -> None:
    ae = scu("TOCSIN_VIEWER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelFind)
    assoc = ae.associate(HOST, PACS_PORT, ae_title="TOCSIN_PACS")
    assert assoc.is_established
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.PatientName = "*"
    q.PatientID = ""
    q.StudyInstanceUID = ""
    q.StudyDate = ""
    q.AccessionNumber = ""
    got = list(assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind, msg_id=1))
    assert [s.Status for s, _ in got] == [0xFF00, 0xFF00, 0x0000], got
    q = Dataset()
    q.QueryRetrieveLevel = "PATIENT"
    q.PatientID = FAKE_ID
    q.PatientName = ""
    q.PatientBirthDate = ""
    got = list(assoc.send_c_find(q, PatientRootQueryRetrieveInformationModelFind, msg_id=2))
    assert [s.Status for s, _ in got] == [0xFF00, 0x0000], got
    assoc.release()


def move() -> None:
    ae = scu("TOCSIN_VIEWER")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(HOST, PACS_PORT, ae_title="TOCSIN_PACS")
    assert assoc.is_established
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyInstanceUID = STUDY_UID
    model = StudyRootQueryRetrieveInformationModelMove
    got = list(assoc.send_c_move(q, "TOCSIN_DEST", model, msg_id=1))
    assert got[-1][0].Status == 0 and got[-1][0].NumberOfCompletedSuboperations == 2, got
    got = list(assoc.send_c_move(q, "UNKNOWN_DEST", model, msg_id=2))
    assert got[-1][0].Status == 0xA801, got
    assoc.release()


def get() -> None:
    ae = scu("TOCSIN_VIEWER")
    ae.add_requested_context(PatientRootQueryRetrieveInformationModelGet)
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    role = build_role(CTImageStorage, scp_role=True)
    assoc = ae.associate(
        HOST,
        PACS_PORT,
        ae_title="TOCSIN_PACS",
        ext_neg=[role],
        evt_handlers=[(evt.EVT_C_STORE, on_store)],
    )
    assert assoc.is_established
    q = Dataset()
    q.QueryRetrieveLevel = "PATIENT"
    q.PatientID = FAKE_ID
    got = list(assoc.send_c_get(q, PatientRootQueryRetrieveInformationModelGet, msg_id=1))
    assert got[-1][0].Status == 0 and got[-1][0].NumberOfCompletedSuboperations == 1, got
    assoc.release()


def reject() -> None:
    ae = scu("TOCSIN_ROGUE")
    ae.add_requested_context(Verification)
    assoc = ae.associate(HOST, PACS_PORT, ae_title="UNKNOWN_AE")
    assert assoc.is_rejected


def abort() -> None:
    ae = scu("TOCSIN_MODALITY")
    ae.add_requested_context(Verification)
    assoc = ae.associate(HOST, PACS_PORT, ae_title="TOCSIN_PACS")
    assert assoc.is_established
    assert assoc.send_c_echo(msg_id=1).Status == 0
    assoc.abort()


SCENARIOS: dict[str, Callable[[], None]] = {
    "echo": echo,
    "store": store,
    "find": find,
    "move": move,
    "get": get,
    "reject": reject,
    "abort": abort,
}


# --- capture ---------------------------------------------------------------------------------


def provenance(out: Path, made: list[Path]) -> None:
    tcpdump = subprocess.run(["tcpdump", "--version"], capture_output=True, text=True)
    lines = [
        "# DICOM fixtures: provenance",
        "",
        "Synthetic captures made by `scripts/make_dicom_fixture.py`: a real DICOM exchange between",
        "pynetdicom application entities over loopback, captured with tcpdump. No real patient:",
        f'every dataset is built by the script with pydicom (patient "{FAKE_NAME}", ID',
        f'"{FAKE_ID}", birth date {FAKE_BIRTH}; second match "{SECOND_NAME}" / "{SECOND_ID}").',
        "Licence: Apache-2.0 (part of Tocsin).",
        "",
        f"- made: {datetime.date.today().isoformat()}, command: "
        "`.venv/bin/python scripts/make_dicom_fixture.py`",
        f"- capture: `{' '.join(tcpdump_command(Path('<file>'), PORTS))}`",
        f"- versions: Python {platform.python_version()}, pydicom {pydicom.__version__}, "
        f"pynetdicom {pynetdicom.__version__}, {tcpdump.stdout.splitlines()[0]}",
        f"- AE titles: archive TOCSIN_PACS on {HOST}:{PACS_PORT}, move destination TOCSIN_DEST on "
        f"{HOST}:{DEST_PORT}; SCUs TOCSIN_MODALITY, TOCSIN_VIEWER, TOCSIN_ROGUE",
        "",
        "| file | scenario |",
        "|---|---|",
    ]
    lines += [f"| `{p.name}` | {SCENARIO_DOC[p.stem.removeprefix('dicom-')]} |" for p in made]
    lines += ["", "sha256:", "", "```"]
    lines += [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in made]
    lines += ["```", ""]
    (out / "PROVENANCE.md").write_text("\n".join(lines))


SCENARIO_DOC = {
    "echo": "C-ECHO, release",
    "store": "C-STORE of 2 CT (Explicit VR LE, one 64x64 over several PDUs) and 1 MR (Implicit "
    "VR LE); proposed contexts CT/JPEG Baseline (rejected: transfer syntaxes not supported) and "
    "US (rejected: abstract syntax not supported); SCP max PDU 4096",
    "find": 'C-FIND Study Root STUDY level PatientName "*" (2 pending + success), Patient Root '
    "PATIENT level with a PatientID (1 pending + success)",
    "move": "C-MOVE Study Root STUDY level to TOCSIN_DEST (sub-association to port 104, 2 "
    "C-STORE), C-MOVE to UNKNOWN_DEST (0xA801)",
    "get": "C-GET Patient Root PATIENT level with role selection; 1 C-STORE sub-operation back "
    "on the same association",
    "reject": "A-ASSOCIATE-RQ to UNKNOWN_AE: A-ASSOCIATE-RJ (1 permanent, 1 service user, 7 "
    "called AE title not recognised)",
    "abort": "C-ECHO then A-ABORT from the SCU",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("scenario", nargs="*", help=f"of {', '.join(SCENARIOS)} (default: all)")
    args = ap.parse_args(argv)
    if unknown := set(args.scenario) - set(SCENARIOS):
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    servers = [
        archive().start_server((HOST, PACS_PORT), block=False, evt_handlers=handlers()),
        destination().start_server(
            (HOST, DEST_PORT), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
        ),
    ]
    made = []
    try:
        for name in args.scenario or SCENARIOS:
            path = out / f"dicom-{name}.pcap"
            with capture(path, PORTS):
                SCENARIOS[name]()
            made.append(path)
            print(f"{path}: {path.stat().st_size} bytes", file=sys.stderr)
    finally:
        for s in servers:
            if s is not None:
                s.shutdown()
    if not args.scenario:
        provenance(out, made)
    return 0


def handlers() -> list[Any]:
    return [
        (evt.EVT_C_STORE, on_store),
        (evt.EVT_C_FIND, on_find),
        (evt.EVT_C_MOVE, on_move),
        (evt.EVT_C_GET, on_get),
    ]


if __name__ == "__main__":
    sys.exit(main())
