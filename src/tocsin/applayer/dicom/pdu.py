"""DICOM upper-layer PDUs (PS3.8 section 9.3): constants and the decoding of the PDUs that are
parsed whole (A-ASSOCIATE-RQ/AC/RJ, A-RELEASE-RQ/RP, A-ABORT).

Every PDU is `type (1) | reserved (1) | length (4, big-endian) | body`. P-DATA-TF bodies are a
sequence of PDVs, `item length (4, BE) | presentation context id (1) | message control header
(1) | fragment`; they are streamed by the parser, never decoded here.

Functions take the PDU body (after the 6-byte header) and raise `ParseError` when it is
malformed (short fixed fields, an item overrunning the PDU, a UID longer than 64 bytes...).
They keep no value that could carry patient data: AE titles, UIDs, sizes and codes only; a user
identity item gives its type, never the user name or passcode.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from tocsin.applayer.base import ParseError
from tocsin.applayer.dicom.uids import uid_record
from tocsin.model.dicom import (
    DicomAbort,
    DicomContextResult,
    DicomProposedContext,
    DicomReject,
    DicomUid,
    DicomUserInfo,
)

ASSOCIATE_RQ = 0x01
ASSOCIATE_AC = 0x02
ASSOCIATE_RJ = 0x03
P_DATA_TF = 0x04
RELEASE_RQ = 0x05
RELEASE_RP = 0x06
ABORT = 0x07

HEADER_LEN = 6  # PDU header: type, reserved, length
PDV_HEADER_LEN = 6  # PDV item length (4), presentation context id, message control header
ASSOCIATE_FIXED_LEN = 68  # protocol version .. reserved, before the variable items
MAX_UID_LEN = 64

_HEADER = struct.Struct(">BxI")
_ITEM = struct.Struct(">BxH")
_PDV = struct.Struct(">IBB")

CONTEXT_RESULTS = (
    "acceptance",
    "user-rejection",
    "no-reason",
    "abstract-syntax-not-supported",
    "transfer-syntaxes-not-supported",
)
REJECT_RESULTS = {1: "rejected-permanent", 2: "rejected-transient"}
REJECT_SOURCES = {
    1: "service-user",
    2: "service-provider-acse",
    3: "service-provider-presentation",
}
REJECT_REASONS = {
    (1, 1): "no-reason-given",
    (1, 2): "application-context-name-not-supported",
    (1, 3): "calling-ae-title-not-recognized",
    (1, 7): "called-ae-title-not-recognized",
    (2, 1): "no-reason-given",
    (2, 2): "protocol-version-not-supported",
    (3, 1): "temporary-congestion",
    (3, 2): "local-limit-exceeded",
}
ABORT_SOURCES = {0: "service-user", 1: "reserved", 2: "service-provider"}
ABORT_REASONS = (
    "reason-not-specified",
    "unrecognized-pdu",
    "unexpected-pdu",
    "reserved-3",
    "unrecognized-pdu-parameter",
    "unexpected-pdu-parameter",
    "invalid-pdu-parameter-value",
)
USER_IDENTITY_TYPES = {
    1: "username",
    2: "username-passcode",
    3: "kerberos",
    4: "saml",
    5: "jwt",
}


def unpack_header(hdr: bytes | bytearray) -> tuple[int, int]:
    """(type, length) of a 6-byte PDU header."""
    ptype, length = _HEADER.unpack_from(hdr)
    return int(ptype), int(length)


def unpack_pdv(hdr: bytes | bytearray) -> tuple[int, int, int]:
    """(item length, presentation context id, message control header) of a PDV header."""
    ilen, pcid, mch = _PDV.unpack_from(hdr)
    return int(ilen), int(pcid), int(mch)


@dataclass(slots=True)
class AssociateRQ:
    """What Tocsin keeps of an A-ASSOCIATE-RQ."""

    protocol_version: int
    called_ae: str
    calling_ae: str
    application_context: DicomUid | None
    contexts: list[DicomProposedContext] = field(default_factory=list)
    user: DicomUserInfo | None = None
    truncated: bool = False


@dataclass(slots=True)
class AssociateAC:
    """What Tocsin keeps of an A-ASSOCIATE-AC: (id, result, transfer syntax UID) per context."""

    protocol_version: int
    application_context: DicomUid | None
    results: list[tuple[int, int, str | None]] = field(default_factory=list)
    user: DicomUserInfo | None = None


def _items(body: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(item type, value start, value end) of each item in body[start:end]."""
    pos = start
    while pos < end:
        if pos + 4 > end:
            raise ParseError("truncated item header in an A-ASSOCIATE PDU")
        itype, ln = _ITEM.unpack_from(body, pos)
        vs = pos + 4
        pos = vs + ln
        if pos > end:
            raise ParseError(f"item 0x{itype:02x} overruns its PDU or parent item")
        yield itype, vs, pos


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace").strip(" \x00")


def _uid(body: bytes, start: int, end: int) -> str:
    if end - start > MAX_UID_LEN:
        raise ParseError("UID longer than 64 bytes")
    return _text(body[start:end])


def _fixed(body: bytes) -> int:
    if len(body) < ASSOCIATE_FIXED_LEN:
        raise ParseError("A-ASSOCIATE PDU shorter than its fixed fields")
    return int.from_bytes(body[0:2], "big")


