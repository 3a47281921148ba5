"""The `dicom` EVE record: DICOM upper-layer associations and DIMSE commands (PS3.7, PS3.8).

Tocsin's own event type (Suricata has none). One `dicom` event per:

- `type: "association"`: an A-ASSOCIATE-RQ and its answer (AC or RJ), emitted when the answer
  arrives (or at abort / end of flow if none came); `association` holds the negotiation;
- `type: "command"`: a DIMSE request and its final response (C-ECHO, C-STORE, C-FIND, C-MOVE,
  C-GET, N-*), emitted at the final (non-pending) response, or unanswered at abort / release /
  end of flow; `command` holds it;
- `type: "release"`: A-RELEASE-RQ/RP, `type: "abort"`: A-ABORT (`abort` says who and why),
  `type: "close"`: the connection ended without either; all three carry `summary`, the
  association's totals.

Direction (in the event header) is the direction of the request: the A-ASSOCIATE-RQ, the DIMSE
request, the A-RELEASE-RQ or the A-ABORT. `calling_ae` / `called_ae` (from the A-ASSOCIATE-RQ)
are repeated on every event of the association so a detector needs no state.

**No patient data**: never a value of a data set. C-FIND/C-MOVE/C-GET identifiers only give
their query level and which patient-level keys (group 0010) were present, as keywords and
booleans. AE titles, UIDs of SOP classes and transfer syntaxes, statuses and counts only.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class DicomUid(msgspec.Struct, frozen=True, omit_defaults=True):
    """A UID and its name (`name` absent when not in Tocsin's table of common UIDs)."""

    uid: str
    name: str | None = None


class DicomProposedContext(msgspec.Struct, frozen=True, omit_defaults=True):
    """A presentation context of the A-ASSOCIATE-RQ: an abstract syntax (SOP class) and the
    transfer syntaxes offered for it."""

    id: int
    abstract_syntax: DicomUid
    transfer_syntaxes: list[DicomUid] = []


class DicomContextResult(msgspec.Struct, frozen=True, omit_defaults=True):
    """The acceptor's answer to one proposed context (A-ASSOCIATE-AC).

    `result`: "acceptance", "user-rejection", "no-reason", "abstract-syntax-not-supported",
    "transfer-syntaxes-not-supported" (or "reserved-<n>"); `result_code` the PS3.8 value (0-4).
    `abstract_syntax` repeats the proposal's; `transfer_syntax` is the one accepted (absent
    when rejected)."""

    id: int
    result: str
    result_code: int
    abstract_syntax: DicomUid | None = None
    transfer_syntax: DicomUid | None = None


class DicomUserInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """User information item of one side (PS3.7 D.3.3): the largest P-DATA-TF PDU it accepts
    (0 = unlimited), its implementation, how many role selection and extended negotiation
    sub-items it sent, and the user identity type it offered ("username",
    "username-passcode", "kerberos", "saml", "jwt"; never the identity itself) or, on the
    acceptor side, whether it answered a user identity request."""

    max_pdu_length: int | None = None
    implementation_class_uid: str | None = None
    implementation_version_name: str | None = None
    role_selections: int = 0
    extended_negotiations: int = 0
    user_identity: str | None = None
    user_identity_response: bool = False


class DicomReject(msgspec.Struct, frozen=True, omit_defaults=True):
    """An A-ASSOCIATE-RJ: result ("rejected-permanent" / "rejected-transient"), source
    ("service-user", "service-provider-acse", "service-provider-presentation") and reason
    (e.g. "called-ae-title-not-recognized"), with their PS3.8 codes."""

    result: str
    result_code: int
    source: str
    source_code: int
    reason: str
    reason_code: int


class DicomAssociation(msgspec.Struct, frozen=True, omit_defaults=True):
    """An association negotiation.

    `status`: "accepted", "rejected" (see `rejected`), "aborted" (A-ABORT before any answer) or
    "unanswered" (flow ended first). `proposed` / `accepted` are capped at `AppLimits.max_items`
    (`truncated` says so); `accepted` lists every answered context, accepted or not, each with
    its `result`."""

    status: str
    protocol_version: int
    application_context: DicomUid | None = None
    proposed: list[DicomProposedContext] = []
    accepted: list[DicomContextResult] = []
    rejected: DicomReject | None = None
    requestor: DicomUserInfo | None = None
    acceptor: DicomUserInfo | None = None
    truncated: bool = False


class DicomQueryKey(msgspec.Struct, frozen=True, omit_defaults=True):
    """A patient-level matching key (group 0010) present in a query identifier, by keyword
    ("PatientName", "PatientID"...; "(0010,xxxx)" when unknown). `universal`: it matches
    everything (zero length, or only `*`); `wildcard`: its value holds `*` or `?`. Never the
    value."""

    keyword: str
    universal: bool = False
    wildcard: bool = False


class DicomSubOperations(msgspec.Struct, frozen=True, omit_defaults=True):
    """C-MOVE / C-GET sub-operation counts of the last response that carried them."""

    remaining: int | None = None
    completed: int | None = None
    failed: int | None = None
    warning: int | None = None


class DicomCommand(msgspec.Struct, frozen=True, omit_defaults=True):
    """A DIMSE request and its final response.

    `command`: "C-ECHO", "C-STORE", "C-FIND", "C-MOVE", "C-GET", "N-EVENT-REPORT", "N-GET",
    "N-SET", "N-ACTION", "N-CREATE", "N-DELETE". `issuer`: "requestor" or "acceptor" of the
    association (the acceptor issues the C-STORE sub-operations of a C-GET). `sop_class`: the
    affected (or requested) SOP class. `status` is the final response's status code,
    `status_category` "success", "warning", "failure", "cancel" (or "pending" when the flow
    ended after a pending response), `status_meaning` its PS3.7 meaning where known.
    `pending_responses` counts the pending responses (C-FIND matches, C-MOVE/C-GET progress).
    `*_dataset_bytes`: data set bytes of the request and of all responses (counted, never
    read: image data is skipped). `query_level` / `query_keys`: from the identifier of a
    C-FIND/C-MOVE/C-GET request; `query_truncated` when the identifier was larger than
    `AppLimits.max_message` and the keys after the cut are unknown. `answered` is false when
    no final response came (then `status` is absent); `request_seen` false for a response to
    a request not seen."""

    command: str
    message_id: int
    answered: bool
    issuer: str
    presentation_context_id: int | None = None
    sop_class: DicomUid | None = None
    priority: int | None = None
    move_destination: str | None = None
    move_originator_ae: str | None = None
    status: int | None = None
    status_category: str | None = None
    status_meaning: str | None = None
    pending_responses: int = 0
    sub_operations: DicomSubOperations | None = None
    request_dataset_bytes: int = 0
    response_dataset_bytes: int = 0
    query_level: str | None = None
    query_keys: list[DicomQueryKey] = []
    query_truncated: bool = False
    cancelled: bool = False
    latency_ms: float | None = None
    request_seen: bool = True


class DicomCommandCount(msgspec.Struct, frozen=True, omit_defaults=True):
    """Per command of an association: how many, how many ended in failure (or unanswered),
    and their data set bytes."""

    command: str
    count: int
    failed: int = 0
    request_dataset_bytes: int = 0
    response_dataset_bytes: int = 0


class DicomSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    """An association's totals at release / abort / close: duration from the A-ASSOCIATE-RQ
    (ms), DICOM bytes per direction (PDU headers and skipped data included), commands."""

    duration_ms: float
    bytes_toserver: int
    bytes_toclient: int
    commands: list[DicomCommandCount] = []


class DicomAbort(msgspec.Struct, frozen=True, omit_defaults=True):
    """An A-ABORT: source "service-user" / "service-provider" / "reserved" and, for the
    provider, the reason ("reason-not-specified", "unrecognized-pdu", "unexpected-pdu",
    "unrecognized-pdu-parameter", "unexpected-pdu-parameter", "invalid-pdu-parameter-value")."""

    source: str
    source_code: int
    reason: str
    reason_code: int


class DicomInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """Body of a `dicom` event; `type` says which of the optional parts is set."""

    type: str
    calling_ae: str | None = None
    called_ae: str | None = None
    association: DicomAssociation | None = None
    command: DicomCommand | None = None
    abort: DicomAbort | None = None
    summary: DicomSummary | None = None


class DicomEvent(AppEvent, frozen=True, kw_only=True, tag="dicom"):
    """A DICOM association, command, release, abort or close (see the module docstring)."""

    dicom: DicomInfo
