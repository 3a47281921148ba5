"""DICOM across the site boundary (`medical.dicom_external`).

Reads `dicom` events. Images stay on site (HDS): a DICOM association between an address in
HOME_NET and one outside it is either an exposed PACS reached from the Internet (inbound) or a
system sending studies out (outbound).

- sid 8_000_400 (severity 2): an association (accepted, rejected or unanswered) crossing the
  boundary; key the (internal, external) pair; evidence: direction, AE titles, status, the
  SOP classes proposed (names, capped), reject reason.
- sid 8_000_401 (severity 1, high confidence): a command that **carries data out**: a C-STORE
  sent to the external side (requestor's C-STORE to an external acceptor, or an acceptor's
  C-GET sub-operation to an external requestor), or a C-MOVE / C-GET asked by an external
  requestor of an internal archive; key the pair; evidence: command, SOP class, status,
  data set bytes, move destination AE, sub-operation counts.

Near misses it ignores: associations with both ends inside HOME_NET (a modality storing to the
PACS), and with both ends outside it (transit traffic the site does not own); a C-FIND or
C-ECHO from outside raises only the association finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.model.dicom import DicomCommand, DicomEvent

SID_ASSOCIATION = 8_000_400
SID_DATA_OUT = 8_000_401

_CONTEXT_SAMPLE = 8


@dataclass(frozen=True, slots=True)
class DicomExternalConfig:
    report_associations: bool = True  # the association finding (the data one always runs)


def data_out(cmd: DicomCommand, src_external: bool) -> bool:
    """Does this command move data sets toward the external side? (`src` is the requestor)"""
    if cmd.command == "C-STORE":
        # the requestor's C-STORE goes to the acceptor; an acceptor's one (C-GET) back
        return (cmd.issuer == "requestor") != src_external
    if cmd.command in ("C-MOVE", "C-GET"):
        return cmd.issuer == "requestor" and src_external
    return False


class DicomExternal(Detector):
    """DICOM association or data transfer between HOME_NET and an outside address."""

    info = DetectorInfo(
        name="medical.dicom_external",
        signature_id=SID_ASSOCIATION,
        signature="TOCSIN MEDICAL DICOM association across the site boundary",
        category="Potential Corporate Privacy Violation",
        technique="T1048",
        tactic="TA0010",
        severity=2,
        confidence="high",
        description="A DICOM association between HOME_NET and an external address; severity 1 "
        "when C-STORE/C-MOVE/C-GET carry images out.",
    )
    subscribes = frozenset({"dicom"})
    Config = DicomExternalConfig

    def __init__(self, config: DicomExternalConfig | None = None) -> None:
        super().__init__(config or DicomExternalConfig())
        self.cfg: DicomExternalConfig = self.config

    def on_event(self, ev: DicomEvent, ctx: Context) -> None:
        src_in, dst_in = ctx.home.internal(ev.src_ip), ctx.home.internal(ev.dest_ip)
        if src_in == dst_in:
            return
        d = ev.dicom
        inside, outside = (ev.src_ip, ev.dest_ip) if src_in else (ev.dest_ip, ev.src_ip)
        base: dict[str, Any] = {
            "direction": "outbound" if src_in else "inbound",
            "internal": inside,
            "external": outside,
            "calling_ae": d.calling_ae,
            "called_ae": d.called_ae,
        }
        ts = event_us(ev, ctx.now_us)
        if d.type == "association" and d.association is not None and self.cfg.report_associations:
            a = d.association
            names = []
            for pc in a.proposed:
                n = pc.abstract_syntax.name or pc.abstract_syntax.uid
                if n not in names:
                    names.append(n)
            base.update(status=a.status, proposed_sop_classes=names[:_CONTEXT_SAMPLE])
            if a.rejected is not None:
                base["reject_reason"] = a.rejected.reason
            self._emit(ev, ctx, ts, f"assoc:{inside}<>{outside}", base, None)
        elif d.type == "command" and d.command is not None:
            cmd = d.command
            if not data_out(cmd, not src_in):
                return
            base.update(
                command=cmd.command,
                issuer=cmd.issuer,
                sop_class=(cmd.sop_class.name or cmd.sop_class.uid) if cmd.sop_class else None,
                status_category=cmd.status_category,
                request_dataset_bytes=cmd.request_dataset_bytes,
                response_dataset_bytes=cmd.response_dataset_bytes,
            )
            if cmd.move_destination:
                base["move_destination"] = cmd.move_destination
            if cmd.sub_operations is not None:
                base["sub_operations_completed"] = cmd.sub_operations.completed
            base["threshold"] = "any data-carrying DICOM command across the boundary"
            text = f"TOCSIN MEDICAL DICOM {cmd.command} carries images out of the site"
            self._emit(ev, ctx, ts, f"data:{inside}<>{outside}", base, text)

    def _emit(
        self,
        ev: DicomEvent,
        ctx: Context,
        ts: int,
        key: str,
        evidence: dict[str, Any],
        data_text: str | None,
    ) -> None:
        ctx.emit(
            Finding.from_event(
                ev,
                key=key,
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="dicom",
                signature=data_text,
                signature_id=SID_DATA_OUT if data_text else None,
                severity=1 if data_text else None,
            )
        )


DETECTORS = (DicomExternal,)
