"""Workstations on the web and on the patient-record server, the way a hospital's PCs use them.

Activities (`ACTIVITIES`, in this order, each adding the conversations starting in its slice):

- `dns_forwarding`: each domain controller keeps the internet names its clients ask for in
  its cache and asks its forwarder (`site.resolver`) again when an entry expires — once per
  TTL for a name someone asked for in that time (a draw from the name's demand).
- `browsing`: a user visits a site (`site.internet`, weighted: webmail, Google, the health
  agencies' sites, the drug database, MSSanté, the news): the workstation resolves the name
  through its domain controller (A and AAAA, answered from its cache), then opens TLS
  connections from Edge (TLS 1.3, or 1.2 to the sites still on it, whose certificates are
  then visible, dated a few weeks before the capture) in a burst of uneven gaps (`visit`),
  each carrying a log-normal number of requests; some pages pull a CDN (fonts, scripts).
- `dpi`: the patient-record server (`site.one("dpi")`), used over HTTPS all day: TLS 1.2
  to `dpi.<domain>` (the site's internal CA), many small form posts and pages per
  connection, now and then a PDF report.
- `windows_services`: what Windows does by itself — telemetry posts
  (v10.events.data.microsoft.com) and settings checks over schannel TLS 1.2, Windows Update
  scans, the certificate trust list check over HTTP (mostly 304), network connectivity
  probes (NCSI), and now and then a cumulative update fetched by BITS in 206 ranges over HTTP.

Rates are per workstation per hour at full activity (`World.count` applies the rhythm;
settings, update and trust-list checks run around the clock). Nothing here is periodic
towards the internet: a host's connections to one server come in bursts with heavy-tailed
gaps and sizes, as people and Windows make them, so the timing and size scores of
`behaviour.beacon` stay low (over a simulated CHU day, about one (host, server) pair in a
thousand still crosses its threshold by chance).

Helpers the scenarios share: `preferred_dc(site, host)`, `lookup(w, t, client, name,
answers, ...)` (a client's look-up through its DC, forwarded to the site's resolver when
the DC has no cached answer), `a_record`, `near_capture(w, days_before)`, `internet_rtt`.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import zlib
from collections.abc import Sequence

from tocsin.exercise.proto import dns, http, tls
from tocsin.exercise.proto.x509 import COMMERCIAL_CA, INTERNAL_CA, PUBLIC_CA, chain_for
from tocsin.exercise.site import Service, Site
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.turns import client, server
from tocsin.exercise.world import World

MICROSOFT_CA = ("Microsoft Azure RSA TLS Issuing CA 03", "Microsoft Corporation", "US")

# what users browse: name -> (weight, TLS version, issuer, a CDN the page pulls or "")
_SITES: dict[str, tuple[int, str, tuple[str, str, str], str]] = {
    "outlook.office365.com": (6, "1.3", MICROSOFT_CA, ""),
    "login.microsoftonline.com": (2, "1.3", MICROSOFT_CA, ""),
    "www.google.com": (5, "1.3", PUBLIC_CA, "fonts.gstatic.com"),
    "www.ameli.fr": (2, "1.2", COMMERCIAL_CA, ""),
    "www.has-sante.fr": (2, "1.3", PUBLIC_CA, "cdn.jsdelivr.net"),
    "www.doctolib.fr": (2, "1.3", PUBLIC_CA, ""),
    "www.vidal.fr": (3, "1.2", COMMERCIAL_CA, "cdn.jsdelivr.net"),
    "www.legifrance.gouv.fr": (1, "1.2", COMMERCIAL_CA, ""),
    "esante.gouv.fr": (1, "1.2", COMMERCIAL_CA, ""),
    "www.lemonde.fr": (2, "1.3", PUBLIC_CA, "fonts.gstatic.com"),
    "www.youtube.com": (1, "1.3", PUBLIC_CA, "fonts.gstatic.com"),
    "www.wikipedia.org": (2, "1.3", PUBLIC_CA, ""),
    "mssante.fr": (3, "1.2", COMMERCIAL_CA, ""),
    "portail.dmp.fr": (2, "1.2", COMMERCIAL_CA, ""),
}
_CDN: dict[str, tuple[str, tuple[str, str, str]]] = {
    "fonts.gstatic.com": ("1.3", PUBLIC_CA),
    "cdn.jsdelivr.net": ("1.3", PUBLIC_CA),
}
_TTL = {"outlook.office365.com": 60, "login.microsoftonline.com": 120, "www.google.com": 300}
_DEFAULT_TTL = 900
_DOMAIN_TTL = 1200  # the AD-integrated zone's default TTL
_VISITS_PER_H = 2.5
_REQUEST_MU = math.log(700)  # a request's head (cookies) and form data, median
_DPI_PER_H = 4.0
_TELEMETRY_PER_H = 0.5
_SETTINGS_PER_H = 0.12
_UPDATE_SCAN_PER_H = 0.1
_TRUST_LIST_PER_H = 0.04
_NCSI_PER_H = 0.1
_BITS_PER_H = 0.01
_BITS_UA = "Microsoft BITS/7.8"
_CAB = "/msdownload/update/v3/static/trustedr/en/authrootstl.cab"


def stable(*parts: object) -> int:
    """A hash of `parts` that is the same in every run (unlike `hash`): per-host phases,
    preferred servers, per-name delays."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def preferred_dc(site: Site, host: Host) -> Host:
    """The domain controller `host` uses for DNS and time (its first DNS server)."""
    dcs = site.role("dc")
    return dcs[stable(host.ip) % len(dcs)]


