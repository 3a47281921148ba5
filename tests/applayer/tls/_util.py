"""Helpers for the TLS parser tests.

- `conversations(name)`: a fixture's TCP connections as real (direction, bytes) chunks;
- `run(chunks)`: drives one `TlsParser` the way the dispatcher does (honouring `skip` and
  `done`, stopping the flow at a `ParseError`);
- `replay_tls(name)`: the shared `replay` with a `ParseError` stopping only its own flow, as
  the dispatcher does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.tls import TlsParser
from tocsin.model.tls import TlsEvent, TlsInfo

from ..replay import Emitted, packets, replay

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "tls"

Chunk = tuple[int, bytes]  # (direction, payload)


def conversations(name: str) -> list[list[Chunk]]:
    """The TCP connections of fixture `name`, each as (direction, payload) chunks in delivery
    order: a segment is delivered when it is next in sequence (out-of-order segments wait,
    retransmissions are dropped); direction 0 is the sender of the SYN. For clean captures."""
    conns: dict[frozenset[Any], _Conn] = {}
    for _ts, key, flags, seq, _idx, payload in packets(FIXTURES / name):
        src, sport, dst, dport, proto = key
        if proto != 6:
            continue
        k = frozenset([(src, sport), (dst, dport)])
        if k not in conns:
            conns[k] = _Conn((dst, dport) if flags & 0x12 == 0x12 else (src, sport))
        c = conns[k]
        d = 0 if (src, sport) == c.initiator else 1
        if flags & 0x02:  # SYN: the stream starts after it
            c.nxt[d] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        if c.nxt[d] is None:
            c.nxt[d] = seq
        c.pending[d].setdefault(seq, payload)
        while c.nxt[d] in c.pending[d]:
            data = c.pending[d].pop(c.nxt[d])
            c.chunks.append((d, data))
            c.nxt[d] = (c.nxt[d] + len(data)) & 0xFFFFFFFF
    return [c.chunks for c in conns.values() if c.chunks]


@dataclass
class _Conn:
    initiator: Any
    chunks: list[Chunk] = field(default_factory=list)
    nxt: list[int | None] = field(default_factory=lambda: [None, None])
    pending: tuple[dict[int, bytes], dict[int, bytes]] = field(default_factory=lambda: ({}, {}))


def client_server(chunks: Iterable[Chunk]) -> tuple[bytes, bytes]:
    """The bytes each direction sent, joined."""
    parts: tuple[list[bytes], list[bytes]] = ([], [])
    for d, data in chunks:
        parts[d].append(data)
    return b"".join(parts[0]), b"".join(parts[1])


@dataclass
class Run:
    parser: TlsParser
    events: list[tuple[TlsInfo, int, int]] = field(default_factory=list)  # (body, dir, ts)
    error: ParseError | None = None
    fed: list[int] = field(default_factory=lambda: [0, 0])  # bytes handed to feed()
    skipped: list[int] = field(default_factory=lambda: [0, 0])  # bytes dropped via skip

    @property
    def info(self) -> TlsInfo:
        assert len(self.events) == 1, self.events
        return self.events[0][0]


def run(
    chunks: Iterable[Chunk],
    *,
    limits: AppLimits | None = None,
    split: Callable[[bytes], list[bytes]] | None = None,
    close: bool = True,
    **kwargs: Any,
) -> Run:
    """Feed `chunks` (re-cut by `split`) to a new TlsParser like the dispatcher would."""
    events: list[tuple[TlsInfo, int, int]] = []

    def emit(cls: Any, body: Any, direction: int, ts_us: int, tx_id: int | None = None) -> None:
        assert cls is TlsEvent
        events.append((body, direction, ts_us))

    p = TlsParser(emit, limits or AppLimits(), **kwargs)
    r = Run(p, events)
    ts = 0
    for d, data in chunks:
        ts += 1
        for piece in split(data) if split else [data]:
            if p.done[d]:
                break
            if p.skip[d]:
                take = min(p.skip[d], len(piece))
                p.skip[d] -= take
                r.skipped[d] += take
                piece = piece[take:]
            if not piece:
                continue
            r.fed[d] += len(piece)
            try:
                p.feed(d, piece, ts)
            except ParseError as e:
                r.error = e
                return r
    if close:
        p.close(ts + 1)
    return r


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


class _Isolated(TlsParser):
    """A TlsParser whose ParseError ends its own flow only (as the dispatcher does)."""

    def __init__(self, emit: Any, limits: AppLimits, errors: list[str], **kw: Any) -> None:
        super().__init__(emit, limits, **kw)
        self._errors = errors

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        try:
            super().feed(direction, data, ts_us)
        except ParseError as e:
            self._errors.append(str(e))
            self.done[0] = self.done[1] = True


def replay_tls(
    name: str | Path, *, limits: AppLimits | None = None, port: int | None = None, **kwargs: Any
) -> tuple[list[Emitted], list[str]]:
    """Every TLS event of fixture `name` (or of the capture at path `name`), one parser per
    flow with `port` on a side (all flows when None, UDP ones included), and the parse errors
    that stopped flows."""
    errors: list[str] = []

    def make(emit: Any, lim: AppLimits) -> _Isolated:
        return _Isolated(emit, lim, errors, **kwargs)

    # an absolute path wins over FIXTURES
    return replay(make, FIXTURES / name, limits=limits, port=port), errors
