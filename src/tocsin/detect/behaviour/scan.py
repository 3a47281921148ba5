"""Port scans: one source probing many ports of one host (`behaviour.port_scan`).

Reads ended flows. A probe is a flow the source opened that carried no data back: TCP with
no answer, a RST answer or one bare SYN/ACK (an open port the prober dropped), whatever flags
the probe had (SYN, FIN, NULL, XMAS, ACK...), or UDP with no answer on the flow (closed UDP
ports answer with an ICMP port unreachable, which the flow table keeps as a flow of its own).
Per (source, target) pair the detector keeps the distinct destination ports probed within
`window_s`; at `min_ports` it alerts once, with the ports, the probe type and the time span
as evidence. Pairs live in a `BoundedMap` of `max_pairs`;
a pair reaches it only once it probed two distinct ports (`_fanout.Repeats`, NumPy), so a
spoofed-source flood costs no Python per flow.

Probes no TCP stack sends by itself (NULL, FIN without ACK, XMAS: nmap's -sN/-sF/-sX) are a
scan at `min_stealth_ports` distinct ports already.

Near misses it does not alert on: a client retrying one port many times, a host talking to
a dozen services that answer (answered flows are not probes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from tocsin.detect.behaviour._fanout import Repeats, mix
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN, TH_URG, FlowBatch
from tocsin.output.timefmt import eve_timestamp

_PORT_SAMPLE = 20  # ports listed in the evidence
_STEALTH = frozenset({"NULL", "FIN", "XMAS"})


def probe_type(proto: int, flags: int) -> str:
    """The scan technique of one probe, nmap's names: SYN, FIN, NULL, XMAS, ACK, CONNECT, UDP."""
    if proto == 17:
        return "UDP"
    if proto != 6:
        return "OTHER"
    f = flags & (TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK | TH_URG)
    if f == 0:
        return "NULL"
    if f & (TH_FIN | TH_PSH | TH_URG) == (TH_FIN | TH_PSH | TH_URG) and not f & TH_SYN:
        return "XMAS"
    if f == TH_FIN:
        return "FIN"
    if f == TH_ACK:
        return "ACK"
    if f & TH_SYN and f & TH_ACK:
        return "CONNECT"
    if f & TH_SYN:
        return "SYN"
    return "OTHER"


def probes(flows: FlowBatch) -> npt.NDArray[np.bool_]:
    """Mask of flows that are probes: TCP/UDP, no payload back (nothing, a RST, or one bare
    SYN/ACK that the prober then dropped — an open port of a half-open scan)."""
    tcp = flows.proto == 6
    udp = flows.proto == 17
    tc = flows.tcp_flags_tc
    bare_synack = (flows.pkts_tc == 1) & (tc == (TH_SYN | TH_ACK))
    no_data_back = (flows.pkts_tc == 0) | (tcp & (((tc & TH_RST) != 0) | bare_synack))
    small = flows.pkts_ts <= 3
    mask: npt.NDArray[np.bool_] = (tcp | udp) & no_data_back & small
    return mask


@dataclass(frozen=True, slots=True)
class PortScanConfig:
    min_ports: int = 20  # distinct ports probed on one host
    # probes no TCP stack sends on its own (NULL, FIN without ACK, XMAS): a few are a scan
    min_stealth_ports: int = 3
    window_s: int = 300
    max_pairs: int = 50_000


@dataclass(slots=True)
class _Pair:
    first_ts: int
    last_ts: int
    ports: set[int] = field(default_factory=set)
    types: dict[str, int] = field(default_factory=dict)
    stealth: set[int] = field(default_factory=set)
    alerted: bool = False


