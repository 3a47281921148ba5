"""A flood as a smokescreen: a spoofed SYN flood on the patient-record server while an
implant beacons and a workstation scans the servers.

Attackers use a DDoS to keep the defenders and the sensor busy while the real intrusion goes
on. Here `FLOOD_SYNS` raw SYNs (hping3-like) from up to 131,072 addresses spoofed in
198.18.0.0/15 hit the DPI's HTTPS port at `RATE` per second — far more half-open flows than
a sensor's flow table holds, so its emergency mode evicts flows early (and says so with a
self-alert) — and, in the middle of the flood, the discovery of `recon` runs from a
workstation whose implant (`c2_beacon`) checks in all along. The flood must be seen, and must
hide neither the scan nor the beacon.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from tocsin.exercise.scenarios.c2_beacon import phish
from tocsin.exercise.scenarios.recon import discover
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

FLOOD_SYNS = 1_500_000
RATE = 40_000.0  # SYNs per second
_SPOOF_NET = int(ipaddress.IPv4Address("198.18.0.0"))
_SPOOF_SPAN = 1 << 17
_BEACON_S = 1500.0


@dataclass(frozen=True, slots=True)
class Smokescreen:
    name: str = "smokescreen"
    summary: str = (
        f"A spoofed SYN flood ({FLOOD_SYNS:,} SYNs at {RATE:,.0f}/s) on the patient-record "
        "server hides a workstation's C2 beacon and its scans of the servers."
    )
    duration_s: float = _BEACON_S + 300.0
    flood_syns: int = FLOOD_SYNS  # a bigger flood for the live flood test (5 M)

    def inject(self, w: World, t: float) -> float:
        site, tr, rng = w.site, w.trace, w.rng
        victim = rng.choice(site.staff_workstations()[10:])
        p = self.name
        end = phish(w, t, victim, _BEACON_S, prefix=p)
        t0 = t + _BEACON_S / 2
        syns = self.flood_syns
        flood_s = syns / RATE
        discover(w, t0 + flood_s / 3, victim, prefix=p)
        target = site.one("dpi")
        mac = site.gateway.mac
        spoofed: dict[int, Host] = {}
        ports = rng.choices(range(1024, 65536), k=syns)
        nets = rng.choices(range(1, _SPOOF_SPAN), k=syns)
        step = 1.0 / RATE
        t = t0
        for n, port in zip(nets, ports, strict=True):
            src = spoofed.get(n)
            if src is None:
                ip = str(ipaddress.IPv4Address(_SPOOF_NET + n))
                src = spoofed[n] = Host.make(f"spoofed-{n}", ip, mac=mac)
            tr.tcp_probe(t, src, port, target, 443, "S", None, rtt_s=0.03)
            t += step
        w.step(
            f"{p}.syn_flood", "Spoofed SYN flood on the patient-record server (cover)", t0, t,
            ["198.18.0.0/15"], [target], "T1498.001", "TA0040", ["behaviour.flood"],
            f"{target.ip}:443 receives {syns:,} SYNs in {flood_s:.0f} s from "
            f"{len(spoofed):,} spoofed addresses of 198.18.0.0/15; the sensor's flow table "
            "enters emergency mode.",
        )  # fmt: skip
        return max(end, t)


SCENARIO = Smokescreen()
