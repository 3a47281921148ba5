"""The hub's HTTPS API (FastAPI). Sensors write with their token; people read with a password.

Write (Authorization: Bearer <sensor token>), each for the token's own site only:
  POST /api/v1/batches    a Tocsin sensor's batch (msgpack, Content-Encoding: zstd)
  POST /api/v1/eve        EVE JSON lines from a Suricata-based probe (zstd/gzip optional)
  POST /api/v1/zeek/{log} Zeek JSON lines of one log (conn, dns, http, ssl, files, notice, weird)
  POST /api/v1/heartbeat  the sensor's health (JSON `Heartbeat`)
Read (HTTP Basic, a hub user): GET /api/v1/events, GET /api/v1/stats. GET /api/v1/health: open.
A sensor token reads nothing; a revoked or unknown token gets 401, another site's data 403.
Rows are stored (`Store.insert_events`) or, with a bus, published to JetStream and stored by
`tocsin hub worker`s; the answer comes only once they are durable, so a sensor that got 200
may forget the batch.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from tocsin import __version__
from tocsin.hub import archive
from tocsin.hub.home import HubSettings
from tocsin.hub.ingest import (
    Accepted,
    IngestError,
    decompress,
    eve_lines,
    site_check,
    tocsin_batch,
    zeek_lines,
)
from tocsin.hub.rows import Heartbeat, Row
from tocsin.hub.secrets import check_password, token_hash
from tocsin.hub.store.base import Sensor, Store
from tocsin.hub.watch import Watcher

log = logging.getLogger("tocsin.hub")

Publish = Callable[[list[Row]], Awaitable[None]]
ZEEK_LOGS = ("conn", "dns", "http", "ssl", "files", "notice", "weird")


def _sensor(store: Store, request: Request) -> Sensor:
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer "):
        raise HTTPException(401, "a sensor token is needed (Authorization: Bearer ...)")
    sensor = store.sensor_by_token(token_hash(auth[7:]))
    if sensor is None:
        raise HTTPException(401, "unknown sensor token")
    if sensor.revoked is not None:
        raise HTTPException(401, f"sensor {sensor.site}/{sensor.name}: token revoked")
    return sensor


class _Users:
    """Checks HTTP Basic credentials; a verified pair is remembered for a minute (scrypt is
    deliberately slow)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ok: dict[bytes, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def check(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            raise HTTPException(
                401, "a hub user is needed", headers={"WWW-Authenticate": 'Basic realm="tocsin"'}
            )
        key = token_hash(auth)
        with self._lock:
            until, role = self._ok.get(key, (0.0, ""))
            if until > time.monotonic():
                return role
        try:
            name, password = base64.b64decode(auth[6:]).decode().split(":", 1)
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(401, "malformed Basic credentials") from None
        found = self.store.user(name)
        if found is None or not check_password(password, found[0]):
            raise HTTPException(401, "wrong user or password")
        with self._lock:
            self._ok[key] = (time.monotonic() + 60.0, found[1])
        return found[1]


def _answer(acc: Accepted, stored: int | None) -> dict[str, Any]:
    if acc.rejected:
        log.warning("rejected %d lines (first: %s)", len(acc.rejected), acc.rejected[0][1])
    return acc.answer(stored)


def make_app(
    store: Store,
    settings: HubSettings,
    publish: Publish | None = None,
    archive_root: Path | None = None,
    watch: bool = True,
) -> FastAPI:
    """The API over `store`; with `publish`, accepted rows go to the bus instead; with
    `archive_root`, metadata is archived there as `settings` say. With `watch`, the app runs
    the hub's `Watcher` (sensor-blind checks, archiving) while it serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        watcher = Watcher(store, settings, archive_root) if watch else None
        if watcher is not None:
            watcher.start()
        yield
        if watcher is not None:
            watcher.stop()

    app = FastAPI(title="Tocsin hub", version=__version__, lifespan=lifespan)
    users = _Users(store)

    async def _ingest(request: Request, parse: Callable[[bytes, Sensor, float], Accepted]) -> Any:
        sensor = await run_in_threadpool(_sensor, store, request)
        body = await request.body()
        try:
            raw = decompress(body, request.headers.get("content-encoding", ""))
            acc = await run_in_threadpool(parse, raw, sensor, time.time())
        except IngestError as err:
            raise HTTPException(err.status, str(err)) from None
        if publish is not None:
            if acc.rows:
                try:
                    await publish(acc.rows)
                except Exception as err:  # the bus is away: the sensor keeps it and retries
                    log.warning("bus publish failed: %s", err or type(err).__name__)
                    raise HTTPException(503, "the hub's bus is unavailable; retry") from None
            return _answer(acc, None)
        stored = await run_in_threadpool(store.insert_events, acc.rows)
        return _answer(acc, stored)

    @app.get("/api/v1/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "version": __version__}

    @app.post("/api/v1/batches")
    async def batches(request: Request) -> Any:
        return await _ingest(request, tocsin_batch)

    @app.post("/api/v1/eve")
    async def eve(request: Request) -> Any:
        return await _ingest(request, eve_lines)

    @app.post("/api/v1/zeek/{name}")
    async def zeek(name: str, request: Request) -> Any:
        if name not in ZEEK_LOGS:
            raise HTTPException(404, f"Zeek log {name!r} is not mapped ({', '.join(ZEEK_LOGS)})")
        return await _ingest(request, lambda raw, s, now: zeek_lines(name, raw, s, now))

    @app.post("/api/v1/heartbeat")
    async def heartbeat(request: Request) -> Any:
        sensor = await run_in_threadpool(_sensor, store, request)
        body = await request.body()
        try:
            hb = msgspec.json.decode(body, type=Heartbeat)
            site_check(sensor, hb.site)
        except msgspec.DecodeError as err:
            raise HTTPException(400, f"not a heartbeat: {err}") from None
        except IngestError as err:
            raise HTTPException(err.status, str(err)) from None
        await run_in_threadpool(store.put_heartbeat, sensor.id, hb.at, time.time(), body)
        return {"ok": True}

    @app.get("/api/v1/events")
    def events(
        request: Request,
        site: str | None = None,
        type: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> Response:
        users.check(request)
        site_id = None
        if site is not None:
            found = store.site(site)
            if found is None:
                raise HTTPException(404, f"no site {site!r}")
            site_id = found.id
        rows = store.events(site_id, type, after, min(max(limit, 1), 10_000))
        body = b"".join(b'{"id":%d,"event":%s}\n' % (i, line) for i, _, line in rows)
        return Response(body, media_type="application/x-ndjson")

    @app.get("/api/v1/stats")
    def stats(request: Request) -> JSONResponse:
        users.check(request)
        return JSONResponse(hub_stats(store, archive_root))

    return app


def hub_stats(store: Store, archive_root: Path | None = None) -> dict[str, Any]:
    """Per site and event type, events held (in the store and the archive); per sensor,
    its last report."""
    sensors = []
    for st in store.states():
        hb = msgspec.json.decode(st.body, type=Heartbeat) if st.body else None
        sensors.append(
            {
                "site": st.sensor.site,
                "sensor": st.sensor.name,
                "revoked": st.sensor.revoked is not None,
                "last_heartbeat": st.received or None,
                "blind": st.blind,
                "report": msgspec.to_builtins(hb) if hb else None,
            }
        )
    held: dict[tuple[str, str], int] = {}
    for site, kind, n in store.event_counts():
        held[(site, kind)] = n
    if archive_root is not None and archive_root.is_dir():
        _, rows = archive.query(
            archive_root, "SELECT site, event_type, count(*) FROM metadata GROUP BY ALL"
        )
        for site, kind, n in rows:
            held[(site, kind)] = held.get((site, kind), 0) + int(n)
    return {
        "events": [{"site": s, "event_type": t, "held": n} for (s, t), n in sorted(held.items())],
        "sensors": sensors,
    }
