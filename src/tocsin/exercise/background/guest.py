"""The guest Wi-Fi: patients' and visitors' phones on VLAN 50, straight to the internet.

Who is there: each guest device (`site.role("guest")`) is present or not in blocks of two
hours on its own phase (`_BLOCK_S`, a stable draw per device and block, likelier by day,
about a third of them overnight: in-patients keep their phones). While present it:

- `arrivals` (activity): gets an address from the Wi-Fi gateway (172.20.0.1, the guest
  network's DHCP server and router) when it joins — a broadcast DISCOVER/OFFER/REQUEST/ACK
  of an Android or iPhone client — and renews it unicast every half of its one-hour lease;
- `browsing`: resolves names at the site's resolver (A and AAAA) and opens TLS 1.3
  sessions from a Chromium stack to social networks, messaging, classified ads and search
  (`site.guest_internet`), in bursts (`web.visit`), more at lunch and in the evening
  (`_LEISURE`);
- `streaming`: watches a video (YouTube, Netflix) for 2-12 minutes: one TLS connection
  fetching a segment every 4-10 s at 0.6-1.5 Mbit/s (guest Wi-Fi is rate-limited): the
  guest network's volume.

No guest traffic reaches the hospital's own servers.
"""

from __future__ import annotations

import math

from tocsin.exercise.background.infra import mac_text, periodic
from tocsin.exercise.background.web import (
    internet_rtt,
    requests_per_connection,
    stable,
    visit,
    web_chain,
)
from tocsin.exercise.proto import dhcp, dns, tls
from tocsin.exercise.proto.x509 import PUBLIC_CA
from tocsin.exercise.site import Service
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.turns import CLIENT, SERVER, client, server
from tocsin.exercise.world import World

_BLOCK_S = 7200.0
_LEASE_S = 3600
_BROWSE_PER_H = 3.0
_STREAM_PER_H = 0.1
_PAGE_MU = math.log(15_000)  # median response of a page or an API call
_STREAMING = ("www.youtube.com", "www.netflix.com")
_WEIGHTS = {"www.instagram.com": 5, "api.whatsapp.net": 3, "www.leboncoin.fr": 2,
            "www.google.com": 4, "www.youtube.com": 2, "www.netflix.com": 1}  # fmt: skip
# how much guests use their phones by local hour (1.0: the evening peak)
_LEISURE = (
    0.25, 0.10, 0.05, 0.05, 0.05, 0.05, 0.10, 0.30, 0.50, 0.55, 0.55, 0.60,
    0.85, 0.80, 0.60, 0.60, 0.65, 0.70, 0.85, 1.00, 1.00, 0.95, 0.75, 0.45,
)  # fmt: skip
_DEVICES = (("android-dhcp-14", "Galaxy-A54"), (None, "iPhone"), ("android-dhcp-13", "Pixel-7"))
GATEWAY = Host.make("GW-WIFI", "172.20.0.1", vlan=50, ttl=255)  # router, DHCP server


def _phase(h: Host) -> float:
    return float(stable("guest", h.ip) % int(_BLOCK_S))


def present(w: World, h: Host, t: float) -> bool:
    """Whether guest device `h` is on the network at `t` (see the module docstring)."""
    k = math.floor((t - _phase(h)) / _BLOCK_S)
    p = 0.3 + 0.5 * w.activity(k * _BLOCK_S + _phase(h))
    return stable("here", h.ip, k) % 1000 < 1000 * p


def _leisure(w: World, t: float) -> float:
    h = w.local_hour(t)
    return _LEISURE[int(h) % 24]


def arrivals(w: World, t0: float, t1: float) -> None:
    """DHCP of guests joining and renewing (see the module docstring)."""
    site, tr, rng = w.site, w.trace, w.rng
    gw = GATEWAY
    bcast = Host("broadcast", "255.255.255.255", b"\xff" * 6, vlan=50)
    for h in site.role("guest"):
        ph = _phase(h)
        vendor, model = _DEVICES[stable("model", h.ip) % len(_DEVICES)]
        name = f"{model}-{stable('name', h.ip) % 100:02d}"
        for at in periodic(t0, t1, _LEASE_S / 2, ph % (_LEASE_S / 2)):
            if not present(w, h, at):
                continue
            joined = (at - ph) % _BLOCK_S < 1 and not present(w, h, at - 1)
            at += rng.uniform(0.0, 5.0)
            if joined:
                turns = dhcp.lease(
                    rng, mac_text(h), name, h.ip, gw.ip, vendor_class=vendor, lease_s=_LEASE_S,
                    mask="255.255.252.0", router=gw.ip, dns_servers=[site.resolver.ip],
                )  # fmt: skip
                src = Host("unbound", "0.0.0.0", h.mac, vlan=50)
                for i, turn in enumerate(turns):
                    at += 0.002 if turn.side == CLIENT else 0.001
                    if turn.side == CLIENT:
                        tr.udp(at, src, 68, bcast, 67, turn.data)
                    else:
                        tr.udp(at, gw, 67, bcast, 68, turn.data)
                    at += 0.05 * (i == 1)  # the client weighs the offer
            else:
                xid = rng.getrandbits(32)
                mac = mac_text(h)
                req = dhcp.request(xid, mac, h.ip, gw.ip, name, vendor, renewal=True)
                ack = dhcp.ack(
                    xid, mac, h.ip, gw.ip, lease_s=_LEASE_S, mask="255.255.252.0",
                    router=gw.ip, dns_servers=[site.resolver.ip], renewal=True,
                )  # fmt: skip
                tr.udp_exchange(at, h, 68, gw, 67, [client(req), server(ack, 0.002)])


