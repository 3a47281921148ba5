"""Helpers for the sticky-buffer tests: transactions and events from the real parsers.

- `exchange(request, response)`: one hand-written HTTP exchange through `HttpParser` (with
  `inspect_bodies`, as content inspection runs it), its transaction once emitted;
- `http_txs(pcap)`: the HTTP transactions of a capture (shared replay helper);
- `events(parser_cls, pcap)`: the event bodies a DNS / TLS / SSH / SMB parser emits on a capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from applayer.http.flows import Flow
from applayer.replay import replay
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits
from tocsin.applayer.http import HttpParser, HttpTransaction

FIX = Path(__file__).resolve().parent / "fixtures"
APP = Path(__file__).resolve().parents[2] / "fixtures" / "applayer"


def exchange(request: bytes, response: bytes | None = None, **options: Any) -> HttpTransaction:
    flow = Flow(options=options)
    flow.send(TO_SERVER, request)
    if response is not None:
        flow.send(TO_CLIENT, response)
    flow.close()
    assert len(flow.txs) == 1, flow.txs
    return flow.txs[0]


def http_txs(pcap: Path, **options: Any) -> list[HttpTransaction]:
    got: list[HttpTransaction] = []

    def parser(emit: Any, limits: AppLimits) -> HttpParser:
        return HttpParser(emit, limits, inspect_bodies=True, on_transaction=got.append, **options)

    replay(parser, pcap)
    return got


def events(parser_cls: Any, pcap: Path, port: int | None = None) -> list[Any]:
    return [e.body for e in replay(parser_cls, pcap, port=port)]