def internet_rtt(name: str) -> float:
    """Round trip from the site to an internet server, 8-40 ms, fixed per name."""
    return 0.008 + (stable("rtt", name) % 32) / 1000


def a_record(name: str, ip: str, ttl: int = 300) -> dns.Answer:
    return (name, "A", ttl, ip)


def near_capture(w: World, days_before: int) -> dt.datetime:
    """A certificate's notBefore: midnight UTC `days_before` days before the capture starts
    (naive UTC, as `x509` takes it)."""
    day = dt.datetime.fromtimestamp(w.start, dt.UTC).replace(tzinfo=None)
    return day.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days_before)


@functools.lru_cache(maxsize=256)
def _chain(
    name: str, issuer: tuple[str, str, str], not_before: dt.datetime, days: int
) -> tuple[bytes, ...]:
    return chain_for(name, issuer, not_before=not_before, days=days)


def web_chain(w: World, name: str, issuer: tuple[str, str, str]) -> tuple[bytes, ...]:
    """The chain an internet server presents: issued 5-64 days before the capture, valid
    90 days (Let's Encrypt) or a year (commercial CAs)."""
    days = 90 if issuer == PUBLIC_CA else 365
    return _chain(name, issuer, near_capture(w, 5 + stable("cert", name) % 60), days)


def lookup(
    w: World,
    t: float,
    cli: Host,
    name: str,
    answers: Sequence[dns.Answer],
    *,
    qtype: str = "A",
    forward: bool = False,
    dc: Host | None = None,
    aa: bool = False,
) -> float:
    """`cli` asks its domain controller (`dc`, default `preferred_dc`) for `name` at `t`;
    with `forward` the DC has no cached answer and asks `site.resolver` first (EDNS 4000,
    as Windows DNS does). An empty `answers` is a NOERROR without data, with the zone's
    SOA. Returns when the client has its answer."""
    site, tr, rng = w.site, w.trace, w.rng
    server_ = dc or preferred_dc(site, cli)
    authority = () if answers else (dns.soa_record(name),)
    q = dns.query(rng, name, qtype)
    cport = w.ports.take(cli)
    think = 0.0001  # the DC's own time (a cache hit)
    if forward:
        fq = dns.query(rng, name, qtype, edns=4000)
        fr = dns.response(fq, answers, authority=authority)
        rtt = internet_rtt(name) + rng.uniform(0.0, 0.03)  # the forwarder's own recursion
        t_back = tr.udp_exchange(
            t + 0.0004, server_, w.ports.take(server_), site.resolver, 53,
            [client(fq), server(fr)], rtt_s=rtt,
        )  # fmt: skip
        think = t_back - t
    r = dns.response(q, answers, authority=authority, aa=aa)
    t_ans = tr.udp_exchange(t, cli, cport, server_, 53, [client(q), server(r, think)])
    return t_ans


