"""Floods against one host, judged against its own baseline (`behaviour.flood`).

Reads ended flows, grouped with NumPy per (kind, target, window) — no Python per flow, so a
spoofed SYN flood of millions of flows costs a few array passes per batch. Four kinds, each
its own signature id:

- `syn` (8_000_010): TCP flows whose initiator sent a SYN and never an ACK (half-open);
  measure: flows;
- `udp` (8_000_011): UDP not from a reflection port, mostly unanswered (replies < 1/4 of the
  packets); measure: packets;
- `icmp` (8_000_012): ICMP / ICMPv6 sent to the target; measure: packets;
- `amplification` (8_000_013): UDP *from* a reflection port (DNS 53, NTP 123, SSDP 1900,
  memcached 11211, CLDAP 389, SNMP 161, chargen 19, QOTD 17, NetBIOS 137, RIP 520,
  WS-Discovery 3702, CoAP 5683...) that the target never asked for (no packet back, or 10x
  more bytes in than out); measure: bytes.

Flows are counted in the window (`window_s`, fixed buckets of packet time) where they began.
Per target and kind the detector keeps an EWMA of closed windows (`alpha`; a window closes
`settle_s` after its end, once the flow table has timed out its flows; empty windows decay
it) and alerts when an open window reaches `max(floor, factor × baseline)` — the floor per
kind is in the config. One alert per target and kind per re-alert period. Evidence: the
measure, the rate per second, the baseline, the threshold, distinct sources (count, a
sample; exact up to `source_cap`, then a lower bound), top ports, the window.

State: targets in a `BoundedMap` of `max_targets`; per target only the open windows; per
window at most `source_cap` sources and 32 ports, so a spoofed-source flood cannot grow it.

Near misses it does not alert on: a busy server whose handshakes complete (not half-open),
a busy DNS/NTP server (its UDP is answered; responses it receives answer its own queries),
a server whose traffic is always high (the baseline), clients retrying a dead server (few
flows: retransmissions stay in one flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tocsin.detect.behaviour._fanout import unique_rows
from tocsin.detect.behaviour._ports import PortSet
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.flows import TH_ACK, TH_SYN, FlowBatch
from tocsin.model.ids import ip_text
from tocsin.output.timefmt import eve_timestamp

KINDS = ("syn", "udp", "icmp", "amplification")
_SID = {"syn": 8_000_010, "udp": 8_000_011, "icmp": 8_000_012, "amplification": 8_000_013}
_UNIT = {"syn": "half-open flows", "udp": "packets", "icmp": "packets", "amplification": "bytes"}
_TEXT = {
    "syn": "TOCSIN BEHAVIOUR SYN flood: half-open connections to one host",
    "udp": "TOCSIN BEHAVIOUR UDP flood against one host",
    "icmp": "TOCSIN BEHAVIOUR ICMP flood against one host",
    "amplification": "TOCSIN BEHAVIOUR reflection/amplification flood against one host",
}
REFLECT_PORTS = (17, 19, 53, 69, 111, 123, 137, 161, 389, 520, 1900, 3283, 3702, 5683, 11211)
_PORT_CAP = 32
_TOP = 5
_SAMPLE = 10


@dataclass(frozen=True, slots=True)
class FloodConfig:
    window_s: int = 10
    settle_s: int = 70  # a window joins the baseline this long after its end
    alpha: float = 0.1  # EWMA weight of the newest window
    factor: float = 8.0  # alert at factor × baseline (and at least the floor)
    syn_floor: int = 2_000  # half-open flows per window (200/s)
    udp_floor: int = 100_000  # unanswered UDP packets per window (10,000/s)
    icmp_floor: int = 20_000  # ICMP packets per window (2,000/s)
    amplification_floor: int = 20_000_000  # unsolicited reflection bytes per window (16 Mbit/s)
    source_cap: int = 1_024
    max_targets: int = 20_000


@dataclass(slots=True)
class _Window:
    value: float = 0.0
    flows: int = 0
    sources: set[int] = field(default_factory=set)
    sources_over: int = 0  # distinct per batch once `sources` is full (a lower bound)
    ports: dict[int, float] = field(default_factory=dict)
    alerted: bool = False


@dataclass(slots=True)
class _Series:
    baseline: float = 0.0
    closed_upto: int = -1  # last window index folded into the baseline
    open: dict[int, _Window] = field(default_factory=dict)


@dataclass(slots=True)
class _Target:
    series: dict[str, _Series] = field(default_factory=dict)


def _unique_targets(
    ver: npt.NDArray[np.uint8], hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """`np.unique(np.stack([ver, hi, lo], axis=1), axis=0, return_inverse=True)`: the same
    rows in the same (lexicographic) order, by `unique_rows`' lexsort."""
    cols = np.stack([ver.astype(np.uint64), hi, lo], axis=1)
    first, inverse, _ = unique_rows(cols)
    return cols[first], inverse


