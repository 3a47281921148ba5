"""A sensor pushes to a real hub process: what arrives is exactly what the sensor produced,
through hub crashes, a cut link and a full outbox."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hub.hubkit import Hub, canonical, sensor_args, start_sensor, tocsin

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
RULES = ROOT / "rules" / "demo.rules"


@pytest.fixture
def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    h = Hub(tmp_path / "hub")
    yield h
    h.stop()


def _local(tmp_path: Path) -> list[bytes]:
    eve = tmp_path / "local.eve.json"
    tocsin("analyze", str(SAMPLES), "--rules", str(RULES), "--eve", str(eve), "-q")
    return [ln for ln in eve.read_bytes().split(b"\n") if ln]


def test_backfill_delivers_exactly_what_analyze_writes(hub: Hub, tmp_path: Path) -> None:
    token = hub.sensor("chu-a", "probe-1")
    hub.start()
    done = tocsin(
        "sensor",
        "--read",
        str(SAMPLES),
        "--rules",
        str(RULES),
        *sensor_args(hub, "chu-a", token, tmp_path / "s"),
    )
    local = _local(tmp_path)
    assert any(b'"event_type":"alert"' in ln for ln in local)
    assert canonical(hub.events("chu-a")) == canonical(local)
    assert f"{len(local)} events delivered" in done.stderr
    stats = hub.stats()
    (sensor,) = stats["sensors"]
    assert sum(sensor["report"]["sent"].values()) == len(local)
    assert sensor["report"]["outbox_events"] == 0


def test_link_cut_then_back_loses_and_repeats_nothing(hub: Hub, tmp_path: Path) -> None:
    """The hub is unreachable while the sensor analyses and retries; it comes back 20 s
    later; the sensor delivers everything once and exits."""
    token = hub.sensor("chu-a", "probe-1")
    sensor = start_sensor(
        hub, ["--read", str(SAMPLES)], "chu-a", token, tmp_path / "s", "--rules", str(RULES)
    )
    time.sleep(20)
    assert sensor.poll() is None, "the sensor must wait for the hub, not give up"
    hub.start()
    _, err = sensor.communicate(timeout=180)
    assert sensor.returncode == 0, err
    assert "hub unreachable" in err and "events kept in the outbox" in err
    assert canonical(hub.events("chu-a")) == canonical(_local(tmp_path))


def _eve_lines(n: int) -> bytes:
    out = []
    for i in range(n):
        kind = ("alert", "flow", "dns")[i % 3]
        rec = {
            "timestamp": f"2026-11-30T10:{i // 6000 % 60:02d}:{i // 100 % 60:02d}.{i:06d}+0000",
            "event_type": kind,
            "src_ip": "10.0.0.1",
            "dest_ip": "10.0.0.2",
            "n": i,
        }
        out.append(json.dumps(rec, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode()


def test_hub_killed_twice_every_event_stored_once(hub: Hub, tmp_path: Path) -> None:
    token = hub.sensor("chu-a", "probe-1")
    hub.start()
    eve = tmp_path / "eve.json"
    eve.write_bytes(_eve_lines(100_000))
    sensor = start_sensor(hub, ["--eve-file", str(eve)], "chu-a", token, tmp_path / "s")
    held_at_kills = []
    try:
        for _ in range(2):
            deadline = time.monotonic() + 120
            # kill once some events are in, mid-stream
            while time.monotonic() < deadline:
                n = sum(e["held"] for e in hub.stats()["events"])
                if n > 5_000 * (len(held_at_kills) + 1):
                    break
                time.sleep(0.05)
            held_at_kills.append(n)
            hub.kill()
            time.sleep(1.0)
            hub.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if sum(e["held"] for e in hub.stats()["events"]) >= 100_000:
                break
            time.sleep(0.5)
    finally:
        sensor.terminate()
        _, err = sensor.communicate(timeout=60)
    assert held_at_kills[0] < 100_000, "the first kill came too late to test anything"
    lines = hub.events("chu-a")
    assert len(lines) == 100_000, err
    assert sorted(json.loads(ln)["n"] for ln in lines) == list(range(100_000))


def test_full_outbox_sheds_flows_first_and_says_so(hub: Hub, tmp_path: Path) -> None:
    """A 1 MB outbox with the hub away: the analysis' flows are shed, its alerts all reach
    the hub when it is back, and the hub learns what was shed."""
    token = hub.sensor("chu-a", "probe-1")
    sensor = start_sensor(
        hub,
        ["--read", str(SAMPLES)],
        "chu-a",
        token,
        tmp_path / "s",
        "--rules",
        str(RULES),
        "--outbox-mb",
        "1",
    )
    time.sleep(8)
    hub.start()
    _, err = sensor.communicate(timeout=180)
    assert sensor.returncode == 0, err
    local = _local(tmp_path)
    alerts = [ln for ln in local if b'"event_type":"alert"' in ln]
    assert canonical(hub.events("chu-a", "alert")) == canonical(alerts)
    report = hub.stats()["sensors"][0]["report"]
    assert report["shed"].get("flow", 0) > 0
    assert "alert" not in report["shed"]
    held = {e["event_type"]: e["held"] for e in hub.stats()["events"]}
    assert held["flow"] + report["shed"]["flow"] == sum(
        1 for ln in local if b'"event_type":"flow"' in ln
    )
    assert "shed (outbox full)" in err


def test_rotated_eve_file_followed_without_loss(hub: Hub, tmp_path: Path) -> None:
    """A third-party probe's eve.json, rotated by rename while the sensor follows it."""
    token = hub.sensor("chu-b", "suricata")
    hub.start()
    eve = tmp_path / "eve.json"
    lines = _eve_lines(3_000).split(b"\n")[:-1]
    eve.write_bytes(b"\n".join(lines[:1000]) + b"\n")
    sensor = start_sensor(hub, ["--eve-file", str(eve)], "chu-b", token, tmp_path / "s")
    try:
        time.sleep(2)
        with eve.open("ab") as fh:
            fh.write(b"\n".join(lines[1000:2000]) + b"\n")
        eve.rename(tmp_path / "eve.json.1")
        eve.write_bytes(b"\n".join(lines[2000:]) + b"\n")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(hub.events("chu-b")) < 3000:
            time.sleep(0.3)
    finally:
        sensor.terminate()
        _, err = sensor.communicate(timeout=60)
    assert canonical(hub.events("chu-b")) == canonical(lines), err