def _services(site: Site) -> dict[str, Service]:
    return {s.name: s for s in site.internet}


def _resolve(w: World, t: float, ws: Host, svc: Service, ttl: int) -> float:
    """A and AAAA of `svc` from the workstation's DC cache (Windows asks both)."""
    t = lookup(w, t, ws, svc.name, (a_record(svc.name, svc.host.ip, ttl),))
    if w.rng.random() < 0.7:
        lookup(w, t + 0.0001, ws, svc.name, (), qtype="AAAA")
    return t + 0.001


def _page_sizes(w: World, n: int, median: float, sigma: float) -> tuple[list[int], list[int]]:
    rng = w.rng
    reqs = [min(20_000, int(rng.lognormvariate(_REQUEST_MU, 0.8))) + 250 for _ in range(n)]
    resps = [
        min(3_000_000, max(200, int(rng.lognormvariate(math.log(median), sigma)))) for _ in range(n)
    ]
    return reqs, resps


def _https(
    w: World,
    t: float,
    ws: Host,
    svc: Service,
    version: str,
    issuer: tuple[str, str, str],
    requests: int,
    fp: str = "edge",
) -> float:
    reqs, resps = _page_sizes(w, requests, 8_000, 1.3)
    turns = tls.session(
        w.rng, svc.name, fp, reqs, resps, version, chain=web_chain(w, svc.name, issuer),
        think_s=(0.05, 20.0), server_s=(0.01, 0.15),
    )  # fmt: skip
    rtt = internet_rtt(svc.name)
    return w.trace.tcp(t, ws, w.ports.take(ws), svc.host, 443, turns, rtt_s=rtt)


def dns_forwarding(w: World, t0: float, t1: float) -> None:
    """The DCs refresh expired cache entries at their forwarder (see the module docstring)."""
    site, rng = w.site, w.rng
    dcs = site.role("dc")
    names = [(n, _TTL.get(n, _DEFAULT_TTL), wt) for n, (wt, *_) in _SITES.items()]
    names += [(n, _DEFAULT_TTL, 3) for n in _CDN]
    svc = _services(site)
    total = sum(wt for n, (wt, *_) in _SITES.items())
    rate_s = _VISITS_PER_H * len(site.role("workstation")) * w.activity(t0) / 3600 / len(dcs)
    for dc in dcs:
        for name, ttl, wt in names:
            phase = stable(dc.ip, name) % ttl
            k = math.ceil((t0 - phase) / ttl)
            while (at := k * ttl + phase) < t1:
                k += 1
                if rng.random() < 1 - math.exp(-rate_s * wt / total * ttl):
                    fq = dns.query(rng, name, "A", edns=4000)
                    port = w.ports.take(dc)
                    ans = (a_record(name, svc[name].host.ip, ttl),)
                    w.trace.udp_exchange(
                        at, dc, port, site.resolver, 53,
                        [client(fq), server(dns.response(fq, ans), rng.uniform(0.0, 0.03))],
                        rtt_s=internet_rtt(name),
                    )  # fmt: skip


def visit(w: World, t: float, gap_s: float = 60.0) -> list[float]:
    """When one visit to a server opens connections: at `t`, then, with probability 1/2
    each time, one more after a gap of 5 s plus a log-normal one (median `gap_s`, spread over
    two orders of magnitude, at most half an hour): the bursty inter-event times of human
    activity, not a Poisson clock. A host's connections to one server thus come in clusters
    of uneven gaps, which is what keeps browsing apart from a beacon's regular rhythm."""
    rng = w.rng
    out = [t]
    mu = math.log(gap_s)
    while rng.random() < 0.5:
        t += min(1800.0, 5.0 + rng.lognormvariate(mu, 1.5))
        out.append(t)
    return out


def requests_per_connection(w: World, median: float = 4.0) -> int:
    """How many requests one connection carries: log-normal (a glance or a long session)."""
    return max(1, min(200, int(w.rng.lognormvariate(math.log(median), 1.6))))


