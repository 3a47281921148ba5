"""Unencrypted DICOM or HL7 leaving the site (`medical.cleartext_leaving`).

Reads ended flows. A flow whose application protocol is `dicom` or `hl7` (the parsers only
recognise them in clear: DICOM over TLS on 2762, or HL7 inside TLS, are `tls` flows) between
an address in HOME_NET and one outside it, with payload carried toward the external side
(bytes from the initiator when the external host is the responder, bytes back when it is the
initiator), puts health data on the Internet unencrypted. sid 8_000_460 (DICOM) and
8_000_461 (HL7); one alert per (protocol, internal, external) per re-alert window.

Vectorised: the batch is masked with NumPy (protocol, sides) before any Python per flow;
only the boundary-crossing medical flows, a handful, are looked at one by one. Evidence:
protocol, direction, server port, bytes and packets each way, flow duration, the rule.

Near misses it ignores: medical flows inside HOME_NET (the normal case), flows with no payload
toward the external side (a refused connection), TLS-wrapped DICOM/HL7.
`medical.dicom_external` reports the DICOM association itself (AE titles, commands); this
detector is the protocol-agnostic, flow-level "cleartext health data left" view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

SID_DICOM = 8_000_460
SID_HL7 = 8_000_461
_MEDICAL = ("dicom", "hl7")


@dataclass(frozen=True, slots=True)
class CleartextLeavingConfig:
    min_bytes: int = 1  # payload bytes toward the external side


class CleartextLeaving(Detector):
    """Unencrypted DICOM / HL7 flows between HOME_NET and an external address."""

    info = DetectorInfo(
        name="medical.cleartext_leaving",
        signature_id=SID_DICOM,
        signature="TOCSIN MEDICAL unencrypted DICOM leaving the site",
        category="Potential Corporate Privacy Violation",
        technique="T1048.003",
        tactic="TA0010",
        severity=2,
        confidence="high",
        description="A cleartext DICOM or HL7 flow carries data to an address outside HOME_NET.",
    )
    subscribes = frozenset({"flow"})
    Config = CleartextLeavingConfig

    def __init__(self, config: CleartextLeavingConfig | None = None) -> None:
        super().__init__(config or CleartextLeavingConfig())
        self.cfg: CleartextLeavingConfig = self.config

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        codes = [i for i, n in enumerate(flows.app_names) if n in _MEDICAL]
        if not codes or flows.n == 0:
            return
        medical = np.isin(flows.app_proto, np.array(codes, dtype=flows.app_proto.dtype))
        if not medical.any():
            return
        rows = np.flatnonzero(medical)
        sub = flows.select(rows)
        src_in = ctx.home.internal_v(sub.ipver, sub.src_hi, sub.src_lo)
        dst_in = ctx.home.internal_v(sub.ipver, sub.dst_hi, sub.dst_lo)
        out_bytes = np.where(src_in, sub.bytes_ts, sub.bytes_tc)
        hits = np.flatnonzero((src_in != dst_in) & (out_bytes >= self.cfg.min_bytes))
        for i in hits.tolist():
            self._report(sub, i, bool(src_in[i]), ctx)

    def _report(self, f: FlowBatch, i: int, src_in: bool, ctx: Context) -> None:
        app = f.app(i)
        src, dst = f.src_ip(i), f.dest_ip(i)
        inside, outside = (src, dst) if src_in else (dst, src)
        evidence = {
            "protocol": app,
            "direction": "outbound" if src_in else "inbound connection, data sent back",
            "internal": inside,
            "external": outside,
            "server_port": int(f.dport[i]),
            "bytes_toserver": int(f.bytes_ts[i]),
            "bytes_toclient": int(f.bytes_tc[i]),
            "pkts_toserver": int(f.pkts_ts[i]),
            "pkts_toclient": int(f.pkts_tc[i]),
            "first_seen": eve_timestamp(int(f.first_ts[i])),
            "last_seen": eve_timestamp(int(f.last_ts[i])),
            "threshold": f"{self.cfg.min_bytes} byte(s) of cleartext {app} to outside HOME_NET",
        }
        hl7 = app == "hl7"
        ctx.emit(
            Finding(
                key=f"{app}:{inside}>{outside}",
                ts_us=int(f.last_ts[i]),
                evidence=evidence,
                src_ip=src,
                dest_ip=dst,
                src_port=int(f.sport[i]),
                dest_port=int(f.dport[i]),
                proto="TCP",
                flow_id=int(f.flow_id[i]),
                app_proto=app,
                signature="TOCSIN MEDICAL unencrypted HL7 leaving the site" if hl7 else None,
                signature_id=SID_HL7 if hl7 else None,
            )
        )


DETECTORS = (CleartextLeaving,)
