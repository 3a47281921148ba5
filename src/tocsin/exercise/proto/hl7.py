"""HL7 v2 messages over MLLP for generated traffic, built and checked by the `hl7` library.

A sender (admissions, order entry, a laboratory system) opens one TCP connection to the
interface engine and sends messages, each framed `0x0B <message> 0x1C 0x0D` (MLLP, HL7 v2.5.1
Appendix C); the receiver answers each with an original-mode ACK.

- Message specs: `Adt` (ADT^A01 admit, A04 register an outpatient, A08 update, A03
  discharge), `Order` (ORM^O01, a radiology or laboratory order), `Result` (ORU^R01, a lab
  panel as OBX numeric results with units, reference ranges and H/L/N flags), `Vitals`
  (ORU^R01 from a bedside monitor: heart rate, SpO2, respiratory rate, blood pressure,
  temperature, LOINC-coded with UCUM units). `trigger(spec)`: its trigger event.
- `message(rng, spec, sender, receiver, control_id, when, version)`: the message text. The
  first message of each shape (segment IDs, type, version) is parsed by `hl7.parse` and must
  read back through the library's accessors (MSH-9, MSH-12, PID-3) and print identically;
  later ones differ only in values (digits, names from fixed lists, no separators), so the
  library is not run per message (it costs ~250 µs a message).
- `acknowledge(sender, receiver, trigger, control_id, ack_id, when, code, error)`: the
  receiver's ACK, built once per shape by `hl7.Message.create_ack` (MSH-3..6 swapped, MSA-1
  the code, MSA-2 the acknowledged control ID) and filled per message; AE/AR carry an MSA-3
  text and an ERR segment (HL7 table 0357 code, severity E).
- `exchange(rng, sender_app, receiver_app, messages, nack_rate)`: the conversation as
  `Turn`s; each message is refused (AE or AR) with probability `nack_rate`.

Patients come from `patients`; doctors, wards, visit numbers and lab values are drawn from
the rng. Deterministic for a given rng state and `start`; no I/O, no clock.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

import hl7

from tocsin.exercise.proto.patients import Patient
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
VERSION = "2.5"
ADT_TRIGGERS = ("A01", "A03", "A04", "A08")
_WARDS = ("CARDIO", "PNEUMO", "URG", "CHIR", "MED", "GERIA", "PEDIA", "NEURO")
_DOCTORS = ("LEBLANC^ANNE", "NGUYEN^PAUL", "HADDAD^SARAH", "MOREAU^LUC", "PETIT^CLAIRE")
_ORDERS = {
    "RAD": (("RX-THO", "RADIO THORAX"), ("TDM-CER", "TDM CEREBRAL"), ("IRM-GEN", "IRM GENOU")),
    "LAB": (("BIO-ION", "IONOGRAMME"), ("BIO-NFS", "NUMERATION FORMULE"), ("BIO-CRP", "CRP")),
}
# LOINC code, name, unit, low, high (reference range), value spread around it
_LAB = (
    ("2345-7", "Glucose", "mmol/L", 3.9, 6.1),
    ("2951-2", "Sodium", "mmol/L", 135.0, 145.0),
    ("2823-3", "Potassium", "mmol/L", 3.5, 5.0),
    ("2160-0", "Creatinine", "umol/L", 45.0, 110.0),
    ("718-7", "Hemoglobin", "g/dL", 12.0, 17.0),
    ("6690-2", "Leukocytes", "10*9/L", 4.0, 10.0),
    ("777-3", "Platelets", "10*9/L", 150.0, 400.0),
    ("1988-5", "C reactive protein", "mg/L", 0.0, 5.0),
)
# bedside monitor parameters: LOINC code, name, UCUM unit, normal low, high, mean, spread,
# decimals, and the physiological bounds a value is kept within
_VITALS = (
    ("8867-4", "Heart rate", "/min", 60, 100, 78, 11, 0, (35, 180)),
    ("59408-5", "Oxygen saturation", "%", 94, 100, 97, 1.6, 0, (80, 100)),
    ("9279-1", "Respiratory rate", "/min", 12, 20, 16, 2.5, 0, (6, 40)),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", 100, 140, 122, 13, 0, (70, 220)),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", 60, 90, 74, 8, 0, (40, 130)),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.8, 36.9, 0.4, 1, (34.0, 41.0)),
)
# (code, text) of the errors a refusing receiver reports in ERR-3 (HL7 table 0357)
_ERRORS = (
    ("AE", "204", "Unknown key identifier", "PID^1^3", "Unknown patient identifier"),
    ("AE", "101", "Required field missing", "PV1^1^19", "Visit number missing"),
    ("AE", "103", "Table value not found", "PV1^1^3", "Unknown location"),
    ("AR", "200", "Unsupported message type", "MSH^1^9", "Message type not supported"),
    ("AR", "207", "Application internal error", "", "Database unavailable"),
)


@dataclass(frozen=True, slots=True)
class App:
    """An HL7 application: MSH-3/MSH-5 (application) and MSH-4/MSH-6 (facility)."""

    application: str
    facility: str


@dataclass(frozen=True, slots=True)
class Adt:
    """ADT^`trigger` (A01, A03, A04, A08) for `patient`."""

    trigger: str
    patient: Patient


@dataclass(frozen=True, slots=True)
class Order:
    """ORM^O01: a new order of `kind` "RAD" (imaging) or "LAB" for `patient`."""

    patient: Patient
    kind: str = "RAD"


@dataclass(frozen=True, slots=True)
class Result:
    """ORU^R01: `tests` lab results (1-8) for `patient`."""

    patient: Patient
    tests: int = 4


@dataclass(frozen=True, slots=True)
class Vitals:
    """ORU^R01 from a bedside monitor to its central station (IHE PCD-01 style): the vital
    signs of the patient in `bed` ("REA^012^1": unit, room, bed) as OBX numeric values."""

    patient: Patient
    bed: str


Spec = Adt | Order | Result | Vitals


def trigger(spec: Spec) -> str:
    """The trigger event (MSH-9.2) of `spec`'s message: what its ACK names."""
    if isinstance(spec, Adt):
        return spec.trigger
    return "O01" if isinstance(spec, Order) else "R01"


