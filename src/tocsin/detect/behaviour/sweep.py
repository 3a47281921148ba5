"""Horizontal sweeps: one source probing one port across many hosts (`behaviour.host_sweep`).

Reads ended flows. A probe is a TCP/UDP flow the source opened that got no data back
(`scan.probes`: no answer, a RST, or a bare SYN/ACK). Per (source, protocol, port) the
detector keeps the distinct hosts probed within `window_s`; at `min_hosts` it alerts once per
window — a worm looking for SMB (445, WannaCry), RDP (3389) or a scanner looking for one
service across a /16. Evidence: the port, the number of hosts (and how many answered), a
sample, the span, the other ports the source swept meanwhile. Broadcast and multicast
destinations are not hosts. ICMP sweeps (ping sweeps) are `behaviour.icmp_scan`'s.

Near misses it does not alert on: a client whose connections to many servers are answered
(web browsing, a backup server), a monitoring station polling a few dozen devices that
reply, a source probing many hosts on many different ports but fewer than `min_hosts` each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tocsin.detect.behaviour._fanout import Fanout, Spread, SpreadKey
from tocsin.detect.behaviour.scan import probe_type, probes
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.model.flows import TH_RST, FlowBatch
from tocsin.output.timefmt import eve_timestamp

_SAMPLE = 20


@dataclass(frozen=True, slots=True)
class HostSweepConfig:
    min_hosts: int = 30  # distinct hosts probed on one port by one source
    window_s: int = 300
    max_sources: int = 50_000  # (source, port) pairs tracked


class HostSweep(Detector):
    """One port of many hosts, probed by one source."""

    info = DetectorInfo(
        name="behaviour.host_sweep",
        signature_id=8_000_002,
        signature="TOCSIN BEHAVIOUR host sweep: one port probed across many hosts",
        category="Detection of a Network Scan",
        technique="T1046",
        tactic="TA0007",
        severity=2,
        confidence="high",
        description="One source probes the same TCP/UDP port on many hosts (no data back).",
    )
    subscribes = frozenset({"flow"})
    Config = HostSweepConfig

    def __init__(self, config: HostSweepConfig | None = None) -> None:
        super().__init__(config or HostSweepConfig())
        self.cfg: HostSweepConfig = self.config
        self.fan = Fanout(self.cfg.max_sources, self.cfg.window_s, self.cfg.min_hosts)

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        mask = probes(flows) & ~_group_address(flows)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        keys = (flows.proto[rows].astype(np.int64) << 16) | flows.dport[rows].astype(np.int64)
        answered = (flows.pkts_tc[rows] > 0) & ((flows.tcp_flags_tc[rows] & TH_RST) == 0)
        for key, s, i in self.fan.add(flows, rows, keys, answered):
            self._report(flows, i, key, s, ctx)

    def _report(self, flows: FlowBatch, i: int, key: SpreadKey, s: Spread, ctx: Context) -> None:
        ver, shi, slo, k = key
        proto, port = k >> 16, k & 0xFFFF
        src = flows.src_ip(i)
        others = sorted(
            kk & 0xFFFF
            for (v, h, lo, kk), sp in self.fan.spreads.items()
            if (v, h, lo) == (ver, shi, slo) and kk != k and s.first_ts <= sp.last_ts
        )
        ctx.emit(
            Finding(
                key=f"{src}/{'TCP' if proto == 6 else 'UDP'}/{port}",
                ts_us=s.last_ts,
                src_ip=src,
                dest_port=port,
                proto="TCP" if proto == 6 else "UDP",
                evidence={
                    "port": port,
                    "probe_type": probe_type(int(flows.proto[i]), int(flows.tcp_flags_ts[i])),
                    "hosts_probed": len(s.targets),
                    "hosts_answered": len(s.answered),
                    "probes": s.probes,
                    "hosts_sample": s.sample(ver, _SAMPLE),
                    "other_ports_swept": others[:_SAMPLE],
                    "first_seen": eve_timestamp(s.first_ts),
                    "last_seen": eve_timestamp(s.last_ts),
                    "threshold": f"{self.cfg.min_hosts} hosts in {self.cfg.window_s} s",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.fan.evicted(), "tracked": len(self.fan)}


def _group_address(flows: FlowBatch) -> np.ndarray:
    """Rows whose destination is IPv4 broadcast/multicast or IPv6 multicast."""
    lo = flows.dst_lo & np.uint64(0xFFFF_FFFF)
    v4 = flows.ipver == 4
    last = lo & np.uint64(0xFF)
    mcast4 = (lo >> np.uint64(28)) == np.uint64(0xE)
    bcast4 = (lo == np.uint64(0xFFFF_FFFF)) | (last == np.uint64(0xFF))
    mcast6 = (flows.dst_hi >> np.uint64(56)) == np.uint64(0xFF)
    out: np.ndarray = np.where(v4, mcast4 | bcast4, mcast6)
    return out


DETECTORS = (HostSweep,)
