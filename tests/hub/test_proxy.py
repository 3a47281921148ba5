"""Through the hospital's proxy: a sensor with HTTPS_PROXY set reaches the hub by an HTTP
CONNECT tunnel (a real CONNECT proxy on loopback, counting the tunnels it opens)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.hubkit import Hub, Proxy, canonical, sensor_args, tocsin

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