def _ts(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _seg(name: str, fields: dict[int, str]) -> str:
    """Segment `name` with field n at `fields[n]` (HL7 numbering), the others empty."""
    values = [""] * (max(fields) + 1)
    values[0] = name
    for n, v in fields.items():
        values[n] = v
    return "|".join(values)


def _pid(p: Patient, facility: str) -> str:
    return _seg("PID", {1: "1", 3: f"{p.ipp}^^^{facility}^PI", 5: p.name, 7: p.birth, 8: p.sex})


def _doctor(rng: random.Random) -> str:
    return f"{rng.randrange(10**5, 10**6)}^{rng.choice(_DOCTORS)}"


def _pv1(rng: random.Random, trigger: str, when: datetime) -> str:
    ward = rng.choice(_WARDS)
    fields = {
        1: "1",
        2: "O" if trigger == "A04" else rng.choice("IIE"),  # patient class
        3: f"{ward}^{rng.randint(1, 40):03d}^{rng.randint(1, 2)}",  # location
        7: _doctor(rng),  # attending doctor
        10: ward,  # hospital service
        19: str(rng.randrange(10**8, 10**9)),  # visit number
        44: _ts(when - timedelta(hours=rng.randint(0, 72))),  # admit
    }
    if trigger == "A03":
        fields[45] = _ts(when)  # discharge
    return _seg("PV1", fields)


def _segments(
    rng: random.Random, spec: Spec, facility: str, when: datetime
) -> tuple[str, list[str]]:
    """(MSH-9, the segments after MSH) of `spec`."""
    ts = _ts(when)
    pid = _pid(spec.patient, facility)
    if isinstance(spec, Adt):
        if spec.trigger not in ADT_TRIGGERS:
            raise ValueError(f"ADT trigger {spec.trigger!r} not one of {ADT_TRIGGERS}")
        structure = "ADT_A03" if spec.trigger == "A03" else "ADT_A01"
        kind = f"ADT^{spec.trigger}^{structure}"
        return kind, [f"EVN|{spec.trigger}|{ts}", pid, _pv1(rng, spec.trigger, when)]
    if isinstance(spec, Vitals):
        return "ORU^R01^ORU_R01", [pid, *_vital_segments(rng, spec, ts)]
    placer = f"{rng.randrange(10**7, 10**8)}"
    if isinstance(spec, Order):
        code, text = rng.choice(_ORDERS[spec.kind])
        segs = [
            pid,
            _pv1(rng, "A01", when),
            _seg("ORC", {1: "NW", 2: f"{placer}^ORDERS", 9: ts, 12: _doctor(rng)}),
            _seg("OBR", {1: "1", 2: f"{placer}^ORDERS", 4: f"{code}^{text}^L", 7: ts}),
        ]
        return "ORM^O01^ORM_O01", segs
    obr = {1: "1", 2: f"{placer}^LAB", 3: f"{placer}^LIS", 4: "PANEL^BILAN^L", 7: ts}
    segs = [pid, _seg("OBR", {**obr, 22: ts, 24: "LAB", 25: "F"})]
    tests = rng.sample(_LAB, max(1, min(spec.tests, len(_LAB))))
    for i, (code, name, unit, low, high) in enumerate(tests, 1):
        value = max(rng.gauss((low + high) / 2, (high - low) / 2.5), 0.0)
        flag = "H" if value > high else "L" if value < low else "N"
        obx = {1: str(i), 2: "NM", 3: f"{code}^{name}^LN", 5: f"{value:.1f}", 6: unit}
        segs.append(_seg("OBX", {**obx, 7: f"{low:g}-{high:g}", 8: flag, 11: "F", 14: ts}))
    return "ORU^R01^ORU_R01", segs


def _vital_segments(rng: random.Random, spec: Vitals, ts: str) -> list[str]:
    """PV1 (the bed), OBR (the monitoring observation) and one OBX per `_VITALS` value."""
    pv1 = _seg("PV1", {1: "1", 2: "I", 3: spec.bed})
    obr = _seg(
        "OBR",
        {1: "1", 3: f"{rng.randrange(10**7, 10**8)}^MONITOR", 4: "VITALS^SURVEILLANCE^L", 7: ts},
    )
    segs = [pv1, obr]
    for i, (code, name, unit, low, high, mean, spread, dec, (lo, hi)) in enumerate(_VITALS, 1):
        value = min(max(rng.gauss(mean, spread), lo), hi)
        text = f"{value:.{dec}f}"
        v = float(text)
        flag = "H" if v > high else "L" if v < low else "N"
        obx = {1: str(i), 2: "NM", 3: f"{code}^{name}^LN", 5: text, 6: unit}
        segs.append(_seg("OBX", {**obx, 7: f"{low:g}-{high:g}", 8: flag, 11: "R", 14: ts}))
    return segs


def message(
    rng: random.Random,
    spec: Spec,
    sender: App,
    receiver: App,
    control_id: str,
    when: datetime,
    version: str = VERSION,
) -> str:
    """The text of `spec`'s message from `sender` to `receiver` (segments CR-terminated)."""
    kind, segs = _segments(rng, spec, sender.facility, when)
    msh = (
        f"MSH|^~\\&|{sender.application}|{sender.facility}|{receiver.application}|"
        f"{receiver.facility}|{_ts(when)}||{kind}|{control_id}|P|{version}"
    )
    text = "\r".join([msh, *segs, ""])
    _check_shape(_Sample((tuple(s[:3] for s in segs), kind, version), text))
    return text


@dataclass(frozen=True, slots=True)
class _Sample:
    """A message keyed by its shape alone: (segment IDs after MSH, MSH-9, MSH-12)."""

    shape: tuple[tuple[str, ...], str, str]
    text: str = field(compare=False, hash=False)


@lru_cache(maxsize=1024)
def _check_shape(sample: _Sample) -> None:
    """The first message of each shape goes through `hl7.parse`: the library must read back
    its segments, MSH-9, MSH-12 and the PID identifier, and print it identically. Later
    messages of that shape differ from it only in values (digits, names from fixed lists)."""
    msg = hl7.parse(sample.text)
    msh = msg.segment("MSH")
    segments, kind, version = sample.shape
    ok = (
        str(msg) == sample.text
        and tuple(str(seg[0]) for seg in msg)[1:] == segments
        and (str(msh(9)), str(msh(12))) == (kind, version)
        and str(msg["PID.F3.R1.C1"]).isdigit()
    )
    if not ok:
        raise ValueError(f"hl7 library reads the {kind} built differently")  # a builder bug


@lru_cache(maxsize=1024)
def _ack_template(
    sender: App, receiver: App, trigger: str, version: str, code: str, error: int
) -> str:
    """An ACK built by `hl7.Message.create_ack`, with `{ts}`, `{ack}` and `{ctl}` left for
    MSH-7, MSH-10 and MSA-2."""
    msh = (
        f"MSH|^~\\&|{sender.application}|{sender.facility}|{receiver.application}|"
        f"{receiver.facility}|{{ts}}||X^{trigger}|{{ctl}}|P|{version}"
    )
    ack = hl7.parse(msh).create_ack(ack_code=code, message_id="{ack}")
    ack.segment("MSH").assign_field("{ts}", 7)  # create_ack would stamp the wall clock
    if code == "AA":
        return str(ack)
    refusals = [e for e in _ERRORS if e[0] == code] or [e for e in _ERRORS if e[0] == "AE"]
    _, err, err_text, where, text = refusals[error % len(refusals)]
    ack.segment("MSA").assign_field(text, 3)
    full = f"{ack}ERR||{where}|{err}^{err_text}^HL70357|E\r"
    if str(hl7.parse(full).segment("ERR")(3)(1)(1)) != err:
        raise ValueError("hl7 library reads the ERR segment differently")  # a builder bug
    return full


def acknowledge(
    sender: App,
    receiver: App,
    trigger: str,
    control_id: str,
    ack_id: str,
    when: datetime,
    code: str = "AA",
    error: int = 0,
    version: str = VERSION,
) -> str:
    """The text of `receiver`'s ACK to the message `control_id` (trigger `trigger`) that
    `sender` sent: MSA-1 `code` (AA, AE, AR); a refusal carries MSA-3 and an ERR segment
    (`error` picks one of the refusals of that code)."""
    tpl = _ack_template(sender, receiver, trigger, version, code, error % len(_ERRORS))
    return tpl.format(ts=_ts(when), ack=ack_id, ctl=control_id)


def frame(text: str) -> bytes:
    """A message in an MLLP frame."""
    return START_BLOCK + text.encode("ascii") + END_BLOCK


def exchange(
    rng: random.Random,
    sender_app: App,
    receiver_app: App,
    messages: Sequence[Spec],
    nack_rate: float = 0.0,
    *,
    start: datetime = datetime(2024, 1, 1, 8, 0),
    gap_s: tuple[float, float] = (0.2, 5.0),
    version: str = VERSION,
) -> list[Turn]:
    """One MLLP connection from `sender_app` to `receiver_app`: each of `messages` (sent
    `gap_s` apart, MSH-7 from `start` on) and its ACK — AE or AR with probability
    `nack_rate`, AA otherwise."""
    turns: list[Turn] = []
    now = start
    base = rng.randrange(10**6, 10**7)
    for i, spec in enumerate(messages):
        gap = rng.uniform(*gap_s) if i else rng.uniform(0.001, 0.01)
        now += timedelta(seconds=gap)
        ctl = f"MSG{base + i}"
        msg = message(rng, spec, sender_app, receiver_app, ctl, now, version)
        turns.append(Turn(CLIENT, frame(msg), gap))
        latency = rng.uniform(0.005, 0.08)
        now += timedelta(seconds=latency)
        code = "AA"
        if nack_rate and rng.random() < nack_rate:
            code = "AE" if rng.random() < 0.7 else "AR"
        ack = acknowledge(
            sender_app,
            receiver_app,
            trigger(spec),
            ctl,
            f"ACK{base + i}",
            now,
            code,
            rng.randrange(8),
            version,
        )
        turns.append(Turn(SERVER, frame(ack), latency))
    return turns
