"""Three sensors push to one hub, as the README shows: a Tocsin backfill, a Suricata probe's
EVE file, a Zeek probe's logs; and third-party lines POSTed straight to the API."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from hub.hubkit import Hub, canonical, sensor_args, start_sensor, tocsin

ROOT = Path(__file__).resolve().parents[2]
SURICATA = ROOT / "tests" / "fixtures" / "hub" / "suricata-eve.json"
ZEEK = ROOT / "tests" / "fixtures" / "zeek"


@pytest.fixture
def hub(tmp_path: Path):  # type: ignore[no-untyped-def]
    h = Hub(tmp_path / "hub")
    yield h
    h.stop()


def _zeek_logs(into: Path) -> dict[str, int]:
    """The fixture logs with real times in place of btest's XXXXXXXXXX.XXXXXX; records per log."""
    into.mkdir()
    counts = {}
    for log in ("conn", "dns"):
        text = (ZEEK / f"{log}.log").read_text().replace("XXXXXXXXXX.XXXXXX", "1700000000.250000")
        (into / f"{log}.log").write_text(text)
        counts[log] = sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))
    return counts


def _follow(hub: Hub, flag: str, path: Path, site: str, token: Path, home: Path, want: int) -> str:
    proc = start_sensor(hub, [flag, str(path)], site, token, home)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(hub.events(site)) < want:
            time.sleep(0.3)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


def test_three_sensors_one_hub(hub: Hub, tmp_path: Path) -> None:
    tokens = {s: hub.sensor(s, "probe") for s in ("chu-a", "ch-b", "clinique-c")}
    hub.start()
    tocsin(
        "sensor",
        "--read",
        str(ROOT / "samples"),
        *sensor_args(hub, "chu-a", tokens["chu-a"], tmp_path / "a"),
    )
    eve = tmp_path / "suricata" / "eve.json"
    eve.parent.mkdir()
    shutil.copy(SURICATA, eve)
    _follow(hub, "--eve-file", eve, "ch-b", tokens["ch-b"], tmp_path / "b", 1)
    counts = _zeek_logs(tmp_path / "zeek")
    _follow(
        hub,
        "--zeek-dir",
        tmp_path / "zeek",
        "clinique-c",
        tokens["clinique-c"],
        tmp_path / "c",
        sum(counts.values()),
    )

    assert len(hub.events("chu-a", "flow")) > 100
    assert canonical(hub.events("ch-b")) == canonical(SURICATA.read_bytes().splitlines())
    zeek = [json.loads(ln) for ln in hub.events("clinique-c")]
    types = sorted(e["event_type"] for e in zeek)
    assert types.count("flow") == counts["conn"] and types.count("dns") == counts["dns"]
    assert all(e["timestamp"].startswith("2023-11-14T22:13:20.25") for e in zeek)
    reports = {s["site"]: s["report"] for s in hub.stats()["sensors"]}
    assert reports["ch-b"]["sent"] == {"fileinfo": 1}  # the follower's goodbye heartbeat
    assert reports["clinique-c"]["source"] == "zeek-dir"
    held = {(e["site"], e["event_type"]) for e in hub.stats()["events"]}
    assert {("ch-b", "fileinfo"), ("clinique-c", "flow"), ("chu-a", "smb")} <= held


def test_posted_eve_and_zeek_lines(hub: Hub, tmp_path: Path) -> None:
    """A probe posting by HTTP: EVE lines and Zeek JSON lines, each stored once when posted
    twice; what cannot be mapped is named."""
    token = hub.sensor("ch-b", "suricata").read_text().strip()
    hub.start()
    with hub.client(token) as c:
        body = SURICATA.read_bytes() + b"not json\n"
        for _ in range(2):
            r = c.post("/api/v1/eve", content=body)
            assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1 and r.json()["rejected"] == 1
        assert r.json()["duplicates"] == 1
        assert "not an EVE event" in r.json()["reasons"][0]["reason"]
        conn = {
            "ts": 1700000000.5,
            "uid": "CAbc",
            "id.orig_h": "10.1.1.1",
            "id.orig_p": 40000,
            "id.resp_h": "10.2.2.2",
            "id.resp_p": 104,
            "proto": "tcp",
            "orig_pkts": 3,
            "resp_pkts": 2,
            "orig_ip_bytes": 180,
            "resp_ip_bytes": 120,
        }
        r = c.post("/api/v1/zeek/conn", content=json.dumps(conn).encode())
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        assert c.post("/api/v1/zeek/x509", content=b"{}").status_code == 404
    flows = [json.loads(ln) for ln in hub.events("ch-b", "flow")]
    assert len(flows) == 1
    assert flows[0]["dest_port"] == 104 and flows[0]["flow"]["pkts_toserver"] == 3
