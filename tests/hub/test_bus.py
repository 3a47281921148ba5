"""Scale-out on real NATS JetStream and PostgreSQL: ingest publishes, two workers store; one
worker is killed mid-stream; every event is stored exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from hub.hubkit import TOCSIN, Hub, start_sensor, stop_all
from hub.test_push import _eve_lines


def _held(hub: Hub) -> int:
    return sum(e["held"] for e in hub.stats()["events"])


def test_two_workers_one_killed_nothing_lost_or_doubled(
    tmp_path: Path, pg_db: str, nats_url: str
) -> None:
    hub = Hub(tmp_path / "hub", store=pg_db)
    token = hub.sensor("chu-a", "probe-1")
    hub.start("--bus", nats_url)
    workers = [
        subprocess.Popen(
            [
                TOCSIN,
                "hub",
                "worker",
                "--home",
                str(hub.home),
                "--bus",
                nats_url,
                "--ack-wait",
                "3",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    total = 40_000
    eve = tmp_path / "eve.json"
    eve.write_bytes(_eve_lines(total))
    sensor = start_sensor(hub, ["--eve-file", str(eve)], "chu-a", token, tmp_path / "s")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and _held(hub) < 2_000:
            time.sleep(0.02)
        held_at_kill = _held(hub)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _held(hub) < total:
            time.sleep(0.5)
        time.sleep(4)  # past ack_wait: a redelivery would show as a second copy now
        lines = hub.events("chu-a")
    finally:
        stop_all([sensor, *workers])
        hub.stop()
    assert held_at_kill < total, "the worker was killed after everything was stored"
    assert len(lines) == total
    assert sorted(json.loads(ln)["n"] for ln in lines) == list(range(total))


def test_two_ingest_nodes_two_workers_each_event_once(
    tmp_path: Path, pg_db: str, nats_url: str
) -> None:
    """Any number of ingest nodes side by side: two `hub serve --bus` on one store and one
    stream, a sensor pushing to each, two workers; every event stored once, per site."""
    hub = Hub(tmp_path / "hub", store=pg_db)
    tokens = {s: hub.sensor(s, "probe") for s in ("chu-a", "chu-b")}
    hub.start("--bus", nats_url)
    second = hub.another_node()
    second.start("--bus", nats_url, "--listen", f"127.0.0.1:{second.port}")
    workers = [
        subprocess.Popen(
            [TOCSIN, "hub", "worker", "--home", str(hub.home), "--bus", nats_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    total = 10_000
    sensors = []
    for node, site in ((hub, "chu-a"), (second, "chu-b")):
        eve = tmp_path / f"{site}.json"
        eve.write_bytes(_eve_lines(total))
        sensors.append(
            start_sensor(node, ["--eve-file", str(eve)], site, tokens[site], tmp_path / site)
        )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and _held(hub) < 2 * total:
            time.sleep(0.5)
        by_site = {s: hub.events(s) for s in ("chu-a", "chu-b")}
    finally:
        stop_all([*sensors, *workers])
        second.stop()
        hub.stop()
    for lines in by_site.values():
        assert sorted(json.loads(ln)["n"] for ln in lines) == list(range(total))
