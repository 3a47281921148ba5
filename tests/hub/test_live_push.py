"""`tocsin sensor --iface IF --hub …`: the live pipeline's events reach the hub while it runs.

The sensor watches one end of a veth pair inside a network namespace (no address: a SPAN
port) and reaches the hub over a second, management, veth pair — as a hospital sensor has a
capture port and a management port. Needs root and `ip`: skipped otherwise, with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from capture.test_live import NS, TOCSIN, _ip, _replay, veth  # noqa: F401 - a fixture
from hub.hubkit import Hub, canonical

MGMT_OUT, MGMT_IN = f"tmo{os.getpid() % 100000}", f"tmi{os.getpid() % 100000}"
HUB_ADDR, SENSOR_ADDR = "10.231.0.1", "10.231.0.2"
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "web-browsing.pcap"


@pytest.fixture(scope="module")
def mgmt(veth: tuple[str, str]) -> Iterator[None]:  # noqa: F811 - the fixture
    """A management link from the namespace to the hub's side."""
    r = _ip("link", "add", MGMT_OUT, "type", "veth", "peer", "name", MGMT_IN, "netns", NS)
    if r.returncode != 0:
        pytest.skip(f"cannot create a veth pair: {r.stderr.strip()}")
    try:
        for cmd in (
            ["ip", "addr", "add", f"{HUB_ADDR}/30", "dev", MGMT_OUT],
            ["ip", "link", "set", MGMT_OUT, "up"],
            ["ip", "netns", "exec", NS, "ip", "addr", "add", f"{SENSOR_ADDR}/30", "dev", MGMT_IN],
            ["ip", "netns", "exec", NS, "ip", "link", "set", MGMT_IN, "up"],
            ["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        yield
    finally:
        _ip("link", "del", MGMT_OUT)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_live_sensor_pushes_what_it_sees(
    workers: str,
    veth: tuple[str, str],  # noqa: F811 - the fixture
    mgmt: None,
    tmp_path: Path,
) -> None:
    hub = Hub(tmp_path / "hub", names=(HUB_ADDR,))
    token = hub.sensor("chu-a", "span-1")
    hub.start()
    home = tmp_path / "sensor"
    out, into = veth
    sensor = subprocess.Popen(
        ["ip", "netns", "exec", NS, TOCSIN, "sensor", "--iface", into, "--workers", workers,
         "--ring-mb", "16", "--no-shed", "--heartbeat-s", "1", "-q",
         "--hub", f"https://{HUB_ADDR}:{hub.port}", "--site", "chu-a", "--token-file",
         str(token), "--ca", str(hub.ca), "--home", str(home)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        time.sleep(3)  # rings open (-q: no "watching" line to wait for)
        sent = _replay(out, SAMPLE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not hub.events("chu-a", "http"):
            time.sleep(0.2)  # lines reach the hub while the sensor runs
        live_http = len(hub.events("chu-a", "http"))
        time.sleep(2)
        report = hub.stats()["sensors"][0]["report"]
    finally:
        sensor.send_signal(signal.SIGTERM)
        _, err = sensor.communicate(timeout=90)
    try:
        held = hub.events("chu-a")
    finally:
        hub.stop()
    assert sensor.returncode == 0, err
    assert live_http > 0, "nothing reached the hub before the sensor stopped"
    assert report["live"] and report["packets"] >= sent and report["source"] == "iface"
    assert report["drops"] == 0
    local = [ln for ln in (home / "sensor" / "live.eve.json").read_bytes().split(b"\n") if ln]
    assert canonical(held) == canonical(local)
    assert "events delivered" in err and "0 still queued" in err
    types = {json.loads(ln)["event_type"] for ln in local}
    assert {"flow", "http", "stats"} <= types
