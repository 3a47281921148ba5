"""SQL injection in HTTP request URIs (`behaviour.http_sqli`).

Reads `http` events (method, url, user agent). A request is an injection attempt when its
percent-decoded URI (`+` left as is, as Zeek's `unescape_URI`) matches `SQLI_URI`, a
transcription of Zeek's `match_sql_injection_uri` (policy/protocols/http/
detect-sql-injection.zeek, BSD-3-Clause): a query parameter whose value continues into SQL
(`' OR '1'='1`, `UNION SELECT`, `;DROP`, `'+convert(`, `char(`, `/*!50000 */`...).

Three findings, as Zeek's two notices plus one for small attacks:

- **attacker** (sid 8_000_501, Zeek `HTTP::SQL_Injection_Attacker`): one client sent
  `min_requests` (50) injection requests within a `window_s` (300 s) epoch; key the client.
- **victim** (sid 8_000_502, Zeek `HTTP::SQL_Injection_Victim`): one server received
  `min_requests` injection requests within an epoch; key the server.
- **attempt** (sid 8_000_500): fewer requests than Zeek's threshold (a manual attack on a
  DVWA-like form sends 1-10) still show who tried what: per (client, server) pair, once the
  pair has been quiet for `quiet_s` (30 s) or the run ends, with confidence "medium" from
  `confident_uris` (3) distinct injection URIs and "low" below.

Epochs are tumbling windows started at the first injection request of the key, as Zeek's
SumStats epochs. Evidence: counts, distinct URIs, a capped sample of decoded URIs (truncated),
methods, user agents, first/last seen, the threshold crossed.

Near misses it deliberately ignores: words such as `select` or `union` in an ordinary query
value (`?q=union+select+committee`: no quote or number continued into SQL), a search page,
`'` in a name (`?name=O'Brien`), paths with SQL words but no query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import unquote

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.http import HttpEvent
from tocsin.output.timefmt import eve_timestamp

SID_ATTEMPT = 8_000_500
SID_ATTACKER = 8_000_501
SID_VICTIM = 8_000_502

_B = r"[ \t\x00-\x1f+]"  # [[:blank:]\x00-\x1f\+]
_BN = r"[ \t\x00-\x1f]"  # without '+'
_C = r"/\*.*?\*/"  # an SQL comment
_PARAM = r"[?&][^ \t\x00-\x1f|+]+?="
_PARAM_P = r"[?&][^ \t\x00-\x1f+]+?="
_KW = r"(?:having|union|exec|select|delete|drop|declare|create|insert)"

SQLI_URI = re.compile(
    "|".join(
        (
            # Zeek's first pattern, split: a numeric value continued into SQL keywords...
            rf"{_PARAM}[\-0-9%]+(?:{_B}|{_C})*'?(?:{_B}|{_C}|\)?;)+.*?{_KW}(?:{_B}|{_C})+",
            # ...or a word value closed by a quote, `;`, `)` or a comment (Zeek accepts any
            # word here, so `?q=union+select+committee` matched: a search page, not SQL)
            rf"{_PARAM}[\-a-z0-9%]+(?:{_B}|{_C})*(?:'(?:{_B}|{_C}|\)?;)+|(?:\)?;|{_C})"
            rf"(?:{_B}|{_C}|\)?;)*).*?{_KW}(?:{_B}|{_C})+",
            rf"{_PARAM}[\-0-9%]+(?:{_B}|{_C})*'?(?:{_B}|{_C}|\)?;)+(?:x?or|n?and)(?:{_B}|{_C})+"
            r"'?(?:(?:[^a-zA-Z&]+)?=|exists)",
            rf"{_PARAM_P}[\-0-9%]*(?:{_B}|{_C})*'(?:{_BN}|{_C})*(?:-|=|\+|\|\|)(?:{_B}|{_C})*"
            r"(?:[0-9]|\(?convert|cast)",
            rf"{_PARAM}(?:{_B}|{_C})*'(?:{_B}|{_C}|;)*"
            rf"(?:x?or|n?and|having|union|exec|select|delete|drop|declare|create|regexp|insert)"
            rf"(?:{_B}|{_C}|[\[(])+[a-zA-Z&]{{2,}}",
            rf"{_PARAM_P}[^.]*?(?:char|ascii|substring|truncate|version|length)\(",
            r"/\*![0-9]{5}.*?\*/",
        )
    ),
    re.IGNORECASE | re.DOTALL,
)

_MAX_URI = 2048  # characters of a decoded URI inspected (bounds the regex's work)
_RUN = re.compile(r"[ \t\x00-\x1f+]{9,}")  # long runs of blanks: same matches, less work
_SAMPLE = 5  # URIs kept per key for the evidence
_SAMPLE_LEN = 200  # characters of each
_UA_SAMPLE = 3


def unescape_uri(url: str) -> str:
    """Percent-decoding as Zeek's `unescape_URI` (`+` stays `+`), capped and with long runs of
    blanks shortened so the regular expression's work stays bounded."""
    text = unquote(url[: _MAX_URI * 3], errors="replace")[:_MAX_URI]
    return _RUN.sub(lambda m: m.group(0)[:8], text)


