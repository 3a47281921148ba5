"""Listed HTTP User-Agent strings (`intel.http_user_agent`).

Reads `http` events: `http_user_agent` compared exactly (case and spacing kept, surrounding
blanks cut) with indicators of kind `user_agent` (MISP `user-agent` attributes, CSV rows of
type `user_agent`). The internal host is the HTTP client (the server when only it is
internal: a scanner's tool string against a hospital web server is inbound).

One alert per (user agent, host) per re-alert window.

Near misses it ignores on purpose: a user agent that merely contains a listed one, or differs
in case (browsers' strings differ by one version digit; substring matching belongs in
signatures), expired indicators.
"""

from __future__ import annotations

from typing import Any

from tocsin.detect.correlate.plugin import Context, DetectorInfo, event_us
from tocsin.detect.intel._common import IntelDetector, event_seen


class IntelUserAgent(IntelDetector):
    """An HTTP request whose User-Agent a threat feed lists."""

    info = DetectorInfo(
        name="intel.http_user_agent",
        signature_id=8_100_005,
        signature="TOCSIN INTEL user agent listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1071.001",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description="An HTTP request whose User-Agent is listed by a loaded threat feed.",
    )
    subscribes = frozenset({"http"})

    def on_event(self, ev: Any, ctx: Context) -> None:
        if "user_agent" not in self.intel.values:
            return
        ua = ev.http.http_user_agent
        if not ua:
            return
        value = ua.strip()
        inds = self.intel.exact("user_agent", value)
        if not inds:
            return
        ts = event_us(ev, ctx.now_us)
        live = self.live(inds, ts)
        if live:
            seen = event_seen(ev, ctx, ts, "http", "http.http_user_agent", value)
            self.report(ctx, live, seen)


DETECTORS = (IntelUserAgent,)