def _user_info(body: bytes, start: int, end: int) -> DicomUserInfo:
    max_len = impl_uid = impl_version = ident = None
    roles = ext = 0
    ident_rsp = False
    for stype, vs, ve in _items(body, start, end):
        if stype == 0x51:
            if ve - vs != 4:
                raise ParseError("maximum length sub-item is not 4 bytes")
            max_len = int.from_bytes(body[vs:ve], "big")
        elif stype == 0x52:
            impl_uid = _uid(body, vs, ve)
        elif stype == 0x55:
            if ve - vs > 16:
                raise ParseError("implementation version name longer than 16 bytes")
            impl_version = _text(body[vs:ve])
        elif stype == 0x54:
            roles += 1
        elif stype in (0x56, 0x57):
            ext += 1
        elif stype == 0x58:
            if ve - vs < 1:
                raise ParseError("empty user identity sub-item")
            kind = body[vs]
            ident = USER_IDENTITY_TYPES.get(kind, f"reserved-{kind}")
        elif stype == 0x59:
            ident_rsp = True
    return DicomUserInfo(
        max_pdu_length=max_len,
        implementation_class_uid=impl_uid,
        implementation_version_name=impl_version,
        role_selections=roles,
        extended_negotiations=ext,
        user_identity=ident,
        user_identity_response=ident_rsp,
    )


def parse_associate_rq(body: bytes, max_items: int) -> AssociateRQ:
    """Decode an A-ASSOCIATE-RQ body; presentation contexts and their transfer syntaxes are
    capped at `max_items` (`truncated`)."""
    rq = AssociateRQ(_fixed(body), _text(body[4:20]), _text(body[20:36]), None)
    for itype, vs, ve in _items(body, ASSOCIATE_FIXED_LEN, len(body)):
        if itype == 0x10:
            rq.application_context = uid_record(_uid(body, vs, ve))
        elif itype == 0x20:
            if ve - vs < 4:
                raise ParseError("presentation context item shorter than 4 bytes")
            abstract: DicomUid | None = None
            syntaxes: list[DicomUid] = []
            for stype, svs, sve in _items(body, vs + 4, ve):
                if stype == 0x30:
                    abstract = uid_record(_uid(body, svs, sve))
                elif stype == 0x40:
                    if len(syntaxes) < max_items:
                        syntaxes.append(uid_record(_uid(body, svs, sve)))
                    else:
                        rq.truncated = True
            if abstract is None:
                raise ParseError("presentation context without an abstract syntax")
            if len(rq.contexts) < max_items:
                rq.contexts.append(DicomProposedContext(body[vs], abstract, syntaxes))
            else:
                rq.truncated = True
        elif itype == 0x50:
            rq.user = _user_info(body, vs, ve)
    return rq


def parse_associate_ac(body: bytes, max_items: int) -> AssociateAC:
    """Decode an A-ASSOCIATE-AC body (context results capped at `max_items`)."""
    ac = AssociateAC(_fixed(body), None)
    for itype, vs, ve in _items(body, ASSOCIATE_FIXED_LEN, len(body)):
        if itype == 0x10:
            ac.application_context = uid_record(_uid(body, vs, ve))
        elif itype == 0x21:
            if ve - vs < 4:
                raise ParseError("presentation context item shorter than 4 bytes")
            syntax = None
            for stype, svs, sve in _items(body, vs + 4, ve):
                if stype == 0x40:
                    syntax = _uid(body, svs, sve)
            if len(ac.results) < max_items:
                ac.results.append((body[vs], body[vs + 2], syntax))
        elif itype == 0x50:
            ac.user = _user_info(body, vs, ve)
    return ac


def context_result(
    pcid: int, result: int, syntax: str | None, abstract: DicomUid | None
) -> DicomContextResult:
    """The event record of one AC context answer (transfer syntax only when accepted)."""
    name = CONTEXT_RESULTS[result] if result < len(CONTEXT_RESULTS) else f"reserved-{result}"
    return DicomContextResult(
        id=pcid,
        result=name,
        result_code=result,
        abstract_syntax=abstract,
        transfer_syntax=uid_record(syntax) if syntax and result == 0 else None,
    )


def _four(body: bytes, what: str) -> None:
    if len(body) != 4:
        raise ParseError(f"{what} PDU length is {len(body)}, not 4")


def parse_reject(body: bytes) -> DicomReject:
    """Decode an A-ASSOCIATE-RJ body."""
    _four(body, "A-ASSOCIATE-RJ")
    result, source, reason = body[1], body[2], body[3]
    return DicomReject(
        result=REJECT_RESULTS.get(result, f"reserved-{result}"),
        result_code=result,
        source=REJECT_SOURCES.get(source, f"reserved-{source}"),
        source_code=source,
        reason=REJECT_REASONS.get((source, reason), f"reserved-{reason}"),
        reason_code=reason,
    )


def parse_abort(body: bytes) -> DicomAbort:
    """Decode an A-ABORT body (the reason only means something when the provider aborts)."""
    _four(body, "A-ABORT")
    source, reason = body[2], body[3]
    if source != 2:
        text = "not-significant"
    elif reason < len(ABORT_REASONS):
        text = ABORT_REASONS[reason]
    else:
        text = f"reserved-{reason}"
    return DicomAbort(
        source=ABORT_SOURCES.get(source, f"reserved-{source}"),
        source_code=source,
        reason=text,
        reason_code=reason,
    )


def check_release(body: bytes, ptype: int) -> None:
    """Validate an A-RELEASE-RQ/RP body (4 reserved bytes)."""
    _four(body, "A-RELEASE-RQ" if ptype == RELEASE_RQ else "A-RELEASE-RP")
