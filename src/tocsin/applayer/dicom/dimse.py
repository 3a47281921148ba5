"""DIMSE (PS3.7): command sets, statuses, and the query facts of C-FIND/C-MOVE/C-GET identifiers.

- `parse_command(buf)`: a whole command set (group 0000, always Implicit VR Little Endian) to
  a `CommandSet`. Only the elements Tocsin reports are read (command field, message IDs, SOP
  class, priority, move destination / originator AE, data set type, status, sub-operation
  counts); the error comment, offending elements and instance UIDs are ignored.
- `status_category` / `status_meaning`: PS3.7 Annex C.
- `scan_identifier(buf, syntax, max_keys)`: the query level (0008,0052) and which patient-level
  keys (group 0010) an identifier holds, as keywords with `universal` / `wildcard` booleans.
  It walks top-level elements only, skips nested sequences, and stops after group 0010; a
  value is looked at only to compute those booleans, never kept.

Malformed input raises `ParseError`, whose messages never quote a value.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from tocsin.applayer.base import ParseError
from tocsin.applayer.dicom.uids import (
    DEFLATED_EXPLICIT_VR_LE,
    EXPLICIT_VR_BE,
    IMPLICIT_VR_LE,
    JPIP_REFERENCED_DEFLATE,
)
from tocsin.model.dicom import DicomQueryKey

NO_DATASET = 0x0101
C_CANCEL = 0x0FFF
RESPONSE = 0x8000

COMMANDS = {
    0x0001: "C-STORE",
    0x0010: "C-GET",
    0x0020: "C-FIND",
    0x0021: "C-MOVE",
    0x0030: "C-ECHO",
    0x0100: "N-EVENT-REPORT",
    0x0110: "N-GET",
    0x0120: "N-SET",
    0x0130: "N-ACTION",
    0x0140: "N-CREATE",
    0x0150: "N-DELETE",
    C_CANCEL: "C-CANCEL",
}
QUERY_COMMANDS = frozenset((0x0010, 0x0020, 0x0021))  # requests whose identifier is scanned
QUERY_LEVELS = frozenset(("PATIENT", "STUDY", "SERIES", "IMAGE", "FRAME"))

_ELEMENT = struct.Struct("<HHI")


@dataclass(slots=True)
class CommandSet:
    """The command elements Tocsin uses (None: absent)."""

    field: int
    message_id: int | None = None
    responded_to: int | None = None
    sop_class: str | None = None
    priority: int | None = None
    move_destination: str | None = None
    move_originator: str | None = None
    has_dataset: bool = False
    status: int | None = None
    remaining: int | None = None
    completed: int | None = None
    failed: int | None = None
    warning: int | None = None

    @property
    def is_response(self) -> bool:
        return bool(self.field & RESPONSE)

    @property
    def name(self) -> str:
        return COMMANDS[self.field & ~RESPONSE]


# elements read as US (2 bytes): element number -> CommandSet attribute
_US = {
    0x0100: "field",
    0x0110: "message_id",
    0x0120: "responded_to",
    0x0700: "priority",
    0x0900: "status",
    0x1020: "remaining",
    0x1021: "completed",
    0x1022: "failed",
    0x1023: "warning",
}


def _ae(raw: bytes) -> str:
    if len(raw) > 16:
        raise ParseError("AE title longer than 16 bytes in a command set")
    return raw.decode("ascii", "replace").strip(" \x00")


def parse_command(buf: bytes) -> CommandSet:
    """Decode a command set; ParseError when it is not one."""
    vals: dict[str, int] = {}
    sop: str | None = None
    requested: str | None = None
    dest = orig = None
    data_type = NO_DATASET
    pos, n = 0, len(buf)
    while pos < n:
        if pos + 8 > n:
            raise ParseError("truncated element in a command set")
        group, elem, length = _ELEMENT.unpack_from(buf, pos)
        pos += 8
        end = pos + length
        if group != 0:
            raise ParseError(f"element of group {group:04X} in a command set")
        if end > n:
            raise ParseError(f"element (0000,{elem:04X}) overruns its command set")
        if elem in _US or elem == 0x0800:
            if length != 2:
                raise ParseError(f"element (0000,{elem:04X}) is not 2 bytes")
            v = buf[pos] | buf[pos + 1] << 8
            if elem == 0x0800:
                data_type = v
            else:
                vals[_US[elem]] = v
        elif elem == 0x0002 or elem == 0x0003:
            if length > 64:
                raise ParseError("SOP class UID longer than 64 bytes")
            uid = buf[pos:end].decode("ascii", "replace").strip(" \x00")
            if elem == 0x0002:
                sop = uid
            else:
                requested = uid
        elif elem == 0x0600:
            dest = _ae(buf[pos:end])
        elif elem == 0x1030:
            orig = _ae(buf[pos:end])
        pos = end
    field = vals.get("field")
    if field is None:
        raise ParseError("command set without a CommandField")
    if field & ~RESPONSE not in COMMANDS or field == C_CANCEL | RESPONSE:
        raise ParseError(f"unknown DIMSE command field 0x{field:04X}")
    g = vals.get
    cs = CommandSet(
        field,
        message_id=g("message_id"),
        responded_to=g("responded_to"),
        sop_class=sop or requested,
        priority=g("priority"),
        move_destination=dest,
        move_originator=orig,
        has_dataset=data_type != NO_DATASET,
        status=g("status"),
        remaining=g("remaining"),
        completed=g("completed"),
        failed=g("failed"),
        warning=g("warning"),
    )
    if cs.is_response or field == C_CANCEL:
        if cs.responded_to is None:
            raise ParseError("response or cancel without MessageIDBeingRespondedTo")
    elif cs.message_id is None:
        raise ParseError("request without a MessageID")
    return cs


# --- statuses (PS3.7 Annex C) ----------------------------------------------------------------

PENDING = frozenset((0xFF00, 0xFF01))

_MEANINGS = {
    0x0000: "success",
    0xFF00: "matches or sub-operations are continuing",
    0xFF01: "matches are continuing, optional keys not supported",
    0xFE00: "terminated due to a cancel request",
    0x0001: "requested optional attributes are not supported",
    0x0105: "no such attribute",
    0x0106: "invalid attribute value",
    0x0107: "attribute list error",
    0x0110: "processing failure",
    0x0111: "duplicate SOP instance",
    0x0112: "no such SOP instance",
    0x0113: "no such event type",
    0x0114: "no such argument",
    0x0115: "invalid argument value",
    0x0116: "attribute value out of range",
    0x0117: "invalid object instance",
    0x0118: "no such SOP class",
    0x0119: "class-instance conflict",
    0x0120: "missing attribute",
    0x0121: "missing attribute value",
    0x0122: "refused: SOP class not supported",
    0x0123: "no such action",
    0x0124: "refused: not authorized",
    0x0210: "duplicate invocation",
    0x0211: "unrecognized operation",
    0x0212: "mistyped argument",
    0x0213: "resource limitation",
    0xA700: "refused: out of resources",
    0xA701: "refused: out of resources, unable to calculate number of matches",
    0xA702: "refused: out of resources, unable to perform sub-operations",
    0xA801: "refused: move destination unknown",
    0xA900: "data set or identifier does not match SOP class",
    0xB006: "elements discarded",
    0xB007: "data set does not match SOP class",
}


def status_category(status: int) -> str:
    """ "success", "pending", "cancel", "warning" or "failure"."""
    if status == 0:
        return "success"
    if status in PENDING:
        return "pending"
    if status == 0xFE00:
        return "cancel"
    if status in (0x0001, 0x0107, 0x0116) or 0xB000 <= status <= 0xBFFF:
        return "warning"
    return "failure"


def status_meaning(status: int, command: int) -> str | None:
    """The PS3.7 meaning of `status` for request `command` (field without the 0x8000 bit)."""
    if status == 0xB000:
        if command in (0x0010, 0x0021):
            return "sub-operations complete, one or more failures or warnings"
        return "coercion of data elements"
    if 0xC000 <= status <= 0xCFFF:
        return "cannot understand" if command == 0x0001 else "unable to process"
    return _MEANINGS.get(status)


# --- identifiers -----------------------------------------------------------------------------

# group 0010 keywords (PS3.6); others are reported as "(0010,xxxx)"
PATIENT_KEYWORDS = {
    0x0010: "PatientName",
    0x0020: "PatientID",
    0x0021: "IssuerOfPatientID",
    0x0022: "TypeOfPatientID",
    0x0024: "IssuerOfPatientIDQualifiersSequence",
    0x0030: "PatientBirthDate",
    0x0032: "PatientBirthTime",
    0x0040: "PatientSex",
    0x0050: "PatientInsurancePlanCodeSequence",
    0x1000: "OtherPatientIDs",
    0x1001: "OtherPatientNames",
    0x1002: "OtherPatientIDsSequence",
    0x1005: "PatientBirthName",
    0x1010: "PatientAge",
    0x1020: "PatientSize",
    0x1030: "PatientWeight",
    0x1040: "PatientAddress",
    0x1060: "PatientMotherBirthName",
    0x2000: "MedicalAlerts",
    0x2110: "Allergies",
    0x2154: "PatientTelephoneNumbers",
    0x2160: "EthnicGroup",
    0x2180: "Occupation",
    0x21B0: "AdditionalPatientHistory",
    0x21C0: "PregnancyStatus",
    0x4000: "PatientComments",
}
# group 0010 elements whose VR is SQ (needed in Implicit VR, where the VR is not on the wire)
PATIENT_SEQUENCES = frozenset(
    {
        *(0x0024, 0x0026, 0x0027, 0x0050, 0x0101, 0x0102, 0x0201, 0x0215, 0x0216, 0x0219),
        *(0x0221, 0x0229, 0x1002, 0x1021, 0x1100, 0x2161, 0x2202, 0x2293, 0x2294, 0x2296),
    }
)
# explicit VRs with a 2-byte reserved field and a 4-byte length
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
)
UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xE000, 0xE00D, 0xE0DD
MAX_DEPTH = 16


class _Reader:
    """Walks elements of one encoding: (group, element, VR or None, length, value offset)."""

    def __init__(self, buf: bytes, explicit: bool, big: bool) -> None:
        self.buf = buf
        self.explicit = explicit
        self.tag = struct.Struct(">HHI" if big else "<HHI")
        self.short = struct.Struct(">H" if big else "<H")
        self.long = struct.Struct(">I" if big else "<I")

    def element(self, pos: int) -> tuple[int, int, bytes | None, int, int]:
        buf = self.buf
        if pos + 8 > len(buf):
            raise IndexError
        group, elem, length = self.tag.unpack_from(buf, pos)
        if not self.explicit or group == 0xFFFE:
            return group, elem, None, length, pos + 8
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(buf):
                raise IndexError
            return group, elem, vr, self.long.unpack_from(buf, pos + 8)[0], pos + 12
        return group, elem, vr, self.short.unpack_from(buf, pos + 6)[0], pos + 8

    def skip_undefined(self, pos: int, depth: int) -> int:
        """Skip the items of an undefined-length element starting at `pos`; returns the offset
        after its sequence delimiter."""
        if depth > MAX_DEPTH:
            raise ParseError("sequences nested too deep in an identifier")
        while True:
            group, elem, _vr, length, vpos = self.element(pos)
            if group != 0xFFFE:
                raise ParseError("sequence holds something other than items")
            if elem == _SEQ_END:
                return vpos
            if elem != _ITEM:
                raise ParseError("unexpected delimiter in a sequence")
            if length != UNDEFINED:
                pos = vpos + length
                continue
            pos = vpos  # an item of undefined length: elements up to its delimiter
            while True:
                group, elem, _vr, length, vpos = self.element(pos)
                if group == 0xFFFE and elem == _ITEM_END:
                    pos = vpos
                    break
                pos = self.skip_undefined(vpos, depth + 1) if length == UNDEFINED else vpos + length


def _decode_syntax(buf: bytes, syntax: str | None, limit: int) -> tuple[bytes, bool, bool]:
    if syntax == IMPLICIT_VR_LE or syntax is None:
        return buf, False, False
    if syntax == EXPLICIT_VR_BE:
        return buf, True, True
    if syntax in (DEFLATED_EXPLICIT_VR_LE, JPIP_REFERENCED_DEFLATE):
        try:
            return zlib.decompressobj(-zlib.MAX_WBITS).decompress(buf, limit), True, False
        except zlib.error:
            raise ParseError("deflated identifier does not inflate") from None
    return buf, True, False  # every other transfer syntax encodes the identifier explicit VR LE


def scan_identifier(
    buf: bytes, syntax: str | None, max_keys: int, limit: int = 65_536
) -> tuple[str | None, list[DicomQueryKey], bool]:
    """(query level, patient-level keys, complete) of an identifier encoded in `syntax` (None:
    Implicit VR LE). A level outside PATIENT/STUDY/SERIES/IMAGE/FRAME is reported as "other"
    (never the value). `buf` may be the first bytes only of the identifier (bounded
    collection): `complete` is False when the keys stop at the cut rather than after group
    0010 or at the end of the identifier."""
    data, explicit, big = _decode_syntax(buf, syntax, limit)
    rd = _Reader(data, explicit, big)
    level: str | None = None
    keys: list[DicomQueryKey] = []
    pos = 0
    complete = False
    try:
        while pos < len(data):
            group, elem, vr, length, vpos = rd.element(pos)
            if group > 0x0010:
                complete = True
                break
            seq = vr == b"SQ" or (group == 0x0010 and vr is None and elem in PATIENT_SEQUENCES)
            if length == UNDEFINED:
                end = rd.skip_undefined(vpos, 1)
                value = b""
                seq = True
            else:
                end = vpos + length
                if end > len(data):
                    break  # cut short: the rest was not collected
                value = data[vpos:end]
            if group == 0x0008 and elem == 0x0052:
                text = value.strip(b" \x00").decode("ascii", "replace")
                level = text if text in QUERY_LEVELS else "other"
            elif group == 0x0010 and elem != 0 and len(keys) < max_keys:
                keys.append(_key(elem, value, seq, length))
            pos = end
        else:
            complete = pos == len(data)
    except IndexError:
        pass  # cut short inside an element header
    return level, keys, complete


def _key(elem: int, value: bytes, seq: bool, length: int) -> DicomQueryKey:
    keyword = PATIENT_KEYWORDS.get(elem) or f"(0010,{elem:04X})"
    if seq:
        return DicomQueryKey(keyword, universal=length == 0)
    v = value.strip(b" \x00")
    universal = not v.strip(b"*")
    wildcard = b"*" in v or b"?" in v
    return DicomQueryKey(keyword, universal=universal, wildcard=wildcard)