def test_heartbeat_silence_raises_a_blind_alert(tmp_path: Path) -> None:
    """A sensor that stops reporting is an alert in the same queue as threats."""
    h = Hub(tmp_path / "hub")
    settings = json.loads((h.home / "hub" / "hub.json").read_text())
    settings.update(silence_s=3.0, check_s=0.5)
    (h.home / "hub" / "hub.json").write_text(json.dumps(settings))
    token = h.sensor("chu-a", "probe-1")
    h.start()
    try:
        eve = tmp_path / "eve.json"
        eve.write_bytes(_eve_lines(10).replace(b'"alert"', b'"http"'))
        args = [
            "sensor",
            "--eve-file",
            str(eve),
            "--heartbeat-s",
            "1",
            "--duration",
            "2",
            *sensor_args(h, "chu-a", token, tmp_path / "s"),
        ]
        tocsin(*args)
        assert h.stats()["sensors"][0]["blind"] is None
        deadline = time.monotonic() + 30
        blind = []
        while time.monotonic() < deadline and not blind:
            blind = [json.loads(ln) for ln in h.events("chu-a", "alert")]
            time.sleep(0.3)
        (alert,) = blind
        assert alert["alert"]["signature_id"] == 9_000_010
        assert "chu-a/probe-1" in alert["alert"]["signature"]
        assert h.stats()["sensors"][0]["blind"] == "9000010"
        tocsin(*args)  # it reports again: no longer blind, no second alert
        assert h.stats()["sensors"][0]["blind"] is None
        assert len(h.events("chu-a", "alert")) == 1
    finally:
        h.stop()
