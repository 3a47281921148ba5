"""HL7 v2 message headers: MSH (with the separators MSH itself declares), MSA and ERR presence.

`parse_message(content, max_items)` takes the payload of one MLLP frame (possibly only its first
`AppLimits.max_message` bytes) and returns a `Header`. It reads:

- MSH: field separator = the 4th byte, component separator = the first encoding character
  (MSH-2); MSH-3..6 (applications, facilities), MSH-9 (type^trigger^structure), MSH-10
  (control ID), MSH-11.1 (processing ID), MSH-12.1 (version);
- MSA-1 (acknowledgement code: AA, AE, AR, CA, CE, CR) and MSA-2 (acknowledged control ID) of
  the first MSA segment; MSA-2 is reported only after a valid MSA-1 and when it looks like an
  ID (printable, no separator or space, at most 64 bytes), but always used for matching;
- whether an ERR segment is present, and every segment's ID.

Segments are separated by CR (LF and CRLF are tolerated). A segment ID is kept only when it
looks like one (`[A-Z][A-Z0-9]{2}` followed by the field separator or the end of the segment),
so a line break inside a text value never turns patient text into a reported "segment". No
other segment is read: PID, PV1, OBX, NK1... values never leave this function, and `ParseError`
messages never quote the message.

MSH text is reported only when the fields around it have their expected shape: MSH-7 a
timestamp (or empty), MSH-9 a message type such as `ADT^A01^ADT_A01` (type, trigger event,
structure), MSH-11.1 one letter, MSH-12.1 a version `2.x`.
Otherwise (`malformed`) a lost separator may have pulled the next segment's values, patient
data, into the MSH fields, so none is reported; MSH-10 is still used to match the ACK.

A batch (FHS/BHS ... MSH ...) is read from its first MSH. Escape sequences (\\F\\, \\S\\...) in
header fields are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tocsin.applayer.base import ParseError

MAX_FIELD = 128  # characters kept of a header field
_SEGMENT_ID = re.compile(rb"[A-Z][A-Z0-9]{2}")
ACK_CODES = frozenset(("AA", "AE", "AR", "CA", "CE", "CR"))
# shapes of the MSH fields checked before any MSH text is reported (see `parse_message`)
_TIMESTAMP = re.compile(rb"(\d{4,14}(\.\d{1,4})?([+-]\d{4})?)?")
_MSG_CODE = re.compile(rb"[A-Z0-9]{3}")
_STRUCTURE = re.compile(rb"[A-Z0-9_]{3,7}")
_PROCESSING = re.compile(rb"[A-Z]")
_VERSION = re.compile(rb"\d\.\d{1,2}(\.\d{1,2})?")


@dataclass(slots=True)
class Header:
    """What Tocsin keeps of one HL7 v2 message."""

    sending_application: str | None = None
    sending_facility: str | None = None
    receiving_application: str | None = None
    receiving_facility: str | None = None
    message_type: str | None = None
    trigger_event: str | None = None
    message_structure: str | None = None
    control_id: str | None = None
    processing_id: str | None = None
    version: str | None = None
    segments: list[str] = field(default_factory=list)
    malformed: bool = False
    match_id: str | None = None  # MSH-10 for ACK matching, even when not reported
    has_msa: bool = False
    ack_code: str | None = None
    ack_control_id: str | None = None
    ack_match_id: str | None = None  # MSA-2 for matching, even when not reported
    has_err: bool = False


def _text(raw: bytes) -> str | None:
    v = raw.decode("utf-8", "replace").strip()
    return v[:MAX_FIELD] if v else None


def _plain_id(raw: bytes, separators: bytes) -> str | None:
    """A control ID as reported: printable, no separator or space, at most 64 bytes (anything
    else is what a lost segment separator would leave: not reported)."""
    if not raw or len(raw) > 64 or any(b < 0x21 or b > 0x7E or b in separators for b in raw):
        return None
    return raw.decode("ascii")


def _start(content: bytes) -> int:
    """Offset of the first MSH segment."""
    if content.startswith(b"MSH"):
        return 0
    if content[:3] in (b"FHS", b"BHS"):
        for sep in (b"\rMSH", b"\nMSH"):
            i = content.find(sep)
            if i >= 0:
                return i + 1
    raise ParseError("MLLP frame does not hold an HL7 v2 message (no MSH segment first)")


def parse_message(content: bytes, max_items: int) -> Header:
    """Decode the header facts of one message (see the module docstring)."""
    start = _start(content)
    if len(content) - start < 8:
        raise ParseError("MSH segment too short")
    fs = content[start + 3 : start + 4]
    if fs.isalnum() or not 0x20 < fs[0] < 0x7F:
        raise ParseError("invalid HL7 field separator in MSH")
    body = content[start:]
    if b"\n" in body:
        body = body.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    segs = body.split(b"\r")
    msh = segs[0].split(fs)
    enc = msh[1] if len(msh) > 1 else b""
    cs = enc[:1]
    if not cs or cs == fs or cs.isalnum():
        raise ParseError("invalid HL7 encoding characters in MSH-2")

    def f(n: int) -> bytes:  # MSH-n (MSH-1 is the separator itself, MSH-2 is msh[1])
        return msh[n - 1] if len(msh) >= n else b""

    mtype = f(9).split(cs)
    trigger = mtype[1] if len(mtype) > 1 else b""
    structure = mtype[2] if len(mtype) > 2 else b""
    processing = f(11).split(cs)[0]
    version = f(12).split(cs)[0]
    if (
        _TIMESTAMP.fullmatch(f(7).split(cs)[0])
        and _MSG_CODE.fullmatch(mtype[0])
        and (not trigger or _MSG_CODE.fullmatch(trigger))
        and (not structure or _STRUCTURE.fullmatch(structure))
        and _PROCESSING.fullmatch(processing)
        and _VERSION.fullmatch(version)
    ):
        h = Header(
            sending_application=_text(f(3)),
            sending_facility=_text(f(4)),
            receiving_application=_text(f(5)),
            receiving_facility=_text(f(6)),
            message_type=_text(mtype[0]),
            trigger_event=_text(trigger),
            message_structure=_text(structure),
            control_id=_text(f(10)),
            processing_id=_text(processing),
            version=_text(version),
        )
    else:
        h = Header(malformed=True)
    h.match_id = _text(f(10))
    for seg in segs:
        sid = seg[:3]
        if not _SEGMENT_ID.fullmatch(sid) or (len(seg) > 3 and seg[3:4] != fs):
            continue
        if len(h.segments) < max_items:
            h.segments.append(sid.decode("ascii"))
        if sid == b"MSA" and not h.has_msa:
            h.has_msa = True
            msa = seg.split(fs)
            code = _text(msa[1]) if len(msa) > 1 else None
            h.ack_match_id = _text(msa[2]) if len(msa) > 2 else None
            if code in ACK_CODES:
                h.ack_code = code
                h.ack_control_id = _plain_id(msa[2], fs + enc) if len(msa) > 2 else None
        elif sid == b"ERR":
            h.has_err = True
    return h
