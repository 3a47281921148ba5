"""Listed addresses and networks in flows (`intel.ip`).

Reads ended flows. Both ends of every flow are looked up in the indicator set's `IpIndex`:
IPv4 columns in a few vectorised passes (one `np.searchsorted` per prefix length listed),
IPv6 rows one by one (only when IPv6 indicators were loaded). A hit reports the listed
address with the flow: the internal host contacted it (outbound, the host is the alert's
source) or it contacted the internal host (inbound: a mass scanner, the listed address is
the source; ATT&CK T1595 for scanner listings). An `ip:port` trail matches only flows to
(or from) that port of the address, as maltrail means it.

One alert per (indicator, internal host) per re-alert window; `times_seen` counts the flows.

Near misses it ignores on purpose: a listed address inside HOME_NET (a feed listing a private
address says nothing about this site; counted `internal_listed`), an address inside a
listed CIDR that an allow-list holds (a public resolver or CDN inside a listed range;
counted `allowlisted`), an `ip:port` trail seen on another port, expired indicators.
"""

from __future__ import annotations

import numpy as np

from tocsin.detect.correlate.plugin import Context, DetectorInfo
from tocsin.detect.intel._common import IntelDetector, Seen
from tocsin.detect.intel._model import Indicator
from tocsin.model.flows import FlowBatch

_PROTO = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "IPv6-ICMP"}


class IntelIp(IntelDetector):
    """A flow to or from an address a threat feed lists."""

    info = DetectorInfo(
        name="intel.ip",
        signature_id=8_100_001,
        signature="TOCSIN INTEL IP listed by a threat feed",
        category="Potentially Bad Traffic",
        technique="T1071",
        tactic="TA0011",
        severity=2,
        confidence="medium",
        description=(
            "A flow to or from an IP address or range listed by a loaded threat feed "
            "(maltrail, abuse.ch, MISP, STIX, site lists)."
        ),
    )
    subscribes = frozenset({"flow"})

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        ips = self.intel.ips
        if not len(ips) or flows.n == 0:
            return
        v4 = np.flatnonzero(flows.ipver == 4)
        found: list[tuple[int, bool, list[Indicator]]] = []  # (row, listed is dst, inds)
        if v4.size:
            mask = np.uint64(0xFFFF_FFFF)
            src = (flows.src_lo[v4] & mask).astype(np.uint32)
            dst = (flows.dst_lo[v4] & mask).astype(np.uint32)
            for r, inds in ips.lookup_v4(dst):
                found.append((int(v4[r]), True, inds))
            for r, inds in ips.lookup_v4(src):
                found.append((int(v4[r]), False, inds))
        if ips.has_v6 and v4.size < flows.n:
            for i in np.flatnonzero(flows.ipver != 4).tolist():
                d = (int(flows.dst_hi[i]) << 64) | int(flows.dst_lo[i])
                s = (int(flows.src_hi[i]) << 64) | int(flows.src_lo[i])
                hit = ips.lookup_v6(d)
                if hit:
                    found.append((i, True, hit))
                hit = ips.lookup_v6(s)
                if hit:
                    found.append((i, False, hit))
        for row, listed_dst, inds in sorted(found, key=lambda x: (x[0], not x[1])):
            self._one(flows, row, listed_dst, inds, ctx)

    def _one(
        self, flows: FlowBatch, i: int, listed_dst: bool, inds: list[Indicator], ctx: Context
    ) -> None:
        ts = int(flows.first_ts[i])
        listed = flows.dest_ip(i) if listed_dst else flows.src_ip(i)
        other = flows.src_ip(i) if listed_dst else flows.dest_ip(i)
        if ctx.home.internal(listed):
            self.internal_listed += 1
            return
        port = int(flows.dport[i]) if listed_dst else int(flows.sport[i])
        inds = [x for x in self.live(inds, ts) if x.port is None or x.port == port]
        if not inds:
            return
        if any(x.kind == "cidr" for x in inds) and self.intel.allowed_ip(listed) is not None:
            inds = [x for x in inds if x.kind != "cidr"]
            self.suppressed += 1
            if not inds:
                return
        proto = int(flows.proto[i])
        other_port = int(flows.sport[i]) if listed_dst else int(flows.dport[i])
        seen = Seen(
            event_type="flow",
            field="dest_ip" if listed_dst else "src_ip",
            observed=listed,
            ts_us=ts,
            host=other,
            peer=listed,
            inbound=not listed_dst,
            src_port=other_port,
            dest_port=port,
            proto=_PROTO.get(proto, str(proto)),
            flow_id=int(flows.flow_id[i]),
            app_proto=flows.app(i) or None,
        )
        self.report(ctx, inds, seen)  # one finding: an address and its /24 both listed


DETECTORS = (IntelIp,)
