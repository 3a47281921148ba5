"""Domain generation algorithms: a host failing to resolve many random-looking domains
(`behaviour.dga`).

Reads `dns` responses (the client is the response's `dest_ip`). Per client, within
`window_s`: responses, NXDOMAIN responses, and the distinct failed names with the distinct
registered domains they belong to. Each failed name's registered-domain label
(`xkqjzvbwpt` of `xkqjzvbwpt.com`) is judged random-looking when it is at least
`min_label_len` long and at least `min_signs` of: character entropy ≥ `min_entropy`; a
consonant run ≥ `min_consonant_run`; digit share ≥ `min_digit_ratio`; share of its letter
bigrams found among common English bigrams (`_COMMON_BIGRAMS`, embedded) ≤
`max_bigram_share`. The client alerts when, in one window, it has at least `min_nxdomain`
distinct failed names, under at least `min_domains` distinct registered domains, of which at
least `min_random` look random, with an NXDOMAIN rate of at least `min_rate`.

Near misses it deliberately ignores: a mistyped name or a handful of NXDOMAINs; search-domain
suffixing (`host.corp.local`, `wpad.site.example`: many failed names under one or two
registered domains); reverse look-ups and block-list queries (`_names.is_reverse_or_listing`);
mDNS. Evidence: NXDOMAIN count and rate, distinct names and domains, random-looking count,
a sample of names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import ClassVar

from tocsin.detect.behaviour._names import (
    dns_response,
    entropy,
    is_reverse_or_listing,
    labels,
    max_consonant_run,
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
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
_SAMPLE = 8

# The ~200 most frequent letter bigrams of English text (Norvig's counts over Google books),
# most frequent first: a pronounceable domain label is mostly made of these, a random one not.
_BIGRAM_TEXT = (
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou "
    "io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di "
    "fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em "
    "ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig "
    "tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do "
    "uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va "
    "um pp ua up lu go ht ru ug ds lt pi rc rr eg au ck ew mu br bi pt ak pu ui rg ib tl "
    "ny ki rk ys ob mm fu ph og ms ye ud mb ip ub oi rl gu dr hr cc tw ft wn nu af hu nn "
    "eo vo rv nf xp gn sm fl iz ok nl my gl aw ju oa eq sy sl ps jo lf nv je nk kn gs dy "
    "hy ze ks xt bs ik dd cy rp sk"
)
_COMMON_BIGRAMS = frozenset(_BIGRAM_TEXT.split())


@dataclass(frozen=True, slots=True)
class DgaConfig:
    window_s: int = 600
    min_nxdomain: int = 15  # distinct failed names of one client in the window
    min_domains: int = 10  # distinct registered domains among them
    min_random: int = 8  # random-looking ones among them
    min_rate: float = 0.25  # NXDOMAIN responses / responses
    min_label_len: int = 7
    min_signs: int = 2
    min_entropy: float = 3.0
    min_consonant_run: int = 4
    min_digit_ratio: float = 0.25
    max_bigram_share: float = 0.45
    max_names: int = 500  # distinct failed names kept per client and window
    max_clients: int = 50_000


@dataclass(slots=True)
class _Client:
    first_ts: int
    last_ts: int
    responses: int = 0
    nxdomain: int = 0
    names: set[str] = field(default_factory=set)
    domains: set[str] = field(default_factory=set)
    random: list[str] = field(default_factory=list)
    server: str = ""
    alerted: bool = False


def bigram_share(label: str) -> float:
    """Share of the label's letter bigrams that are common in English (1.0: no bigram)."""
    grams = [label[i : i + 2] for i in range(len(label) - 1)]
    grams = [g for g in grams if g.isalpha()]
    if not grams:
        return 1.0
    return sum(g in _COMMON_BIGRAMS for g in grams) / len(grams)


