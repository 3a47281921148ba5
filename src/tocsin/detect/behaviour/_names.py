"""Helpers on DNS names shared by `dns_tunnel` and `dga`: registered domain, entropy, shape.

`registered_domain(name)` approximates the public suffix list with a rule, not the list: the
last two labels (`example.com`), or the last three when the second-to-last label with the
last one is a known second-level suffix (`nhs.uk` → `trust.nhs.uk`, `co.uk`, `gouv.fr`,
`com.au`...; see `_SECOND_LEVEL`). A name under a suffix we do not know is grouped one level
too high (`a.b.example.xx` → `example.xx` is right; `x.city.kawasaki.jp` → `kawasaki.jp` is
one level too high), which merges sibling domains: that can only make the per-domain counts
larger, so the approximation errs towards detection, not towards silence.
"""

from __future__ import annotations

import math
from collections import Counter

_SECOND_LEVEL = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "nhs.uk", "net.uk", "ltd.uk", "plc.uk", "me.uk",
        "gouv.fr", "asso.fr", "com.fr", "tm.fr", "presse.fr",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "govt.nz", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
        "co.za", "org.za", "gov.za", "com.br", "net.br", "gov.br", "org.br",
        "com.cn", "net.cn", "gov.cn", "org.cn", "com.tw", "com.hk", "com.sg", "com.my",
        "co.in", "net.in", "gov.in", "co.kr", "or.kr", "com.mx", "com.ar", "com.tr",
        "co.il", "com.pl", "com.ua", "co.id", "ac.be", "gv.at", "co.at", "or.at",
    }
)  # fmt: skip

HOSTNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
VOWELS = frozenset("aeiouy")


def labels(name: str) -> list[str]:
    """The non-empty labels of a name, lower case, without the root dot."""
    return [x for x in name.lower().rstrip(".").split(".") if x]


def registered_domain(name: str) -> tuple[str, str]:
    """(registered domain, the subdomain part before it), see the module docstring."""
    ls = labels(name)
    n = 3 if len(ls) >= 3 and ".".join(ls[-2:]) in _SECOND_LEVEL else 2
    return ".".join(ls[-n:]), ".".join(ls[:-n])


def entropy(text: str) -> float:
    """Shannon entropy of the characters of `text`, bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def is_reverse_or_listing(name: str) -> bool:
    """Names that are many-unique by design: reverse DNS (`in-addr.arpa`, `ip6.arpa`),
    DNS-SD/mDNS (`.local`, `_tcp`/`_udp` service labels), and DNS block-list look-ups
    (a reversed IPv4 address, `4.3.2.1.zen.spamhaus.org`, or 32 IPv6 nibbles)."""
    ls = labels(name)
    if not ls:
        return True
    if ls[-1] in ("arpa", "local") or any(x in ("_tcp", "_udp", "_domainkey") for x in ls):
        return True
    if len(ls) >= 5 and all(x.isdigit() and int(x) < 256 for x in ls[:4]):
        return True
    return len(ls) >= 34 and all(len(x) == 1 for x in ls[:32])


def max_consonant_run(text: str) -> int:
    run = best = 0
    for ch in text:
        if ch.isalpha() and ch not in VOWELS:
            run += 1
            best = max(best, run)
        else:
            run = 0
    return best


def dns_request(ev: object) -> bool:
    """A `dns` event of a query (`Detector.prefilter` of the detectors reading queries)."""
    return getattr(getattr(ev, "dns", None), "type", None) == "request"


def dns_response(ev: object) -> bool:
    """A `dns` event of an answer."""
    return getattr(getattr(ev, "dns", None), "type", None) == "response"
