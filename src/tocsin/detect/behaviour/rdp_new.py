"""RDP from a host that never used RDP before (`behaviour.rdp_new_client`, 8_000_306).

Reads `rdp` events (the client's `initial_request`, sent in clear before TLS/CredSSP). The
detector keeps a bounded history of RDP clients for the site. For the first `learn_s`
seconds of packet time (counted from the first event or flow it sees, default 24 h) it only
learns. After that, a client address not in the history is reported once (then learned):
severity 3, confidence low (medium when the target had never been an RDP server either),
with the client, the server, the cookie's account name when sent, the history's size and
when learning ended. `known_clients` (CIDRs: admin workstations, jump hosts) are never new.

Why a learning period: any capture or sensor start would otherwise report every RDP user at
once. A capture shorter than `learn_s` gives no alert at all, which is the intended default;
set `learn_s: 0` to report every client as new (hunting in an old capture). The history is a
`BoundedMap` of `max_clients`: an evicted client is learned again, and may be reported again.

Near misses: a known client connecting to a new server (only the client is judged), the
server's answer (`initial_response` and later steps are not client requests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.detect.behaviour._lateral_common import Networks, event_us
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.state import BoundedMap
from tocsin.model.rdp import RdpEvent
from tocsin.output.timefmt import eve_timestamp


@dataclass(frozen=True, slots=True)
class RdpNewClientConfig:
    learn_s: int = 86_400  # packet-time learning period, from the first event seen
    known_clients: tuple[str, ...] = ()  # CIDRs/addresses never reported
    max_clients: int = 50_000
    max_servers: int = 50_000


class RdpNewClient(Detector):
    info = DetectorInfo(
        name="behaviour.rdp_new_client",
        signature_id=8_000_306,
        signature="TOCSIN BEHAVIOUR RDP from a host never seen using RDP before",
        category="Potentially Bad Traffic",
        technique="T1021.001",
        tactic="TA0008",
        severity=3,
        confidence="low",
        description="After a learning period (24 h of packet time), an RDP connection "
        "request from a client address not in the site's RDP client history.",
    )
    subscribes = frozenset({"rdp"})
    Config = RdpNewClientConfig

    def __init__(self, config: RdpNewClientConfig | None = None) -> None:
        super().__init__(config or RdpNewClientConfig())
        self.cfg: RdpNewClientConfig = self.config
        self.known = Networks(self.cfg.known_clients)
        self.clients: BoundedMap[str, int] = BoundedMap(self.cfg.max_clients)  # ip -> first
        self.servers: BoundedMap[str, int] = BoundedMap(self.cfg.max_servers)
        self.start_us: int | None = None
        self.learned = 0

    def on_event(self, ev: Any, ctx: Context) -> None:
        if not isinstance(ev, RdpEvent) or ev.rdp.event_type != "initial_request":
            return
        ts = event_us(ev)
        if self.start_us is None:
            self.start_us = ts
        learn_end = self.start_us + self.cfg.learn_s * 1_000_000
        src, dst = ev.src_ip, ev.dest_ip
        new_server = dst not in self.servers
        self.servers.get_or_create(dst, lambda: ts)
        if src in self.clients:
            self.clients.get_or_create(src, lambda: ts)  # touch (LRU)
            return
        self.clients.get_or_create(src, lambda: ts)
        if ts < learn_end or self.known.contains(src):
            self.learned += 1
            return
        evidence: dict[str, Any] = {
            "client": src,
            "server": dst,
            "server_seen_before": not new_server,
            "clients_in_history": len(self.clients) - 1,
            "learning_ended": eve_timestamp(learn_end),
            "first_seen": eve_timestamp(ts),
        }
        if ev.rdp.cookie and ev.rdp.cookie.strip():
            evidence["cookie"] = ev.rdp.cookie.strip()
        ctx.emit(
            Finding.from_event(
                ev,
                key=src,
                ts_us=ts,
                proto="TCP",
                app_proto="rdp",
                confidence="medium" if new_server else None,
                evidence=evidence,
            )
        )

    def counters(self) -> dict[str, int]:
        return {
            "evicted": self.clients.evicted + self.servers.evicted,
            "tracked": len(self.clients),
            "learned": self.learned,
        }


DETECTORS = (RdpNewClient,)
