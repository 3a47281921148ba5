"""The store's contract and the SQL both backends share.

A `Store` holds sites, sensors (their token's hash, never the token), users, events (once
each: `(sensor_id, eid)` is unique), each sensor's latest heartbeat and its blind state.
Methods are safe to call from several threads (one lock per store: SQLite has one writer,
and the hub's PostgreSQL store keeps one connection per process). Errors: `StoreError`
(names the store and what failed) for what a user can fix; anything else is a bug.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import msgspec

from tocsin.hub.rows import Row
from tocsin.hub.store.migrations import MIGRATIONS


class StoreError(Exception):
    """The store cannot be opened or used (names it and the reason)."""


class Sensor(msgspec.Struct, frozen=True):
    """An enrolled sensor, as the API's authentication sees it."""

    id: int
    site_id: int
    site: str
    name: str
    revoked: float | None


class Site(msgspec.Struct, frozen=True):
    id: int
    name: str
    created: float


class SensorState(msgspec.Struct, frozen=True):
    """A sensor with its latest heartbeat (`received` 0 and `body` b"" if none yet) and its
    blind state (`blind` None when it is not blind)."""

    sensor: Sensor
    created: float
    received: float
    body: bytes
    blind: str | None
    blind_since: float | None


_EVENT_COLUMNS = "site_id, sensor_id, eid, event_type, ts, received, src_ip, dest_ip, body"


