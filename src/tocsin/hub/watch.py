"""The hub's watcher: a thread that checks every sensor for blindness (`blind.check`, every
`check_s`) and moves old metadata to the Parquet archive (every `archive_every_s`).

One runs in `tocsin hub serve` and one in `tocsin run` (the embedded shape). A failed round
is logged and the next one tried: the watcher outlives a store hiccup.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import msgspec

from tocsin.hub import archive, blind
from tocsin.hub.home import HubSettings
from tocsin.hub.store.base import Store

log = logging.getLogger("tocsin.hub")


class Watcher:
    """`start()` runs the rounds in a daemon thread until `stop()`."""

    def __init__(self, store: Store, settings: HubSettings, archive_root: Path | None) -> None:
        self.store, self.settings, self.archive_root = store, settings, archive_root
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hub-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5.0)

    def round(self, archive_now: bool) -> None:
        """One check of every sensor, and (if `archive_now`) one archiving pass."""
        for alert in blind.check(self.store, self.settings):
            log.warning("%s", msgspec.json.decode(alert.body)["alert"]["signature"])
        if archive_now and self.archive_root is not None:
            moved = archive.archive(self.store, self.archive_root, self.settings.archive_after_s)
            gone = archive.expire(self.archive_root, self.settings.retention_days)
            if moved or gone:
                log.info("archived %d events; %d day partitions expired", moved, gone)

    def _run(self) -> None:
        next_archive = time.monotonic() + self.settings.check_s
        while not self._stop.wait(self.settings.check_s):
            due = time.monotonic() >= next_archive
            if due:
                next_archive = time.monotonic() + self.settings.archive_every_s
            try:
                self.round(due)
            except Exception:  # the watcher must outlive a store hiccup
                log.exception("sensor-blind check or archiving failed")