def _present_now(w: World, t: float) -> list[Host]:
    return [h for h in w.site.role("guest") if present(w, h, t)]


def _resolve(w: World, t: float, h: Host, s: Service) -> float:
    site, tr, rng = w.site, w.trace, w.rng
    rtt = internet_rtt(site.resolver.name)
    for qtype, answers in (("A", ((s.name, "A", 300, s.host.ip),)), ("AAAA", ())):
        q = dns.query(rng, s.name, qtype)
        auth = () if answers else (dns.soa_record(s.name),)
        r = dns.response(q, answers, authority=auth)
        port = w.ports.take(h)
        end = tr.udp_exchange(t, h, port, site.resolver, 53, [client(q), server(r)], rtt_s=rtt)
    return end + 0.001


def browsing(w: World, t0: float, t1: float) -> None:
    """Guests on social networks and search (see the module docstring)."""
    rng = w.rng
    here = _present_now(w, t0)
    if not here:
        return
    services = [s for s in w.site.guest_internet if s.name in _WEIGHTS]
    weights = [_WEIGHTS[s.name] for s in services]
    n = w.count(_BROWSE_PER_H * len(here) * _leisure(w, t0), t0, t1, rhythm=False)
    for t in w.times(n, t0, t1):
        h = rng.choice(here)
        s = rng.choices(services, weights)[0]
        t = _resolve(w, t, h, s)
        for at in visit(w, t, 30.0):
            k = requests_per_connection(w, 4.0)
            reqs = [rng.randint(300, 1500) for _ in range(k)]
            resps = [min(2_000_000, int(rng.lognormvariate(_PAGE_MU, 1.3))) for _ in range(k)]
            turns = tls.session(
                rng, s.name, "edge", reqs, resps, "1.3", chain=web_chain(w, s.name, PUBLIC_CA),
                think_s=(0.2, 30.0), server_s=(0.01, 0.2),
            )  # fmt: skip
            w.trace.tcp(at, h, w.ports.take(h), s.host, 443, turns, rtt_s=internet_rtt(s.name))


def streaming(w: World, t0: float, t1: float) -> None:
    """Guests watching videos (see the module docstring)."""
    rng = w.rng
    here = _present_now(w, t0)
    if not here:
        return
    by_name = {s.name: s for s in w.site.guest_internet}
    services = [by_name[n] for n in _STREAMING if n in by_name]
    n = w.count(_STREAM_PER_H * len(here) * _leisure(w, t0), t0, t1, rhythm=False)
    for t in w.times(n, t0, t1):
        h = rng.choice(here)
        s = rng.choice(services)
        t = _resolve(w, t, h, s)
        bitrate = rng.uniform(0.6e6, 1.5e6) / 8  # bytes per second
        left = rng.uniform(120.0, 720.0)
        messages = [(CLIENT, rng.randint(400, 900), 0.0)]  # the player page and manifest
        messages.append((SERVER, rng.randint(20_000, 60_000), 0.05))
        while left > 0:
            seg = rng.uniform(4.0, 10.0)
            messages.append((CLIENT, rng.randint(90, 160), seg))
            messages.append((SERVER, int(bitrate * seg), rng.uniform(0.01, 0.05)))
            left -= seg
        chain = web_chain(w, s.name, PUBLIC_CA)
        turns = tls.conversation(rng, s.name, "edge", messages, "1.3", chain=chain)
        w.trace.tcp(t, h, w.ports.take(h), s.host, 443, turns, rtt_s=internet_rtt(s.name))


ACTIVITIES = (arrivals, browsing, streaming)
