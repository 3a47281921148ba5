"""ARP spoofing: an address claimed by a second MAC, or a host impersonating another
(`behaviour.arp_spoof`).

Reads `arp` events (`model.arp.ArpEvent`; never written to EVE). Every ARP packet whose sender
has an address (not an ARP probe from 0.0.0.0) is a claim "sender IP is at sender MAC". The
detector remembers, per IP, the MAC that last claimed it, and per MAC the IPs it claimed,
both in `BoundedMap`s. Two findings:

- **flip-flop** (arpwatch's name): an IP claimed by MAC A is claimed by MAC B within
  `window_s` of A's last claim — two hosts answer for one address, as when an attacker
  poisons caches for the gateway while the gateway still speaks (signature 8_000_005);
- **impersonation**: a MAC that claimed IP A later asks "who has A?" from another address B
  — an honest host never asks for its own address, but a man-in-the-middle (ettercap,
  arpspoof) that claims the gateway's address needs the gateway's real MAC to forward
  (signature 8_000_006).

Near misses it does not alert on: the same MAC claiming its address again, an address that
changes hands after `window_s` of silence (DHCP re-assignment, a replaced device),
gratuitous ARP and probes (sender = target, or sender 0.0.0.0), a host with several
addresses that never asks for one of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.arp import ArpEvent
from tocsin.output.timefmt import eve_timestamp

SID_IMPERSONATION = 8_000_006
_CLAIM_CAP = 64  # addresses remembered per MAC


@dataclass(frozen=True, slots=True)
class ArpSpoofConfig:
    window_s: int = 600  # a second MAC within this long of the first one's claim
    max_addresses: int = 50_000
    max_macs: int = 50_000


@dataclass(slots=True)
class _Claim:
    mac: str
    first_ts: int
    last_ts: int


@dataclass(slots=True)
class _Mac:
    claims: dict[str, int] = field(default_factory=dict)  # ip -> last claim (µs)


class ArpSpoof(Detector):
    """One address, two MACs; or a MAC asking for an address it claimed."""

    info = DetectorInfo(
        name="behaviour.arp_spoof",
        signature_id=8_000_005,
        signature="TOCSIN BEHAVIOUR ARP spoofing: one address claimed by two MACs",
        category="Potentially Bad Traffic",
        technique="T1557.002",
        tactic="TA0006",
        severity=1,
        confidence="medium",
        description="ARP cache poisoning: an address claimed by a second MAC, or a host "
        "that claimed an address asking for its real owner.",
    )
    subscribes = frozenset({"arp"})
    Config = ArpSpoofConfig

    def __init__(self, config: ArpSpoofConfig | None = None) -> None:
        super().__init__(config or ArpSpoofConfig())
        self.cfg: ArpSpoofConfig = self.config
        self.by_ip: BoundedMap[str, _Claim] = BoundedMap(self.cfg.max_addresses)
        self.by_mac: BoundedMap[str, _Mac] = BoundedMap(self.cfg.max_macs)

    def on_event(self, ev: ArpEvent, ctx: Context) -> None:
        a = ev.arp
        if a.src_ip == "0.0.0.0" or a.opcode not in ("request", "reply"):
            return
        ts = event_us(ev, ctx.now_us)
        window = self.cfg.window_s * 1_000_000
        m = self.by_mac.get_or_create(a.src_mac, _Mac)
        if a.opcode == "request" and a.dest_ip != a.src_ip:
            claimed = m.claims.get(a.dest_ip)
            if claimed is not None and ts - claimed <= window:
                self._impersonation(a.src_mac, a.src_ip, a.dest_ip, claimed, ts, ctx)
        c = self.by_ip.get_or_create(a.src_ip, partial(_Claim, a.src_mac, ts, ts))
        if c.mac != a.src_mac:
            if ts - c.last_ts <= window:
                self._flip_flop(a.src_ip, c, a.src_mac, ts, ctx)
            c.mac, c.first_ts = a.src_mac, ts
        c.last_ts = ts
        if a.src_ip in m.claims or len(m.claims) < _CLAIM_CAP:
            m.claims[a.src_ip] = ts

    def _flip_flop(self, ip: str, old: _Claim, mac: str, ts: int, ctx: Context) -> None:
        ctx.emit(
            Finding(
                key=f"ip:{ip}",
                ts_us=ts,
                src_ip=ip,
                proto="ARP",
                evidence={
                    "address": ip,
                    "previous_mac": old.mac,
                    "previous_first_seen": eve_timestamp(old.first_ts),
                    "previous_last_seen": eve_timestamp(old.last_ts),
                    "new_mac": mac,
                    "new_seen": eve_timestamp(ts),
                    "threshold": f"second MAC within {self.cfg.window_s} s",
                },
            )
        )

    def _impersonation(
        self, mac: str, own_ip: str, asked: str, claimed_us: int, ts: int, ctx: Context
    ) -> None:
        ctx.emit(
            Finding(
                key=f"mac:{mac}",
                ts_us=ts,
                src_ip=own_ip,
                dest_ip=asked,
                proto="ARP",
                signature_id=SID_IMPERSONATION,
                signature="TOCSIN BEHAVIOUR ARP spoofing: host claimed an address it asks for",
                confidence="high",
                evidence={
                    "src_mac": mac,
                    "claimed_address": asked,
                    "claimed_last_seen": eve_timestamp(claimed_us),
                    "asked_from": own_ip,
                    "asked_at": eve_timestamp(ts),
                    "addresses_claimed_by_mac": sorted(self._claims(mac)),
                    "threshold": f"own claim within {self.cfg.window_s} s",
                },
            )
        )

    def _claims(self, mac: str) -> list[str]:
        m = self.by_mac.get(mac)
        return list(m.claims) if m is not None else []

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.by_ip.evicted + self.by_mac.evicted,
            "tracked_addresses": len(self.by_ip),
        }


DETECTORS = (ArpSpoof,)