class Flood(Detector):
    """SYN, UDP, ICMP and amplification floods against one host; see the module docstring."""

    info = DetectorInfo(
        name="behaviour.flood",
        signature_id=8_000_010,
        signature=_TEXT["syn"],
        category="Attempted Denial of Service",
        technique="T1498",
        tactic="TA0040",
        severity=1,
        confidence="medium",
        description="A host receives far more half-open TCP, unanswered UDP, ICMP or "
        "reflected UDP traffic than its baseline (denial of service).",
    )
    subscribes = frozenset({"flow"})
    Config = FloodConfig

    def __init__(self, config: FloodConfig | None = None) -> None:
        super().__init__(config or FloodConfig())
        self.cfg: FloodConfig = self.config
        self.targets: BoundedMap[tuple[int, int, int], _Target] = BoundedMap(self.cfg.max_targets)
        self._floor = {
            "syn": self.cfg.syn_floor,
            "udp": self.cfg.udp_floor,
            "icmp": self.cfg.icmp_floor,
            "amplification": self.cfg.amplification_floor,
        }
        self._reflect = PortSet(REFLECT_PORTS)
        self.flows_counted = 0

    # -- grouping (vectorised) ------------------------------------------------------------

    def _classify(
        self, f: FlowBatch
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Rows counted, their kind index, their measure."""
        tcp, udp = f.proto == 6, f.proto == 17
        syn = tcp & ((f.tcp_flags_ts & (TH_SYN | TH_ACK)) == TH_SYN)
        from_reflector = udp & self._reflect.of(f.sport)
        unsolicited = (f.pkts_tc == 0) | (f.bytes_ts >= f.bytes_tc * np.uint64(10))
        amp = from_reflector & unsolicited & (f.pkts_ts > 0)
        udp_fl = udp & ~from_reflector & (f.pkts_tc * np.uint64(4) < f.pkts_ts)
        icmp = (f.proto == 1) | (f.proto == 58)
        kind = np.full(f.n, -1, dtype=np.int64)
        kind[syn], kind[udp_fl], kind[icmp], kind[amp] = 0, 1, 2, 3
        rows = np.flatnonzero(kind >= 0)
        k = kind[rows]
        value = np.where(k == 0, 1.0, f.pkts_ts[rows].astype(np.float64))
        value = np.where(k == 3, f.bytes_ts[rows].astype(np.float64), value)
        return rows, k, value

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        rows, kind, value = self._classify(flows)
        if rows.size == 0:
            return
        self.flows_counted += int(rows.size)
        wus = self.cfg.window_s * 1_000_000
        win = flows.first_ts[rows] // wus
        tgt_u, tgt_inv = _unique_targets(flows.ipver[rows], flows.dst_hi[rows], flows.dst_lo[rows])
        w0 = int(win.min())
        span = int(win.max()) - w0 + 1
        gid = (tgt_inv.astype(np.int64) * 4 + kind) * span + (win - w0)
        groups, g_inv = np.unique(gid, return_inverse=True)
        g_inv = g_inv.reshape(-1)
        sums = np.bincount(g_inv, weights=value, minlength=groups.size)
        nflows = np.bincount(g_inv, minlength=groups.size)
        # distinct sources per group, and each group's sources (sorted slices)
        srch = flows.src_lo[rows] ^ (flows.src_hi[rows] * np.uint64(0x9E3779B97F4A7C15))
        order = np.lexsort((srch, g_inv))
        sg, ss = g_inv[order], srch[order]
        new = np.ones(sg.size, dtype=np.bool_)
        new[1:] = (sg[1:] != sg[:-1]) | (ss[1:] != ss[:-1])
        uniq_g, uniq_s = sg[new], ss[new]
        distinct = np.bincount(uniq_g, minlength=groups.size)
        starts = np.searchsorted(uniq_g, np.arange(groups.size))
        top = self._top_ports(flows, rows, kind, g_inv, value, groups.size)
        now_us = max(ctx.now_us, int(flows.last_ts.max()))  # packet time of this batch
        now_win = now_us // wus
        for g, code in enumerate(groups.tolist()):
            t_i, rest = divmod(code, 4 * span)
            k_i, w_off = divmod(rest, span)
            ver, hi, lo = (int(x) for x in tgt_u[t_i])
            target = self.targets.get_or_create((ver, hi, lo), _Target)
            s = target.series.setdefault(KINDS[k_i], _Series())
            self._settle(s, now_win)
            w_idx = w0 + w_off
            if w_idx <= s.closed_upto:  # a straggler of a window already in the baseline
                continue
            w = s.open.setdefault(w_idx, _Window())
            w.value += float(sums[g])
            w.flows += int(nflows[g])
            room = self.cfg.source_cap - len(w.sources)
            a, n = int(starts[g]), int(distinct[g])
            if n <= room:
                w.sources.update(uniq_s[a : a + n].tolist())
            else:
                w.sources.update(uniq_s[a : a + max(room, 0)].tolist())
                w.sources_over += n - max(room, 0)
            for port, v in top.get(g, ()):
                if port in w.ports or len(w.ports) < _PORT_CAP:
                    w.ports[port] = w.ports.get(port, 0.0) + v
            threshold = max(float(self._floor[KINDS[k_i]]), self.cfg.factor * s.baseline)
            if not w.alerted and w.value >= threshold:
                w.alerted = True
                self._report(KINDS[k_i], ip_text(ver, hi, lo), w_idx, w, s, threshold, now_us, ctx)

    def _top_ports(
        self,
        flows: FlowBatch,
        rows: npt.NDArray[np.intp],
        kind: npt.NDArray[np.int64],
        g_inv: npt.NDArray[np.intp],
        value: npt.NDArray[np.float64],
        ngroups: int,
    ) -> dict[int, list[tuple[int, float]]]:
        """The `_TOP` ports of each group by measure: the target's port, or the reflector's
        source port for amplification (ICMP: the type)."""
        port = np.where(kind == 3, flows.sport[rows], flows.dport[rows]).astype(np.int64)
        port = np.where(kind == 2, flows.sport[rows].astype(np.int64), port)
        pair = g_inv.astype(np.int64) * 65_536 + port
        pu, p_inv = np.unique(pair, return_inverse=True)
        psum = np.bincount(p_inv.reshape(-1), weights=value, minlength=pu.size)
        pg = pu // 65_536
        order = np.lexsort((-psum, pg))
        pg_o = pg[order]
        first = np.searchsorted(pg_o, np.arange(ngroups))
        rank = np.arange(pg_o.size) - first[pg_o]
        keep = order[rank < _TOP]
        out: dict[int, list[tuple[int, float]]] = {}
        for p, v in zip(pu[keep].tolist(), psum[keep].tolist(), strict=True):
            out.setdefault(p // 65_536, []).append((p % 65_536, v))
        return out

    # -- baseline ---------------------------------------------------------------------------

    def _settle(self, s: _Series, now_win: int) -> None:
        """Fold windows that ended `settle_s` ago into the baseline (empty ones decay it)."""
        last_closable = now_win - 1 - -(-self.cfg.settle_s // self.cfg.window_s)
        if last_closable <= s.closed_upto:
            return
        a = self.cfg.alpha
        for w_idx in sorted(i for i in s.open if i <= last_closable):
            w = s.open.pop(w_idx)
            if s.closed_upto >= 0:
                s.baseline *= (1 - a) ** max(0, w_idx - s.closed_upto - 1)
            s.baseline = a * w.value + (1 - a) * s.baseline
            s.closed_upto = w_idx
        if s.closed_upto >= 0 and last_closable > s.closed_upto:
            s.baseline *= (1 - a) ** (last_closable - s.closed_upto)
        s.closed_upto = max(s.closed_upto, last_closable)

    # -- report -----------------------------------------------------------------------------

    def _report(
        self,
        kind: str,
        target: str,
        w_idx: int,
        w: _Window,
        s: _Series,
        threshold: float,
        now_us: int,
        ctx: Context,
    ) -> None:
        wus = self.cfg.window_s * 1_000_000
        start = w_idx * wus
        ports = sorted(w.ports.items(), key=lambda pv: (-pv[1], pv[0]))[:_TOP]
        # IPv4 sources are kept as their address; IPv6 ones as a hash (counted, not shown)
        sample = [ip_text(4, 0, x) for x in sorted(w.sources) if x >> 32 == 0xFFFF][:_SAMPLE]
        port_word = "source_ports" if kind == "amplification" else "target_ports"
        if kind == "icmp":
            port_word = "icmp_types"
        ctx.emit(
            Finding(
                key=f"{kind}:{target}",
                ts_us=max(now_us, start),
                dest_ip=target,
                dest_port=ports[0][0] if ports and kind in ("syn", "udp") else None,
                proto={"syn": "TCP", "icmp": "ICMP"}.get(kind, "UDP"),
                signature=_TEXT[kind],
                signature_id=_SID[kind],
                evidence={
                    "kind": kind,
                    "unit": _UNIT[kind],
                    "in_window": int(w.value),
                    "rate_per_s": round(w.value / self.cfg.window_s, 1),
                    "baseline_per_window": round(s.baseline, 1),
                    "threshold": f"max(floor {self._floor[kind]}, {self.cfg.factor} x baseline)"
                    f" = {int(threshold)} {_UNIT[kind]} per {self.cfg.window_s} s",
                    "flows": w.flows,
                    "distinct_sources": len(w.sources) + w.sources_over,
                    "distinct_sources_exact": w.sources_over == 0,
                    "sources_sample": sample,
                    port_word: [{"port": p, _UNIT[kind]: int(v)} for p, v in ports],
                    "window_start": eve_timestamp(start),
                    "window_end": eve_timestamp(start + wus),
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.targets.evicted,
            "tracked": len(self.targets),
            "flows_counted": self.flows_counted,
        }


DETECTORS = (Flood,)
