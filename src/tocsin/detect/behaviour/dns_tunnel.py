"""DNS tunnels, exfiltration and C2 over DNS (`behaviour.dns_tunnel`).

Reads `dns` requests (the client is the request's `src_ip`). Three findings:

- **tunnel** (sid 8_000_110): per (client, registered domain — see `_names.registered_domain`
  for the public-suffix approximation), within `window_s`: at least `min_unique` distinct
  subdomains, whose mean length is at least `min_mean_len` and whose characters (all the
  distinct subdomains together) have a Shannon entropy of at least `min_entropy` bits — or,
  with as many uniques, a share of TXT/NULL/CNAME/MX/ANY/SRV queries of at least
  `min_data_qtype_share` (iodine's NULL, dnscat2's TXT/MX/CNAME). Evidence: unique
  subdomains, mean/max label length, entropy, query types, bytes of query names, samples.
- **encoded names** (sid 8_000_111): per client, within `window_s`, at least `min_encoded`
  distinct names each with a label of `encoded_label_len` characters or more and an entropy
  of at least `encoded_entropy` (hex or base32 chunks: dnscat2 without a domain, where every
  query has a "domain" of its own and the per-domain count cannot rise).
- **encoded payload** (sid 8_000_112): one query whose name carries data that is not a host
  name — a label of at least `payload_label_len` characters holding characters outside
  letters, digits, `-` and `_` (base64's `+ / =`, `*`...). One such query is enough.
- **encrypted DNS around the site resolver** (sid 8_000_113, severity 3): from `tls`
  events, a session to a well-known public DNS-over-HTTPS/TLS resolver address
  (`doh_resolvers`, on 443 or 853), whatever its SNI — DNS the site cannot see, the cover
  of DoH tunnels (nDPI's `dns2tcp_tunnel.pcap`: TLS to 1.1.1.1:443 without SNI). One alert
  per client and resolver.

Near misses it deliberately ignores: CDN and cloud names (long hashed labels, but few
uniques per domain and below the per-client count), reverse DNS (`in-addr.arpa`,
`ip6.arpa`), DNS-SD/mDNS (`.local`, `_tcp`/`_udp` labels, port 5353), DKIM/SPF TXT look-ups
(`_domainkey`; a mail server's TXT look-ups spread over many domains, few per domain), and
block-list look-ups (`4.3.2.1.zen.spamhaus.org`: a reversed address, many uniques by design),
and reputation services that put hashes in names by design (anti-virus clouds, mail block
lists: `ignore_domains`, which a site extends with its own).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from tocsin.detect.behaviour._names import (
    HOSTNAME_CHARS,
    dns_request,
    entropy,
    is_reverse_or_listing,
    labels,
    registered_domain,
)
from tocsin.detect.correlate.plugin import (
    Context,
    Detector,
    DetectorInfo,
    Finding,
    Prefilters,
    event_us,
)
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.dns import DnsEvent
from tocsin.model.tls import TlsEvent
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
_SAMPLE = 5
_SAMPLE_LEN = 100  # characters of a sample name (a name may carry exfiltrated data)
_DOH_RESOLVERS = (
    "1.1.1.1", "1.0.0.1", "2606:4700:4700::1111", "2606:4700:4700::1001",  # Cloudflare
    "8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844",  # Google
    "9.9.9.9", "149.112.112.112", "2620:fe::fe", "2620:fe::9",  # Quad9
    "208.67.222.222", "208.67.220.220",  # OpenDNS
    "94.140.14.14", "94.140.15.15",  # AdGuard
    "45.90.28.0", "45.90.30.0",  # NextDNS
    "185.228.168.9", "185.228.169.9",  # CleanBrowsing
)  # fmt: skip
# Reputation services queried over DNS with hashed names by design (anti-virus clouds, mail
# block lists incl. hash lists): tunnels by shape, legitimate by purpose.
_LOOKUP_SERVICES = (
    "sophosxl.net", "mcafee.com", "trendmicro.com", "e5.sk", "spamhaus.org", "spamcop.net",
    "barracudacentral.org", "surbl.org", "uribl.com", "sorbs.net", "mailspike.net",
    "dnswl.org", "abuseat.org", "senderscore.com",
)  # fmt: skip
_DATA_QTYPES = frozenset({"TXT", "NULL", "CNAME", "MX", "ANY", "SRV"})


@dataclass(frozen=True, slots=True)
class DnsTunnelConfig:
    window_s: int = 3600
    min_unique: int = 40  # distinct subdomains of one domain, one client
    min_mean_len: float = 12.0  # mean length of those subdomains
    min_entropy: float = 3.8  # bits per character over those subdomains
    min_data_qtype_share: float = 0.5  # or: this share of TXT/NULL/CNAME/MX/ANY/SRV queries
    min_encoded: int = 10  # distinct encoded names from one client (any domain)
    encoded_label_len: int = 30
    encoded_entropy: float = 3.5
    payload_label_len: int = 20  # a label this long with non-hostname characters
    max_subdomains: int = 2000  # distinct subdomains kept per (client, domain)
    max_pairs: int = 50_000
    max_clients: int = 50_000
    doh_resolvers: tuple[str, ...] = _DOH_RESOLVERS
    ignore_domains: tuple[str, ...] = _LOOKUP_SERVICES  # registered domains never judged


@dataclass(slots=True)
class _Domain:
    first_ts: int
    last_ts: int
    subs: set[str] = field(default_factory=set)
    chars: Counter[str] = field(default_factory=Counter)
    sub_len: int = 0
    max_label: int = 0
    qtypes: Counter[str] = field(default_factory=Counter)
    name_bytes: int = 0
    queries: int = 0
    server: str = ""
    alerted: bool = False


@dataclass(slots=True)
class _Client:
    first_ts: int
    last_ts: int
    names: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    alerted: bool = False


class DnsTunnel(Detector):
    """Data carried in DNS names: tunnels, exfiltration, C2 over DNS."""

    info = DetectorInfo(
        name="behaviour.dns_tunnel",
        signature_id=8_000_110,
        signature="TOCSIN BEHAVIOUR DNS tunnel: many high-entropy subdomains of one domain",
        category="Potential Corporate Privacy Violation",
        technique="T1071.004",
        tactic="TA0011",
        severity=1,
        confidence="high",
        description="Data carried in DNS query names (iodine, dnscat2, dns2tcp, exfiltration "
        "scripts): many long random subdomains of one domain, TXT/NULL-heavy queries, or names "
        "holding base64.",
    )
    subscribes = frozenset({"dns", "tls"})
    prefilter: ClassVar[Prefilters] = {"dns": dns_request}
    Config = DnsTunnelConfig

    def __init__(self, config: DnsTunnelConfig | None = None) -> None:
        super().__init__(config or DnsTunnelConfig())
        self.cfg: DnsTunnelConfig = self.config
        self.pairs: BoundedMap[tuple[str, str], _Domain] = BoundedMap(self.cfg.max_pairs)
        self.clients: BoundedMap[str, _Client] = BoundedMap(self.cfg.max_clients)
        self.reported: BoundedMap[tuple[str, str], bool] = BoundedMap(self.cfg.max_pairs)

    def on_event(self, ev: object, ctx: Context) -> None:
        if isinstance(ev, TlsEvent):
            self._tls(ev, ctx)
            return
        if not isinstance(ev, DnsEvent) or ev.dns.type != "request" or not ev.dns.queries:
            return
        if ev.dest_port == 5353 or ev.src_port == 5353:
            return
        ts = event_us(ev, ctx.now_us)
        for q in ev.dns.queries:
            if q.rrname and not is_reverse_or_listing(q.rrname):
                self._query(ev, q.rrname, q.rrtype, ts, ctx)

    def _query(self, ev: DnsEvent, name: str, qtype: str, ts: int, ctx: Context) -> None:
        cfg = self.cfg
        window = cfg.window_s * S
        client = ev.src_ip
        domain, sub = registered_domain(name)
        if domain in self.cfg.ignore_domains:
            return
        ls = labels(name)
        longest = max(ls, key=len)
        if (
            len(longest) >= cfg.payload_label_len
            and not set(longest) <= HOSTNAME_CHARS
            and " " not in longest
        ):
            self._payload(ev, name, qtype, longest, domain, ts, ctx)
        c = self.clients.get_or_create(client, partial(_Client, ts, ts))
        if ts - c.first_ts > window:
            c.first_ts, c.names, c.domains, c.alerted = ts, set(), set(), False
        c.last_ts = ts
        if len(longest) >= cfg.encoded_label_len and entropy(longest) >= cfg.encoded_entropy:
            if len(c.names) < 4 * cfg.min_encoded:
                c.names.add(name.lower())
                c.domains.add(domain)
            fresh = any((client, x) not in self.reported for x in c.domains)
            if not c.alerted and len(c.names) >= cfg.min_encoded and fresh:
                c.alerted = True
                self._encoded(ev, c, ctx)
        if not sub:
            return
        d = self.pairs.get_or_create((client, domain), partial(_Domain, ts, ts))
        if ts - d.first_ts > window:
            d.first_ts, d.subs, d.chars, d.sub_len, d.max_label = ts, set(), Counter(), 0, 0
            d.qtypes, d.name_bytes, d.queries, d.alerted = Counter(), 0, 0, False
        d.last_ts = ts
        d.queries += 1
        d.qtypes[qtype] += 1
        d.name_bytes += len(name)
        d.server = ev.dest_ip
        sub = sub.lower()
        if sub not in d.subs and len(d.subs) < cfg.max_subdomains:
            d.subs.add(sub)
            d.chars.update(sub.replace(".", ""))
            d.sub_len += len(sub)
            d.max_label = max(d.max_label, max(len(x) for x in sub.split(".")))
        if not d.alerted and len(d.subs) >= cfg.min_unique:
            self._judge(client, domain, d, ctx)
            if d.alerted:
                self.reported.get_or_create((client, domain), partial(bool, True))

    def _judge(self, client: str, domain: str, d: _Domain, ctx: Context) -> None:
        cfg = self.cfg
        n = len(d.subs)
        mean_len = d.sub_len / n
        total = sum(d.chars.values())
        ent = entropy_of(d.chars, total)
        data_share = sum(v for k, v in d.qtypes.items() if k in _DATA_QTYPES) / d.queries
        shape = mean_len >= cfg.min_mean_len and ent >= cfg.min_entropy
        qtypes = data_share >= cfg.min_data_qtype_share and mean_len >= cfg.min_mean_len / 2
        if not (shape or qtypes):
            return
        d.alerted = True
        why = "long high-entropy subdomains" if shape else "TXT/NULL/CNAME/MX-heavy queries"
        ctx.emit(
            Finding(
                key=f"tunnel:{client}>{domain}",
                ts_us=d.last_ts,
                src_ip=client,
                dest_ip=d.server or None,
                dest_port=53,
                proto="UDP",
                app_proto="dns",
                signature=f"TOCSIN BEHAVIOUR DNS tunnel: {why} of {domain}",
                evidence={
                    "domain": domain,
                    "unique_subdomains": n,
                    "queries": d.queries,
                    "mean_subdomain_length": round(mean_len, 1),
                    "max_label_length": d.max_label,
                    "entropy": round(ent, 3),
                    "query_types": dict(d.qtypes.most_common()),
                    "data_qtype_share": round(data_share, 3),
                    "query_name_bytes": d.name_bytes,
                    "subdomain_sample": [x[:_SAMPLE_LEN] for x in sorted(d.subs)[:_SAMPLE]],
                    "first_seen": eve_timestamp(d.first_ts),
                    "last_seen": eve_timestamp(d.last_ts),
                    "threshold": f">= {cfg.min_unique} subdomains in {cfg.window_s} s, mean "
                    f"length >= {cfg.min_mean_len} and entropy >= {cfg.min_entropy}, or "
                    f">= {cfg.min_data_qtype_share:.0%} TXT/NULL/CNAME/MX queries",
                },
            )
        )

    def _encoded(self, ev: DnsEvent, c: _Client, ctx: Context) -> None:
        cfg = self.cfg
        ctx.emit(
            Finding(
                key=f"encoded:{ev.src_ip}",
                ts_us=c.last_ts,
                src_ip=ev.src_ip,
                dest_ip=ev.dest_ip,
                dest_port=ev.dest_port,
                proto=ev.proto,
                app_proto="dns",
                signature_id=8_000_111,
                signature="TOCSIN BEHAVIOUR DNS tunnel: many query names carrying encoded data",
                evidence={
                    "encoded_names": len(c.names),
                    "domains": len(c.domains),
                    "name_sample": [x[:_SAMPLE_LEN] for x in sorted(c.names)[:_SAMPLE]],
                    "first_seen": eve_timestamp(c.first_ts),
                    "last_seen": eve_timestamp(c.last_ts),
                    "threshold": f">= {cfg.min_encoded} names with a label >= "
                    f"{cfg.encoded_label_len} chars of entropy >= {cfg.encoded_entropy} "
                    f"in {cfg.window_s} s",
                },
            )
        )

    def _payload(
        self,
        ev: DnsEvent,
        name: str,
        qtype: str,
        label: str,
        domain: str,
        ts: int,
        ctx: Context,
    ) -> None:
        if (ev.src_ip, domain) in self.reported:
            return
        self.reported.get_or_create((ev.src_ip, domain), partial(bool, True))
        odd = sorted(set(label) - HOSTNAME_CHARS)
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"payload:{ev.src_ip}>{domain}",
                ts_us=ts,
                app_proto="dns",
                signature_id=8_000_112,
                signature="TOCSIN BEHAVIOUR DNS exfiltration: encoded data in a query name",
                evidence={
                    "query": name[:_SAMPLE_LEN],
                    "query_type": qtype,
                    "domain": domain,
                    "label_length": len(label),
                    "label_entropy": round(entropy(label), 3),
                    "non_hostname_chars": "".join(odd)[:16],
                    "threshold": f"a label >= {self.cfg.payload_label_len} chars with "
                    "characters outside [a-z0-9-_]",
                },
            )
        )

    def _tls(self, ev: TlsEvent, ctx: Context) -> None:
        if ev.dest_port not in (443, 853) or ev.dest_ip not in self.cfg.doh_resolvers:
            return
        if not ctx.home.internal(ev.src_ip) or (ev.src_ip, ev.dest_ip) in self.reported:
            return
        self.reported.get_or_create((ev.src_ip, ev.dest_ip), partial(bool, True))
        ctx.emit(
            Finding.from_event(
                ev,
                key=f"doh:{ev.src_ip}>{ev.dest_ip}",
                ts_us=event_us(ev, ctx.now_us),
                app_proto="tls",
                signature_id=8_000_113,
                signature="TOCSIN BEHAVIOUR encrypted DNS to a public resolver, around the "
                "site resolver",
                severity=3,
                confidence="medium",
                evidence={
                    "resolver": ev.dest_ip,
                    "protocol": "DoT" if ev.dest_port == 853 else "DoH",
                    "sni": ev.tls.sni,
                    "ja3": ev.tls.ja3.hash if ev.tls.ja3 else None,
                    "threshold": "a TLS session to a known public DoH/DoT resolver address",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.pairs.evicted + self.clients.evicted + self.reported.evicted,
            "tracked": len(self.pairs),
        }


def entropy_of(chars: Counter[str], total: int) -> float:
    """Shannon entropy (bits per character) of a character histogram."""
    if total <= 0:
        return 0.0
    return -sum(v / total * math.log2(v / total) for v in chars.values())


DETECTORS = (DnsTunnel,)
