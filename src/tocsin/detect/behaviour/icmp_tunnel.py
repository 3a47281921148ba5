"""ICMP tunnels: data carried in echo requests and replies (`behaviour.icmp_tunnel`).

Reads ended ICMP and ICMPv6 flows whose type is echo (8/0, 128/129). A genuine ping sends
one payload size, and each reply echoes its request byte for byte; a tunnel (ptunnel,
icmpsh, icmptunnel, hans) puts different data each way. From the flow's counters alone:

- **uneven sizes**: a direction's bytes are not a multiple of its packets (its packets are
  not all one size), or the two directions' mean packet sizes differ by more than
  `max_mean_gap` bytes (replies do not mirror requests);
- **volume**: at least `min_bytes` in the flow, whatever the sizes.

A flow alerts on uneven sizes when it has at least `min_pkts` packets and
`min_uneven_bytes` bytes, or on volume alone. Evidence: packets and bytes each way, mean
sizes, which sign fired, duration.

Near misses it deliberately ignores: `ping` with its default size however long it runs
(even sizes, replies mirror requests), `ping -s 1400` a few times (few packets, even sizes),
a ping with some replies lost (the mean sizes still match), ICMP errors (not echo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tocsin.detect.behaviour._ports import PortSet
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

_ECHO_TYPES = (8, 0, 128, 129)
_ECHO = PortSet(_ECHO_TYPES)


@dataclass(frozen=True, slots=True)
class IcmpTunnelConfig:
    min_pkts: int = 50  # packets (both ways) of an uneven-size echo flow
    min_uneven_bytes: int = 20_000
    max_mean_gap: float = 2.0  # bytes between the mean sizes of requests and replies
    min_bytes: int = 10_000_000  # an echo flow this big alerts whatever its sizes


class IcmpTunnel(Detector):
    """Echo flows whose sizes or volume show carried data."""

    info = DetectorInfo(
        name="behaviour.icmp_tunnel",
        signature_id=8_000_140,
        signature="TOCSIN BEHAVIOUR ICMP tunnel: echo traffic carrying data",
        category="Potential Corporate Privacy Violation",
        technique="T1095",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description="ICMP echo flows with many packets of varying sizes, replies that do not "
        "mirror requests, or a large volume: a tunnel through ping.",
    )
    subscribes = frozenset({"flow"})
    Config = IcmpTunnelConfig

    def __init__(self, config: IcmpTunnelConfig | None = None) -> None:
        super().__init__(config or IcmpTunnelConfig())
        self.cfg: IcmpTunnelConfig = self.config
        self.flows_seen = 0

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        cfg = self.cfg
        echo = ((flows.proto == 1) | (flows.proto == 58)) & _ECHO.of(flows.sport)
        rows = np.flatnonzero(echo)
        if rows.size == 0:
            return
        self.flows_seen += int(rows.size)
        pts, ptc = flows.pkts_ts[rows].astype(np.int64), flows.pkts_tc[rows].astype(np.int64)
        bts, btc = flows.bytes_ts[rows].astype(np.int64), flows.bytes_tc[rows].astype(np.int64)
        uneven_ts = (pts > 0) & (bts % np.maximum(pts, 1) != 0)
        uneven_tc = (ptc > 0) & (btc % np.maximum(ptc, 1) != 0)
        mean_ts = bts / np.maximum(pts, 1)
        mean_tc = btc / np.maximum(ptc, 1)
        gap = np.where((pts > 0) & (ptc > 0), np.abs(mean_ts - mean_tc), 0.0)
        uneven = uneven_ts | uneven_tc | (gap > cfg.max_mean_gap)
        big = (bts + btc) >= cfg.min_bytes
        hit = (uneven & (pts + ptc >= cfg.min_pkts) & (bts + btc >= cfg.min_uneven_bytes)) | big
        for k in np.flatnonzero(hit).tolist():
            i = int(rows[k])
            signs = []
            if uneven_ts[k] or uneven_tc[k]:
                signs.append("varying_sizes")
            if gap[k] > cfg.max_mean_gap:
                signs.append("replies_differ")
            if big[k]:
                signs.append("volume")
            src, dst = flows.src_ip(i), flows.dest_ip(i)
            ctx.emit(
                Finding(
                    key=f"{src}>{dst}",
                    ts_us=int(flows.last_ts[i]),
                    src_ip=src,
                    dest_ip=dst,
                    proto="ICMP" if int(flows.proto[i]) == 1 else "IPv6-ICMP",
                    flow_id=int(flows.flow_id[i]),
                    evidence={
                        "signs": signs,
                        "pkts_toserver": int(pts[k]),
                        "pkts_toclient": int(ptc[k]),
                        "bytes_toserver": int(bts[k]),
                        "bytes_toclient": int(btc[k]),
                        "mean_size_toserver": round(float(mean_ts[k]), 1),
                        "mean_size_toclient": round(float(mean_tc[k]), 1),
                        "first_seen": eve_timestamp(int(flows.first_ts[i])),
                        "last_seen": eve_timestamp(int(flows.last_ts[i])),
                        "threshold": f"uneven sizes with >= {cfg.min_pkts} packets and >= "
                        f"{cfg.min_uneven_bytes} bytes, or >= {cfg.min_bytes} bytes",
                    },
                )
            )

    def counters(self) -> dict[str, int]:
        return {"echo_flows": self.flows_seen}


DETECTORS = (IcmpTunnel,)
