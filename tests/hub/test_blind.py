"""Silence is an alert: the blind rules on a real store, heartbeat by heartbeat."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from tocsin.hub import blind
from tocsin.hub.home import HubSettings
from tocsin.hub.rows import Heartbeat
from tocsin.hub.store import open_store
from tocsin.hub.store.base import Store

SETTINGS = HubSettings(store="", cert="", key="", silence_s=120.0, drop_ratio=0.05)


def _store(tmp_path: Path) -> tuple[Store, int]:
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}")
    store.add_site("chu-a")
    return store, store.add_sensor("chu-a", "span-1", b"t" * 32)


def _beat(store: Store, sensor: int, at: float, **kw: object) -> None:
    hb = Heartbeat(site="chu-a", at=at, version="x", source="iface", **kw)  # type: ignore[arg-type]
    store.put_heartbeat(sensor, at, at, msgspec.json.encode(hb))


def _sids(alerts: list[object]) -> list[int]:
    return [json.loads(a.body)["alert"]["signature_id"] for a in alerts]  # type: ignore[attr-defined]


def test_live_sensor_that_sees_nothing_is_blind_then_recovers(tmp_path: Path) -> None:
    store, sensor = _store(tmp_path)
    _beat(store, sensor, 1000.0, live=True, packets=500, interval_packets=500)
    assert blind.check(store, SETTINGS, now=1001.0) == []
    _beat(store, sensor, 1010.0, live=True, packets=500, interval_packets=0)
    assert _sids(blind.check(store, SETTINGS, now=1011.0)) == [blind.NO_PACKETS]
    assert blind.check(store, SETTINGS, now=1012.0) == []  # said once, not every check
    _beat(store, sensor, 1020.0, live=True, packets=900, interval_packets=400)
    assert blind.check(store, SETTINGS, now=1021.0) == []
    assert store.states()[0].blind is None


def test_heavy_drops_and_silence(tmp_path: Path) -> None:
    store, sensor = _store(tmp_path)
    _beat(store, sensor, 1000.0, live=True, interval_packets=900, interval_drops=100)
    (alert,) = blind.check(store, SETTINGS, now=1001.0)
    body = json.loads(alert.body)
    assert body["alert"]["signature_id"] == blind.DROPS
    assert "100 of 1000 packets dropped" in body["alert"]["signature"]
    assert body["alert"]["gid"] == 9 and alert.event_type == "alert"
    assert _sids(blind.check(store, SETTINGS, now=1200.0)) == [blind.SILENT]


def test_a_backfill_is_not_blind_for_seeing_no_new_packets(tmp_path: Path) -> None:
    store, sensor = _store(tmp_path)
    _beat(store, sensor, 1000.0, live=False, packets=10, interval_packets=0)
    assert blind.check(store, SETTINGS, now=1001.0) == []


def test_revoked_sensors_are_not_watched(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    store.revoke_sensor("chu-a", "span-1")
    assert blind.check(store, SETTINGS, now=10_000_000_000.0) == []


def test_a_live_sensor_just_started_is_not_blind_yet(tmp_path: Path) -> None:
    """A run's first report covers no time (interval_s 0): its zero packets say nothing; the
    next report's do."""
    store, sensor = _store(tmp_path)
    _beat(store, sensor, 1000.0, live=True, interval_packets=0, interval_s=0.0)
    assert blind.check(store, SETTINGS, now=1001.0) == []
    _beat(store, sensor, 1010.0, live=True, interval_packets=0, interval_s=10.0)
    assert _sids(blind.check(store, SETTINGS, now=1011.0)) == [blind.NO_PACKETS]
