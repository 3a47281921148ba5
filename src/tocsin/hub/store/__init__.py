"""The hub's storage: SQLite (default, one file) or PostgreSQL (by URL), one schema."""

from __future__ import annotations

from pathlib import Path

from tocsin.hub.store.base import Store, StoreError


def open_store(url: str) -> Store:
    """The store at `url`: `sqlite:///path/to/hub.db` or `postgresql://…`. Migrates it to the
    current schema. `StoreError` names what could not be opened."""
    if url.startswith("sqlite:///"):
        from tocsin.hub.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        from tocsin.hub.store.postgres import PostgresStore

        return PostgresStore(url)
    from tocsin.hub.store.postgres import _redacted  # a mistyped URL may carry a password

    raise StoreError(f"{_redacted(url)}: not a store URL (sqlite:///PATH or postgresql://...)")


__all__ = ["Store", "StoreError", "open_store"]
