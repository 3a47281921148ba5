"""The hub's default store: one SQLite file in WAL mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tocsin.hub.store.base import Store, StoreError


class SqliteStore(Store):
    """A `Store` in the SQLite file `path` (created with its directory's permission)."""

    dialect = 0

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.name = str(path)
        try:
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self.migrate()
        except sqlite3.Error as err:
            raise StoreError(f"{path}: cannot open the hub's SQLite store: {err}") from None
