"""Listed TLS fingerprints and server names (`intel.tls`).

Reads `tls` events: the client's JA3 hash (`tls.ja3.hash`) and JA4 (`tls.ja4`), the server
certificate's SHA-1 (`tls.fingerprint`, colons dropped), and the server name (`tls.sni`)
against indicators of kind `sni` (an exact TLS name; a listed *domain* on the SNI is
`intel.domain`'s). Each listed value found reports once per (value, client host) per
re-alert window, the signature naming the kind (`TOCSIN INTEL JA3 listed by abuse.ch
(Dridex)`).

Near misses it ignores on purpose: a JA3/JA4 seen from a host with a different value (exact
matching only), certificate fingerprints of trusted CAs and intermediates (MISP warning
lists, dropped at load), expired indicators. JA3 alone is weak evidence (browsers and
malware share some); abuse.ch's listings carry confidence 75, so severity 2.
"""

from __future__ import annotations

from typing import Any

from tocsin.detect.correlate.plugin import Context, DetectorInfo, event_us
from tocsin.detect.intel._common import IntelDetector, event_seen


class IntelTls(IntelDetector):
    """A TLS session whose JA3, JA4, certificate SHA-1 or SNI a threat feed lists."""

    info = DetectorInfo(
        name="intel.tls",
        signature_id=8_100_004,
        signature="TOCSIN INTEL TLS fingerprint listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1573",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description=(
            "A TLS session whose client fingerprint (JA3, JA4), server certificate SHA-1 or "
            "server name is listed by a loaded threat feed."
        ),
    )
    subscribes = frozenset({"tls"})

    def on_event(self, ev: Any, ctx: Context) -> None:
        vals = self.intel.values
        if not any(k in vals for k in ("ja3", "ja4", "cert_sha1", "sni")):
            return
        t = ev.tls
        checks: list[tuple[str, str, str | None]] = [
            ("ja3", "tls.ja3.hash", t.ja3.hash.lower() if t.ja3 and t.ja3.hash else None),
            ("ja4", "tls.ja4", t.ja4),
            (
                "cert_sha1",
                "tls.fingerprint",
                t.fingerprint.replace(":", "").lower() if t.fingerprint else None,
            ),
            ("sni", "tls.sni", t.sni.rstrip(".").lower() if t.sni else None),
        ]
        ts: int | None = None
        for kind, field, value in checks:
            if not value:
                continue
            inds = self.intel.exact(kind, value)
            if not inds:
                continue
            ts = event_us(ev, ctx.now_us) if ts is None else ts
            live = self.live(inds, ts)
            if live:
                self.report(ctx, live, event_seen(ev, ctx, ts, "tls", field, value))


DETECTORS = (IntelTls,)
