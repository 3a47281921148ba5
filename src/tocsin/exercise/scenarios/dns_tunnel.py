"""Exfiltration over DNS: a compromised workstation sends an archive out in query names.

The intruder's tool (dnscat2-like) on a workstation encrypts an archive of documents
(`_BYTES`, random-looking bytes) and carries it, base32-encoded in labels of up to 63
characters, in TXT queries for names under a domain whose name server they run. The
workstation may not reach the internet's DNS, so it asks its domain controller, which has
no answer cached for any of these one-off names and forwards each query to its own
forwarder (`site.resolver`); the attacker's server answers every query with a short TXT
acknowledgement (TTL 0, so nothing is cached). One query at a time, each sent when the
previous one is answered plus a little think time: about two per second.

One step (`exfil`): the defender sees hundreds of long random-looking names under one
domain, from the workstation to the DC and from the DC to its forwarder.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from tocsin.exercise.background.web import lookup, preferred_dc
from tocsin.exercise.proto import dns
from tocsin.exercise.world import World

DOMAIN = "dx.metrics-azure-cdn.net"
_BYTES = 90_000


@dataclass(frozen=True, slots=True)
class DnsTunnel:
    name: str = "dns_tunnel"
    summary: str = (
        "A workstation exfiltrates an archive in base32 TXT queries under one attacker "
        "domain, through its domain controller's resolver."
    )
    duration_s: float = 900.0

    def inject(self, w: World, t: float) -> float:
        site, rng = w.site, w.rng
        victim = rng.choice(site.role("workstation")[2:])
        names = dns.tunnel_names(rng.randbytes(_BYTES), DOMAIN)
        t0, end = t, t
        for seq, name in enumerate(names):
            ack = base64.b32encode(seq.to_bytes(4, "big") + rng.randbytes(6)).decode().lower()
            answer: dns.Answer = (name, "TXT", 0, ack.rstrip("="))
            end = lookup(w, t, victim, name, (answer,), qtype="TXT", forward=True)
            t = end + rng.uniform(0.05, 0.8)
        dc = preferred_dc(site, victim)
        w.step(
            "dns_tunnel.exfil", "Archive exfiltrated in DNS query names (TXT, base32)",
            t0, end, [victim], [dc, site.resolver], "T1048.003", "TA0010",
            ["behaviour.dns_tunnel"],
            f"{victim.ip} sends {len(names)} TXT queries for long base32 names under "
            f"{DOMAIN} to {dc.ip}, which forwards every one to {site.resolver.ip}: about "
            f"{_BYTES // 1000} kB carried in query names in {(end - t0) / 60:.0f} minutes.",
        )  # fmt: skip
        return end


SCENARIO = DnsTunnel()
