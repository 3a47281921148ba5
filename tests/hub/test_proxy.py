"""Through the hospital's proxy: a sensor with HTTPS_PROXY set reaches the hub by an HTTP
CONNECT tunnel (a real CONNECT proxy on loopback, counting the tunnels it opens)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.hubkit import Hub, Proxy, canonical, sensor_args, start_sensor, tocsin

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "demo.rules"


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.close()


def test_sensor_goes_through_https_proxy(proxy: Proxy, tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub")
    token = hub.sensor("chu-a", "probe")
    hub.start()
    try:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["HTTPS_PROXY"] = proxy.url
        eve = tmp_path / "local.json"
        tocsin("analyze", str(ROOT / "samples" / "web-browsing.pcap"), "--eve", str(eve), "-q")
        tocsin("sensor", "--read", str(ROOT / "samples" / "web-browsing.pcap"),
               *sensor_args(hub, "chu-a", token, tmp_path / "s"), env=env)  # fmt: skip
        held = hub.events("chu-a")
    finally:
        hub.stop()
    assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{hub.port}"}
    assert canonical(held) == canonical(eve.read_bytes().splitlines())


# the issue asks for "several minutes"; TOCSIN_LINK_CUT_S shortens it when iterating by hand
CUT_S = float(os.environ.get("TOCSIN_LINK_CUT_S", "150"))


def _outbox_depth(home: Path) -> int:
    db = home / "sensor" / "outbox.db"
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_wan_cut_for_minutes_behind_the_proxy(proxy: Proxy, tmp_path: Path) -> None:
    """The WAN behind the hospital's proxy goes silent (a black hole, not a refusal: requests
    hang until they time out) while the sensor analyses a capture; it keeps everything in its
    outbox, and once the link is back the hub holds exactly what it produced, once."""
    hub = Hub(tmp_path / "hub")
    token = hub.sensor("chu-a", "probe")
    hub.start()
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["HTTPS_PROXY"] = proxy.url
    local = tmp_path / "local.json"
    tocsin("analyze", str(ROOT / "samples"), "--rules", str(RULES), "--eve", str(local), "-q")
    expected = local.read_bytes().splitlines()
    home = tmp_path / "s"
    proxy.cut.set()
    t0 = time.monotonic()
    sensor = start_sensor(
        hub, ["--read", str(ROOT / "samples")], "chu-a", token, home, "--rules", str(RULES),
        env=env,
    )  # fmt: skip
    try:
        while time.monotonic() - t0 < CUT_S:
            time.sleep(1)
            assert sensor.poll() is None, "the sensor must wait for the link, not give up"
        assert _outbox_depth(home) == len(expected), "the analysis went on: all of it queued"
        during = [json.loads(ln) for ln in hub.events("chu-a")]
        proxy.restore()
        _, err = sensor.communicate(timeout=300)
        held = hub.events("chu-a")
    finally:
        if sensor.poll() is None:
            sensor.kill()
        hub.stop()
    assert sensor.returncode == 0, err
    assert "hub unreachable" in err
    # nothing came through during the cut but, past silence_s (120 s), the hub's own alert
    # that this sensor went silent
    assert [e["alert"]["signature_id"] for e in during] == ([9_000_010] if CUT_S > 130 else [])
    from_sensor = [ln for ln in held if b'"TOCSIN HUB sensor' not in ln]
    assert canonical(from_sensor) == canonical(expected)
    assert _outbox_depth(home) == 0
