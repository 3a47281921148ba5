"""C2 beaconing: an internal host connecting to one server at a regular rhythm
(`behaviour.beacon`), scored the way RITA does.

Reads ended flows, plus `tls` (SNI) and `http` (Host) events to learn the server name of a
flow. For each (internal source, external server) pair — the server being its IP, port and
protocol, and also, when known, its TLS SNI / HTTP host (a beacon to a CDN that rotates
addresses keeps one name) — the detector keeps the start time and the bytes sent by the
client of the last `max_conns` connections (a ring), pairs in a `BoundedMap` of `max_pairs`.

Every `tick_s` of packet time and at the end of the run, each pair with at least
`min_conns` connections and new ones since its last look is scored (each part in 0..1):

- timing: 1 − |Bowley skew| of the intervals between connection starts (start times rounded
  to the second and de-duplicated, as RITA does); 1 − MAD/median of the intervals
  (dispersion); coverage: the pair's span over the time the detector has observed, capped
  at `coverage_s` (a beacon lasts, a browsing session does not);
- data size: 1 − |Bowley skew| and 1 − MAD/median of the bytes the client sent, and
  smallness (1 − mode/65535, C2 check-ins are small);

score = mean(mean(timing), mean(size)). At `score ≥ threshold` the pair alerts, with the
interval and size statistics, every part of the score and the server name as evidence. A
beacon alerted under its server name is not alerted again under its IP address.

Near misses it deliberately ignores: a browser's bursts to one site (irregular intervals and
sizes); internal destinations (backups, the site's own servers: `include_internal`); DNS,
NTP, DHCP, NetBIOS, SNMP, syslog and other infrastructure ports (`excluded_ports`), which
are periodic by design; ICMP (see `behaviour.icmp_tunnel`); and pairs with fewer than
`min_conns` connections (20: with 10, ordinary browsing to one site reached the threshold by
chance about 0.75 times per simulated CHU-day of `tocsin exercise` background; a 30 s beacon
has 20 connections in 10 minutes). Real periodic software (update checks, telemetry, monitoring
agents) is a beacon by this measure: allow it by name in the site's tuning, not here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import numpy.typing as npt

from tocsin.detect.behaviour._ports import PortSet
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
_DEFAULT_EXCLUDED = (53, 67, 68, 123, 137, 138, 161, 162, 514, 853, 1900, 5353, 5355)


@dataclass(frozen=True, slots=True)
class BeaconConfig:
    threshold: float = 0.8  # combined score to alert
    min_conns: int = 20  # connections of one pair before it is scored
    max_conns: int = 1000  # ring of connections kept per pair
    max_pairs: int = 50_000
    coverage_s: int = 3600  # a pair observed this long (or the whole run) scores full coverage
    excluded_ports: tuple[int, ...] = _DEFAULT_EXCLUDED
    include_internal: bool = False  # also score internal → internal pairs
    max_flow_names: int = 100_000  # flow id → server name, from tls/http events


@dataclass(slots=True)
class _Pair:
    src: str
    dest_ip: str
    dest_port: int
    proto: str
    name: str  # server name, or "" for the address pair
    ts: deque[int]
    sizes: deque[int]
    first_ts: int
    last_ts: int
    dests: set[str] = field(default_factory=set)  # addresses behind a name (capped)
    new: int = 0  # connections since the last scoring
    alerted: bool = False


@dataclass(frozen=True, slots=True)
class BeaconScore:
    score: float
    ts_score: float
    ds_score: float
    ts_skew: float
    ts_mad: float
    ts_median: float
    ts_coverage: float
    ds_skew: float
    ds_mad: float
    ds_median: float
    ds_mode: int
    conns: int


def bowley(x: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """(Bowley skew, median, MAD) of `x`; skew is 0 when the quartiles coincide."""
    q1, q2, q3 = (float(v) for v in np.percentile(x, (25, 50, 75)))
    iqr = q3 - q1
    skew = 0.0 if iqr <= 0 or q2 in (q1, q3) else (q3 + q1 - 2 * q2) / iqr
    mad = float(np.median(np.abs(x - q2)))
    return skew, q2, mad


def score(starts: list[int], sizes: list[int], observed_us: int) -> BeaconScore | None:
    """RITA's beacon score of one pair (see the module docstring); None: too few intervals."""
    ts = np.unique(np.asarray(starts, dtype=np.int64) // S)
    if ts.size < 4:
        return None
    iv = np.diff(ts).astype(np.float64)
    t_skew, t_med, t_mad = bowley(iv)
    t_disp = max(0.0, 1.0 - t_mad / t_med) if t_med > 0 else 0.0
    span = float(ts[-1] - ts[0])
    cover = min(1.0, span / max(1.0, observed_us / S))
    ts_score = (1.0 - min(1.0, abs(t_skew)) + t_disp + cover) / 3
    ds = np.asarray(sizes, dtype=np.float64)
    d_skew, d_med, d_mad = bowley(ds)
    d_disp = max(0.0, 1.0 - d_mad / d_med) if d_med > 0 else 0.0
    vals, counts = np.unique(ds, return_counts=True)
    mode = int(vals[int(np.argmax(counts))])
    small = max(0.0, 1.0 - mode / 65535)
    ds_score = (1.0 - min(1.0, abs(d_skew)) + d_disp + small) / 3
    return BeaconScore(
        score=(ts_score + ds_score) / 2,
        ts_score=ts_score,
        ds_score=ds_score,
        ts_skew=t_skew,
        ts_mad=t_mad,
        ts_median=t_med,
        ts_coverage=cover,
        ds_skew=d_skew,
        ds_mad=d_mad,
        ds_median=d_med,
        ds_mode=mode,
        conns=len(starts),
    )


class Beacon(Detector):
    """Regular connections from an internal host to one external server (RITA scoring)."""

    info = DetectorInfo(
        name="behaviour.beacon",
        signature_id=8_000_100,
        signature="TOCSIN BEHAVIOUR C2 beacon: regular connections to one server",
        category="A Network Trojan was detected",
        technique="T1071",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description="An internal host connects to one external server at a regular interval "
        "with regular sizes (RITA-style timing and data-size score).",
    )
    subscribes = frozenset({"flow", "tls", "http"})
    Config = BeaconConfig
    tick_s = 300

    def __init__(self, config: BeaconConfig | None = None) -> None:
        super().__init__(config or BeaconConfig())
        self.cfg: BeaconConfig = self.config
        self._excluded = PortSet(self.cfg.excluded_ports)
        self.pairs: BoundedMap[tuple[str, ...], _Pair] = BoundedMap(self.cfg.max_pairs)
        self.names: BoundedMap[int, str] = BoundedMap(self.cfg.max_flow_names)
        self.first_seen = 0
        self.scored = 0

    def on_event(self, ev: object, ctx: Context) -> None:
        name: str | None = None
        tls = getattr(ev, "tls", None)
        if tls is not None:
            name = tls.sni
        http = getattr(ev, "http", None)
        if http is not None:
            name = http.hostname
        if name:
            fid = int(getattr(ev, "flow_id", 0))
            self.names.get_or_create(fid, partial(str, name.lower().rstrip(".")))

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        cfg = self.cfg
        mask = (flows.proto == 6) | (flows.proto == 17)
        mask &= ~self._excluded.of(flows.dport)
        mask &= ctx.home.internal_v(flows.ipver, flows.src_hi, flows.src_lo)
        if not cfg.include_internal:
            mask &= ~ctx.home.internal_v(flows.ipver, flows.dst_hi, flows.dst_lo)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        t0 = int(flows.first_ts[rows].min())
        self.first_seen = t0 if not self.first_seen else min(self.first_seen, t0)
        cols = (
            rows.tolist(),
            flows.first_ts[rows].tolist(),
            flows.bytes_ts[rows].tolist(),
            flows.dport[rows].tolist(),
            flows.proto[rows].tolist(),
            flows.flow_id[rows].tolist(),
        )
        for i, ts, size, dport, proto, fid in zip(*cols, strict=True):
            src, dst = flows.src_ip(i), flows.dest_ip(i)
            p4 = "TCP" if proto == 6 else "UDP"
            self._add((src, dst, str(dport), p4), src, dst, dport, p4, "", ts, size)
            name = self.names.pop(fid)
            if name:
                p = self._add((src, name), src, dst, dport, p4, name, ts, size)
                if len(p.dests) < 16:
                    p.dests.add(f"{dst}:{dport}")

    def _add(
        self,
        key: tuple[str, ...],
        src: str,
        dst: str,
        dport: int,
        proto: str,
        name: str,
        ts: int,
        size: int,
    ) -> _Pair:
        n = self.cfg.max_conns
        p = self.pairs.get_or_create(
            key,
            lambda: _Pair(src, dst, dport, proto, name, deque(maxlen=n), deque(maxlen=n), ts, ts),
        )
        p.ts.append(ts)
        p.sizes.append(size)
        p.first_ts, p.last_ts = min(p.first_ts, ts), max(p.last_ts, ts)
        p.new += 1
        return p

    def on_tick(self, ctx: Context) -> None:
        cfg = self.cfg
        observed = min(ctx.now_us - self.first_seen, cfg.coverage_s * S)
        covered: set[tuple[str, str]] = set()
        named = [(k, p) for k, p in self.pairs.items() if p.name]
        plain = [(k, p) for k, p in self.pairs.items() if not p.name]
        for _, p in named + plain:
            if p.alerted and not p.name:
                continue
            if not p.name and (p.src, f"{p.dest_ip}:{p.dest_port}") in covered:
                continue
            if p.alerted:
                covered.update((p.src, d) for d in p.dests)
                continue
            if p.new == 0 or len(p.ts) < cfg.min_conns:
                continue
            p.new = 0
            self.scored += 1
            s = score(list(p.ts), list(p.sizes), observed)
            if s is None or s.score < cfg.threshold:
                continue
            p.alerted = True
            covered.update((p.src, d) for d in p.dests)
            self._report(p, s, ctx)

    def _report(self, p: _Pair, s: BeaconScore, ctx: Context) -> None:
        server = p.name or f"{p.dest_ip}:{p.dest_port}"
        ctx.emit(
            Finding(
                key=f"{p.src}>{server}",
                ts_us=p.last_ts,
                src_ip=p.src,
                dest_ip=p.dest_ip,
                dest_port=p.dest_port,
                proto=p.proto,
                signature=f"TOCSIN BEHAVIOUR C2 beacon: regular connections to {server}",
                evidence={
                    "server": server,
                    "server_name": p.name or None,
                    "server_addresses": sorted(p.dests) if p.name else [server],
                    "connections": s.conns,
                    "interval_median_s": round(s.ts_median, 3),
                    "interval_mad_s": round(s.ts_mad, 3),
                    "interval_skew": round(s.ts_skew, 3),
                    "bytes_median": round(s.ds_median, 1),
                    "bytes_mad": round(s.ds_mad, 1),
                    "bytes_skew": round(s.ds_skew, 3),
                    "bytes_mode": s.ds_mode,
                    "score": round(s.score, 3),
                    "timing_score": round(s.ts_score, 3),
                    "size_score": round(s.ds_score, 3),
                    "coverage": round(s.ts_coverage, 3),
                    "first_seen": eve_timestamp(p.first_ts),
                    "last_seen": eve_timestamp(p.last_ts),
                    "threshold": f"score >= {self.cfg.threshold} with >= "
                    f"{self.cfg.min_conns} connections",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.pairs.evicted + self.names.evicted,
            "tracked": len(self.pairs),
            "scored": self.scored,
        }


DETECTORS = (Beacon,)
