"""What every `intel.*` detector shares: the indicator set, hit bookkeeping, the finding.

An intel detector has `needs_intel = True`: `build_detectors` hands it the loaded `IntelSet`
through the `intel` keyword (an empty set when none was given). On a match it reports one
`Finding` keyed `"{indicator}|{internal host}"`, so the correlator folds every later
sighting by the same host into the first alert for the re-alert window (one alert per
indicator, host and window). The alert's source is the internal host for traffic it started
(a C2 contact, a DNS query), the listed address for traffic the listed address started
(a mass scanner probing the site); the evidence says which (`direction`).

Evidence: the indicator (value, type, source, threat, category, confidence, TLP, where it is
listed, expiry), where it was seen (event type, field, the observed value), how often this
host was seen with it so far, first/last seen, other sources listing the same value.
Severity from the indicator's confidence, suspicious and scanner listings lower (see
`_model.severity_of`). Expired indicators never match (counted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from tocsin.detect.correlate.plugin import Context, Detector, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.detect.intel._model import Indicator, confidence_label, severity_of
from tocsin.detect.intel._set import IntelSet
from tocsin.output.timefmt import eve_timestamp

_KIND_TEXT = {
    "ip": "IP",
    "cidr": "IP range",
    "domain": "domain",
    "url": "URL",
    "ja3": "JA3",
    "ja4": "JA4",
    "sni": "TLS SNI",
    "cert_sha1": "certificate SHA-1",
    "user_agent": "user agent",
    "md5": "file MD5",
    "sha1": "file SHA-1",
    "sha256": "file SHA-256",
}
_ALSO = 5  # other listings of the same value named in the evidence


@dataclass(frozen=True, slots=True)
class IntelConfig:
    max_hits: int = 100_000  # (indicator, host) pairs whose sightings are counted


@dataclass(slots=True)
class _Hits:
    first_ts: int
    last_ts: int
    count: int = 0


@dataclass(frozen=True, slots=True)
class Seen:
    """Where a value was observed: event type, field, value, endpoints."""

    event_type: str
    field: str
    observed: str
    ts_us: int
    host: str  # the internal (or initiating) host
    peer: str | None
    inbound: bool = False  # the listed side started the traffic
    src_port: int | None = None  # the host's port
    dest_port: int | None = None  # the peer's port
    proto: str | None = None
    flow_id: int | None = None
    app_proto: str | None = None


class IntelDetector(Detector):
    """Base of the intel detectors: keeps the set, counts hits, builds findings."""

    needs_intel: ClassVar[bool] = True
    Config = IntelConfig

    def __init__(self, config: IntelConfig | None = None, *, intel: IntelSet | None = None):
        super().__init__(config or IntelConfig())
        self.cfg: IntelConfig = self.config
        self.intel = intel if intel is not None else IntelSet()
        self.hits: BoundedMap[str, _Hits] = BoundedMap(self.cfg.max_hits)
        self.matched = 0
        self.expired = 0
        self.suppressed = 0  # allow-listed at match time (an address inside a listed range)
        self.internal_listed = 0  # a listed address inside HOME_NET: ignored

    def live(self, inds: list[Indicator], ts_us: int) -> list[Indicator]:
        """The indicators not expired at packet time `ts_us` (expired ones counted)."""
        out = [i for i in inds if i.expires_us is None or ts_us <= i.expires_us]
        self.expired += len(inds) - len(out)
        return out

    def report(
        self,
        ctx: Context,
        inds: list[Indicator],
        seen: Seen,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """One finding for the best of `inds` (every listing that matched one observation:
        an address and its /24, a name and its parent domain); the others are named in
        `also_listed_by`. `extra`: more evidence about the observation (a file's name)."""
        if not inds:
            return
        self.matched += 1
        best = max(
            inds,
            key=lambda i: (
                i.confidence,
                i.category in ("malware", "malicious"),
                i.kind != "cidr",
                len(i.value),  # the most specific listing: host/path over path, sub over parent
            ),
        )
        key = f"{best.value}|{seen.host}"
        h = self.hits.get_or_create(key, lambda: _Hits(seen.ts_us, seen.ts_us))
        h.count += 1
        h.first_ts = min(h.first_ts, seen.ts_us)
        h.last_ts = max(h.last_ts, seen.ts_us)
        others = sorted({f"{i.value}: {i.source} ({i.threat})" for i in inds if i is not best})
        evidence: dict[str, Any] = {
            "indicator": best.value,
            "indicator_type": best.kind,
            "source": best.source,
            "threat": best.threat,
            "category": best.category,
            "confidence": best.confidence,
            "tlp": best.tlp,
            "listed_at": best.reference,
            "seen_in": seen.event_type,
            "field": seen.field,
            "observed": seen.observed[:256],
            "internal_host": seen.host,
            "direction": "inbound" if seen.inbound else "outbound",
            "times_seen": h.count,
            "first_seen": eve_timestamp(h.first_ts),
            "last_seen": eve_timestamp(h.last_ts),
        }
        if best.port is not None:
            evidence["listed_port"] = best.port
        if best.expires_us is not None:
            evidence["expires"] = eve_timestamp(best.expires_us)
        if others:
            evidence["also_listed_by"] = others[:_ALSO]
        if extra:
            evidence.update(extra)
        text = _KIND_TEXT.get(best.kind, best.kind)
        threat = f" ({best.threat})" if best.threat else ""
        src, dst = (seen.peer, seen.host) if seen.inbound else (seen.host, seen.peer)
        meta: dict[str, list[str]] = {"tlp": [best.tlp]}
        if best.category == "scanner" and seen.inbound:
            meta.update(mitre_technique_id=["T1595"], mitre_tactic_id=["TA0043"])
        ctx.emit(
            Finding(
                key=key,
                ts_us=max(seen.ts_us, ctx.now_us),  # never behind the clock: folding holds
                evidence=evidence,
                src_ip=src,
                dest_ip=dst,
                src_port=seen.dest_port if seen.inbound else seen.src_port,
                dest_port=seen.src_port if seen.inbound else seen.dest_port,
                proto=seen.proto,
                flow_id=seen.flow_id,
                app_proto=seen.app_proto,
                signature=f"TOCSIN INTEL {text} listed by {best.source}{threat}"[:200],
                severity=severity_of(best),
                confidence=confidence_label(best.confidence),
                metadata=meta,
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "matched": self.matched,
            "expired": self.expired,
            "allowlisted": self.suppressed,
            "internal_listed": self.internal_listed,
            "evicted": self.hits.evicted,
        }


def event_seen(
    ev: Any, ctx: Context, ts_us: int, event_type: str, field: str, observed: str
) -> Seen:
    """A `Seen` for a flow-oriented app-layer event (src = client): the client is the host
    unless only the server is internal."""
    src, dst = str(ev.src_ip), str(ev.dest_ip)
    swap = not ctx.home.internal(src) and ctx.home.internal(dst)
    return Seen(
        event_type=event_type,
        field=field,
        observed=observed,
        ts_us=ts_us,
        host=dst if swap else src,
        peer=src if swap else dst,
        inbound=swap,
        src_port=ev.dest_port if swap else ev.src_port,
        dest_port=ev.src_port if swap else ev.dest_port,
        proto=ev.proto,
        flow_id=int(ev.flow_id) if ev.flow_id is not None else None,
        app_proto=ev.app_proto or event_type,
    )