def random_signs(label: str, cfg: DgaConfig) -> list[str]:
    """Which signs of a generated name the label shows (empty when it is too short)."""
    if len(label) < cfg.min_label_len:
        return []
    signs = []
    if entropy(label) >= cfg.min_entropy:
        signs.append("entropy")
    if max_consonant_run(label) >= cfg.min_consonant_run:
        signs.append("consonant_run")
    if sum(ch.isdigit() for ch in label) / len(label) >= cfg.min_digit_ratio:
        signs.append("digits")
    if bigram_share(label) <= cfg.max_bigram_share:
        signs.append("rare_bigrams")
    return signs


class Dga(Detector):
    """Many NXDOMAINs for random-looking names from one client."""

    info = DetectorInfo(
        name="behaviour.dga",
        signature_id=8_000_120,
        signature="TOCSIN BEHAVIOUR DGA: many failed look-ups of random-looking domains",
        category="A Network Trojan was detected",
        technique="T1568.002",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description="A host gets NXDOMAIN for many distinct random-looking domains "
        "(malware trying generated rendezvous domains).",
    )
    subscribes = frozenset({"dns"})
    prefilter: ClassVar[Prefilters] = {"dns": dns_response}
    Config = DgaConfig

    def __init__(self, config: DgaConfig | None = None) -> None:
        super().__init__(config or DgaConfig())
        self.cfg: DgaConfig = self.config
        self.clients: BoundedMap[str, _Client] = BoundedMap(self.cfg.max_clients)

    def on_event(self, ev: object, ctx: Context) -> None:
        if not isinstance(ev, DnsEvent) or ev.dns.type != "response":
            return
        if ev.src_port == 5353 or ev.dest_port == 5353:
            return
        cfg = self.cfg
        ts = event_us(ev, ctx.now_us)
        c = self.clients.get_or_create(ev.dest_ip, partial(_Client, ts, ts))
        if ts - c.first_ts > cfg.window_s * S:
            c.first_ts, c.responses, c.nxdomain, c.alerted = ts, 0, 0, False
            c.names, c.domains, c.random = set(), set(), []
        c.last_ts = ts
        c.responses += 1
        if ev.dns.rcode != "NXDOMAIN" or not ev.dns.queries:
            return
        name = ev.dns.queries[0].rrname.lower().rstrip(".")
        if is_reverse_or_listing(name) or len(labels(name)) < 2:
            return
        c.nxdomain += 1
        c.server = ev.src_ip
        if name in c.names or len(c.names) >= cfg.max_names:
            return
        c.names.add(name)
        domain, _ = registered_domain(name)
        c.domains.add(domain)
        if len(random_signs(labels(domain)[0], cfg)) >= cfg.min_signs:
            c.random.append(name)
        if not c.alerted and self._crossed(c):
            c.alerted = True
            self._report(ev.dest_ip, c, ctx)

    def _crossed(self, c: _Client) -> bool:
        cfg = self.cfg
        return (
            len(c.names) >= cfg.min_nxdomain
            and len(c.domains) >= cfg.min_domains
            and len(c.random) >= cfg.min_random
            and c.nxdomain / c.responses >= cfg.min_rate
        )

    def _report(self, client: str, c: _Client, ctx: Context) -> None:
        cfg = self.cfg
        ctx.emit(
            Finding(
                key=client,
                ts_us=c.last_ts,
                src_ip=client,
                dest_ip=c.server or None,
                dest_port=53,
                proto="UDP",
                app_proto="dns",
                evidence={
                    "nxdomain": c.nxdomain,
                    "responses": c.responses,
                    "nxdomain_rate": round(c.nxdomain / c.responses, 3),
                    "failed_names": len(c.names),
                    "failed_domains": len(c.domains),
                    "random_looking": len(c.random),
                    "name_sample": c.random[:_SAMPLE],
                    "first_seen": eve_timestamp(c.first_ts),
                    "last_seen": eve_timestamp(c.last_ts),
                    "threshold": f">= {cfg.min_nxdomain} failed names under >= "
                    f"{cfg.min_domains} domains, >= {cfg.min_random} random-looking, "
                    f"NXDOMAIN rate >= {cfg.min_rate} in {cfg.window_s} s",
                },
            )
        )

    def counters(self) -> dict[str, int]:
        return {"evicted": self.clients.evicted, "tracked": len(self.clients)}


DETECTORS = (Dga,)
