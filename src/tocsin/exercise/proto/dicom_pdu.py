"""DICOM upper-layer PDUs and DIMSE command sets for generated traffic, built by pynetdicom.

- `associate_rq` / `associate_ac` / `associate_rj`, `release_rq` / `release_rp`, `abort`:
  the PDU bytes, encoded by pynetdicom's PDU classes (`pynetdicom.pdu.A_ASSOCIATE_RQ`...)
  from its primitives (`pynetdicom.pdu_primitives`), cached per argument set.
- `command(name, **elements)`: a DIMSE command set (group 0000, Implicit VR Little Endian),
  encoded once per shape by pynetdicom's DIMSE messages (`C_STORE_RQ`... filled from a
  `dimse_primitives` primitive), then patched in place: message IDs, status, sub-operation
  counts and the affected SOP instance UID change per message, nothing else does. A shape is
  the command, its fixed elements and the length of each patched UID, so a patch never
  changes a length.
- `pdata(pcid, data, is_command, max_pdu)`: one DIMSE message part as P-DATA-TF PDUs,
  fragmented so that no PDU body exceeds the receiver's negotiated maximum length (PS3.8
  9.3.1, D.1), with `struct` and bytes joins (image data is not copied more than once).

Pure functions of their arguments; no I/O, no clock. `Ae` describes one application entity.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache, lru_cache
from io import BytesIO
from typing import Any

from pynetdicom import (
    PYNETDICOM_IMPLEMENTATION_UID,
    PYNETDICOM_IMPLEMENTATION_VERSION,
    dimse_messages,
    dimse_primitives,
)
from pynetdicom.dsutils import encode
from pynetdicom.pdu import (
    A_ABORT_RQ,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    A_RELEASE_RQ,
)
from pynetdicom.pdu_primitives import (
    A_ABORT,
    A_ASSOCIATE,
    A_P_ABORT,
    A_RELEASE,
    ImplementationClassUIDNotification,
    ImplementationVersionNameNotification,
    MaximumLengthNotification,
    SCP_SCU_RoleSelectionNegotiation,
)
from pynetdicom.presentation import PresentationContext

APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
VERIFICATION = "1.2.840.10008.1.1"
PATIENT_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.1.1"
PATIENT_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.1.2"
PATIENT_ROOT_GET = "1.2.840.10008.5.1.4.1.2.1.3"
STUDY_ROOT_FIND = "1.2.840.10008.5.1.4.1.2.2.1"
STUDY_ROOT_MOVE = "1.2.840.10008.5.1.4.1.2.2.2"
STUDY_ROOT_GET = "1.2.840.10008.5.1.4.1.2.2.3"

# DIMSE statuses (PS3.7 Annex C)
SUCCESS = 0x0000
PENDING = 0xFF00
MOVE_DESTINATION_UNKNOWN = 0xA801
OUT_OF_RESOURCES = 0xA700

DEFAULT_MAX_PDU = 16_384  # fragment size when the receiver announces no limit (0)

_PDATA = struct.Struct(">BxIIBB")  # PDU type, length; PDV item length, context ID, control
_US = struct.Struct("<H")
_ELEMENT = struct.Struct("<HHI")

# command elements patched per message (element number in group 0000), US unless a UID
_PATCHED = {
    "MessageID": 0x0110,
    "MessageIDBeingRespondedTo": 0x0120,
    "Status": 0x0900,
    "NumberOfRemainingSuboperations": 0x1020,
    "NumberOfCompletedSuboperations": 0x1021,
    "NumberOfFailedSuboperations": 0x1022,
    "NumberOfWarningSuboperations": 0x1023,
    "MoveOriginatorMessageID": 0x1031,
    "AffectedSOPInstanceUID": 0x1000,
}
_UID_PATCHED = frozenset({"AffectedSOPInstanceUID"})


@dataclass(frozen=True, slots=True)
class Ae:
    """An application entity: AE title, the largest P-DATA-TF PDU it accepts (0: no limit),
    the implementation it announces in its user information."""

    title: str
    max_pdu: int = DEFAULT_MAX_PDU
    implementation_uid: str = str(PYNETDICOM_IMPLEMENTATION_UID)
    implementation_version: str = PYNETDICOM_IMPLEMENTATION_VERSION


@dataclass(frozen=True, slots=True)
class Context:
    """A proposed presentation context: ID (odd), abstract syntax, transfer syntaxes."""

    id: int
    abstract_syntax: str
    transfer_syntaxes: tuple[str, ...]


# --- association PDUs (pynetdicom) -------------------------------------------------------------


def _user_info(ae: Ae, scp_roles: tuple[str, ...], accept_roles: bool) -> list[Any]:
    ml = MaximumLengthNotification()
    ml.maximum_length_received = ae.max_pdu
    impl = ImplementationClassUIDNotification()
    impl.implementation_class_uid = ae.implementation_uid
    ver = ImplementationVersionNameNotification()
    ver.implementation_version_name = ae.implementation_version
    items: list[Any] = [ml, impl, ver]
    for sop in scp_roles:
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid = sop
        # the requestor proposes to be SCP (C-GET sub-operations); the acceptor agrees
        role.scu_role = not accept_roles
        role.scp_role = True
        items.append(role)
    return items


@lru_cache(maxsize=1024)
def associate_rq(
    requestor: Ae, called: str, contexts: tuple[Context, ...], scp_roles: tuple[str, ...] = ()
) -> bytes:
    """A-ASSOCIATE-RQ from `requestor` to the AE titled `called`; `scp_roles`: SOP classes
    for which the requestor proposes the SCP role (storage classes of a C-GET)."""
    p = A_ASSOCIATE()
    p.application_context_name = APPLICATION_CONTEXT
    p.calling_ae_title = requestor.title
    p.called_ae_title = called
    cxs = []
    for c in contexts:
        cx = PresentationContext()
        cx.context_id = c.id
        cx.abstract_syntax = c.abstract_syntax
        cx.transfer_syntax = list(c.transfer_syntaxes)
        cxs.append(cx)
    p.presentation_context_definition_list = cxs
    p.user_information = _user_info(requestor, scp_roles, False)
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(p)
    return pdu.encode()


@lru_cache(maxsize=1024)
def associate_ac(
    calling: str,
    acceptor: Ae,
    results: tuple[tuple[int, int, str], ...],
    scp_roles: tuple[str, ...] = (),
) -> bytes:
    """A-ASSOCIATE-AC from `acceptor` to the requestor titled `calling`; `results`: (context
    ID, result, transfer syntax) per proposed context (result 0: acceptance)."""
    p = A_ASSOCIATE()
    p.application_context_name = APPLICATION_CONTEXT
    p.calling_ae_title = calling
    p.called_ae_title = acceptor.title
    p.result = 0
    cxs = []
    for pcid, result, syntax in results:
        cx = PresentationContext()
        cx.context_id = pcid
        cx.result = result
        cx.transfer_syntax = [syntax]
        cxs.append(cx)
    p.presentation_context_definition_results_list = cxs
    p.user_information = _user_info(acceptor, scp_roles, True)
    pdu = A_ASSOCIATE_AC()
    pdu.from_primitive(p)
    return pdu.encode()


@cache
def associate_rj(result: int, source: int, reason: int) -> bytes:
    """A-ASSOCIATE-RJ: result 1 permanent / 2 transient; source 1 service user (reasons 1 no
    reason, 2 application context, 3 calling AE title, 7 called AE title not recognised),
    2 provider ACSE, 3 provider presentation (PS3.8 9.3.4)."""
    p = A_ASSOCIATE()
    p.result = result
    p.result_source = source
    p.diagnostic = reason
    pdu = A_ASSOCIATE_RJ()
    pdu.from_primitive(p)
    return pdu.encode()


@cache
def release_rq() -> bytes:
    pdu = A_RELEASE_RQ()
    pdu.from_primitive(A_RELEASE())
    return pdu.encode()


@cache
def release_rp() -> bytes:
    p = A_RELEASE()
    p.result = "affirmative"
    pdu = A_RELEASE_RP()
    pdu.from_primitive(p)
    return pdu.encode()


@cache
def abort(source: int = 0, reason: int = 0) -> bytes:
    """A-ABORT: source 0 (service user) or 2 (service provider, with `reason`)."""
    pdu = A_ABORT_RQ()
    if source == 2:
        pp = A_P_ABORT()
        pp.provider_reason = reason
        pdu.from_primitive(pp)
    else:
        pa = A_ABORT()
        pa.abort_source = source
        pdu.from_primitive(pa)
    return pdu.encode()


# --- P-DATA-TF ---------------------------------------------------------------------------------


def pdata(pcid: int, data: bytes, is_command: bool, max_pdu: int, head: bytes = b"") -> bytes:
    """`data` (a command set or a data set) as P-DATA-TF PDUs of one PDV each, every PDU body
    at most `max_pdu` bytes (the receiver's maximum; 0: `DEFAULT_MAX_PDU`), after `head`
    (the PDUs already written for the same turn: joined once, not copied again)."""
    frag = (max_pdu or DEFAULT_MAX_PDU) - 6
    n = len(data)
    base = 1 if is_command else 0
    if n <= frag:
        return b"".join((head, _PDATA.pack(4, n + 6, n + 2, pcid, base | 2), data))
    view = memoryview(data)
    parts: list[bytes | memoryview] = [head]
    for off in range(0, n, frag):
        chunk = view[off : off + frag]
        size = len(chunk)
        last = 2 if off + frag >= n else 0
        parts.append(_PDATA.pack(4, size + 6, size + 2, pcid, base | last))
        parts.append(chunk)
    return b"".join(parts)


# --- command sets ------------------------------------------------------------------------------

_MESSAGES = {
    "C-ECHO-RQ": (dimse_primitives.C_ECHO, dimse_messages.C_ECHO_RQ, None),
    "C-ECHO-RSP": (dimse_primitives.C_ECHO, dimse_messages.C_ECHO_RSP, None),
    "C-STORE-RQ": (dimse_primitives.C_STORE, dimse_messages.C_STORE_RQ, "DataSet"),
    "C-STORE-RSP": (dimse_primitives.C_STORE, dimse_messages.C_STORE_RSP, None),
    "C-FIND-RQ": (dimse_primitives.C_FIND, dimse_messages.C_FIND_RQ, "Identifier"),
    "C-FIND-RSP": (dimse_primitives.C_FIND, dimse_messages.C_FIND_RSP, "Identifier"),
    "C-MOVE-RQ": (dimse_primitives.C_MOVE, dimse_messages.C_MOVE_RQ, "Identifier"),
    "C-MOVE-RSP": (dimse_primitives.C_MOVE, dimse_messages.C_MOVE_RSP, "Identifier"),
    "C-GET-RQ": (dimse_primitives.C_GET, dimse_messages.C_GET_RQ, "Identifier"),
    "C-GET-RSP": (dimse_primitives.C_GET, dimse_messages.C_GET_RSP, "Identifier"),
}


@dataclass(frozen=True, slots=True)
class _Template:
    data: bytes
    offsets: dict[str, int]  # patched keyword -> value offset


@lru_cache(maxsize=512)
def _template(
    name: str, fixed: tuple[tuple[str, Any], ...], patched: tuple[tuple[str, int], ...], ds: bool
) -> _Template:
    prim_cls, msg_cls, ds_kw = _MESSAGES[name]
    prim = prim_cls()
    for kw, value in fixed:
        setattr(prim, kw, value)
    for kw, size in patched:
        setattr(prim, kw, _slot_uid(size) if kw in _UID_PATCHED else 0)
    if ds and ds_kw:
        setattr(prim, ds_kw, BytesIO(b"\0\0"))
    msg = msg_cls()
    msg.primitive_to_message(prim)  # type: ignore[arg-type]
    data = encode(msg.command_set, True, True)
    assert data is not None
    want = {_PATCHED[kw]: kw for kw, _ in patched}
    offsets: dict[str, int] = {}
    pos = 0
    while pos < len(data):
        _group, elem, length = _ELEMENT.unpack_from(data, pos)
        if elem in want:
            offsets[want[elem]] = pos + 8
        pos += 8 + length
    return _Template(data, offsets)


def _slot_uid(size: int) -> str:
    """A valid UID of `size` characters (1.1.1... or 11.1.1...)."""
    return ("1" if size % 2 else "11") + ".1" * ((size - 1) // 2)


def command(name: str, *, dataset: bool = False, **elements: Any) -> bytes:
    """The command set `name` ("C-STORE-RQ", "C-FIND-RSP"...) with `elements` (pynetdicom
    primitive parameter names: MessageID, AffectedSOPClassUID, Status, MoveDestination...);
    `dataset`: a data set follows (CommandDataSetType)."""
    fixed = []
    patched = []
    for kw, v in elements.items():
        if kw in _PATCHED:
            patched.append((kw, len(v) if kw in _UID_PATCHED else 0))
        else:
            fixed.append((kw, v))
    tpl = _template(name, tuple(fixed), tuple(patched), dataset)
    if not patched:
        return tpl.data
    out = bytearray(tpl.data)
    for kw, _ in patched:
        off = tpl.offsets[kw]
        v = elements[kw]
        if kw in _UID_PATCHED:
            out[off : off + len(v)] = v.encode()
        else:
            _US.pack_into(out, off, v)
    return bytes(out)
