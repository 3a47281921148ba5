"""The contract between the app-layer dispatcher and every protocol parser.

Parsers are sans-io: bytes in, events out, no sockets, no clocks, no globals. The dispatcher
(`runtime.applayer`) owns the per-flow state, the TCP reassembly (`flow.stream`) and the EVE
header of each event (flow id, addresses, ports, timestamp); a parser only sees its own
protocol's bytes, in order, one direction at a time.

- A **stream parser** (TCP) gets each direction's reassembled bytes in order, in chunks of any
  size (a message may be split anywhere, several messages may come in one chunk): it buffers
  what it needs, bounded by `AppLimits`.
- A **datagram parser** (UDP) gets one whole datagram payload per `feed` call.

Directions: `TO_SERVER` (0) is the flow initiator's direction, `TO_CLIENT` (1) the other.

A parser reports:
- events, by calling `emit(event_cls, body, direction, ts_us, tx_id)`: `event_cls` is the
  protocol's EVE record (a `model.app.AppEvent` subclass whose tag is the protocol word) and
  `body` the value of its protocol field (`DnsInfo`...); `direction` is the direction of the
  message the event is about (some event types are oriented by packet, see `AppEvent`);
- `skip[d]`: bytes that follow what it was given in direction `d` that it does not need (a
  body it does not inspect, encrypted records...). The dispatcher drops them without calling
  `feed` (the compiled kernel stops handing such packets to Python at all) and sets
  `skip[d]` back to 0. Bytes already handed over in the same `feed` call are the parser's own
  business: `skip` only counts bytes not yet given;
- `done[d] = True`: it wants nothing more in direction `d` (TLS after the handshake, a protocol
  it lost track of). When both directions are done the flow costs nothing any more;
- malformed input by raising `ParseError` (message says what is wrong): the dispatcher counts it
  (`app_layer.error.<proto>.parser`), logs an `anomaly` event and stops parsing that flow. Any
  other exception is a bug: counted as an internal error, the flow stops, the sensor goes on.

`gap(d, ts)`: bytes were lost in direction `d` (capture loss, a reassembly bound). The default
gives up on that direction; a parser that can resynchronise (HTTP, DNS over TCP...) overrides
it. `close(ts)`: the flow ended; emit what is pending (a request never answered...).

No patient data: DICOM and HL7 parsers emit AE titles, SOP classes, message types, statuses and
counts, never a value of a dataset or of a PID/PV1/OBX segment.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import msgspec

TO_SERVER = 0
TO_CLIENT = 1


class ParseError(Exception):
    """The bytes are not valid for this protocol (the parser's own error type)."""


class Emit(Protocol):
    def __call__(
        self,
        event_cls: type[msgspec.Struct],
        body: msgspec.Struct,
        direction: int,
        ts_us: int,
        tx_id: int | None = None,
        *,
        extra: dict[str, Any] | None = None,  # more top-level fields (`http`, `app_proto`)
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class AppLimits:
    """Bounds on what one flow's parser may hold (memory is bounded per flow)."""

    max_message: int = 65_536  # largest header block / PDU / message buffered whole
    max_body: int = 65_536  # HTTP body bytes kept per message (after decompression)
    max_pending: int = 64  # transactions awaiting their response
    max_items: int = 256  # list entries per event (answers, SOP classes, headers...)


class AppParser(ABC):
    """Base of every parser; see the module docstring for the contract. A parser defines
    `feed`; `gap` and `close` have defaults."""

    name: ClassVar[str] = ""  # the protocol word: "http", "dns", "dicom"...
    datagram: ClassVar[bool] = False  # True: one `feed` per UDP datagram

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        self.emit = emit
        self.limits = limits
        self.skip = [0, 0]
        self.done = [False, False]

    @abstractmethod
    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        """The next bytes of `direction` (stream parsers) or one datagram (datagram parsers)."""

    def gap(self, direction: int, ts_us: int) -> None:
        self.done[direction] = True

    def close(self, ts_us: int) -> None:
        return None
