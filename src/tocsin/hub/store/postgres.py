"""The hub's store in PostgreSQL (psycopg 3): the same schema, a COPY fast path for events.

Events arrive in batches of thousands: they are COPYed (binary) into a temporary table and moved
with one `INSERT … ON CONFLICT DO NOTHING`, so a batch costs one round trip, not one per row,
and a batch sent twice (or by two hub workers at once) is stored once.
"""

from __future__ import annotations

import psycopg

from tocsin.hub.rows import Row
from tocsin.hub.store.base import _EVENT_COLUMNS, Store, StoreError

_TYPES = ["int8", "int8", "bytea", "text", "float8", "float8", "text", "text", "bytea"]


class PostgresStore(Store):
    """A `Store` in the PostgreSQL database at `url`."""

    dialect = 1

    def __init__(self, url: str) -> None:
        super().__init__()
        self.name = _redacted(url)
        try:
            self._db = psycopg.connect(url, connect_timeout=10)
            self.migrate()
        except psycopg.Error as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise StoreError(
                f"{self.name}: cannot open the hub's PostgreSQL store: {reason}"
            ) from None

    def insert_events(self, rows: list[Row]) -> int:
        if not rows:
            return 0
        with self._tx() as cur:
            cur.execute(
                "CREATE TEMPORARY TABLE IF NOT EXISTS incoming (site_id BIGINT, sensor_id BIGINT,"
                " eid BYTEA, event_type TEXT, ts DOUBLE PRECISION, received DOUBLE PRECISION,"
                " src_ip TEXT, dest_ip TEXT, body BYTEA) ON COMMIT DELETE ROWS"
            )
            with cur.copy(f"COPY incoming ({_EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_TYPES)
                for r in rows:
                    copy.write_row(
                        (
                            r.site_id,
                            r.sensor_id,
                            r.eid,
                            r.event_type,
                            r.ts,
                            r.received,
                            r.src_ip,
                            r.dest_ip,
                            r.body,
                        )
                    )
            cur.execute(
                f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM incoming"
                " ORDER BY sensor_id, eid ON CONFLICT (sensor_id, eid) DO NOTHING"
            )
            return int(cur.rowcount)


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
