"""Listed domains in DNS, HTTP, TLS and SMB (`intel.domain`).

Reads `dns` events (the queried names of requests; in responses the answer names and CNAME
targets), `http` events (`hostname`), `tls` events (`sni`) and `smb` events whose share names
its server by a DNS name (`\\\\files.evil.example\\docs`: an SMB connection to a listed
domain, as a lure that leaks NTLM hashes makes). A listed domain matches the
name itself and every name under it: `evil.com` listed matches `a.b.evil.com`, never
`notevil.com` or `evil.com.example.org`. The internal host is the DNS client (the sender of
a request, the receiver of a response) or the HTTP/TLS client.

One alert per (listed domain, host) per re-alert window: a query, its response, the HTTP
request and the TLS session that follow fold into one alert (`times_seen` counts them).

Near misses it ignores on purpose: sibling and look-alike names (only whole labels match),
names an allow-list or a MISP warning list holds (dropped at load, counted), expired
indicators, reverse-lookup names (`*.in-addr.arpa`, `*.ip6.arpa`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from tocsin.detect.correlate.correlator import event_type
from tocsin.detect.correlate.plugin import Context, DetectorInfo, Prefilters, event_us
from tocsin.detect.intel._common import IntelDetector, Seen, event_seen


class IntelDomain(IntelDetector):
    """A DNS query, HTTP host or TLS server name under a domain a threat feed lists."""

    info = DetectorInfo(
        name="intel.domain",
        signature_id=8_100_002,
        signature="TOCSIN INTEL domain listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1071",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description=(
            "A DNS query or answer, HTTP Host or TLS SNI for a domain (or a name under it) "
            "listed by a loaded threat feed."
        ),
    )
    subscribes = frozenset({"dns", "http", "tls", "smb"})
    prefilter: ClassVar[Prefilters] = {"smb": lambda ev: smb_server_name(ev) is not None}

    def on_event(self, ev: Any, ctx: Context) -> None:
        if "domain" not in self.intel.values:
            return
        t = event_type(ev)
        if t == "dns":
            self._dns(ev, ctx)
        elif t == "http":
            host = ev.http.hostname
            if host:
                self._check(ev, ctx, "http", "http.hostname", host)
        elif t == "tls":
            sni = ev.tls.sni
            if sni:
                self._check(ev, ctx, "tls", "tls.sni", sni)
        elif t == "smb":
            server = smb_server_name(ev)
            if server:
                self._check(ev, ctx, "smb", "smb.share", server)

    def _dns(self, ev: Any, ctx: Context) -> None:
        d = ev.dns
        names: list[tuple[str, str]] = []
        if d.type == "request":
            names = [("dns.queries.rrname", q.rrname) for q in d.queries or ()]
        else:
            for a in d.answers or ():
                names.append(("dns.answers.rrname", a.rrname))
                if a.rrtype == "CNAME" and a.rdata:
                    names.append(("dns.answers.rdata", a.rdata))
        if not names:
            return
        response = d.type != "request"
        host = str(ev.dest_ip if response else ev.src_ip)
        peer = str(ev.src_ip if response else ev.dest_ip)
        ts = event_us(ev, ctx.now_us)
        done: set[str] = set()
        for field, name in names:
            low = name.rstrip(".").lower()
            if low in done or low.endswith(".arpa"):
                continue
            done.add(low)
            inds = self.live([i for _, i in self.intel.domain(low)], ts)
            if not inds:
                continue
            seen = Seen(
                event_type="dns",
                field=field,
                observed=low,
                ts_us=ts,
                host=host,
                peer=peer,
                src_port=ev.dest_port if response else ev.src_port,
                dest_port=ev.src_port if response else ev.dest_port,
                proto=ev.proto,
                flow_id=int(ev.flow_id),
                app_proto="dns",
            )
            self.report(ctx, inds, seen)

    def _check(self, ev: Any, ctx: Context, etype: str, field: str, name: str) -> None:
        low = name.rstrip(".").lower()
        hits = self.intel.domain(low)
        if not hits:
            return
        ts = event_us(ev, ctx.now_us)
        inds = self.live([i for _, i in hits], ts)
        if inds:
            self.report(ctx, inds, event_seen(ev, ctx, ts, etype, field, low))


def smb_server_name(ev: Any) -> str | None:
    """The server of an `smb` event's share when it is named by a DNS name
    (`\\\\files.evil.example\\docs` → `files.evil.example`): not an IP address, not a
    NetBIOS name (no dot). A TREE_CONNECT to a listed domain is how NTLM hashes leak."""
    share = getattr(getattr(ev, "smb", None), "share", None)
    if not isinstance(share, str) or not share.startswith("\\\\"):
        return None
    server = share[2:].split("\\", 1)[0].rstrip(".").lower()
    if "." not in server or server.replace(".", "").isdigit() or ":" in server:
        return None
    return server


DETECTORS = (IntelDomain,)