def is_sqli_uri(url: str) -> bool:
    """Does this request URI (raw, as in the `http` event) carry an SQL injection?"""
    return "=" in url and SQLI_URI.search(unescape_uri(url)) is not None


@dataclass(frozen=True, slots=True)
class HttpSqliConfig:
    min_requests: int = 50  # Zeek's sqli_requests_threshold (attacker / victim findings)
    window_s: int = 300  # Zeek's sqli_requests_interval (epoch)
    confident_uris: int = 3  # distinct URIs that make an attempt "medium" confidence
    quiet_s: int = 30  # an attempt is reported once its pair is quiet this long
    report_attempts: bool = True
    max_hosts: int = 20_000


@dataclass(slots=True)
class _Tally:
    first_ts: int
    last_ts: int
    requests: int = 0
    uris: set[str] = field(default_factory=set)
    sample: list[str] = field(default_factory=list)
    peers: set[str] = field(default_factory=set)
    methods: dict[str, int] = field(default_factory=dict)
    agents: list[str] = field(default_factory=list)
    flow_id: int | None = None
    dest_port: int | None = None
    alerted: bool = False
    reported: int = 0  # requests already reported (attempt findings)

    def add(self, ts: int, uri: str, peer: str, ev: HttpEvent) -> None:
        self.last_ts = max(self.last_ts, ts)
        self.requests += 1
        if len(self.uris) < 1000:
            self.uris.add(uri)
        if len(self.sample) < _SAMPLE and uri not in self.sample:
            self.sample.append(uri)
        if len(self.peers) < 100:
            self.peers.add(peer)
        m = ev.http.http_method or "-"
        self.methods[m] = self.methods.get(m, 0) + 1
        ua = ev.http.http_user_agent
        if ua and ua not in self.agents and len(self.agents) < _UA_SAMPLE:
            self.agents.append(ua[:120])
        self.flow_id = int(ev.flow_id)
        self.dest_port = ev.dest_port


