"""Threat-intelligence indicators: one `Indicator` per listed value, and how values are typed.

An indicator is a value of one `kind` (see `KINDS`) with where it came from (`source`: the
file or feed, `threat`: the malware family or the feed's reason), how much the feed trusts it
(`confidence` 0-100, `category`: "malware", "malicious", "suspicious", "scanner" or ""), its
TLP marking and an optional expiry in packet time (µs since the epoch; an expired indicator
does not match). Values are normalised once at load (`normalise`): lowercase domains without
a trailing dot, IP text as `ipaddress` writes it, lowercase hex hashes, URLs as `host/path`
without a scheme, JA4 as given.

`classify(text)` types a bare value of a plain list (IP, CIDR, IP:port, URL, path, hash,
domain); a value it cannot type is None, and the loader counts the line as skipped.

`IntelError` is a source that cannot be read at all (missing file, invalid JSON, unknown
format); a bad line or entry inside a readable source is skipped and counted instead, with
its file and line in `LoadStats.problems`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

KINDS = (
    "ip",  # one address (optionally with a port: `port`)
    "cidr",  # a network
    "domain",  # a DNS name and every name under it
    "url",  # host/path (host "" for a path-only trail: any host)
    "ja3",  # JA3 client fingerprint (MD5 hex)
    "ja4",  # JA4 client fingerprint
    "sni",  # TLS server name, exact
    "cert_sha1",  # SHA-1 of the server certificate (hex, no colons)
    "user_agent",  # HTTP User-Agent, exact
    "md5",  # file hashes
    "sha1",
    "sha256",
)
FILE_HASH_KINDS = ("md5", "sha1", "sha256")

TLP = ("clear", "green", "amber", "amber+strict", "red")


class IntelError(Exception):
    """An indicator source (or allow-list) that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class Indicator:
    value: str  # normalised (see module docstring)
    kind: str  # one of KINDS
    source: str  # feed name: "maltrail", "abuse.ch sslbl", a file name, a MISP event...
    threat: str = ""  # malware family / threat name / listing reason
    confidence: int = 50  # 0..100
    category: str = ""  # malware / malicious / suspicious / scanner / ""
    tlp: str = "clear"
    expires_us: int | None = None  # packet time after which it no longer matches
    port: int | None = None  # for "ip": only this destination port (maltrail ip:port)
    reference: str = ""  # where the listing is explained (file:line, event uuid...)

    def __reduce__(self) -> tuple[type[Indicator], tuple[Any, ...]]:
        """Pickled as the constructor's arguments: the intel cache (`_cache`) loads 150,000
        indicators about twice as fast as with the dataclass's per-field state."""
        return (
            Indicator,
            (self.value, self.kind, self.source, self.threat, self.confidence, self.category,
             self.tlp, self.expires_us, self.port, self.reference),
        )  # fmt: skip


@dataclass(slots=True)
class LoadStats:
    """What loading read: counts per source and kind, lines skipped and why."""

    sources: int = 0
    indicators: int = 0
    skipped: int = 0
    allowlisted: int = 0  # indicators dropped because an allow-list or warning list holds them
    duplicates: int = 0
    ignored: int = 0  # entries not meant for detection: MISP to_ids false, revoked STIX...
    by_kind: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "file:line: reason", capped
    allow_by_list: dict[str, int] = field(default_factory=dict)

    def problem(self, where: str, why: str) -> None:
        self.skipped += 1
        if len(self.problems) < 200:
            self.problems.append(f"{where}: {why}")


_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+"
    r"(?:[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?|xn--[a-z0-9-]{1,59})$"
)
_JA4 = re.compile(r"^[tqd][0-9a-z]{9}_[0-9a-f]{12}_[0-9a-f]{12}$")
_HASH_BY_LEN = {32: "md5", 40: "sha1", 64: "sha256"}


def is_domain(text: str) -> bool:
    return bool(_DOMAIN.match(text))


def norm_domain(text: str) -> str:
    return text.strip().rstrip(".").lower()


def norm_hex(text: str) -> str:
    return text.strip().replace(":", "").lower()


def norm_url(text: str) -> str | None:
    """`scheme://host:port/path?q` → `host/path?q` (lowercase host, default port dropped)."""
    t = text.strip()
    low = t.lower()
    for scheme in ("http://", "https://", "hxxp://", "hxxps://"):
        if low.startswith(scheme):
            t = t[len(scheme) :]
            break
    slash = t.find("/")
    host, path = (t, "/") if slash < 0 else (t[:slash], t[slash:])
    host = host.lower().rstrip(".")
    if host.endswith(":80") or host.endswith(":443"):
        host = host.rsplit(":", 1)[0]
    if not host and not path.startswith("/"):
        return None
    return host + path


def split_url(url: str) -> tuple[str, str]:
    """A normalised URL's (host, path)."""
    slash = url.find("/")
    return (url, "/") if slash < 0 else (url[:slash], url[slash:])


def parse_ip(text: str) -> tuple[str, int | None] | None:
    """An address, or `address:port` / `[v6]:port`, as (canonical text, port)."""
    t = text.strip()
    port: int | None = None
    if t.startswith("["):
        end = t.find("]")
        if end < 0:
            return None
        rest = t[end + 1 :]
        if rest.startswith(":") and rest[1:].isdigit():
            port = int(rest[1:])
        t = t[1:end]
    elif t.count(":") == 1:
        t, _, p = t.partition(":")
        if not p.isdigit():
            return None
        port = int(p)
    try:
        a = ipaddress.ip_address(t)
    except ValueError:
        return None
    if port is not None and not 0 < port < 65536:
        return None
    return str(a), port


