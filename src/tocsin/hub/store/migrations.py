"""The hub's schema, as numbered migrations: SQLite and PostgreSQL spell the same tables.

A store records the versions it applied in `schema_version`; opening a store applies the
missing ones in order, each in one transaction. Never edit a released migration: add one.
"""

from __future__ import annotations

# (version, sqlite statements, postgresql statements)
MIGRATIONS: list[tuple[int, list[str], list[str]]] = [
    (
        1,
        [
            "CREATE TABLE sites (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " created REAL NOT NULL)",
            "CREATE TABLE sensors (id INTEGER PRIMARY KEY, site_id INTEGER NOT NULL"
            " REFERENCES sites(id), name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,"
            " created REAL NOT NULL, revoked REAL, UNIQUE (site_id, name))",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " password_hash TEXT NOT NULL, role TEXT NOT NULL, created REAL NOT NULL)",
            "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id INTEGER NOT NULL,"
            " sensor_id INTEGER NOT NULL, eid BLOB NOT NULL, event_type TEXT NOT NULL,"
            " ts REAL NOT NULL, received REAL NOT NULL, src_ip TEXT, dest_ip TEXT,"
            " body BLOB NOT NULL, UNIQUE (sensor_id, eid))",
            "CREATE INDEX events_site_type ON events (site_id, event_type, ts)",
            "CREATE TABLE heartbeats (sensor_id INTEGER PRIMARY KEY, at REAL NOT NULL,"
            " received REAL NOT NULL, body BLOB NOT NULL)",
            "CREATE TABLE blind (sensor_id INTEGER PRIMARY KEY, reason TEXT NOT NULL,"
            " since REAL NOT NULL)",
        ],
        [
            "CREATE TABLE sites (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " created DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE sensors (id BIGSERIAL PRIMARY KEY, site_id BIGINT NOT NULL"
            " REFERENCES sites(id), name TEXT NOT NULL, token_hash BYTEA NOT NULL UNIQUE,"
            " created DOUBLE PRECISION NOT NULL, revoked DOUBLE PRECISION,"
            " UNIQUE (site_id, name))",
            "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
            " password_hash TEXT NOT NULL, role TEXT NOT NULL,"
            " created DOUBLE PRECISION NOT NULL)",
            "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, site_id BIGINT NOT NULL,"
            " sensor_id BIGINT NOT NULL, eid BYTEA NOT NULL, event_type TEXT NOT NULL,"
            " ts DOUBLE PRECISION NOT NULL, received DOUBLE PRECISION NOT NULL, src_ip TEXT,"
            " dest_ip TEXT, body BYTEA NOT NULL, UNIQUE (sensor_id, eid))",
            "CREATE INDEX events_site_type ON events (site_id, event_type, ts)",
            "CREATE TABLE heartbeats (sensor_id BIGINT PRIMARY KEY,"
            " at DOUBLE PRECISION NOT NULL, received DOUBLE PRECISION NOT NULL,"
            " body BYTEA NOT NULL)",
            "CREATE TABLE blind (sensor_id BIGINT PRIMARY KEY, reason TEXT NOT NULL,"
            " since DOUBLE PRECISION NOT NULL)",
        ],
    ),
    (
        2,  # the API's reads by type in storage order (GET /api/v1/events?type=alert&after=N)
        ["CREATE INDEX events_type_id ON events (event_type, id)"],
        ["CREATE INDEX events_type_id ON events (event_type, id)"],
    ),
]

CURRENT = MIGRATIONS[-1][0]
