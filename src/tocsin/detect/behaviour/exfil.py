"""Volume exfiltration: an internal host sending far more than usual to a new external
destination (`behaviour.exfil`).

Reads ended flows initiated by an internal host towards an external one and counts the
bytes the host sent (`bytes_ts`), by tumbling windows of `window_s` per host. Per host it
keeps an EWMA of its outbound bytes per window (`alpha`; windows without traffic decay it)
and the first time it was seen talking to each destination (pairs in a `BoundedMap` of
`max_history`). A destination is new while its first contact falls in the current window.
(A long flow that is the first contact counts as new too.) The host alerts for a
destination when, within one window, the bytes sent to that new
destination reach `min_bytes` and `factor` × the host's baseline (the EWMA before this
window). Bytes count when the flow ends: a transfer spread over flows adds up, one long
transfer counts at its end.

Near misses it deliberately ignores: a big download (bytes towards the client, not sent by
it); a backup or transfer to an internal server (the destination is internal); uploads to a
destination the host already used in an earlier window (a nightly off-site backup alerts
the first night only); connections opened from outside (a hospital's web server serving
files is not exfiltrating); hosts whose usual volume is already that high (baseline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
MB = 1_000_000


@dataclass(frozen=True, slots=True)
class ExfilConfig:
    window_s: int = 3600
    min_bytes: int = 100 * MB  # sent to one new destination within one window
    factor: float = 10.0  # and at least this many times the host's baseline per window
    alpha: float = 0.2  # EWMA weight of the last window
    max_hosts: int = 50_000
    max_history: int = 500_000  # (host, destination) first-contact times
    max_dests: int = 10_000  # new destinations counted per host and window


@dataclass(slots=True)
class _Host:
    window_start: int
    ewma: float = 0.0
    windows: int = 0  # closed windows in the baseline
    sent: int = 0  # bytes this window, every destination
    by_dest: dict[str, int] = field(default_factory=dict)  # new destinations, this window
    ports: dict[str, set[int]] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)


class Exfil(Detector):
    """Much more data than usual sent by a host to a destination it never used before."""

    info = DetectorInfo(
        name="behaviour.exfil",
        signature_id=8_000_130,
        signature="TOCSIN BEHAVIOUR exfiltration: large upload to a new external destination",
        category="Potential Corporate Privacy Violation",
        technique="T1048",
        tactic="TA0010",
        severity=1,
        confidence="medium",
        description="An internal host uploads far more than its usual volume (and at least "
        "100 MB in an hour by default) to an external destination it had never contacted.",
    )
    subscribes = frozenset({"flow"})
    Config = ExfilConfig

    def __init__(self, config: ExfilConfig | None = None) -> None:
        super().__init__(config or ExfilConfig())
        self.cfg: ExfilConfig = self.config
        self.hosts: BoundedMap[str, _Host] = BoundedMap(self.cfg.max_hosts)
        self.seen: BoundedMap[tuple[str, str], int] = BoundedMap(self.cfg.max_history)
        self.dropped = 0  # flows to a new destination past `max_dests`

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        mask = ctx.home.internal_v(flows.ipver, flows.src_hi, flows.src_lo)
        mask &= ~ctx.home.internal_v(flows.ipver, flows.dst_hi, flows.dst_lo)
        mask &= flows.bytes_ts > 0
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        rows = rows[np.argsort(flows.last_ts[rows], kind="stable")]
        cols = (
            rows.tolist(),
            flows.first_ts[rows].tolist(),
            flows.last_ts[rows].tolist(),
            flows.bytes_ts[rows].tolist(),
            flows.dport[rows].tolist(),
        )
        for i, first, last, sent, dport in zip(*cols, strict=True):
            self._flow(flows, i, first, last, sent, dport, ctx)

    def _flow(
        self, flows: FlowBatch, i: int, first: int, last: int, sent: int, dport: int, ctx: Context
    ) -> None:
        cfg = self.cfg
        src, dst = flows.src_ip(i), flows.dest_ip(i)
        h = self.hosts.get_or_create(src, partial(_Host, first))
        self._roll(h, last)
        first_contact = self.seen.get_or_create((src, dst), partial(int, first))
        if first < first_contact:
            self.seen.pop((src, dst))
            first_contact = self.seen.get_or_create((src, dst), partial(int, first))
        h.sent += sent
        new = first_contact >= h.window_start or first_contact == first  # this flow: 1st
        if not new or dst in h.alerted:
            return
        if dst not in h.by_dest and len(h.by_dest) >= cfg.max_dests:
            self.dropped += 1
            return
        to_dest = h.by_dest[dst] = h.by_dest.get(dst, 0) + sent
        ports = h.ports.setdefault(dst, set())
        if len(ports) < 10:
            ports.add(dport)
        baseline = h.ewma if h.windows else 0.0
        if to_dest >= cfg.min_bytes and to_dest >= cfg.factor * baseline:
            h.alerted.add(dst)
            ctx.emit(
                Finding(
                    key=f"{src}>{dst}",
                    ts_us=last,
                    src_ip=src,
                    dest_ip=dst,
                    dest_port=dport,
                    proto="TCP" if int(flows.proto[i]) == 6 else "UDP",
                    app_proto=flows.app(i) or None,
                    evidence={
                        "bytes_sent": to_dest,
                        "destination": dst,
                        "destination_ports": sorted(ports),
                        "host_bytes_sent_window": h.sent,
                        "baseline_bytes_per_window": round(baseline),
                        "baseline_windows": h.windows,
                        "window_s": cfg.window_s,
                        "window_start": eve_timestamp(h.window_start),
                        "destination_first_seen": eve_timestamp(first_contact),
                        "threshold": f">= {cfg.min_bytes} bytes and >= {cfg.factor} x "
                        f"baseline to a new destination in {cfg.window_s} s",
                    },
                )
            )

    def _roll(self, h: _Host, ts: int) -> None:
        """Close the host's windows that ended before `ts` into its baseline."""
        w = self.cfg.window_s * S
        if ts < h.window_start + w:
            return
        a = self.cfg.alpha
        n = (ts - h.window_start) // w
        h.ewma = h.sent if h.windows == 0 else a * h.sent + (1 - a) * h.ewma
        h.ewma *= (1 - a) ** min(n - 1, 64)  # windows without traffic
        h.windows += int(n)
        h.window_start += int(n) * w
        h.sent, h.by_dest, h.ports, h.alerted = 0, {}, {}, set()

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.hosts.evicted + self.seen.evicted,
            "tracked": len(self.hosts),
            "dropped": self.dropped,
        }


DETECTORS = (Exfil,)
