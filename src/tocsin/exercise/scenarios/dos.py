"""Denial of service on the patient-record server: a spoofed SYN flood on its HTTPS port.

The patient-record server's portal (`site.one("dpi")`, TCP 443, published on the site's
public address for the patients' portal and the doctors in town) is flooded by a botnet
renting itself out: raw SYNs (hping3-like: window 1024, MSS only, no DF) from
`_SOURCES` addresses spoofed in 198.18.0.0/15 (the benchmarking range: no real host),
random source ports, in two waves of `_WAVE_S` seconds with a pause between them (a
ramp-up, then the full rate). The server answers a fraction of them with a SYN/ACK that
the spoofed address, when something lives there, resets; the rest it drops, its backlog
full. No handshake ever completes: every flow stays half-open.

Tens of thousands of packets: `_RATES` per second per wave, far above the detector's floor
(2,000 half-open flows in 10 s) and the server's baseline (its handshakes complete).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

_SPOOF_NET = int(ipaddress.IPv4Address("198.18.0.0"))
_SOURCES = 1024
_RATES = (300.0, 700.0)  # SYNs per second, per wave
_WAVE_S = 25.0
_ANSWERED = 0.3  # share of SYNs the server answers (SYN/ACK, then the spoofed host's RST)


@dataclass(frozen=True, slots=True)
class SynFlood:
    name: str = "dos"
    summary: str = (
        "A spoofed SYN flood in two waves against the patient-record server's HTTPS port "
        "(about 25,000 SYNs)."
    )
    duration_s: float = 180.0

    def inject(self, w: World, t: float) -> float:
        site, tr, rng = w.site, w.trace, w.rng
        target = site.one("dpi")
        mac = site.gateway.mac
        sources = [
            Host.make(f"spoofed-{i}", str(ipaddress.IPv4Address(_SPOOF_NET + n)), mac=mac)
            for i, n in enumerate(rng.sample(range(1, 1 << 17), _SOURCES))
        ]
        t0, end = t, t
        for wave, rate in enumerate(_RATES):
            if wave:
                t = end + rng.uniform(20.0, 40.0)
            stop = t + _WAVE_S
            while t < stop:
                src = rng.choice(sources)
                reply = "synack_rst" if rng.random() < _ANSWERED else None
                port = rng.randint(1024, 65535)
                end = max(end, tr.tcp_probe(t, src, port, target, 443, "S", reply, rtt_s=0.03))
                t += rng.expovariate(rate)
        w.step(
            "dos.syn_flood", "Spoofed SYN flood on the patient-record server's HTTPS port",
            t0, end, [h.ip for h in sources], [target], "T1498.001", "TA0040",
            ["behaviour.flood"],
            f"{target.ip}:443 receives SYNs at {_RATES[0]:.0f} then {_RATES[1]:.0f} per "
            f"second from {_SOURCES} addresses of 198.18.0.0/15, none completing a handshake.",
        )  # fmt: skip
        return end


SCENARIO = SynFlood()