class Store:
    """Shared SQL over a DB-API connection; backends set `dialect` (0 SQLite, 1 PostgreSQL),
    open `self._db` and may override `insert_events` with a faster path."""

    dialect = 0
    name = ""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._db: Any = None

    # -- plumbing

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.dialect else text

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A cursor in one transaction: committed at the end, rolled back on error."""
        with self._lock:
            cur = self._db.cursor()
            try:
                yield cur
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
            finally:
                cur.close()

    def _all(self, text: str, args: Sequence[object] = ()) -> list[Any]:
        with self._tx() as cur:
            cur.execute(self._sql(text), tuple(args))
            return list(cur.fetchall())

    def migrate(self) -> int:
        """Apply the migrations this store lacks; returns the schema version. Several hub
        processes may open one PostgreSQL store at once: each migration runs under an
        advisory lock and re-checks that it is still missing."""
        with self._tx() as cur:
            if self.dialect:
                cur.execute("SELECT pg_advisory_xact_lock(7261001)")
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version"
                " (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL)"
            )
        for version, sqlite, postgres in MIGRATIONS:
            with self._tx() as cur:
                if self.dialect:
                    cur.execute("SELECT pg_advisory_xact_lock(7261001)")
                cur.execute(self._sql("SELECT 1 FROM schema_version WHERE version = ?"), (version,))
                if cur.fetchall():
                    continue
                for statement in postgres if self.dialect else sqlite:
                    cur.execute(statement)
                cur.execute(
                    self._sql("INSERT INTO schema_version (version, applied) VALUES (?, ?)"),
                    (version, time.time()),
                )
        return MIGRATIONS[-1][0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- sites, sensors, users

    def add_site(self, name: str) -> int:
        """Enrol a site; `StoreError` if the name is taken."""
        if self.site(name) is not None:
            raise StoreError(f"site {name!r} already exists")
        with self._tx() as cur:
            cur.execute(
                self._sql("INSERT INTO sites (name, created) VALUES (?, ?)"), (name, time.time())
            )
        site = self.site(name)
        assert site is not None
        return site.id

    def site(self, name: str) -> Site | None:
        rows = self._all("SELECT id, name, created FROM sites WHERE name = ?", (name,))
        return Site(int(rows[0][0]), rows[0][1], float(rows[0][2])) if rows else None

    def sites(self) -> list[Site]:
        rows = self._all("SELECT id, name, created FROM sites ORDER BY name")
        return [Site(int(i), n, float(c)) for i, n, c in rows]

    def add_sensor(self, site: str, name: str, token_hash: bytes) -> int:
        """Enrol sensor `name` at `site` with the hash of its token."""
        where = self.site(site)
        if where is None:
            raise StoreError(f"no site {site!r} (tocsin hub site add {site})")
        if self._all("SELECT id FROM sensors WHERE site_id = ? AND name = ?", (where.id, name)):
            raise StoreError(f"sensor {name!r} already exists at site {site!r}")
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO sensors (site_id, name, token_hash, created) VALUES (?, ?, ?, ?)"
                ),
                (where.id, name, token_hash, time.time()),
            )
        rows = self._all("SELECT id FROM sensors WHERE site_id = ? AND name = ?", (where.id, name))
        return int(rows[0][0])

    def revoke_sensor(self, site: str, name: str) -> None:
        """Refuse this sensor's token from now on."""
        found = [s for s in self.sensors() if s.site == site and s.name == name]
        if not found:
            raise StoreError(f"no sensor {name!r} at site {site!r}")
        with self._tx() as cur:
            cur.execute(
                self._sql("UPDATE sensors SET revoked = ? WHERE id = ?"),
                (time.time(), found[0].id),
            )

    _SENSOR = (
        "SELECT s.id, s.site_id, t.name, s.name, s.revoked FROM sensors s"
        " JOIN sites t ON t.id = s.site_id"
    )

    def sensor_by_token(self, token_hash: bytes) -> Sensor | None:
        rows = self._all(self._SENSOR + " WHERE s.token_hash = ?", (token_hash,))
        return _sensor(rows[0]) if rows else None

    def sensors(self) -> list[Sensor]:
        return [_sensor(r) for r in self._all(self._SENSOR + " ORDER BY t.name, s.name")]

    def add_user(self, name: str, password_hash: str, role: str) -> None:
        if self.user(name) is not None:
            raise StoreError(f"user {name!r} already exists")
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO users (name, password_hash, role, created) VALUES (?, ?, ?, ?)"
                ),
                (name, password_hash, role, time.time()),
            )

    def user(self, name: str) -> tuple[str, str] | None:
        """The user's password hash and role."""
        rows = self._all("SELECT password_hash, role FROM users WHERE name = ?", (name,))
        return (rows[0][0], rows[0][1]) if rows else None

    # -- events

    def insert_events(self, rows: list[Row]) -> int:
        """Store `rows` in one transaction; returns how many were new (the others were
        already stored: the same `(sensor_id, eid)`)."""
        if not rows:
            return 0
        with self._tx() as cur:
            cur.executemany(
                self._sql(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (sensor_id, eid) DO NOTHING"
                ),
                [msgspec.structs.astuple(x) for x in rows],
            )
            return int(cur.rowcount)  # executemany sums it; a folded repeat counts 0

    def event_counts(self) -> list[tuple[str, str, int]]:
        """(site, event type, events held), by site then type."""
        rows = self._all(
            "SELECT t.name, e.event_type, COUNT(*) FROM events e JOIN sites t"
            " ON t.id = e.site_id GROUP BY t.name, e.event_type ORDER BY t.name, e.event_type"
        )
        return [(s, t, int(n)) for s, t, n in rows]

    def events(
        self,
        site_id: int | None = None,
        event_type: str | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[tuple[int, int, bytes]]:
        """Events in storage order after id `after`: (id, site id, EVE line)."""
        where, args = ["id > ?"], [after]
        if site_id is not None:
            where.append("site_id = ?")
            args.append(site_id)
        if event_type is not None:
            where.append("event_type = ?")
            args.append(event_type)  # type: ignore[arg-type]
        rows = self._all(
            f"SELECT id, site_id, body FROM events WHERE {' AND '.join(where)}"
            f" ORDER BY id LIMIT {int(limit)}",
            args,
        )
        return [(int(i), int(s), bytes(b)) for i, s, b in rows]

    def metadata_before(self, cutoff: float, limit: int) -> list[tuple[Any, ...]]:
        """Up to `limit` metadata events (every type but `alert`) received before `cutoff`,
        by id: (id, site_id, sensor_id, event_type, ts, src_ip, dest_ip, body)."""
        return self._all(
            "SELECT id, site_id, sensor_id, event_type, ts, src_ip, dest_ip, body FROM events"
            f" WHERE event_type <> 'alert' AND received < ? ORDER BY id LIMIT {int(limit)}",
            (cutoff,),
        )

    def delete_events(self, ids: list[int]) -> None:
        """Forget these events (archived)."""
        with self._tx() as cur:
            for i in range(0, len(ids), 1000):
                chunk = ids[i : i + 1000]
                marks = ",".join("?" * len(chunk))
                cur.execute(self._sql(f"DELETE FROM events WHERE id IN ({marks})"), chunk)

    # -- heartbeats and blind state

    def put_heartbeat(self, sensor_id: int, at: float, received: float, body: bytes) -> None:
        with self._tx() as cur:
            cur.execute(
                self._sql(
                    "INSERT INTO heartbeats (sensor_id, at, received, body) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (sensor_id) DO UPDATE SET at = excluded.at,"
                    " received = excluded.received, body = excluded.body"
                ),
                (sensor_id, at, received, body),
            )

    def states(self) -> list[SensorState]:
        """Every sensor with its latest heartbeat and blind state."""
        rows = self._all(
            "SELECT s.id, s.site_id, t.name, s.name, s.revoked, s.created, h.received,"
            " h.body, b.reason, b.since FROM sensors s JOIN sites t ON t.id = s.site_id"
            " LEFT JOIN heartbeats h ON h.sensor_id = s.id"
            " LEFT JOIN blind b ON b.sensor_id = s.id ORDER BY t.name, s.name"
        )
        return [
            SensorState(
                _sensor(r[:5]),
                float(r[5]),
                float(r[6] or 0.0),
                bytes(r[7] or b""),
                r[8],
                None if r[9] is None else float(r[9]),
            )
            for r in rows
        ]

    def set_blind(
        self, sensor_id: int, reason: str | None, since: float, alert: Row | None
    ) -> None:
        """Mark a sensor blind (with the alert that says so, stored in the same
        transaction) or, with `reason` None, no longer blind. Several hub nodes may decide
        at once: under a lock, a sensor already blind for `reason` gets no second alert."""
        with self._tx() as cur:
            if self.dialect:
                cur.execute("SELECT pg_advisory_xact_lock(7261002)")
            cur.execute(self._sql("SELECT reason FROM blind WHERE sensor_id = ?"), (sensor_id,))
            found = cur.fetchall()
            if reason is not None and found and found[0][0] == reason:
                return  # another node said it first
            cur.execute(self._sql("DELETE FROM blind WHERE sensor_id = ?"), (sensor_id,))
            if reason is not None:
                cur.execute(
                    self._sql("INSERT INTO blind (sensor_id, reason, since) VALUES (?, ?, ?)"),
                    (sensor_id, reason, since),
                )
            if alert is not None:
                cur.execute(
                    self._sql(
                        f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (sensor_id, eid) DO NOTHING"
                    ),
                    tuple(msgspec.structs.astuple(alert)),
                )


def _sensor(r: Sequence[Any]) -> Sensor:
    return Sensor(int(r[0]), int(r[1]), r[2], r[3], None if r[4] is None else float(r[4]))
