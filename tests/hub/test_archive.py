"""The metadata archive: flows and protocol events move to Parquet by site and day, alerts
stay, nothing is archived twice even when a run dies halfway, old days expire, DuckDB
queries it, and `hub stats` still counts what moved."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from hub.hubkit import Hub, tocsin
from tocsin.hub.archive import archive, expire, query
from tocsin.hub.rows import Row, line_eid
from tocsin.hub.store import open_store
from tocsin.hub.store.base import Store

DAY1, DAY2 = 1_700_000_000.0, 1_700_000_000.0 + 86_400  # 2023-11-14 / -15 UTC


def _rows(store: Store, received: float) -> list[Row]:
    site = store.add_site("chu-a")
    sensor = store.add_sensor("chu-a", "probe", b"h" * 32)
    rows = []
    for i in range(30):
        kind = ("flow", "dns", "alert")[i % 3]
        ts = DAY1 if i < 15 else DAY2
        line = json.dumps({"event_type": kind, "n": i}).encode()
        rows.append(Row(site, sensor, line_eid(line), kind, ts + i, received, "10.0.0.1",
                        None, line))  # fmt: skip
    return rows


def _ns(root: Path) -> list[int]:
    _, got = query(root, "SELECT event FROM metadata ORDER BY ts")
    return [json.loads(e)["n"] for (e,) in got]


def test_metadata_moves_by_site_and_day_alerts_stay(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.insert_events(_rows(store, received=1000.0))
    root = tmp_path / "archive"
    assert archive(store, root, older_than_s=60, now=2000.0) == 20
    days = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*"))
    assert days == ["site=chu-a/day=2023-11-14", "site=chu-a/day=2023-11-15"]
    assert _ns(root) == [i for i in range(30) if i % 3 != 2]
    assert [t for _, t, _ in store.event_counts()] == ["alert"]
    _, by_type = query(root, "SELECT event_type, count(*) FROM metadata GROUP BY 1 ORDER BY 1")
    assert by_type == [("dns", 10), ("flow", 10)]
    assert archive(store, root, older_than_s=60, now=2000.0) == 0  # nothing left to move


def test_recent_metadata_stays_in_the_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.insert_events(_rows(store, received=1000.0))
    assert archive(store, tmp_path / "archive", older_than_s=3600, now=2000.0) == 0
    assert sum(n for _, _, n in store.event_counts()) == 30


def test_a_run_that_dies_before_deleting_archives_nothing_twice(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.insert_events(_rows(store, received=1000.0))
    root = tmp_path / "archive"

    def crash(ids: list[int]) -> None:
        raise RuntimeError("killed")

    real = store.delete_events
    store.delete_events = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        archive(store, root, older_than_s=60, now=2000.0)
    store.delete_events = real  # type: ignore[method-assign]
    assert archive(store, root, older_than_s=60, now=2000.0) == 20
    assert _ns(root) == [i for i in range(30) if i % 3 != 2]


def test_old_days_expire(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.insert_events(_rows(store, received=1000.0))
    root = tmp_path / "archive"
    archive(store, root, older_than_s=60, now=2000.0)
    assert expire(root, retention_days=1, today=date(2023, 11, 16)) == 1
    assert {json.loads(e)["n"] >= 15 for (e,) in query(root, "SELECT event FROM metadata")[1]} == {
        True
    }


def test_hub_archive_and_query_commands(tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub")
    token = hub.sensor("chu-a", "probe")
    settings = json.loads((hub.home / "hub" / "hub.json").read_text())
    store = open_store(settings["store"])
    sensor = store.sensor_by_token(__import__("tocsin.hub.secrets").hub.secrets.token_hash(
        token.read_text()))  # fmt: skip
    assert sensor is not None
    rows = [r for r in _rows_for(sensor.site_id, sensor.id)]
    store.insert_events(rows)
    home = str(hub.home)
    out = tocsin(
        "hub", "archive", "--home", home, "--older-than-h", "0", "--retention-days", "100000"
    ).stdout
    assert out.startswith("20 events archived")
    got = tocsin("hub", "query", "SELECT event_type, count(*) AS n FROM metadata GROUP BY 1 "
                 "ORDER BY 1", "--home", home).stdout  # fmt: skip
    assert got.splitlines() == ["event_type\tn", "dns\t10", "flow\t10"]
    stats = json.loads(tocsin("hub", "stats", "--json", "--home", home).stdout)
    held = {e["event_type"]: e["held"] for e in stats["events"]}
    assert held == {"alert": 10, "dns": 10, "flow": 10}  # archived events still count
    bad = tocsin("hub", "query", "SELEKT 1", "--home", home, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("tocsin: query:")
    assert "Traceback" not in bad.stderr


def _rows_for(site: int, sensor: int) -> list[Row]:
    out = []
    for i in range(30):
        kind = ("flow", "dns", "alert")[i % 3]
        line = json.dumps({"event_type": kind, "n": i}).encode()
        out.append(Row(site, sensor, line_eid(line), kind, DAY1 + i, 1000.0, None, None, line))
    return out
