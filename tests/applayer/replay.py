"""Test helper: feed a parser the payloads of a capture, without the sensor pipeline.

`replay(parser_cls, pcap)` reads the capture with Tocsin's own reader and decoder, groups
packets into flows by 5-tuple (initiator = sender of the first packet, or of the SYN), puts each
TCP direction in sequence order (duplicates and retransmissions dropped, no gap handling:
captures used with it are clean) and feeds one parser per flow: TCP streams in order, UDP
datagrams one by one. Returns every emitted event as an `Emitted` record.

`chunks(pcap)` gives, per flow, the (direction, bytes) chunks a parser would be fed.

Only for parser unit tests on small fixtures; the real reassembly is `tocsin.flow.stream`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from tocsin.applayer.base import AppLimits, AppParser, ParseError
from tocsin.capture.source import open_capture
from tocsin.decode.decoder import Decoder
from tocsin.decode.layout import FLAG_FLOW, TH_SYN


@dataclass
class Emitted:
    event_cls: type[msgspec.Struct]
    body: Any
    direction: int
    ts_us: int
    tx_id: int | None
    flow: tuple[Any, ...]  # (src, sport, dst, dport, proto) of the flow, initiator first


@dataclass
class _Flow:
    key: tuple[Any, ...]
    parser: AppParser
    segs: list[list[tuple[int, int, int, bytes]]] = field(default_factory=lambda: [[], []])


def packets(pcap: Path | str) -> list[tuple[int, tuple[Any, ...], int, int, int, bytes]]:
    """(ts_us, (src, sport, dst, dport, proto), tcp_flags, tcp_seq, index, payload) per packet
    that has a flow."""
    out = []
    dec = Decoder()
    with open_capture([pcap]) as cs:
        for batch in cs.batches():
            pk = dec.decode(batch)
            for i in range(batch.n):
                r = pk[i]
                if not int(r["flags"]) & FLAG_FLOW:
                    continue
                src = (int(r["src_hi"]), int(r["src_lo"]))
                dst = (int(r["dst_hi"]), int(r["dst_lo"]))
                key = (src, int(r["sport"]), dst, int(r["dport"]), int(r["proto"]))
                off = int(batch.offset[i]) + int(r["pay_off"])
                n = max(int(r["pay_len"]), 0)
                payload = bytes(batch.data[off : off + n]) if n else b""
                out.append(
                    (
                        int(batch.ts_us[i]),
                        key,
                        int(r["tcp_flags"]),
                        int(r["tcp_seq"]),
                        len(out),
                        payload,
                    )
                )
    return out


def replay(
    parser_cls: Callable[[Any, AppLimits], AppParser],
    pcap: Path | str,
    *,
    limits: AppLimits | None = None,
    port: int | None = None,
) -> list[Emitted]:
    """Run one `parser_cls(emit, limits)` (a parser class or any factory) per flow of `pcap`
    (only flows with `port` on either side if given) and return what they emitted, in
    order."""
    events: list[Emitted] = []
    flows: dict[tuple[Any, ...], _Flow] = {}
    order: list[_Flow] = []
    lim = limits or AppLimits()
    for ts, key, tfl, seq, _idx, payload in packets(pcap):
        src, sport, dst, dport, proto = key
        if port is not None and port not in (sport, dport):
            continue
        rev = (dst, dport, src, sport, proto)
        if key in flows:
            fl, d = flows[key], 0
        elif rev in flows:
            fl, d = flows[rev], 1
        else:
            fkey = rev if proto == 6 and (tfl & 0x12) == 0x12 else key

            def emit(
                event_cls: type[msgspec.Struct],
                body: Any,
                direction: int,
                ts_us: int,
                tx_id: int | None = None,
                _k: tuple[Any, ...] = fkey,
            ) -> None:
                events.append(Emitted(event_cls, body, direction, ts_us, tx_id, _k))

            fl = _Flow(fkey, parser_cls(emit, lim))
            flows[fkey] = fl
            order.append(fl)
            d = 0 if fkey == key else 1
        if proto != 6:
            if payload and not fl.parser.done[d]:
                fl.parser.feed(d, payload, ts)
            continue
        if tfl & TH_SYN:
            fl.segs[d].append((seq + 1, -1, ts, b""))  # marks the stream start
        elif payload:
            fl.segs[d].append((seq, 0, ts, payload))
            _drain(fl, d)
    for fl in order:
        for d in (0, 1):
            _drain(fl, d)
        fl.parser.close(0)
    return events


def _drain(fl: _Flow, d: int) -> None:
    """Feed direction `d` every segment that is next in sequence (naive, for clean captures)."""
    segs = fl.segs[d]
    if not segs:
        return
    start = [s for s in segs if s[1] == -1]
    nxt = start[0][0] if start else min(s[0] for s in segs if s[1] == 0)
    pending = sorted((s for s in segs if s[1] == 0), key=lambda s: s[0])
    keep: list[tuple[int, int, int, bytes]] = [(nxt, -1, 0, b"")]
    for seq, _, ts, data in pending:
        rel = (seq - nxt) & 0xFFFFFFFF
        if rel >= 0x80000000:  # starts before nxt: trim the old part
            cut = (nxt - seq) & 0xFFFFFFFF
            if cut >= len(data):
                continue
            data, seq, rel = data[cut:], nxt, 0
        if rel:
            keep.append((seq, 0, ts, data))
            continue
        if fl.parser.done[d]:
            nxt = (nxt + len(data)) & 0xFFFFFFFF
            continue
        skip = fl.parser.skip[d]
        if skip:
            take = min(skip, len(data))
            fl.parser.skip[d] -= take
            data = data[take:]
            nxt = (nxt + take) & 0xFFFFFFFF
            if not data:
                continue
        fl.parser.feed(d, data, ts)
        nxt = (nxt + len(data)) & 0xFFFFFFFF
    keep[0] = (nxt, -1, 0, b"")
    fl.segs[d] = keep


class _Recorder(AppParser):
    """Wants every byte; keeps what it is fed."""

    def __init__(self, emit: Any, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.fed: list[tuple[int, bytes]] = []
        emit(msgspec.Struct, self, 0, 0)  # hands itself over, to be read after the replay

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        self.fed.append((direction, data))


def chunks(pcap: Path | str, port: int | None = None) -> list[list[tuple[int, bytes]]]:
    """Per flow (capture order): the (direction, payload) chunks a parser is fed, in order,
    for unit and fuzz tests that feed real bytes by hand."""
    return [e.body.fed for e in replay(_Recorder, pcap, port=port)]


class Feeder:
    """A parser fed like the dispatcher feeds it (`skip` and `done` honoured), its events
    kept as (event class, body, direction, ts, tx_id)."""

    def __init__(self, parser_cls: type[AppParser], limits: AppLimits | None = None) -> None:
        self.events: list[tuple[Any, ...]] = []
        self.parser = parser_cls(
            lambda cls, body, d, ts, tx=None: self.events.append((cls, body, d, ts, tx)),
            limits or AppLimits(),
        )

    def feed(self, direction: int, data: bytes, ts: int = 0) -> None:
        p = self.parser
        if p.done[direction]:
            return
        take = min(p.skip[direction], len(data))
        p.skip[direction] -= take
        if data[take:]:
            p.feed(direction, data[take:], ts)

    def bodies(self) -> list[Any]:
        return [e[1] for e in self.events]

    def types(self) -> list[str]:
        return [e[1].event_type for e in self.events]


def session(
    parser_cls: type[AppParser], *lines: tuple[int, bytes], limits: AppLimits | None = None
) -> Feeder:
    """A `Feeder` of `parser_cls` fed `lines`, (direction, bytes) chunks in order."""
    f = Feeder(parser_cls, limits)
    for d, data in lines:
        f.feed(d, data)
    return f


def fed_whole(f: Feeder, segments: Iterable[tuple[Any, ...]], close_ts: int = 0) -> bool:
    """Feed `segments` — (direction, bytes) or (direction, ts, bytes) — then close the
    parser. False when the parser raised its own `ParseError` (the one failure a fuzz test
    allows); any other exception propagates."""
    try:
        for seg in segments:
            if len(seg) == 3:
                f.feed(seg[0], seg[2], seg[1])
            else:
                f.feed(seg[0], seg[1])
        f.parser.close(close_ts)
    except ParseError:
        return False
    return True