def browsing(w: World, t0: float, t1: float) -> None:
    """Users visiting internet sites (see the module docstring)."""
    site, rng = w.site, w.rng
    wss = site.role("workstation")
    svc = _services(site)
    names = list(_SITES)
    weights = [_SITES[n][0] for n in names]
    n = w.count(_VISITS_PER_H * len(wss), t0, t1)
    for t, name in zip(w.times(n, t0, t1), rng.choices(names, weights, k=n), strict=True):
        ws = rng.choice(wss)
        _, version, issuer, cdn = _SITES[name]
        s = svc[name]
        t = _resolve(w, t, ws, s, _TTL.get(name, _DEFAULT_TTL))
        for at in visit(w, t):
            _https(w, at, ws, s, version, issuer, requests_per_connection(w))
        if cdn and rng.random() < 0.6:
            c = svc[cdn]
            t = _resolve(w, t + rng.uniform(0.05, 0.3), ws, c, _DEFAULT_TTL)
            for at in visit(w, t):
                _https(w, at, ws, c, *_CDN[cdn], requests_per_connection(w, 3.0))


def dpi(w: World, t0: float, t1: float) -> None:
    """Clinical staff on the patient record over HTTPS (see the module docstring)."""
    site, rng, tr = w.site, w.rng, w.trace
    wss = site.role("workstation")
    srv = site.one("dpi")
    name = f"dpi.{site.domain}"
    chain = _chain(name, INTERNAL_CA, near_capture(w, 200 + stable(name) % 100), 730)
    for t in w.times(w.count(_DPI_PER_H * len(wss), t0, t1), t0, t1):
        ws = rng.choice(wss)
        if rng.random() < 0.3:  # the name's cache entry on the PC has expired
            ans = (a_record(name, srv.ip, _DOMAIN_TTL),)
            t = lookup(w, t, ws, name, ans, aa=True) + 0.001
        n = rng.randint(3, 20)
        reqs, resps = _page_sizes(w, n, 4_000, 1.0)
        if rng.random() < 0.1:  # a report printed to PDF
            resps[-1] = rng.randint(100_000, 1_500_000)
        turns = tls.session(
            rng, name, "edge", reqs, resps, "1.2", chain=chain, think_s=(1.0, 30.0),
            server_s=(0.005, 0.4),
        )  # fmt: skip
        tr.tcp(t, ws, w.ports.take(ws), srv, 443, turns)


def windows_services(w: World, t0: float, t1: float) -> None:
    """Windows talking to Microsoft by itself (see the module docstring)."""
    site, rng = w.site, w.rng
    wss = site.role("workstation")
    svc = _services(site)
    n_ws = len(wss)
    for t in w.times(w.count(_TELEMETRY_PER_H * n_ws, t0, t1), t0, t1):
        ws = rng.choice(wss)
        s = svc["v10.events.data.microsoft.com"]
        t = _resolve(w, t, ws, s, 60)
        for at in visit(w, t, 30.0):  # a batch of event uploads
            post = int(rng.lognormvariate(math.log(5_000), 1.6)) + 600
            _schannel(w, at, ws, s, [post], [rng.randint(280, 420)])
    for t in w.times(w.count(_SETTINGS_PER_H * n_ws, t0, t1, rhythm=False), t0, t1):
        ws = rng.choice(wss)
        s = svc["settings-win.data.microsoft.com"]
        t = _resolve(w, t, ws, s, 300)
        _schannel(w, t, ws, s, [rng.randint(900, 4_000)], [rng.randint(1_500, 30_000)])
    for t in w.times(w.count(_UPDATE_SCAN_PER_H * n_ws, t0, t1, rhythm=False), t0, t1):
        ws = rng.choice(wss)
        s = svc["fe3cr.delivery.mp.microsoft.com"]
        t = _resolve(w, t, ws, s, 300)
        n = rng.randint(2, 6)
        reqs = [rng.randint(3_000, 20_000) for _ in range(n)]
        _schannel(w, t, ws, s, reqs, [rng.randint(5_000, 200_000) for _ in range(n)])
    for t in w.times(w.count(_TRUST_LIST_PER_H * n_ws, t0, t1, rhythm=False), t0, t1):
        _trust_list(w, t, rng.choice(wss), svc["ctldl.windowsupdate.com"])
    for t in w.times(w.count(_NCSI_PER_H * n_ws, t0, t1), t0, t1):
        _ncsi(w, t, rng.choice(wss), svc["www.msftconnecttest.com"])
    for t in w.times(w.count(_BITS_PER_H * n_ws, t0, t1, rhythm=False), t0, t1):
        _bits(w, t, rng.choice(wss), svc["download.windowsupdate.com"])