class HttpSqli(Detector):
    """SQL injection attempts in request URIs, per attacker and per victim (Zeek's notices)."""

    info = DetectorInfo(
        name="behaviour.http_sqli",
        signature_id=SID_ATTEMPT,
        signature="TOCSIN BEHAVIOUR SQL injection attempt in HTTP request URI",
        category="Web Application Attack",
        technique="T1190",
        tactic="TA0001",
        severity=2,
        confidence="low",
        description="HTTP request URIs carrying SQL injection (Zeek's match_sql_injection_uri), "
        "counted per attacker and per victim as Zeek's SQL_Injection_Attacker/Victim notices.",
    )
    subscribes = frozenset({"http"})
    Config = HttpSqliConfig
    tick_s = 10

    def __init__(self, config: HttpSqliConfig | None = None) -> None:
        super().__init__(config or HttpSqliConfig())
        self.cfg: HttpSqliConfig = self.config
        cap = self.cfg.max_hosts
        self.attackers: BoundedMap[str, _Tally] = BoundedMap(cap)
        self.victims: BoundedMap[str, _Tally] = BoundedMap(cap)
        self.pairs: BoundedMap[tuple[str, str], _Tally] = BoundedMap(cap)
        self.matched = 0

    def on_event(self, ev: HttpEvent, ctx: Context) -> None:
        url = ev.http.url
        if not url or not is_sqli_uri(url):
            return
        self.matched += 1
        ts = event_us(ev, ctx.now_us)
        uri = unescape_uri(url)[:_SAMPLE_LEN]
        client, server = ev.src_ip, ev.dest_ip
        window = self.cfg.window_s * 1_000_000
        for role, table, key, peer in (
            ("attacker", self.attackers, client, server),
            ("victim", self.victims, server, client),
        ):
            t = table.get_or_create(key, partial(_Tally, ts, ts))
            if ts - t.first_ts >= window:  # a new epoch, as SumStats resets its counters
                table.pop(key)
                t = table.get_or_create(key, partial(_Tally, ts, ts))
            t.add(ts, uri, peer, ev)
            if not t.alerted and t.requests >= self.cfg.min_requests:
                t.alerted = True
                self._threshold(role, key, t, ev, ctx)
        if self.cfg.report_attempts:
            p = self.pairs.get_or_create((client, server), partial(_Tally, ts, ts))
            p.add(ts, uri, server, ev)

    def on_tick(self, ctx: Context) -> None:
        quiet = self.cfg.quiet_s * 1_000_000
        for (client, server), p in self.pairs.items():
            if p.requests > p.reported and (ctx.final or ctx.now_us - p.last_ts >= quiet):
                self._attempt(client, server, p, ctx)
                p.reported = p.requests
        horizon = ctx.now_us - max(self.cfg.window_s * 1_000_000, quiet)
        for table in (self.attackers, self.victims):
            table.drop_older(lambda t: t.last_ts >= horizon)
        self.pairs.drop_older(lambda t: t.last_ts >= horizon or t.requests > t.reported)

    def _evidence(self, t: _Tally) -> dict[str, object]:
        return {
            "requests": t.requests,
            "distinct_uris": len(t.uris),
            "uri_sample": t.sample,
            "methods": dict(sorted(t.methods.items())),
            "user_agents": t.agents,
            "first_seen": eve_timestamp(t.first_ts),
            "last_seen": eve_timestamp(t.last_ts),
        }

    def _threshold(self, role: str, key: str, t: _Tally, ev: HttpEvent, ctx: Context) -> None:
        peers = sorted(t.peers)
        evidence = self._evidence(t)
        if role == "attacker":
            evidence["victims"] = peers[:20]
            src, dst, sid = key, ev.dest_ip, SID_ATTACKER
            text = "TOCSIN BEHAVIOUR SQL injection attacker (Zeek HTTP::SQL_Injection_Attacker)"
        else:
            evidence["attackers"] = peers[:20]
            src, dst, sid = ev.src_ip, key, SID_VICTIM
            text = "TOCSIN BEHAVIOUR SQL injection victim (Zeek HTTP::SQL_Injection_Victim)"
        evidence["threshold"] = (
            f"{self.cfg.min_requests} injection requests in {self.cfg.window_s} s"
        )
        ctx.emit(
            Finding(
                key=f"{role}:{key}",
                ts_us=t.last_ts,
                evidence=evidence,
                src_ip=src,
                dest_ip=dst,
                dest_port=ev.dest_port,
                proto="TCP",
                flow_id=int(ev.flow_id),
                app_proto="http",
                signature=text,
                signature_id=sid,
                severity=1,
                confidence="high",
            )
        )

    def _attempt(self, client: str, server: str, p: _Tally, ctx: Context) -> None:
        evidence = self._evidence(p)
        evidence["threshold"] = (
            f"any injection URI (medium confidence from {self.cfg.confident_uris} distinct URIs)"
        )
        ctx.emit(
            Finding(
                key=f"attempt:{client}>{server}",
                ts_us=p.last_ts,
                evidence=evidence,
                src_ip=client,
                dest_ip=server,
                dest_port=p.dest_port,
                proto="TCP",
                flow_id=p.flow_id,
                app_proto="http",
                confidence="medium" if len(p.uris) >= self.cfg.confident_uris else "low",
            )
        )

    def counters(self) -> dict[str, int]:
        ev = self.attackers.evicted + self.victims.evicted + self.pairs.evicted
        return {"evicted": ev, "matched": self.matched}


DETECTORS = (HttpSqli,)
