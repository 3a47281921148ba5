"""DICOM data sets for generated traffic: images of a study and query/retrieve identifiers,
encoded by pydicom.

- `study_images(rng, study, explicit)`: every image of a study as (SOP instance UID, encoded
  data set), series after series. pydicom encodes one header per series (the study, patient,
  series and image-geometry elements, with fixed-width slots for what changes per
  image); each image is that header with its SOP instance UID, instance number and position
  patched in place (same lengths: the values are written at the slots' width, as DICOM
  allows for IS/DS with space padding), then its pixel data element. Pixel values are noise
  masked to the modality's bits stored, cut from one random pool per series: a 100-image CT
  series costs one header encoding and 100 memory copies, not 100 pydicom calls.
- `query(level, keys, explicit)`: a C-FIND request identifier; `patient_match` /
  `study_match`: a pending response's identifier; `retrieve(study, explicit)`: a STUDY-level
  C-MOVE/C-GET identifier. Encoded by pydicom (`pynetdicom.dsutils.encode`), cached.

Explicit or Implicit VR Little Endian only (what `dicom` negotiates). Values are the
synthetic ones of `patients`; no I/O.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator, Mapping
from functools import lru_cache

import numpy as np
from pydicom.dataset import Dataset
from pynetdicom.dsutils import encode

from tocsin.exercise.proto.patients import UID_LEN, Patient, Series, Study

MANUFACTURER = "TOCSIN EXERCISE"  # every generated image says it is synthetic
_NUM_WIDTH = 10  # DS slots: "-99999.999"
_DS_SLOT = "-99999.999"
_IS_SLOT = "999999"
_UID_SLOT = "2.25." + "9" * (UID_LEN - 5)
_TAG = struct.Struct("<HH")
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
)
_SOP_INSTANCE = 0x00080018
_INSTANCE_NUMBER = 0x00200013
_POSITION = 0x00200032
_SLICE_LOCATION = 0x00201041
_PIXEL_DATA = 0x7FE00010
_POOL_MAX = 1 << 20  # noise pool bytes per series (larger frames tile it)
_POOL_SLACK = 1 << 16  # random start offsets within the pool


def _offsets(data: bytes, explicit: bool) -> dict[int, tuple[int, int]]:
    """tag -> (value offset, value length) of each top-level element of an encoding without
    sequences."""
    out: dict[int, tuple[int, int]] = {}
    pos = 0
    while pos < len(data):
        group, elem = _TAG.unpack_from(data, pos)
        if explicit:
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                length, vpos = _U32.unpack_from(data, pos + 8)[0], pos + 12
            else:
                length, vpos = _U16.unpack_from(data, pos + 6)[0], pos + 8
        else:
            length, vpos = _U32.unpack_from(data, pos + 4)[0], pos + 8
        out[group << 16 | elem] = (vpos, length)
        pos = vpos + length
    return out


def _series_dataset(study: Study, series: Series) -> Dataset:
    m = study.modality
    p = study.patient
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    cross = m.code in ("CT", "MR")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"] if cross else ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = m.sop_class
    ds.SOPInstanceUID = _UID_SLOT
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = study.when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = study.when.strftime("%H%M%S")
    ds.AccessionNumber = study.accession
    ds.Modality = m.code
    ds.Manufacturer = MANUFACTURER
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.PatientName = p.name
    ds.PatientID = p.ipp
    ds.PatientBirthDate = p.birth
    ds.PatientSex = p.sex
    ds.StudyInstanceUID = study.uid
    ds.SeriesInstanceUID = series.uid
    ds.StudyID = study.accession[-6:]
    ds.SeriesNumber = series.number
    ds.InstanceNumber = _IS_SLOT
    if cross:
        ds.SliceThickness = "1.25" if m.code == "CT" else "4.0"
        ds.ImagePositionPatient = [_DS_SLOT] * 3
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.SliceLocation = _DS_SLOT
    ds.SamplesPerPixel = m.samples
    ds.PhotometricInterpretation = "RGB" if m.samples == 3 else "MONOCHROME2"
    if m.samples == 3:
        ds.PlanarConfiguration = 0
    ds.Rows = m.rows
    ds.Columns = m.columns
    ds.PixelSpacing = ["0.7", "0.7"] if cross else ["0.15", "0.15"]
    ds.BitsAllocated = m.bits_allocated
    ds.BitsStored = m.bits_stored
    ds.HighBit = m.bits_stored - 1
    ds.PixelRepresentation = 0
    if m.code == "CT":
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
    ds.PixelData = b"\0\0"
    return ds


def _ds(v: float) -> bytes:
    return f"{v:{_NUM_WIDTH}.3f}".encode()


def _noise(rng: random.Random, frame: int, bits_allocated: int, bits_stored: int) -> bytes:
    """Random pixel values (masked to bits stored) for the images of one series."""
    raw = rng.randbytes(min(frame, _POOL_MAX) + _POOL_SLACK)
    if bits_allocated == 16 and bits_stored < 16:
        arr = np.frombuffer(raw, dtype="<u2") & ((1 << bits_stored) - 1)
        return arr.astype("<u2").tobytes()
    return raw


def study_images(rng: random.Random, study: Study, explicit: bool) -> Iterator[tuple[str, bytes]]:
    """(SOP instance UID, encoded data set) of every image of `study`, in series order;
    `ValueError` for an instance UID not `UID_LEN` long (as `patients.uid` makes them)."""
    m = study.modality
    frame = m.frame_bytes
    for series in study.series:
        encoded = encode(_series_dataset(study, series), not explicit, True)
        assert encoded is not None
        offs = _offsets(encoded, explicit)
        pix_off = offs[_PIXEL_DATA][0]
        head = bytearray(encoded[:pix_off])
        _U32.pack_into(head, pix_off - 4, frame)  # the pixel data element's length
        pool = _noise(rng, frame, m.bits_allocated, m.bits_stored)
        z = rng.uniform(-300.0, 100.0)
        step = 1.25 if m.code == "CT" else 4.0
        for i, inst in enumerate(series.instance_uids):
            if len(inst) != UID_LEN:
                raise ValueError(f"instance UID of {len(inst)} characters, not {UID_LEN}")
            img = bytearray(head)
            off = offs[_SOP_INSTANCE][0]
            img[off : off + len(inst)] = inst.encode()
            off = offs[_INSTANCE_NUMBER][0]
            img[off : off + 6] = f"{i + 1:<6}".encode()
            if _POSITION in offs:
                pos = z + i * step
                off = offs[_POSITION][0]
                img[off : off + 32] = b"\\".join((_ds(-175.0), _ds(-175.0), _ds(pos)))
                off = offs[_SLICE_LOCATION][0]
                img[off : off + _NUM_WIDTH] = _ds(pos)
            start = rng.randrange(0, _POOL_SLACK, 2)
            if frame + start <= len(pool):
                pixels: bytes | memoryview = memoryview(pool)[start : start + frame]
            else:  # a large radiograph: the pool repeated
                reps = (frame + start) // len(pool) + 1
                pixels = memoryview(pool * reps)[start : start + frame]
            yield inst, b"".join((img, pixels))


# --- query / retrieve identifiers --------------------------------------------------------------

PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
STUDY_KEYS = (
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ModalitiesInStudy",
    "StudyDescription",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyInstanceUID",
    "NumberOfStudyRelatedInstances",
)


def _encode(ds: Dataset, explicit: bool) -> bytes:
    out = encode(ds, not explicit, True)
    assert out is not None
    return out


def query(level: str, keys: Mapping[str, str], explicit: bool) -> bytes:
    """A C-FIND identifier at `level` ("PATIENT", "STUDY"): the level's return keys, empty
    (universal) unless `keys` gives a value (e.g. {"PatientName": "*"}, {"PatientID": id})."""
    return _query(level, tuple(sorted(keys.items())), explicit)


@lru_cache(maxsize=4096)
def _query(level: str, keys: tuple[tuple[str, str], ...], explicit: bool) -> bytes:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    given = dict(keys)
    for kw in PATIENT_KEYS if level == "PATIENT" else STUDY_KEYS:
        setattr(ds, kw, given.pop(kw, ""))
    for kw, v in given.items():
        setattr(ds, kw, v)
    return _encode(ds, explicit)


@lru_cache(maxsize=8192)
def patient_match(patient: Patient, retrieve_ae: str, explicit: bool) -> bytes:
    """A PATIENT-level C-FIND response identifier for `patient`."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.QueryRetrieveLevel = "PATIENT"
    ds.RetrieveAETitle = retrieve_ae
    ds.PatientName = patient.name
    ds.PatientID = patient.ipp
    ds.PatientBirthDate = patient.birth
    ds.PatientSex = patient.sex
    return _encode(ds, explicit)


@lru_cache(maxsize=8192)
def study_match(study: Study, retrieve_ae: str, explicit: bool) -> bytes:
    """A STUDY-level C-FIND response identifier for `study`."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.StudyDate = study.when.strftime("%Y%m%d")
    ds.StudyTime = study.when.strftime("%H%M%S")
    ds.AccessionNumber = study.accession
    ds.QueryRetrieveLevel = "STUDY"
    ds.RetrieveAETitle = retrieve_ae
    ds.ModalitiesInStudy = study.modality.code
    ds.StudyDescription = study.description
    ds.PatientName = study.patient.name
    ds.PatientID = study.patient.ipp
    ds.PatientBirthDate = study.patient.birth
    ds.StudyInstanceUID = study.uid
    ds.NumberOfStudyRelatedInstances = study.images
    return _encode(ds, explicit)


@lru_cache(maxsize=8192)
def retrieve(study: Study, explicit: bool) -> bytes:
    """A STUDY-level C-MOVE / C-GET identifier (Study Root) for `study`."""
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study.uid
    return _encode(ds, explicit)
