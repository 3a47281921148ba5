"""Builders of `dicom` / `hl7` records as the parsers emit them (see applayer/dicom, hl7)."""

from __future__ import annotations

from pathlib import Path

from tocsin.model.dicom import (
    DicomAssociation,
    DicomCommand,
    DicomEvent,
    DicomInfo,
    DicomQueryKey,
    DicomReject,
    DicomSubOperations,
    DicomUid,
)
from tocsin.model.hl7 import HL7Event, HL7Info
from tocsin.model.ids import FlowId
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
T0 = 1_800_000_000 * S
ROOT = Path(__file__).parents[3]
DICOM_FIX = ROOT / "tests" / "fixtures" / "applayer" / "dicom"
HL7_FIX = ROOT / "tests" / "fixtures" / "applayer" / "hl7"
SAMPLES = ROOT / "samples"
PATIENT_FIND = DicomUid("1.2.840.10008.5.1.4.1.2.1.1", "Patient Root Query/Retrieve - FIND")
STUDY_FIND = DicomUid("1.2.840.10008.5.1.4.1.2.2.1", "Study Root Query/Retrieve - FIND")
STUDY_MOVE = DicomUid("1.2.840.10008.5.1.4.1.2.2.2", "Study Root Query/Retrieve - MOVE")
MWL_FIND = DicomUid("1.2.840.10008.5.1.4.31", "Modality Worklist Information Model - FIND")
CT = DicomUid("1.2.840.10008.5.1.4.1.1.2", "CT Image Storage")


def assoc(
    t: int,
    src: str = "10.1.0.20",
    dst: str = "10.1.0.5",
    calling: str = "CT_SCANNER1",
    called: str = "MAIN_PACS",
    status: str = "accepted",
) -> DicomEvent:
    rej = None
    if status == "rejected":
        rej = DicomReject(
            "rejected-permanent", 1, "service-user", 1, "called-ae-title-not-recognized", 7
        )
    return DicomEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(t & 0xFFFF),
        src_ip=src,
        src_port=40000,
        dest_ip=dst,
        dest_port=11112,
        proto="TCP",
        app_proto="dicom",
        dicom=DicomInfo(
            type="association",
            calling_ae=calling,
            called_ae=called,
            association=DicomAssociation(status=status, protocol_version=1, rejected=rej),
        ),
    )


def command(
    t: int,
    cmd: str,
    src: str = "10.1.0.30",
    dst: str = "10.1.0.5",
    calling: str = "VIEWER1",
    called: str = "MAIN_PACS",
    **kw: object,
) -> DicomEvent:
    return DicomEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(t & 0xFFFF),
        src_ip=src,
        src_port=40001,
        dest_ip=dst,
        dest_port=11112,
        proto="TCP",
        app_proto="dicom",
        dicom=DicomInfo(
            type="command",
            calling_ae=calling,
            called_ae=called,
            command=DicomCommand(
                command=cmd,
                message_id=1,
                answered=True,
                issuer=str(kw.pop("issuer", "requestor")),
                **kw,  # type: ignore[arg-type]
            ),
        ),
    )


def find(t: int, level: str, keys: list[DicomQueryKey], matches: int, **kw: object) -> DicomEvent:
    sop = PATIENT_FIND if level == "PATIENT" else STUDY_FIND
    return command(
        t,
        "C-FIND",
        sop_class=kw.pop("sop_class", sop),
        query_level=level,
        query_keys=keys,
        pending_responses=matches,
        status=0,
        status_category="success",
        **kw,
    )


def move(t: int, dest_ae: str, completed: int, **kw: object) -> DicomEvent:
    return command(
        t,
        "C-MOVE",
        sop_class=STUDY_MOVE,
        move_destination=dest_ae,
        query_level="STUDY",
        sub_operations=DicomSubOperations(remaining=0, completed=completed, failed=0, warning=0),
        **{"status": 0, "status_category": "success", **kw},
    )


def hl7(
    t: int,
    ack: str | None = "AA",
    src: str = "10.2.0.10",
    dst: str = "10.2.0.2",
    app: str = "LAB_SYS",
    fac: str = "CHU_LAB",
    mtype: str = "ORU",
    trigger: str = "R01",
    port: int = 2575,
) -> HL7Event:
    return HL7Event(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(99),
        src_ip=src,
        src_port=51000,
        dest_ip=dst,
        dest_port=port,
        proto="TCP",
        app_proto="hl7",
        hl7=HL7Info(
            acked=ack is not None,
            message_type=mtype,
            trigger_event=trigger,
            control_id=f"C{t}",
            sending_application=app,
            sending_facility=fac,
            receiving_application="ENGINE",
            receiving_facility="CHU",
            segments=["MSH", "PID", "OBR", "OBX"],
            ack_code=ack,
            ack_message_type="ACK" if ack else None,
            ack_error_segment=ack in ("AE", "AR"),
        ),
    )


def key(name: str, universal: bool = False, wildcard: bool = False) -> DicomQueryKey:
    return DicomQueryKey(keyword=name, universal=universal, wildcard=wildcard)