def _schannel(w: World, t: float, ws: Host, s: Service, reqs: list[int], resps: list[int]) -> None:
    turns = tls.session(
        w.rng, s.name, "schannel", reqs, resps, "1.2", chain=web_chain(w, s.name, MICROSOFT_CA),
        think_s=(0.01, 0.5), server_s=(0.02, 0.2),
    )  # fmt: skip
    w.trace.tcp(t, ws, w.ports.take(ws), s.host, 443, turns, rtt_s=internet_rtt(s.name))


def _http(w: World, t: float, ws: Host, s: Service, pairs: list[tuple[bytes, bytes]]) -> float:
    turns = http.exchange(w.rng, pairs, think_s=(0.001, 0.05), server_s=(0.01, 0.1))
    return w.trace.tcp(t, ws, w.ports.take(ws), s.host, 80, turns, rtt_s=internet_rtt(s.name))


def _trust_list(w: World, t: float, ws: Host, s: Service) -> None:
    """CryptoAPI checks the root trust list: If-Modified-Since, mostly answered 304."""
    t = _resolve(w, t, ws, s, 3600)
    since = ("If-Modified-Since", "Tue, 13 Feb 2024 18:46:35 GMT")
    req = http.request("GET", s.name, _CAB, user_agent=http.USER_AGENTS["windows"], headers=[since])
    date = t + 0.05
    if w.rng.random() < 0.9:
        resp = http.response(304, server="ECAcc (par/4C9E)", date=date)
    else:
        body = http.filler(w.rng, w.rng.randint(60_000, 80_000))
        resp = http.response(
            200, body, content_type="application/vnd.ms-cab-compressed",
            server="ECAcc (par/4C9E)", date=date,
        )  # fmt: skip
    _http(w, t, ws, s, [(req, resp)])


def _ncsi(w: World, t: float, ws: Host, s: Service) -> None:
    """The network connectivity status indicator's probe."""
    t = _resolve(w, t, ws, s, 30)
    req = http.request(
        "GET", s.name, "/connecttest.txt", user_agent="Microsoft NCSI", accept="", keep_alive=False
    )
    resp = http.response(
        200, b"Microsoft Connect Test", content_type="text/plain", server="", date=t + 0.02,
        keep_alive=False,
    )  # fmt: skip
    _http(w, t, ws, s, [(req, resp)])


def _bits(w: World, t: float, ws: Host, s: Service) -> None:
    """BITS fetching an update file in ranges of 1-4 MB on one keep-alive connection."""
    rng = w.rng
    t = _resolve(w, t, ws, s, 3600)
    size = rng.randint(5_000_000, 40_000_000)
    path = f"/filestreamingservice/files/{rng.getrandbits(128):032x}?P1={rng.getrandbits(40)}"
    pairs = []
    at = 0
    while at < size:
        n = min(size - at, rng.choice((1, 2, 4)) << 20)
        rng_hdr = [("Range", f"bytes={at}-{at + n - 1}")]
        req = http.request("GET", s.name, path, user_agent=_BITS_UA, headers=rng_hdr)
        resp = http.response(
            206, http.filler(rng, n), content_type="application/octet-stream",
            server="ECAcc (par/4C9E)",
            headers=[("Content-Range", f"bytes {at}-{at + n - 1}/{size}")],
        )  # fmt: skip
        pairs.append((req, resp))
        at += n
    _http(w, t, ws, s, pairs)


ACTIVITIES = (dns_forwarding, browsing, dpi, windows_services)