def parse_cidr(text: str) -> str | None:
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        return None


def classify(text: str) -> tuple[str, str, int | None] | None:
    """A bare value's (kind, normalised value, port), or None when it is no indicator."""
    t = text.strip()
    if not t:
        return None
    c = t[0]
    if c.isdigit() or c == "[" or (":" in t and "/" not in t and "." not in t):
        ip = parse_ip(t)
        if ip is not None:
            return "ip", ip[0], ip[1]
        if "/" in t and "://" not in t:
            net = parse_cidr(t)
            if net is not None:
                if net.endswith("/32") or net.endswith("/128"):
                    return "ip", net.rsplit("/", 1)[0], None
                return "cidr", net, None
    if len(t) in _HASH_BY_LEN and _HEX.match(t):
        return _HASH_BY_LEN[len(t)], t.lower(), None
    if _JA4.match(t):
        return "ja4", t, None
    if "/" in t:
        url = norm_url(t)
        if url is None:
            return None
        host, path = split_url(url)
        if host and (path == "/" or path == ""):  # a bare host written as a URL
            return classify(host)
        if host and not (is_domain(host) or parse_ip(host) is not None):
            return None
        return "url", url, None
    d = norm_domain(t)
    if is_domain(d):
        return "domain", d, None
    return None


def confidence_label(conf: int) -> str:
    """0-100 → the alert's low / medium / high."""
    return "high" if conf >= 75 else "medium" if conf >= 50 else "low"


def severity_of(ind: Indicator) -> int:
    """1 (high) .. 3 (low): from confidence, `suspicious`/`scanner` listings never above 2."""
    sev = 1 if ind.confidence >= 80 else 2 if ind.confidence >= 50 else 3
    if ind.category in ("suspicious", "scanner"):
        sev = max(sev, 2 if ind.confidence >= 80 else 3)
    return sev


def norm_tlp(text: str) -> str:
    t = text.strip().lower().removeprefix("tlp:")
    return "clear" if t == "white" else t if t in TLP else ""


# type names used by CSV headers, MISP attributes and STIX object paths → kind
_TYPE_NAMES = {
    "ip": "ip",
    "ip-dst": "ip",
    "ip-src": "ip",
    "ipv4": "ip",
    "ipv6": "ip",
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "ip-dst|port": "ip",
    "ip-src|port": "ip",
    "cidr": "cidr",
    "network": "cidr",
    "domain": "domain",
    "hostname": "domain",
    "fqdn": "domain",
    "domain-name": "domain",
    "url": "url",
    "uri": "url",
    "link": "url",
    "ja3": "ja3",
    "ja3_md5": "ja3",
    "ja3-fingerprint-md5": "ja3",
    "ja4": "ja4",
    "ja4+": "ja4",
    "sni": "sni",
    "tls_sni": "sni",
    "cert_sha1": "cert_sha1",
    "x509-fingerprint-sha1": "cert_sha1",
    "sha1_fingerprint": "cert_sha1",
    "user_agent": "user_agent",
    "user-agent": "user_agent",
    "http_user_agent": "user_agent",
    "md5": "md5",
    "sha1": "sha1",
    "sha256": "sha256",
    "sha-256": "sha256",
    "sha-1": "sha1",
}


def kind_of(type_name: str) -> str | None:
    """A source's type name (CSV `type`, MISP attribute type...) → kind, or None."""
    t = type_name.strip().lower()
    if t in _TYPE_NAMES:
        return _TYPE_NAMES[t]
    return t if t in KINDS else None


def normalise(kind: str, text: str) -> tuple[str, str, int | None] | None:
    """(kind, value, port) for a value of a known kind, or None when it does not fit it.
    An "ip" given a network becomes "cidr"; a "domain" or "url" that is an address, "ip"."""
    t = text.strip()
    if not t:
        return None
    if kind in ("ip", "cidr"):
        if "/" in t:
            net = parse_cidr(t)
            if net is None:
                return None
            if net.endswith("/32") or net.endswith("/128"):
                return "ip", net.rsplit("/", 1)[0], None
            return "cidr", net, None
        ip = parse_ip(t)
        return None if ip is None else ("ip", ip[0], ip[1])
    if kind == "domain" or kind == "sni":
        d = norm_domain(t)
        if is_domain(d):
            return kind, d, None
        ip = parse_ip(d)
        return None if ip is None else ("ip", ip[0], ip[1])
    if kind == "url":
        got = classify(t if "/" in t else t + "/")
        return got if got is not None and got[0] in ("url", "domain", "ip") else None
    if kind in ("ja3", "md5", "sha1", "sha256", "cert_sha1"):
        h = norm_hex(t)
        want = {"ja3": 32, "md5": 32, "sha1": 40, "cert_sha1": 40, "sha256": 64}[kind]
        return (kind, h, None) if len(h) == want and _HEX.match(h) else None
    if kind == "ja4":
        return (kind, t, None) if _JA4.match(t.lower()) else None
    if kind == "user_agent":
        return kind, t, None
    return None


def parse_time_us(text: str) -> int | None:
    """An ISO 8601 time ("2025-01-02T03:04:05Z", "2025-01-02 03:04:05", "2025-01-02") or
    epoch seconds → µs since the epoch (UTC when no zone is given); None when unreadable."""
    import datetime as dt

    t = text.strip()
    if not t:
        return None
    if t.isdigit():
        return int(t) * 1_000_000
    try:
        d = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.UTC)
    return int(d.timestamp() * 1_000_000)
