"""A detector's `Finding` as an EVE `alert`: the same shape as a signature's.

gid 8 (`TOCSIN_DETECTOR_GID`), the detector's signature id, its text, category and severity;
`metadata` names the detector, the ATT&CK technique and tactic and the confidence (the keys
Emerging Threats rules use), `source`/`target` say who acted on whom, and `context` carries the
evidence. Valid against Suricata's EVE schema (`alert.context` is its free-form object).
"""

from __future__ import annotations

from tocsin.detect.correlate.plugin import TOCSIN_DETECTOR_GID, DetectorInfo, Finding
from tocsin.model.events import AlertEndpoint, AlertEvent, AlertInfo
from tocsin.model.ids import FlowId
from tocsin.output.timefmt import eve_timestamp


def to_alert(info: DetectorInfo, f: Finding) -> AlertEvent:
    meta: dict[str, list[str]] = {
        "detector": [info.name],
        "mitre_technique_id": [info.technique],
        "mitre_tactic_id": [info.tactic],
        "confidence": [f.confidence or info.confidence],
    }
    meta.update(f.metadata)
    ip_v = None
    if f.src_ip is not None:
        ip_v = 6 if ":" in f.src_ip else 4
    return AlertEvent(
        timestamp=eve_timestamp(f.ts_us),
        alert=AlertInfo(
            action="allowed",
            gid=TOCSIN_DETECTOR_GID,
            signature_id=f.signature_id or info.signature_id,
            rev=1,
            signature=f.signature or info.signature,
            category=info.category,
            severity=f.severity or info.severity,
            metadata=meta,
            source=AlertEndpoint(f.src_ip, f.src_port) if f.src_ip else None,
            target=AlertEndpoint(f.dest_ip, f.dest_port) if f.dest_ip else None,
            context={"evidence": f.evidence},
        ),
        flow_id=FlowId(f.flow_id) if f.flow_id is not None else None,
        src_ip=f.src_ip,
        src_port=f.src_port,
        dest_ip=f.dest_ip,
        dest_port=f.dest_port,
        proto=f.proto,
        ip_v=ip_v,
        app_proto=f.app_proto,
    )
