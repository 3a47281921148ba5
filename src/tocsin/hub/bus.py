"""Scale-out: ingest nodes publish accepted rows to NATS JetStream; hub workers store them.

- Stream `TOCSIN_EVENTS` (subjects `tocsin.events.<site id>`, file storage, kept 7 days)
  with a 1-day duplicate window: longer than any retry of a batch, which a sensor repeats
  within seconds to minutes (its back-off tops out at 60 s), so a batch published twice
  (the ingest node died before answering) is held once. Each message carries
  `Nats-Msg-Id` = BLAKE2b of its rows' (sensor, eid); a message stays under NATS's 1 MB
  payload (rows msgpack-encoded, zstd, split as needed).
- `tocsin hub worker`s share one durable pull consumer: each message goes to one worker,
  which acks it only after the store committed its rows. A worker killed mid-batch leaves its
  messages unacknowledged; after `ack_wait` JetStream hands them to another worker, and the
  store's unique `(sensor_id, eid)` folds what the dead one had already written.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable

import msgspec
import nats
import zstandard
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from tocsin.hub.rows import Row
from tocsin.hub.store.base import Store

STREAM = "TOCSIN_EVENTS"
SUBJECTS = "tocsin.events.>"
DURABLE = "tocsin-hub-workers"
MAX_MESSAGE = 900_000  # bytes of compressed rows in one message (NATS's default cap: 1 MB)
DAY = 86_400.0

_encode = msgspec.msgpack.Encoder()
_decode = msgspec.msgpack.Decoder(list[Row])


class BusError(Exception):
    """The bus URL is wrong or the bus cannot be reached (names it)."""


def _check(url: str) -> None:
    if not url.startswith(("nats://", "tls://")):
        raise BusError(f"--bus {url!r}: expected nats://HOST:PORT")


async def _connect(url: str) -> NATS:
    try:
        return await nats.connect(
            url, connect_timeout=5, max_reconnect_attempts=-1, allow_reconnect=True
        )
    except (OSError, TimeoutError, nats.errors.Error) as err:
        raise BusError(f"{url}: cannot reach NATS: {err or type(err).__name__}") from None


async def ensure_stream(js: nats.js.JetStreamContext) -> None:
    config = StreamConfig(
        name=STREAM,
        subjects=[SUBJECTS],
        storage=StorageType.FILE,
        max_age=7 * DAY,
        duplicate_window=DAY,
    )
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        await js.add_stream(config)


def messages(rows: list[Row]) -> list[tuple[str, bytes, str]]:
    """(subject, payload, Nats-Msg-Id) for `rows`, each payload under `MAX_MESSAGE`."""
    zc = zstandard.ZstdCompressor(level=1)
    out: list[tuple[str, bytes, str]] = []
    by_site: dict[int, list[Row]] = {}
    for r in rows:
        by_site.setdefault(r.site_id, []).append(r)
    for site, group in by_site.items():
        chunks = [group]
        while chunks:
            chunk = chunks.pop()
            payload = zc.compress(_encode.encode(chunk))
            if len(payload) > MAX_MESSAGE and len(chunk) > 1:
                half = len(chunk) // 2
                chunks += [chunk[half:], chunk[:half]]
                continue
            ident = hashlib.blake2b(digest_size=16)
            for r in chunk:
                ident.update(r.sensor_id.to_bytes(8, "big") + r.eid)
            out.append((f"tocsin.events.{site}", payload, ident.hexdigest()))
    return out


def rows_of(payload: bytes) -> list[Row]:
    return _decode.decode(zstandard.ZstdDecompressor().decompress(payload))


class Publisher:
    """`await publisher(rows)` publishes them and returns once JetStream stored them.
    Connects on first use, in the server's event loop; a lost connection is retried by the
    client, and a publish that fails raises (the ingest answers 503: the sensor retries)."""

    def __init__(self, url: str) -> None:
        _check(url)
        self.url = url
        self._js: nats.js.JetStreamContext | None = None
        self._lock = asyncio.Lock()

    async def _ready(self) -> nats.js.JetStreamContext:
        async with self._lock:
            if self._js is None:
                nc = await _connect(self.url)
                js = nc.jetstream()
                await ensure_stream(js)
                self._js = js
            return self._js

    async def __call__(self, rows: list[Row]) -> None:
        js = await self._ready()
        for subject, payload, ident in messages(rows):
            await js.publish(subject, payload, headers={"Nats-Msg-Id": ident}, timeout=30)


def publisher(url: str) -> Publisher:
    return Publisher(url)


async def _work(
    store: Store,
    url: str,
    stop: threading.Event,
    ack_wait: float,
    fetch: int,
    on_batch: Callable[[int, int], None],
) -> None:
    nc = await _connect(url)
    js = nc.jetstream()
    await ensure_stream(js)
    sub = await js.pull_subscribe(
        SUBJECTS,
        durable=DURABLE,
        config=ConsumerConfig(durable_name=DURABLE, ack_wait=ack_wait, max_ack_pending=10_000),
    )
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            try:
                msgs = await sub.fetch(fetch, timeout=1.0)
            except TimeoutError:  # nats' own, or asyncio's: an idle fetch can end in either
                continue
            rows = [r for m in msgs for r in rows_of(m.data)]
            stored = await loop.run_in_executor(None, store.insert_events, rows)
            for m in msgs:
                await m.ack_sync(timeout=10)
            on_batch(len(rows), stored)
    finally:
        await nc.close()


def work(
    store: Store,
    url: str,
    stop: threading.Event,
    *,
    ack_wait: float = 30.0,
    fetch: int = 16,
    on_batch: Callable[[int, int], None] = lambda rows, stored: None,
) -> None:
    """Consume the stream into `store` until `stop` is set. `BusError` if NATS is away at
    start; a connection lost later is retried by the client."""
    _check(url)
    asyncio.run(_work(store, url, stop, ack_wait, fetch, on_batch))
