"""The hub in the sensor's own process, for `tocsin run` (the embedded shape): a courier
`Transport` that hands batches and heartbeats to the hub's ingest code and store directly.

The path is the one a remote sensor's requests take inside `tocsin hub serve` — the same
parsing (`ingest.tocsin_batch`), event ids and `Store.insert_events` — without HTTP. So the
local store holds what a hub would, `tocsin hub stats|query|archive` read it, and a batch
re-delivered after a crash is stored once.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec

from tocsin.hub.ingest import IngestError, decompress, site_check, tocsin_batch
from tocsin.hub.rows import Heartbeat
from tocsin.hub.secrets import new_token, token_hash
from tocsin.hub.store.base import Sensor, Store, StoreError
from tocsin.output.push import LinkDown, PushError


class LocalHub:
    """Delivers to `store` as `sensor`. Store errors are transient (`LinkDown`: the courier
    backs off and retries, the outbox keeps the events); a refused request is final."""

    encoding = ""  # batches come as they are: compressing them here would only cost

    def __init__(self, store: Store, sensor: Sensor) -> None:
        self.store, self.sensor = store, sensor

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float | None = None
    ) -> dict[str, Any]:
        try:
            raw = decompress(body, headers.get("Content-Encoding", ""))
            if path == "/api/v1/batches":
                acc = tocsin_batch(raw, self.sensor, time.time())
                return acc.answer(self.store.insert_events(acc.rows))
            if path == "/api/v1/heartbeat":
                hb = msgspec.json.decode(raw, type=Heartbeat)
                site_check(self.sensor, hb.site)
                self.store.put_heartbeat(self.sensor.id, hb.at, time.time(), raw)
                return {"ok": True}
        except IngestError as err:
            raise PushError(f"the local store refused {path}: {err}") from None
        except StoreError as err:
            raise LinkDown(f"local store: {err}") from None
        raise PushError(f"{path}: not served in-process")

    def close(self) -> None:
        """The store belongs to the caller."""


def local_sensor(store: Store, site: str, name: str, token_file: Path) -> Sensor:
    """The embedded sensor `site`/`name`, enrolled on first use: its token is kept in
    `token_file` (mode 600) so later runs are the same sensor. Raises `StoreError`."""
    if store.site(site) is None:
        store.add_site(site)
    if token_file.is_file():
        found = store.sensor_by_token(token_hash(token_file.read_text().strip()))
        if found is not None and found.site == site and found.name == name:
            if found.revoked is not None:
                raise StoreError(f"sensor {site}/{name} is revoked in this store")
            return found
    if any(s.site == site and s.name == name for s in store.sensors()):
        raise StoreError(
            f"sensor {site}/{name} is enrolled but {token_file} does not hold its token"
            " (give another --site, or restore the token file)"
        )
    token = new_token()
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.touch(mode=0o600)
    token_file.write_text(token + "\n")
    store.add_sensor(site, name, token_hash(token))
    found = store.sensor_by_token(token_hash(token))
    assert found is not None
    return found
