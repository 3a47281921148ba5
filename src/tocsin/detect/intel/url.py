"""Listed URLs in HTTP requests (`intel.url`).

Reads `http` events. The request's URL is `hostname` (or, without a Host header, the server
address) followed by `url`; it matches a listed URL written `host/path?query` (scheme and
default port dropped at load), with or without the query string, and a path-only trail
(maltrail's `/meterpreter_reverse_tcp.exe`) matches that path on any host. The internal host
is the HTTP client (the server when only it is internal).

One alert per (listed URL, host) per re-alert window.

Near misses it ignores on purpose: another path on a listed URL's host (a listed URL does not
list its whole host: `intel.domain` handles listed hosts), a listed path as a prefix of a
longer one (`/a.php` does not match `/a.php.bak`; the query alone may differ), HTTPS (the
URL is not seen; the SNI is `intel.domain`'s), expired indicators.
"""

from __future__ import annotations

from typing import Any

from tocsin.detect.correlate.plugin import Context, DetectorInfo, event_us
from tocsin.detect.intel._common import IntelDetector, event_seen


class IntelUrl(IntelDetector):
    """An HTTP request for a URL a threat feed lists."""

    info = DetectorInfo(
        name="intel.url",
        signature_id=8_100_003,
        signature="TOCSIN INTEL URL listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1105",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description="An HTTP request for a URL (or a path trail) listed by a loaded threat feed.",
    )
    subscribes = frozenset({"http"})

    def on_event(self, ev: Any, ctx: Context) -> None:
        if "url" not in self.intel.values:
            return
        h = ev.http
        path = h.url
        if not path:
            return
        if not path.startswith("/"):  # absolute-form (a proxy request): keep host/path
            path = "/" + path.split("://", 1)[-1].split("/", 1)[-1]
        host = (h.hostname or str(ev.dest_ip)).lower()
        if ":" in host and not host.startswith("["):
            name, _, port = host.rpartition(":")
            host = name if port.isdigit() and "." in name else host
        hits = self.intel.url(host, path)
        if not hits:
            return
        ts = event_us(ev, ctx.now_us)
        live = self.live([i for _, i in hits], ts)
        if live:
            seen = event_seen(ev, ctx, ts, "http", "http.hostname+http.url", host + path)
            self.report(ctx, live, seen)


DETECTORS = (IntelUrl,)
