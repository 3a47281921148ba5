"""Capture helpers for the DHCP, SSH and RDP tests.

`replay` is `tests/applayer/replay.py`'s `replay` with the server-to-client direction right:
the shared helper gives direction 0 to a packet whose 5-tuple is the reverse of its flow's
key (its line 95, `0 if flows[rev].key == rev else 1`, is always 0), so replies are fed as
if the client sent them. This copy of its dispatch loop fixes that and reuses the rest
(packet reading, in-order draining), as `http/flows.py` and `dicom/flows.py` do. Drop it when
the shared helper is fixed.

`chunks` gives the payload chunks a parser would be fed for each flow (direction, bytes), in
order, for unit and fuzz tests that feed real bytes by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from tocsin.applayer.base import AppLimits, AppParser
from tocsin.decode.layout import TH_SYN

from ..replay import Emitted, _drain, _Flow, packets


def replay(
    parser_cls: Any,
    pcap: Path | str,
    *,
    limits: AppLimits | None = None,
    port: int | None = None,
) -> list[Emitted]:
    """Run one `parser_cls(emit, limits)` per flow of `pcap`; return what they emitted."""
    events: list[Emitted] = []
    flows: dict[tuple[Any, ...], _Flow] = {}
    order: list[_Flow] = []
    lim = limits or AppLimits()
    for ts, key, tfl, seq, _idx, payload in packets(pcap):
        src, sport, dst, dport, proto = key
        if port is not None and port not in (sport, dport):
            continue
        rev = (dst, dport, src, sport, proto)
        fl = flows.get(key) or flows.get(rev)
        if fl is None:
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

            parser: AppParser = parser_cls(emit, lim)
            fl = _Flow(fkey, parser)
            flows[fkey] = fl
            order.append(fl)
        d = 0 if fl.key == key else 1
        if proto != 6:
            if payload and not fl.parser.done[d]:
                fl.parser.feed(d, payload, ts)
            continue
        if tfl & TH_SYN:
            fl.segs[d].append((seq + 1, -1, ts, b""))
        elif payload:
            fl.segs[d].append((seq, 0, ts, payload))
            _drain(fl, d)
    for fl in order:
        for d in (0, 1):
            _drain(fl, d)
        fl.parser.close(0)
    return events


class _Recorder(AppParser):
    """Wants every byte; keeps what it is fed."""

    def __init__(self, emit: Any, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.fed: list[tuple[int, bytes]] = []
        emit(msgspec.Struct, self, 0, 0)  # hands itself over, to be read after the replay

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        self.fed.append((direction, data))


def chunks(pcap: Path | str, port: int | None = None) -> list[list[tuple[int, bytes]]]:
    """Per flow (capture order): the (direction, payload) chunks in the order fed."""
    return [e.body.fed for e in replay(_Recorder, pcap, port=port)]
