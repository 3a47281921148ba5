"""Shared pieces of the medical detectors: event time, the learning period, peer baselines.

- `event_us(ev, ctx.now_us)`: an app-layer event's packet time in µs.
- `LearningClock`: the learning period starts at the first event a detector sees and lasts
  `learn_s` seconds of packet time; during it every peer is recorded as normal, after it new
  ones are reported. A short capture therefore lies entirely inside the learning period
  (default one day) and raises no "new peer" alert.
- `PeerBaseline`: which peers (AE titles, hosts, sending applications...) each server has
  talked to, in one `BoundedMap` of (server, kind, value) keys: a server first seen after the
  learning period takes its first peer as its baseline without alerting.
"""

from __future__ import annotations

from tocsin.detect.correlate.state import BoundedMap
from tocsin.output.timefmt import eve_timestamp

DAY_S = 86_400


class LearningClock:
    """Packet-time learning period of `learn_s` seconds from the first observation."""

    def __init__(self, learn_s: int) -> None:
        self.learn_us = learn_s * 1_000_000
        self.start_us: int | None = None

    def learning(self, ts_us: int) -> bool:
        if self.start_us is None:
            self.start_us = ts_us
        return ts_us - self.start_us < self.learn_us

    def end_us(self) -> int | None:
        return None if self.start_us is None else self.start_us + self.learn_us

    def since(self) -> str | None:
        return None if self.start_us is None else eve_timestamp(self.start_us)


class PeerBaseline:
    """Known (server, kind, value) triples, with the time each was first seen."""

    def __init__(self, capacity: int) -> None:
        self.known: BoundedMap[tuple[str, str, str], int] = BoundedMap(capacity)
        self.servers: BoundedMap[str, int] = BoundedMap(capacity)

    def new_kinds(self, server: str, peer: dict[str, str], ts_us: int) -> list[str] | None:
        """Which kinds of `peer` the server has not seen; None when the server itself is new
        (it is recorded with this peer as its baseline)."""
        if self.servers.get(server) is None:
            self.servers.get_or_create(server, lambda: ts_us)
            self.learn(server, peer, ts_us)
            return None
        self.servers.get_or_create(server, lambda: ts_us)  # touch
        return [k for k, v in peer.items() if (server, k, v) not in self.known]

    def learn(self, server: str, peer: dict[str, str], ts_us: int) -> None:
        self.servers.get_or_create(server, lambda: ts_us)
        for k, v in peer.items():
            self.known.get_or_create((server, k, v), lambda: ts_us)

    def peers_of(self, server: str, kind: str) -> int:
        return sum(1 for (s, k, _v), _t in self.known.items() if s == server and k == kind)

    @property
    def evicted(self) -> int:
        return self.known.evicted + self.servers.evicted

    def counters(self) -> dict[str, int]:
        """A detector's `counters()` when the baseline is all its state."""
        return {"evicted": self.evicted, "known": len(self.known)}
