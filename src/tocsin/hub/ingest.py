"""Ingest: a request body in, rows out — no I/O (the app stores or publishes them).

Three shapes arrive, all for the site of the token that sent them:
- a Tocsin sensor's `Batch` (msgpack, zstd): eids from its outbox (epoch, seq);
- EVE JSON lines from a third-party Suricata-based probe: eid = BLAKE2b of the line;
- Zeek JSON log lines (one log per request): mapped to EVE, eid = BLAKE2b of the Zeek line.
A line that cannot be stored is rejected with its reason (the sensor counts it); the others go on.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any

import msgspec
import zstandard

from tocsin.hub.rows import BadEvent, Batch, Row, line_eid, outbox_eid, row_of
from tocsin.hub.store.base import Sensor

MAX_BODY = 256 << 20  # decompressed bytes in one request


class IngestError(Exception):
    """The whole request is refused: `status` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Accepted:
    """What a request gave: rows to store and the lines rejected (position, reason)."""

    rows: list[Row] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def answer(self, stored: int | None) -> dict[str, Any]:
        """The hub's JSON answer: accepted, rejected (with the first 100 reasons) and, once
        stored here, how many were new (`stored`) and how many repeats (`duplicates`)."""
        out: dict[str, Any] = {"accepted": len(self.rows), "rejected": len(self.rejected)}
        if stored is not None:
            out["stored"] = stored
            out["duplicates"] = len(self.rows) - stored
        if self.rejected:
            out["reasons"] = [{"at": at, "reason": why} for at, why in self.rejected[:100]]
        return out


_batch = msgspec.msgpack.Decoder(Batch)


def decompress(body: bytes, encoding: str) -> bytes:
    """The body without its Content-Encoding (zstd, gzip, deflate or none)."""
    encoding = encoding.strip().lower()
    try:
        if encoding == "zstd":
            return zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_BODY)
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (zstandard.ZstdError, OSError, zlib.error, EOFError) as err:
        raise IngestError(400, f"body is not valid {encoding}: {err}") from None
    if encoding in ("", "identity"):
        return body
    raise IngestError(415, f"Content-Encoding {encoding!r} not supported (zstd, gzip)")


def site_check(sensor: Sensor, site: str) -> None:
    """A sensor writes for its own site only."""
    if site != sensor.site:
        raise IngestError(
            403, f"sensor {sensor.name!r} belongs to site {sensor.site!r}, not {site!r}"
        )


def tocsin_batch(raw: bytes, sensor: Sensor, received: float) -> Accepted:
    """A Tocsin sensor's batch (already decompressed)."""
    try:
        batch = _batch.decode(raw)
    except msgspec.DecodeError as err:
        raise IngestError(400, f"not a Tocsin batch: {err}") from None
    site_check(sensor, batch.site)
    out = Accepted()
    for seq, line in batch.events:
        try:
            out.rows.append(
                row_of(line, sensor.site_id, sensor.id, outbox_eid(batch.epoch, seq), received)
            )
        except (BadEvent, OverflowError) as err:
            out.rejected.append((seq, str(err)))
    return out


def _lines(raw: bytes) -> list[bytes]:
    return [ln.strip() for ln in raw.split(b"\n") if ln.strip()]


def eve_lines(raw: bytes, sensor: Sensor, received: float) -> Accepted:
    """EVE JSON lines from a third-party probe; positions are line numbers from 1."""
    out = Accepted()
    for n, line in enumerate(_lines(raw), 1):
        try:
            out.rows.append(row_of(line, sensor.site_id, sensor.id, line_eid(line), received))
        except BadEvent as err:
            out.rejected.append((n, str(err)))
    return out


def zeek_lines(log: str, raw: bytes, sensor: Sensor, received: float) -> Accepted:
    """Zeek JSON log lines of log `log` (conn, dns, http, ssl, files, notice, weird)."""
    from tocsin.capture.zeek import ZeekLineReader, zeek_to_eve

    out = Accepted()
    encode = msgspec.json.Encoder()
    reader = ZeekLineReader()
    for n, line in enumerate(_lines(raw), 1):
        rec = reader.feed(line)
        eve = zeek_to_eve(log, rec) if rec is not None else None
        if eve is None:
            out.rejected.append((n, f"not a {log} record Tocsin maps"))
            continue
        try:
            out.rows.append(
                row_of(encode.encode(eve), sensor.site_id, sensor.id, line_eid(line), received)
            )
        except BadEvent as err:
            out.rejected.append((n, str(err)))
    return out
