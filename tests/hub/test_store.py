"""The hub's store, the same contract on SQLite (a temp file) and PostgreSQL (a real server, a
fresh database per test): migrations once, enrolment errors that say what is wrong, events
stored once each, paging, heartbeats and the blind state."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tocsin.hub.rows import Row, outbox_eid
from tocsin.hub.store import Store, StoreError, open_store
from tocsin.hub.store.migrations import CURRENT


@dataclass
class Backend:
    """A store URL, and a plain connection beside the store to look at its tables."""

    kind: str
    url: str

    def open(self) -> Store:
        return open_store(self.url)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as db:
                return [tuple(r) for r in db.execute(sql)]
        with psycopg.connect(self.url) as conn:
            cur = conn.execute(sql.encode())
            return [] if cur.description is None else [tuple(r) for r in cur]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", f"sqlite:///{tmp_path / 'hub.db'}")
    return Backend("postgres", request.getfixturevalue("pg_db"))


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    s = backend.open()
    yield s
    s.close()


def _enrol(store: Store) -> tuple[int, int, int]:
    """Sites chu-a, chu-b; sensors chu-a/p1, chu-b/p2. Returns (chu-a id, p1 id, p2 id)."""
    a = store.add_site("chu-a")
    store.add_site("chu-b")
    p1 = store.add_sensor("chu-a", "p1", b"h1" * 16)
    p2 = store.add_sensor("chu-b", "p2", b"h2" * 16)
    return a, p1, p2


def _row(site_id: int, sensor_id: int, seq: int, kind: str = "dns", epoch: int = 7) -> Row:
    body = b'{"timestamp":"2026-11-30T10:00:%02d.000000+0000","event_type":"%s","n":%d}' % (
        seq % 60, kind.encode(), seq,
    )  # fmt: skip
    return Row(site_id, sensor_id, outbox_eid(epoch, seq), kind, 1_796_032_800.0 + seq,
               1_796_032_900.0, "10.0.0.1", "10.0.0.2", body)  # fmt: skip


# -- schema


def test_migrations_apply_once_and_reopening_is_a_no_op(backend: Backend) -> None:
    first = backend.open()
    first.add_site("chu-a")
    assert first.migrate() == CURRENT == 2
    first.close()
    again = backend.open()
    assert again.migrate() == CURRENT
    assert [s.name for s in again.sites()] == ["chu-a"]
    again.close()
    assert backend.query("SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]


def test_a_store_at_version_1_is_upgraded_on_open(backend: Backend) -> None:
    """A hub upgraded in place: its store lacks migration 2 (an index); opening adds it."""
    first = backend.open()
    first.add_site("chu-a")
    first.close()
    backend.query("DROP INDEX events_type_id")
    backend.query("DELETE FROM schema_version WHERE version = 2")
    again = backend.open()
    assert [s.name for s in again.sites()] == ["chu-a"]
    again.close()
    assert backend.query("SELECT version FROM schema_version ORDER BY version") == [(1,), (2,)]


# -- sites, sensors, users


def test_enrolment_and_its_errors(store: Store) -> None:
    a, p1, _ = _enrol(store)
    assert [s.name for s in store.sites()] == ["chu-a", "chu-b"]
    site = store.site("chu-a")
    assert site is not None and site.id == a and site.created > 0
    assert store.site("nowhere") is None
    with pytest.raises(StoreError, match=r"^site 'chu-a' already exists$"):
        store.add_site("chu-a")
    with pytest.raises(StoreError, match=r"^no site 'nowhere' \(tocsin hub site add nowhere\)$"):
        store.add_sensor("nowhere", "p9", b"h9" * 16)
    with pytest.raises(StoreError, match=r"^sensor 'p1' already exists at site 'chu-a'$"):
        store.add_sensor("chu-a", "p1", b"h3" * 16)
    assert store.add_sensor("chu-b", "p1", b"h4" * 16) > 0  # a name is unique per site only
    found = store.sensor_by_token(b"h1" * 16)
    assert found is not None
    assert (found.id, found.site_id, found.site, found.name, found.revoked) == (
        p1, a, "chu-a", "p1", None,
    )  # fmt: skip
    assert store.sensor_by_token(b"zz" * 16) is None
    assert [(s.site, s.name) for s in store.sensors()] == [
        ("chu-a", "p1"), ("chu-b", "p1"), ("chu-b", "p2"),
    ]  # fmt: skip


def test_revoked_sensor_keeps_its_row_and_says_when(store: Store) -> None:
    _enrol(store)
    store.revoke_sensor("chu-b", "p2")
    found = store.sensor_by_token(b"h2" * 16)
    assert found is not None and found.revoked is not None and found.revoked > 0
    with pytest.raises(StoreError, match=r"^no sensor 'p2' at site 'chu-a'$"):
        store.revoke_sensor("chu-a", "p2")


def test_users(store: Store) -> None:
    store.add_user("admin", "scrypt$x$y", "admin")
    assert store.user("admin") == ("scrypt$x$y", "admin")
    assert store.user("nobody") is None
    with pytest.raises(StoreError, match=r"^user 'admin' already exists$"):
        store.add_user("admin", "scrypt$z$w", "admin")


# -- events


def test_insert_events_is_idempotent(store: Store) -> None:
    a, p1, _ = _enrol(store)
    rows = [_row(a, p1, i) for i in range(10)]
    assert store.insert_events(rows) == 10
    assert store.insert_events(rows) == 0
    assert store.insert_events([]) == 0
    # half old, half new: only the new ones count, and are stored
    overlap = [_row(a, p1, i) for i in range(5, 15)]
    assert store.insert_events(overlap) == 5
    assert len(store.events(limit=100)) == 15
    # the same eid from another sensor, or another epoch, is another event
    b = store.site("chu-b")
    assert b is not None
    other = store.add_sensor("chu-a", "p3", b"h3" * 16)
    assert store.insert_events([_row(a, other, 0), _row(a, p1, 0, epoch=8)]) == 2
    assert store.event_counts() == [("chu-a", "dns", 17)]


def test_insert_events_repeats_inside_one_batch_count_once(store: Store) -> None:
    a, p1, _ = _enrol(store)
    assert store.insert_events([_row(a, p1, 1), _row(a, p1, 1), _row(a, p1, 2)]) == 2
    assert len(store.events()) == 2


def test_rows_round_trip(store: Store) -> None:
    a, p1, _ = _enrol(store)
    row = _row(a, p1, 3, "alert")
    store.insert_events([row])
    ((eid_id, site_id, body),) = store.events()
    assert eid_id > 0 and site_id == a and body == row.body
    assert isinstance(body, bytes)


def test_events_paging_and_filters(store: Store) -> None:
    a, p1, p2 = _enrol(store)
    b = store.site("chu-b")
    assert b is not None
    kinds = ["dns", "flow", "alert"]
    store.insert_events([_row(a, p1, i, kinds[i % 3]) for i in range(30)])
    store.insert_events([_row(b.id, p2, i, kinds[i % 3]) for i in range(30)])
    everything = store.events(limit=1000)
    assert len(everything) == 60
    ids = [i for i, _, _ in everything]
    assert ids == sorted(ids) and len(set(ids)) == 60
    # paging with after/limit walks every event once, in order
    walked, after = [], 0
    while page := store.events(after=after, limit=7):
        assert len(page) <= 7
        walked.extend(page)
        after = page[-1][0]
    assert walked == everything
    # filters
    only_a = store.events(site_id=a, limit=1000)
    assert len(only_a) == 30 and {s for _, s, _ in only_a} == {a}
    alerts_b = store.events(site_id=b.id, event_type="alert", limit=1000)
    assert len(alerts_b) == 10
    assert all(b'"event_type":"alert"' in body for _, _, body in alerts_b)
    assert store.events(event_type="smb") == []
    assert store.events(after=ids[-1]) == []
    page = store.events(site_id=a, event_type="flow", after=0, limit=4)
    rest = store.events(site_id=a, event_type="flow", after=page[-1][0], limit=100)
    assert len(page) == 4 and len(rest) == 6
    assert store.event_counts() == [
        ("chu-a", "alert", 10), ("chu-a", "dns", 10), ("chu-a", "flow", 10),
        ("chu-b", "alert", 10), ("chu-b", "dns", 10), ("chu-b", "flow", 10),
    ]  # fmt: skip


# -- heartbeats and blind state


def test_states_without_heartbeats(store: Store) -> None:
    _enrol(store)
    states = store.states()
    assert [(s.sensor.site, s.sensor.name) for s in states] == [("chu-a", "p1"), ("chu-b", "p2")]
    for s in states:
        assert s.received == 0.0 and s.body == b"" and s.blind is None and s.blind_since is None
        assert s.created > 0


def test_put_heartbeat_keeps_the_latest(store: Store) -> None:
    _, p1, _ = _enrol(store)
    store.put_heartbeat(p1, 100.0, 101.0, b'{"n":1}')
    store.put_heartbeat(p1, 200.0, 201.5, b'{"n":2}')
    states = {s.sensor.name: s for s in store.states()}
    assert states["p1"].received == 201.5 and states["p1"].body == b'{"n":2}'
    assert states["p2"].received == 0.0 and states["p2"].body == b""
    assert len(store.states()) == 2  # one row per sensor, not per heartbeat


def test_set_blind_stores_its_alert_and_clears(store: Store) -> None:
    a, p1, _ = _enrol(store)
    alert = Row(a, p1, b"\x01" * 16, "alert", 500.0, 500.0, None, None,
                b'{"event_type":"alert","timestamp":"2026-11-30T10:00:00+0000"}')  # fmt: skip
    store.set_blind(p1, "9000010", 500.0, alert)
    states = {s.sensor.name: s for s in store.states()}
    assert states["p1"].blind == "9000010" and states["p1"].blind_since == 500.0
    assert states["p2"].blind is None
    assert [body for _, _, body in store.events(event_type="alert")] == [alert.body]
    # another verdict replaces the first; the same alert twice is stored once
    store.set_blind(p1, "9000012", 600.0, alert)
    (state,) = [s for s in store.states() if s.sensor.id == p1]
    assert (state.blind, state.blind_since) == ("9000012", 600.0)
    assert len(store.events(event_type="alert")) == 1
    # healthy again: no longer blind, the alert stays in the queue
    store.set_blind(p1, None, 700.0, None)
    (state,) = [s for s in store.states() if s.sensor.id == p1]
    assert state.blind is None and state.blind_since is None
    assert len(store.events(event_type="alert")) == 1


def test_two_nodes_deciding_the_same_blindness_store_one_alert(store: Store) -> None:
    """Two hub nodes (each with its own clock second, so its own eid) find the same sensor
    silent: the second finds it already blind for that reason and adds nothing."""
    a, p1, _ = _enrol(store)
    body = b'{"event_type":"alert","timestamp":"2026-11-30T10:00:00+0000"}'
    first = Row(a, p1, b"\x01" * 16, "alert", 500.0, 500.0, None, None, body)
    second = Row(a, p1, b"\x02" * 16, "alert", 501.0, 501.0, None, None, body)
    store.set_blind(p1, "9000010", 500.0, first)
    store.set_blind(p1, "9000010", 501.0, second)
    assert len(store.events(event_type="alert")) == 1
    (state,) = [s for s in store.states() if s.sensor.id == p1]
    assert state.blind_since == 500.0


# -- opening errors


def _one_line(err: pytest.ExceptionInfo[StoreError]) -> str:
    text = str(err.value)
    assert "\n" not in text.strip(), text
    return text


def test_open_store_with_a_url_it_does_not_know() -> None:
    with pytest.raises(StoreError) as err:
        open_store("mysql://hub.example/tocsin")
    assert _one_line(err).startswith("mysql://hub.example/tocsin: not a store URL")


def test_open_store_never_shows_a_password() -> None:
    with pytest.raises(StoreError) as err:
        open_store("mysql://u:secret@hub.example/tocsin")
    text = _one_line(err)
    assert "secret" not in text and "hub.example/tocsin" in text


def test_open_store_where_no_postgresql_listens() -> None:
    with pytest.raises(StoreError) as err:
        open_store("postgresql://u:secret@127.0.0.1:1/x")
    text = _one_line(err)
    assert "secret" not in text
    assert text.startswith("postgresql://u@127.0.0.1:1/x: cannot open the hub's PostgreSQL store")


def test_open_store_in_a_missing_directory(tmp_path: Path) -> None:
    where = tmp_path / "no" / "such" / "hub.db"
    with pytest.raises(StoreError) as err:
        open_store(f"sqlite:///{where}")
    assert _one_line(err).startswith(f"{where}: cannot open the hub's SQLite store")


def test_open_store_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    where = tmp_path / "hub.db"
    where.write_bytes(b"certainly not SQLite\n" * 200)
    with pytest.raises(StoreError) as err:
        open_store(f"sqlite:///{where}")
    assert _one_line(err).startswith(f"{where}: cannot open the hub's SQLite store")
