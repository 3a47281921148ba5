"""The WAN behind the hospital's proxy goes silent for minutes (a black hole, not a refusal:
requests hang until they time out) while the sensor analyses captures: it keeps everything in
its outbox, the hub raises its own sensor-silent alert, and once the link is back the hub
holds exactly what the sensor produced, once. The scenario starts with the first hub test
(conftest `wan_cut`, tests/hub/wan.py), so the cut overlaps the other hub tests."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from hub.hubkit import canonical
from hub.wan import CUT_S, WanCut


def _outbox_depth(home: Path) -> int:
    db = home / "sensor" / "outbox.db"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_wan_cut_for_minutes_behind_the_proxy(wan_cut: WanCut) -> None:
    sensor, hub = wan_cut.sensor, wan_cut.hub
    assert sensor is not None
    while time.monotonic() - wan_cut.t0 < CUT_S:
        assert sensor.poll() is None, "the sensor must wait for the link, not give up"
        time.sleep(1)
    assert sensor.poll() is None, "the sensor must wait for the link, not give up"
    cut_for = time.monotonic() - wan_cut.t0
    assert _outbox_depth(wan_cut.home) == len(wan_cut.expected), "the analysis went on"
    during = [json.loads(ln) for ln in hub.events("chu-a")]
    wan_cut.proxy.restore()
    _, err = sensor.communicate(timeout=300)
    assert sensor.returncode == 0, err
    assert "hub unreachable" in err
    # nothing came through during the cut but, past silence_s (120 s), the hub's own alert
    # that this sensor went silent
    assert [e["alert"]["signature_id"] for e in during] == ([9_000_010] if cut_for > 135 else [])
    held = [ln for ln in hub.events("chu-a") if b'"TOCSIN HUB sensor' not in ln]
    assert canonical(held) == canonical(wan_cut.expected)
    assert _outbox_depth(wan_cut.home) == 0
