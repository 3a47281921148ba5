"""ICMP scans: one source sending ICMP requests to many hosts (`behaviour.icmp_scan`).

Reads ended flows. The flow table keys ICMP flows by (type, counterpart type), and the flow's
`sport` is the initiator's ICMP type: a flow whose initiator sent an echo (8; ICMPv6 128),
timestamp (13), information (15) or address-mask (17) request is a probe. Per (source, type)
the detector keeps the distinct hosts probed within `window_s` and alerts once per window at

- `min_hosts_bare` hosts when the probes carry no payload (echo requests of at most
  `bare_bytes` per packet on the wire — nmap's `-sn`/`-PE` host discovery sends empty echo
  requests, where ping, Windows and monitoring tools send 32 to 56 bytes), or for timestamp,
  information and address-mask requests (nmap `-PP`/`-PM`, OS probes: nothing else sends
  them to many hosts);
- `min_hosts` hosts for ordinary echo requests (a ping sweep with a tool's usual payload).

Evidence: the ICMP type, hosts probed and answered (hosts found alive), a sample, the span,
whether the probes were empty. Broadcast and multicast destinations count as hosts here (a
sweep pings x.x.x.0 and x.x.x.255 too).

Near misses it does not alert on: a monitoring station pinging a few dozen devices with a
normal payload (below `min_hosts`; raise it where a network monitor pings hundreds), a host
pinging its gateway repeatedly (one target), ICMP errors (they answer other flows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tocsin.detect.behaviour._fanout import Fanout, Spread, SpreadKey
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

_SAMPLE = 20
ICMP_REQUESTS = {
    (1, 8): "echo",
    (1, 13): "timestamp",
    (1, 15): "information",
    (1, 17): "address mask",
    (58, 128): "echo",
}


@dataclass(frozen=True, slots=True)
class IcmpScanConfig:
    min_hosts: int = 50  # echo requests with a payload
    min_hosts_bare: int = 10  # empty echo requests; timestamp/info/mask requests
    bare_bytes: int = 64  # per packet on the wire: 42 bytes captured, 60 padded, ≤ 64 tagged
    window_s: int = 120
    max_sources: int = 50_000


class IcmpScan(Detector):
    """ICMP host discovery: echo/timestamp/mask requests to many hosts from one source."""

    info = DetectorInfo(
        name="behaviour.icmp_scan",
        signature_id=8_000_003,
        signature="TOCSIN BEHAVIOUR ICMP sweep: one source pinging many hosts",
        category="Detection of a Network Scan",
        technique="T1018",
        tactic="TA0007",
        severity=2,
        confidence="high",
        description="One source sends ICMP echo, timestamp or address-mask requests to many "
        "hosts (host discovery).",
    )
    subscribes = frozenset({"flow"})
    Config = IcmpScanConfig

    def __init__(self, config: IcmpScanConfig | None = None) -> None:
        super().__init__(config or IcmpScanConfig())
        self.cfg: IcmpScanConfig = self.config
        self.fan = Fanout(
            self.cfg.max_sources,
            self.cfg.window_s,
            min(self.cfg.min_hosts, self.cfg.min_hosts_bare),
        )

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        icmp4 = flows.proto == 1
        icmp6 = flows.proto == 58
        t = flows.sport
        echo = (icmp4 & (t == 8)) | (icmp6 & (t == 128))
        other = icmp4 & ((t == 13) | (t == 15) | (t == 17))
        rows = np.flatnonzero((echo | other) & (flows.pkts_ts > 0))
        if rows.size == 0:
            return
        per_pkt = flows.bytes_ts[rows] // flows.pkts_ts[rows]
        bare = other[rows] | (per_pkt <= self.cfg.bare_bytes)
        # an empty echo and a normal echo are different probes: keys apart
        keys = (flows.proto[rows].astype(np.int64) << 16) | (t[rows].astype(np.int64) << 1) | bare
        mins = np.where(bare, self.cfg.min_hosts_bare, self.cfg.min_hosts).astype(np.int64)
        answered = flows.pkts_tc[rows] > 0
        for key, s, i in self.fan.add(flows, rows, keys, answered, mins):
            self._report(flows, i, key, s, ctx)

    def _report(self, flows: FlowBatch, i: int, key: SpreadKey, s: Spread, ctx: Context) -> None:
        ver, _, _, k = key
        proto, itype, bare = k >> 16, (k >> 1) & 0xFF, bool(k & 1)
        kind = ICMP_REQUESTS.get((proto, itype), str(itype))
        src = flows.src_ip(i)
        need = self.cfg.min_hosts_bare if bare else self.cfg.min_hosts
        sig = (
            f"TOCSIN BEHAVIOUR ICMP {kind} sweep: one source probing many hosts"
            if kind != "echo"
            else None
        )
        ctx.emit(
            Finding(
                key=f"{src}/{proto}/{itype}",
                ts_us=s.last_ts,
                src_ip=src,
                proto="ICMP" if proto == 1 else "IPv6-ICMP",
                signature=sig,
                evidence={
                    "icmp_type": itype,
                    "request": kind,
                    "empty_probes": bare,
                    "hosts_probed": len(s.targets),
                    "hosts_answered": len(s.answered),
                    "probes": s.probes,
                    "hosts_sample": s.sample(ver, _SAMPLE),
                    "first_seen": eve_timestamp(s.first_ts),
                    "last_seen": eve_timestamp(s.last_ts),
                    "threshold": f"{need} hosts in {self.cfg.window_s} s",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.fan.evicted(), "tracked": len(self.fan)}


DETECTORS = (IcmpScan,)
