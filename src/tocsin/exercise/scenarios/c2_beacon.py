"""Phishing, then an implant beaconing over HTTPS to its command-and-control server.

A secretary opens the link of a fake health-insurance e-mail: the workstation resolves a
domain registered days ago through its domain controller (which has never seen it and asks
its forwarder), fetches a macro-enabled Word document over plain HTTP, and the user enables
its content. A minute or two later the macro's implant (a Go binary, as Sliver's are)
checks in with its C2 server: one short TLS 1.2 connection every `_INTERVAL_S` seconds with
±20 % jitter, the server presenting a self-signed certificate issued two days before, the
same small POST each time and an almost empty answer, now and then a task and its result.
The implant re-resolves the C2 name when its five-minute TTL runs out.

One step (`beacon`): the download has no detector of its own; the regular check-ins are
what `behaviour.beacon` (RITA-style timing and size scores) is there to see.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.exercise.background.web import a_record, internet_rtt, lookup, near_capture
from tocsin.exercise.proto import http, tls
from tocsin.exercise.proto.x509 import chain_for
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.world import World

LURE = ("remboursement-mutuelle-sante.com", "203.0.113.45")
C2 = ("cdn-officeupdate-sync.com", "203.0.113.77")
_DOC = "/documents/Decompte_remboursement_0324.docm"
_DOCM = "application/vnd.ms-word.document.macroEnabled.12"
_INTERVAL_S = 30.0
_JITTER = 0.2
_TTL = 300


@dataclass(frozen=True, slots=True)
class C2Beacon:
    name: str = "c2_beacon"
    summary: str = (
        "A workstation fetches a macro document from a new domain, then its implant beacons "
        "over TLS to a C2 server every 30 s with jitter."
    )
    duration_s: float = 1800.0

    def inject(self, w: World, t: float) -> float:
        victim = w.rng.choice(w.site.role("workstation")[2:])
        return phish(w, t, victim, self.duration_s)


def phish(
    w: World, t: float, victim: Host, duration_s: float, *, prefix: str = "c2_beacon"
) -> float:
    """The lure, the download and `duration_s` of check-ins from `victim` (step
    `<prefix>.beacon`); returns the time of the last packet."""
    site, tr, rng = w.site, w.trace, w.rng
    lure = site.external(LURE[0], LURE[1])
    c2 = site.external(C2[0], C2[1])
    t0 = t
    # the document, over HTTP from a domain nobody here resolved before
    t = lookup(w, t, victim, LURE[0], (a_record(LURE[0], LURE[1], 3600),), forward=True)
    page = http.request("GET", LURE[0], "/espace-assure/remboursement?id=88213")
    html = http.response(200, http.filler(rng, 6_000, text=True), server="nginx")
    doc = http.request("GET", LURE[0], _DOC, accept="*/*")
    body = b"PK\x03\x04" + http.filler(rng, rng.randint(90_000, 140_000))
    ans = http.response(200, body, content_type=_DOCM, server="nginx")
    turns = http.exchange(rng, [(page, html), (doc, ans)], think_s=(2.0, 6.0))
    port = w.ports.take(victim)
    t = tr.tcp(t + 0.001, victim, port, lure, 80, turns, rtt_s=internet_rtt(LURE[0]))
    # the macro runs; the implant checks in until the end of the step
    t += rng.uniform(60.0, 120.0)
    chain = chain_for(C2[0], None, not_before=near_capture(w, 2), days=365)
    rtt = internet_rtt(C2[0])
    stop = t0 + duration_s
    resolved_at = -1e18
    last = t
    n = 0
    while t < stop:
        if t - resolved_at > _TTL:
            ans_c2 = (a_record(C2[0], C2[1], _TTL),)
            t = lookup(w, t, victim, C2[0], ans_c2, forward=True) + 0.001
            resolved_at = t
        req, resp = rng.randint(230, 250), rng.randint(60, 90)
        if n and n % 12 == 0:  # a task, and its result on the next check-in
            resp = rng.randint(2_000, 12_000)
        if n > 1 and n % 12 == 1:
            req = rng.randint(8_000, 40_000)
        turns = tls.session(rng, C2[0], "go", [req], [resp], "1.2", chain=chain)
        last = tr.tcp(t, victim, w.ports.take(victim), c2, 443, turns, rtt_s=rtt)
        n += 1
        t += _INTERVAL_S * rng.uniform(1 - _JITTER, 1 + _JITTER)
    w.step(
        f"{prefix}.beacon",
        "Macro document from a new domain, then HTTPS beaconing to a C2 server",
        t0, last, [victim], [lure, c2], "T1071.001", "TA0011", ["behaviour.beacon"],
        f"{victim.ip} downloads a .docm from {LURE[0]} ({LURE[1]}) over HTTP, then opens "
        f"{n} TLS connections to {C2[0]} ({C2[1]}:443, self-signed certificate, Go client "
        f"fingerprint) about every {_INTERVAL_S:.0f} s with the same small request size.",
    )  # fmt: skip
    return last


SCENARIO = C2Beacon()
