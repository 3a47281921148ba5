"""ARP scans: one host asking for many addresses of its segment (`behaviour.arp_scan`).

Reads `arp` events (`model.arp.ArpEvent`, built by the pipeline from ARP packets; never
written to EVE). A discovery request is an ARP request whose target MAC is unknown (all zeros
or broadcast), from a sender with an address (not an ARP probe from 0.0.0.0), asking for
another address than its own (not gratuitous). Per sender (MAC, IP) the detector keeps the
distinct addresses asked for within `window_s`; at `min_targets` it alerts once per window,
with the count, a sample, the span and how many targets answered the sender (replies to its
MAC), as `arp-scan` and `nmap -sn` on a LAN look.

Near misses it does not alert on: gratuitous ARP and ARP probes (address conflict detection,
DHCP), a host resolving its usual handful of neighbours, unicast cache refreshes (the target
MAC is known), and a router resolving hosts slowly over time (the window).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.arp import ArpEvent
from tocsin.output.timefmt import eve_timestamp

_SAMPLE = 20
_UNKNOWN_MACS = frozenset({"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"})
_TARGET_CAP = 4096  # distinct targets remembered per sender and window


@dataclass(frozen=True, slots=True)
class ArpScanConfig:
    min_targets: int = 30  # distinct addresses asked for by one sender
    window_s: int = 60
    max_senders: int = 10_000


@dataclass(slots=True)
class _Sender:
    first_ts: int
    last_ts: int
    targets: set[str] = field(default_factory=set)
    requests: int = 0
    answered: set[str] = field(default_factory=set)
    alerted: bool = False


class ArpScan(Detector):
    """ARP sweep of a segment: many distinct addresses asked for by one sender."""

    info = DetectorInfo(
        name="behaviour.arp_scan",
        signature_id=8_000_004,
        signature="TOCSIN BEHAVIOUR ARP scan: one host asking for many addresses",
        category="Detection of a Network Scan",
        technique="T1018",
        tactic="TA0007",
        severity=2,
        confidence="high",
        description="One host sends ARP requests for many distinct addresses of its segment.",
    )
    subscribes = frozenset({"arp"})
    Config = ArpScanConfig

    def __init__(self, config: ArpScanConfig | None = None) -> None:
        super().__init__(config or ArpScanConfig())
        self.cfg: ArpScanConfig = self.config
        self.senders: BoundedMap[tuple[str, str], _Sender] = BoundedMap(self.cfg.max_senders)

    def on_event(self, ev: ArpEvent, ctx: Context) -> None:
        a = ev.arp
        ts = event_us(ev, ctx.now_us)
        if a.opcode == "reply":
            s = self.senders.get((a.dest_mac, a.dest_ip))
            if s is not None and a.src_ip in s.targets and len(s.answered) < _TARGET_CAP:
                s.answered.add(a.src_ip)
            return
        if (
            a.opcode != "request"
            or a.src_ip in ("0.0.0.0", a.dest_ip)
            or a.dest_mac not in _UNKNOWN_MACS
        ):
            return
        s = self.senders.get_or_create((a.src_mac, a.src_ip), partial(_Sender, ts, ts))
        if ts - s.first_ts > self.cfg.window_s * 1_000_000:
            s.first_ts, s.targets, s.requests, s.answered, s.alerted = ts, set(), 0, set(), False
        s.last_ts = max(s.last_ts, ts)
        s.requests += 1
        if len(s.targets) < _TARGET_CAP:
            s.targets.add(a.dest_ip)
        if not s.alerted and len(s.targets) >= self.cfg.min_targets:
            s.alerted = True
            self._report(a.src_mac, a.src_ip, s, ctx)

    def _report(self, mac: str, ip: str, s: _Sender, ctx: Context) -> None:
        sample = sorted(s.targets, key=_ip_order)[:_SAMPLE]
        ctx.emit(
            Finding(
                key=f"{mac}/{ip}",
                ts_us=s.last_ts,
                src_ip=ip,
                proto="ARP",
                evidence={
                    "src_mac": mac,
                    "targets": len(s.targets),
                    "requests": s.requests,
                    "answered": len(s.answered),
                    "targets_sample": sample,
                    "first_seen": eve_timestamp(s.first_ts),
                    "last_seen": eve_timestamp(s.last_ts),
                    "threshold": f"{self.cfg.min_targets} addresses in {self.cfg.window_s} s",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.senders.evicted, "tracked": len(self.senders)}


def _ip_order(ip: str) -> tuple[int, ...]:
    return tuple(int(x) for x in ip.split("."))


DETECTORS = (ArpScan,)
