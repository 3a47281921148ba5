"""`tocsin run --iface IF`: the embedded shape — the live sensor and the hub's store in one
process. What it sees is kept in the home's store while it runs (the same lines as its EVE
file), a quiet interface raises a sensor-blind alert, and `--listen` serves the hub's API.

The capture end of a veth pair sits in a network namespace (a SPAN port, no address); the
API is reached over a second, management, pair. Needs root and `ip`: skipped otherwise.
"""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from capture.test_live import NS, TOCSIN, _replay, veth  # noqa: F401 - a fixture
from hub.hubkit import canonical
from hub.test_live_push import SAMPLE, SENSOR_ADDR, mgmt  # noqa: F401 - a fixture
from tocsin.hub.store import open_store


def _run(into: str, home: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", NS, TOCSIN, "run", "--iface", into, "--home", str(home),
         "--ring-mb", "16", "--no-shed", "--heartbeat-s", "1", "-q", *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def _held(home: Path, event_type: str | None = None) -> list[bytes]:
    store = open_store(f"sqlite:///{home / 'hub' / 'hub.db'}")
    try:
        return [line for _, _, line in store.events(None, event_type, 0, 1_000_000)]
    finally:
        store.close()


def _health_alert(line: bytes) -> bool:
    event = json.loads(line)
    return event["event_type"] == "alert" and event["alert"]["gid"] == 9


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    return err


def _wait(what: str, found: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found():  # type: ignore[operator]
            return
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout:.0f} s")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_run_keeps_what_it_sees_in_the_local_store(
    workers: str,
    veth: tuple[str, str],  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    out, into = veth
    proc = _run(into, home, "--workers", workers)
    try:
        time.sleep(3)  # rings open (-q: no "watching" line to wait for)
        sent = _replay(out, SAMPLE)
        _wait("http events in the store while running", lambda: _held(home, "http"))
    finally:
        err = _stop(proc)
    assert "admin account 'admin'" in err  # the first run set the home up, and said so
    local = [ln for ln in (home / "run" / "live.eve.json").read_bytes().split(b"\n") if ln]
    held = [ln for ln in _held(home) if not _health_alert(ln)]
    assert canonical(held) == canonical(local)
    assert {"flow", "http", "stats"} <= {json.loads(ln)["event_type"] for ln in held}
    stats = subprocess.run(
        [TOCSIN, "hub", "stats", "--home", str(home), "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    (sensor,) = json.loads(stats.stdout)["sensors"]
    assert (sensor["site"], sensor["sensor"]) == ("local", "local")
    report = sensor["report"]
    assert report["source"] == "iface" and report["packets"] >= sent and report["drops"] == 0
    assert report["queued"] == {} and report["shed"] == {}


def test_run_serves_the_api_and_says_when_the_span_port_is_quiet(
    veth: tuple[str, str],  # noqa: F811 - the fixture
    mgmt: None,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    password = tmp_path / "pw"
    password.write_text("a long enough password\n")
    subprocess.run(
        [TOCSIN, "hub", "init", "--home", str(home), "--name", SENSOR_ADDR,
         "--admin-password-file", str(password)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    settings = home / "hub" / "hub.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "check_s": 1.0}))
    out, into = veth
    proc = _run(into, home, "--workers", "1", "--site", "chu-a",
                "--listen", f"{SENSOR_ADDR}:8443")  # fmt: skip
    api = httpx.Client(
        base_url=f"https://{SENSOR_ADDR}:8443",
        verify=ssl.create_default_context(cafile=str(home / "hub" / "tls" / "ca.pem")),
        auth=("admin", "a long enough password"),
        timeout=10,
    )

    def alerts() -> list[dict[str, object]]:
        try:
            r = api.get("/api/v1/events", params={"site": "chu-a", "type": "alert"})
        except httpx.TransportError:
            return []  # not listening yet
        return [json.loads(ln)["event"] for ln in r.text.splitlines() if ln]

    try:
        # nothing on the wire yet: heartbeats say no packets, and the store raises it
        _wait("a sensor-blind alert for the quiet interface", alerts)
        (blind,) = alerts()
        assert blind["alert"]["signature_id"] == 9000011  # type: ignore[index]
        assert "chu-a/local" in blind["alert"]["signature"]  # type: ignore[index]
        _replay(out, SAMPLE)
        _wait("http events through the API", lambda: api.get(
            "/api/v1/events", params={"site": "chu-a", "type": "http"}).text)  # fmt: skip
        _wait("the blind state cleared once packets came", lambda: api.get(
            "/api/v1/stats").json()["sensors"][0]["blind"] is None)  # fmt: skip
    finally:
        api.close()
        err = _stop(proc)
    assert "admin account" not in err  # the home was set up already: reused as it is
    assert "hub API on https://" in err
