"""Where the app-layer dispatcher hands transactions and protocol events to the signatures.

One `TxHooks` per flow whose protocol some tx rule inspects (`DetectEngine.wants`):

- HTTP is inspected as its transactions progress: after every chunk fed to the parser
  (`progress`) the transactions still pending are looked at — request headers, request body,
  response headers, response body — and a rule is decided as soon as every buffer it reads is
  complete; the parser's `on_transaction` hook (`final`) decides the rest just before the
  transaction's event is written. An alert's `pcap_cnt` is the packet that completed what the
  rule needed, as in Suricata;
- other protocols are inspected per event (`event`: a DNS message, a TLS handshake...), at
  the packet that produced it.

Alerts go into the dispatcher's event list, tagged with the current packet, so they are
written in packet order with everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from tocsin.applayer.http.transaction import HttpTransaction
from tocsin.detect.buffers.events import event_buffers
from tocsin.detect.buffers.http import HttpBuffers
from tocsin.detect.engine import DetectEngine, TxCtx

if TYPE_CHECKING:
    from tocsin.runtime.applayer import AppLayer


class TxHooks:
    """See the module docstring."""

    __slots__ = (
        "_bufs",
        "_layer",
        "ctx",
        "engine",
        "on_events",
        "on_transactions",
        "parser",
        "strip_certs",
        "word",
    )

    def __init__(self, engine: DetectEngine, ctx: TxCtx, word: str, layer: AppLayer) -> None:
        self.engine = engine
        self.ctx = ctx
        self.word = word
        self._layer = layer
        self.on_transactions = word == "http"
        self.on_events = not self.on_transactions
        self._bufs: dict[int, HttpBuffers] = {}
        self.parser: Any = None  # the flow's HTTP parser (set once created)
        self.strip_certs = False  # TLS: certificates kept for tls.certs rules, not logged

    # -- HTTP ----------------------------------------------------------------------------------

    def progress(self, parser: Any, d: int, ts: int) -> None:
        for tx in parser.pending_transactions():
            self._http(tx, d, ts, final=False)

    def final(self, tx: HttpTransaction) -> None:
        d = 1 if tx.response_started else 0
        self._http(tx, d, self._layer.last_ts, final=True)
        self._bufs.pop(tx.tx_id, None)

    def _http(self, tx: HttpTransaction, d: int, ts: int, final: bool) -> None:
        bufs = self._bufs.get(tx.tx_id)
        if bufs is None:
            bufs = self._bufs[tx.tx_id] = HttpBuffers(tx)

        def app_obj() -> dict[str, Any]:
            return {"http": self.parser.info(tx)}

        self._emit(
            self.engine.on_tx(
                self.ctx, "http", tx.tx_id, bufs, final, ts, self._layer.current_pcnt, app_obj
            )
        )

    # -- other protocols -----------------------------------------------------------------------

    def event(
        self, tag: str, body: msgspec.Struct, direction: int, ts: int, tx_id: int | None
    ) -> None:
        eb = event_buffers(tag, body)
        if eb is None:
            return

        def app_obj() -> dict[str, Any]:
            return {tag: body} if tag in ("dns", "tls", "ssh", "smb") else {}

        self._emit(
            self.engine.on_tx(
                self.ctx,
                self.word,
                -1 if tx_id is None else tx_id,
                eb,
                True,
                ts,
                self._layer.current_pcnt,
                app_obj,
            )
        )

    def _emit(self, alerts: list[Any]) -> None:
        if alerts:
            self._layer.add_alerts(alerts)