class PortScan(Detector):
    """Vertical port scan: many ports of one host, from one source."""

    info = DetectorInfo(
        name="behaviour.port_scan",
        signature_id=8_000_001,
        signature="TOCSIN BEHAVIOUR port scan: many ports of one host probed",
        category="Detection of a Network Scan",
        technique="T1046",
        tactic="TA0007",
        severity=2,
        confidence="high",
        description="One source probes many TCP/UDP ports of one host (no data back).",
    )
    subscribes = frozenset({"flow"})
    Config = PortScanConfig

    def __init__(self, config: PortScanConfig | None = None) -> None:
        super().__init__(config or PortScanConfig())
        self.cfg: PortScanConfig = self.config
        self.repeats = Repeats(self.cfg.window_s * 1_000_000)
        self.pairs: BoundedMap[tuple[int, int, int, int, int], _Pair] = BoundedMap(
            self.cfg.max_pairs
        )

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        rows = np.flatnonzero(probes(flows))
        if rows.size == 0:
            return
        # only pairs that probed two distinct ports within the window reach Python (a
        # spoofed SYN flood is one probe per pair); `prev`: the pair's port before that
        pk = (flows.proto[rows].astype(np.uint64) << np.uint64(16)) | flows.dport[rows]
        group = mix(
            flows.ipver[rows].astype(np.uint64),
            flows.src_hi[rows],
            flows.src_lo[rows],
            flows.dst_hi[rows],
            flows.dst_lo[rows],
        )
        keep, prev_port = self.repeats.filter(group, pk | np.uint64(1 << 32), flows.first_ts[rows])
        rows, prev_port = rows[keep], prev_port[keep]
        if rows.size == 0:
            return
        window = self.cfg.window_s * 1_000_000
        cols = (
            flows.ipver[rows].tolist(),
            flows.src_lo[rows].tolist(),
            flows.src_hi[rows].tolist(),
            flows.dst_lo[rows].tolist(),
            flows.dst_hi[rows].tolist(),
            flows.dport[rows].tolist(),
            flows.first_ts[rows].tolist(),
            flows.proto[rows].tolist(),
            flows.tcp_flags_ts[rows].tolist(),
            prev_port.tolist(),
        )
        for k, (ver, slo, shi, dlo, dhi, dport, ts, proto, flags, before) in enumerate(
            zip(*cols, strict=True)
        ):
            key = (ver, shi, slo, dhi, dlo)
            p = self.pairs.get_or_create(key, partial(_Pair, ts, ts), now=ts)
            if ts - p.first_ts > window:
                p.first_ts, p.ports, p.types, p.alerted = ts, set(), {}, False
                p.stealth = set()
            p.last_ts = max(p.last_ts, ts)
            if before and len(p.ports) < 65_536:
                p.ports.add(before & 0xFFFF_FFFF)  # the pair's first probe
            if len(p.ports) < 65_536:
                p.ports.add((proto << 16) | dport)
            t = probe_type(proto, flags)
            p.types[t] = p.types.get(t, 0) + 1
            if t in _STEALTH and len(p.stealth) < 1024:
                p.stealth.add(dport)
            if not p.alerted and (
                len(p.ports) >= self.cfg.min_ports or len(p.stealth) >= self.cfg.min_stealth_ports
            ):
                p.alerted = True
                i = int(rows[k])
                self._report(flows, i, p, ctx)

    def _report(self, flows: FlowBatch, i: int, p: _Pair, ctx: Context) -> None:
        src, dst = flows.src_ip(i), flows.dest_ip(i)
        stealthy = len(p.ports) < self.cfg.min_ports
        counts = {t: n for t, n in p.types.items() if t in _STEALTH} if stealthy else p.types
        main = max(counts, key=lambda t: counts[t])
        ports = sorted(x & 0xFFFF for x in p.ports)
        ctx.emit(
            Finding(
                key=f"{src}>{dst}",
                ts_us=p.last_ts,
                src_ip=src,
                dest_ip=dst,
                proto="UDP" if main == "UDP" else "TCP",
                signature=(
                    "TOCSIN BEHAVIOUR stealth port scan: NULL/FIN/XMAS probes to one host"
                    if stealthy
                    else f"TOCSIN BEHAVIOUR {main} port scan: many ports of one host probed"
                ),
                evidence={
                    "ports_probed": len(p.ports),
                    "scan_type": main,
                    "probe_types": dict(sorted(p.types.items())),
                    "ports_sample": ports[:_PORT_SAMPLE],
                    "first_seen": eve_timestamp(p.first_ts),
                    "last_seen": eve_timestamp(p.last_ts),
                    "threshold": (
                        f"{self.cfg.min_stealth_ports} ports probed with NULL/FIN/XMAS "
                        f"packets in {self.cfg.window_s} s"
                        if stealthy
                        else f"{self.cfg.min_ports} ports in {self.cfg.window_s} s"
                    ),
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.pairs.evicted, "tracked": len(self.pairs)}


DETECTORS = (PortScan,)
