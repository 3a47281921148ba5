"""The `hl7` EVE record: one HL7 v2 message exchange over MLLP (message + its acknowledgement).

Tocsin's own event type (Suricata has none). One `hl7` event per message, emitted when the
response that acknowledges it arrives (a message in the other direction whose MSA-2 is this
message's control ID: an ACK, or an application response such as ORR or RSP), or, with
`acked: false`, at the end of the flow (or when too many messages await their ACK). Direction
(in the event header) is the message's.

An acknowledgement that matches no message seen on the flow is reported on its own, with
`unsolicited_ack: true`: the header fields are the ACK's own and `ack_*` its MSA.

Fields come from the MSH segment (separators read from MSH itself) and, for the response,
from MSA and the presence of ERR. **No patient data**: never a PID, PV1, OBX, NK1... value;
`segments` lists segment IDs only.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class HL7Info(msgspec.Struct, frozen=True, omit_defaults=True):
    """Body of an `hl7` event.

    Message (MSH): `sending_application` (MSH-3), `sending_facility` (MSH-4),
    `receiving_application` (MSH-5), `receiving_facility` (MSH-6), `message_type` /
    `trigger_event` / `message_structure` (MSH-9.1/.2/.3, e.g. "ADT" / "A01" / "ADT_A01"),
    `control_id` (MSH-10), `processing_id` (MSH-11.1: P, T, D), `version` (MSH-12.1), with
    HD fields kept whole (components joined by the message's own separator).
    `malformed_header`: MSH-7/9/11/12 do not have their standard shape, so no MSH text is
    reported (a lost separator may have pulled patient values into MSH). `segments`: the
    segment IDs in order (capped at `AppLimits.max_items`), `message_bytes` the MLLP payload
    size, `truncated` when the message was larger than `AppLimits.max_message` (fields are read
    from its first bytes).

    Acknowledgement: `acked` (a response arrived), `ack_code` (MSA-1: AA, AE, AR, CA, CE, CR),
    `ack_control_id` (MSA-2), `ack_message_type` (MSH-9.1 of the response, usually "ACK"),
    `ack_error_segment` (the response holds an ERR segment), `ack_latency_ms` (time of the
    response minus time of the message).
    """

    acked: bool
    message_type: str | None = None
    trigger_event: str | None = None
    message_structure: str | None = None
    control_id: str | None = None
    sending_application: str | None = None
    sending_facility: str | None = None
    receiving_application: str | None = None
    receiving_facility: str | None = None
    processing_id: str | None = None
    version: str | None = None
    segments: list[str] = []
    malformed_header: bool = False
    message_bytes: int = 0
    truncated: bool = False
    ack_code: str | None = None
    ack_control_id: str | None = None
    ack_message_type: str | None = None
    ack_error_segment: bool = False
    ack_latency_ms: float | None = None
    unsolicited_ack: bool = False


class HL7Event(AppEvent, frozen=True, kw_only=True, tag="hl7"):
    """An HL7 v2 message and its acknowledgement (see the module docstring)."""

    hl7: HL7Info
