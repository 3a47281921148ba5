"""Test helpers for the HTTP parser.

- `replay`: the shared capture replay (`tests.applayer.replay`), re-exported;
- `replay_with_gaps`: a replay that calls `gap()` where a capture lost bytes;
- `Flow`: a minimal dispatcher for hand-written exchanges (honours `skip` and `done`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tocsin.applayer.base import AppLimits, AppParser
from tocsin.applayer.http import HttpParser, HttpTransaction
from tocsin.decode.layout import TH_SYN
from tocsin.model.http import HttpEvent, HttpInfo

from ..replay import Emitted, packets, replay

__all__ = ["Flow", "replay", "replay_with_gaps"]


def replay_with_gaps(
    parser_cls: Any, pcap: Path | str, *, limits: AppLimits | None = None
) -> list[Emitted]:
    """Feed each TCP direction in capture order, calling `gap(d)` where bytes are missing
    (a segment starts past the next expected byte). For captures with holes and no
    reordering (suricata-verify's http-gap tests); a SYN restarts the direction (port reuse)
    and its data is fed (TCP Fast Open); honours `skip` like the dispatcher."""
    events: list[Emitted] = []
    flows: dict[tuple[Any, ...], tuple[tuple[Any, ...], AppParser, list[int | None]]] = {}
    lim = limits or AppLimits()
    for ts, key, tfl, seq, _idx, payload in packets(pcap):
        src, sport, dst, dport, proto = key
        rev = (dst, dport, src, sport, proto)
        entry = flows.get(key) or flows.get(rev)
        if entry is None:
            fkey = rev if (tfl & 0x12) == 0x12 else key

            def emit(
                event_cls: type[msgspec.Struct],
                body: Any,
                direction: int,
                ts_us: int,
                tx_id: int | None = None,
                _k: tuple[Any, ...] = fkey,
            ) -> None:
                events.append(Emitted(event_cls, body, direction, ts_us, tx_id, _k))

            entry = flows[fkey] = (fkey, parser_cls(emit, lim), [None, None])
        fkey, parser, nxt = entry
        d = 0 if fkey == key else 1
        if proto != 6:
            continue
        if tfl & TH_SYN:  # a new connection (port reuse too); TCP Fast Open data follows
            nxt[d] = seq = seq + 1
        if not payload:
            continue
        expect = seq if nxt[d] is None else nxt[d]
        assert expect is not None
        if seq < expect:  # retransmission or overlap
            payload = payload[expect - seq :]
            seq = expect
            if not payload:
                continue
        nxt[d] = seq + len(payload)
        lost = seq - expect
        if lost and parser.skip[d] >= lost:
            parser.skip[d] -= lost
        elif lost:
            parser.skip[d] = 0
            parser.gap(d, ts)
        if parser.done[d]:
            continue
        take = min(parser.skip[d], len(payload))
        parser.skip[d] -= take
        if payload[take:]:
            parser.feed(d, payload[take:], ts)
    for _, parser, _ in flows.values():
        parser.close(0)
    return events


@dataclass
class Flow:
    """One flow's parser fed like the dispatcher would: skipped bytes never reach `feed`."""

    limits: AppLimits = field(default_factory=AppLimits)
    options: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[HttpInfo, int, int, int | None]] = field(default_factory=list)
    txs: list[HttpTransaction] = field(default_factory=list)
    dropped: list[int] = field(default_factory=lambda: [0, 0])

    def __post_init__(self) -> None:
        options = {"inspect_bodies": True, **self.options}  # tests read decoded bodies
        self.parser = HttpParser(self._emit, self.limits, on_transaction=self.txs.append, **options)

    def _emit(
        self, cls: type, body: Any, direction: int, ts_us: int, tx_id: int | None = None
    ) -> None:
        assert cls is HttpEvent and isinstance(body, HttpInfo)
        self.events.append((body, direction, ts_us, tx_id))

    def send(self, direction: int, data: bytes, ts: int = 0, step: int = 0) -> None:
        for i in range(0, len(data), step or max(1, len(data))):
            chunk = data[i : i + (step or len(data))]
            p = self.parser
            if p.done[direction]:
                self.dropped[direction] += len(chunk)
                continue
            take = min(p.skip[direction], len(chunk))
            p.skip[direction] -= take
            self.dropped[direction] += take
            if chunk[take:]:
                p.feed(direction, chunk[take:], ts)

    def close(self, ts: int = 0) -> None:
        self.parser.close(ts)

    @property
    def infos(self) -> list[HttpInfo]:
        return [e[0] for e in self.events]
