"""Test helpers: DICOM PDUs built from the PS3.8 layout, DIMSE command sets and identifiers
encoded by pydicom/pynetdicom (real encoders), and a dispatcher stand-in that honours `skip`.

Fake patient values only; `FORBIDDEN` lists every value the fixtures carry that must never
appear in an event (the DICOM and HL7 privacy tests share it).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
from pydicom.dataset import Dataset
from pynetdicom.dsutils import encode

from tocsin.applayer.base import AppLimits, AppParser

from ..replay import packets

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applayer"

VERIFICATION = "1.2.840.10008.1.1"
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
STUDY_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
PATIENT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
STUDY_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG = "1.2.840.10008.1.2.4.50"

# values of the fixtures' fake patients (scripts/make_*_fixture.py) and of nDPI's HL7 capture
FORBIDDEN = [
    "TOCSIN^FAKE^PATIENT",
    "FAKE^PATIENT",
    "FAKE-ID-12345",
    "FAKE-ID-67890",
    "SECOND^FAKE",
    "19010101",
    "FAKEACC777",
    "TOCSIN SYNTHETIC STUDY",
    "1.2.826.0.1.3680043.8.498.4242",  # study / series / instance UIDs
    "FAKE STREET",
    "FAKETOWN",
    "555-0100",
    "TOCSIN-FAKE-OBSERVATION",
    "FAKEWARD",
    "FAKEDOC",
    "FAKE^RELATIVE",
    "FAKE-ORDER",
    "GLUCOSE",
    "CT HEAD",
    "Table value not found",
    "MOUSE",
    "MICKEY",
    "MINNIE",
    "135769",
    "19281118",
    "Main St",
    "ohtoodles",
    "Penicillin",
    "MOUSETOWN",
]


def assert_no_patient_data(bodies: Iterable[Any]) -> None:
    for body in bodies:
        text = msgspec.json.encode(body).decode()
        for value in FORBIDDEN:
            assert value.lower() not in text.lower(), (value, text)


# --- PDUs ------------------------------------------------------------------------------------


def pdu(ptype: int, body: bytes) -> bytes:
    return struct.pack(">BxI", ptype, len(body)) + body


def item(itype: int, value: bytes) -> bytes:
    return struct.pack(">BxH", itype, len(value)) + value


def ae(title: str) -> bytes:
    return title.encode().ljust(16)


def user_info(
    max_pdu: int = 16382, impl: str = "1.2.3.4", version: str = "TEST_1", extra: bytes = b""
) -> bytes:
    return item(
        0x50,
        item(0x51, struct.pack(">I", max_pdu))
        + item(0x52, impl.encode())
        + item(0x55, version.encode())
        + extra,
    )


def associate_rq(
    contexts: list[tuple[int, str, list[str]]],
    called: str = "PACS",
    calling: str = "MODALITY",
    user: bytes | None = None,
) -> bytes:
    body = struct.pack(">HH", 1, 0) + ae(called) + ae(calling) + bytes(32)
    body += item(0x10, b"1.2.840.10008.3.1.1.1")
    for pcid, abstract, syntaxes in contexts:
        sub = item(0x30, abstract.encode()) + b"".join(item(0x40, s.encode()) for s in syntaxes)
        body += item(0x20, bytes([pcid, 0, 0, 0]) + sub)
    body += user if user is not None else user_info()
    return pdu(0x01, body)


def associate_ac(results: list[tuple[int, int, str]], max_pdu: int = 16382) -> bytes:
    body = struct.pack(">HH", 1, 0) + ae("PACS") + ae("MODALITY") + bytes(32)
    body += item(0x10, b"1.2.840.10008.3.1.1.1")
    for pcid, result, syntax in results:
        body += item(0x21, bytes([pcid, 0, result, 0]) + item(0x40, syntax.encode()))
    body += user_info(max_pdu)
    return pdu(0x02, body)


def associate_rj(result: int, source: int, reason: int) -> bytes:
    return pdu(0x03, bytes([0, result, source, reason]))


def release_rq() -> bytes:
    return pdu(0x05, bytes(4))


def release_rp() -> bytes:
    return pdu(0x06, bytes(4))


def abort(source: int = 0, reason: int = 0) -> bytes:
    return pdu(0x07, bytes([0, 0, source, reason]))


def pdv(pcid: int, command: bool, last: bool, data: bytes) -> bytes:
    return struct.pack(">IBB", len(data) + 2, pcid, int(command) | int(last) << 1) + data


def p_data(*pdvs: bytes) -> bytes:
    return pdu(0x04, b"".join(pdvs))


def command_set(**elements: Any) -> bytes:
    """A command set (group 0000) encoded Implicit VR LE by pydicom."""
    ds = Dataset()
    for k, v in elements.items():
        setattr(ds, k, v)
    if "CommandDataSetType" not in elements:
        ds.CommandDataSetType = 0x0101
    body = encode(ds, True, True)
    assert body is not None
    ds.CommandGroupLength = len(body)
    out = encode(ds, True, True)
    assert out is not None
    return out


def dataset(ds: Dataset, syntax: str = IMPLICIT) -> bytes:
    out = encode(
        ds,
        syntax == IMPLICIT,
        syntax != BIG,
        deflated=syntax == DEFLATED,
    )
    assert out is not None
    return out


def message(pcid: int, cmd: bytes, data: bytes | None = None, max_pdv: int = 16_000) -> bytes:
    """A DIMSE message as P-DATA-TF PDUs: the command in one PDV, the data set in fragments of
    at most `max_pdv` bytes, one PDU each."""
    out = p_data(pdv(pcid, True, True, cmd))
    if data is not None:
        frags = [data[i : i + max_pdv] for i in range(0, len(data), max_pdv)] or [b""]
        for i, frag in enumerate(frags):
            out += p_data(pdv(pcid, False, i == len(frags) - 1, frag))
    return out


# --- a dispatcher stand-in -------------------------------------------------------------------


class Driver:
    """Feeds a parser like the dispatcher does: chunks of at most `chunk` bytes, `skip`
    honoured (skipped bytes never fed), nothing fed to a `done` direction. Records what was
    emitted and how many bytes each direction was actually fed."""

    def __init__(
        self, parser_cls: type[AppParser], limits: AppLimits | None = None, chunk: int = 1 << 20
    ) -> None:
        self.events: list[tuple[Any, int, int, int | None]] = []
        self.parser = parser_cls(self._emit, limits or AppLimits())
        self.chunk = chunk
        self.fed = [0, 0]
        self.fed_bytes = [bytearray(), bytearray()]
        self.skipped = [0, 0]

    def _emit(
        self, event_cls: Any, body: Any, direction: int, ts_us: int, tx_id: int | None = None
    ) -> None:
        self.events.append((body, direction, ts_us, tx_id))

    def send(self, direction: int, data: bytes, ts_us: int = 0) -> None:
        p, pos = self.parser, 0
        while pos < len(data) and not p.done[direction]:
            if p.skip[direction]:
                take = min(p.skip[direction], len(data) - pos)
                p.skip[direction] -= take
                self.skipped[direction] += take
                pos += take
                continue
            piece = data[pos : pos + self.chunk]
            p.feed(direction, piece, ts_us)
            self.fed[direction] += len(piece)
            self.fed_bytes[direction] += piece
            pos += len(piece)

    def bodies(self) -> list[Any]:
        return [e[0] for e in self.events]


def streams(pcap: Path, port: int | None = None) -> list[tuple[int, int, bytes]]:
    """(direction, ts_us, payload) of each TCP payload of `pcap`, in capture order, direction
    0 being the sender of the SYN (fixtures are clean: no loss, no retransmission)."""
    out: list[tuple[int, int, bytes]] = []
    initiator: dict[frozenset[Any], tuple[Any, ...]] = {}
    for ts, key, tfl, _seq, _idx, payload in packets(pcap):
        src, sport, dst, dport, _proto = key
        if port is not None and port not in (sport, dport):
            continue
        conv = frozenset(((src, sport), (dst, dport)))
        if conv not in initiator:
            initiator[conv] = (src, sport) if tfl & 0x12 == 0x02 else (dst, dport)
        if payload:
            out.append((0 if initiator[conv] == (src, sport) else 1, ts, payload))
    return out
