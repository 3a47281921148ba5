"""Who may do what at a real hub process: a sensor token writes its own site's events and
nothing else, reads nothing, stops working once revoked; people read with a password; TLS is
not optional; and whatever arrives twice is stored once.

One hub serves the whole module (starting one costs seconds); each test writes events with
its own random marker and epoch, so tests do not see each other's events.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import zstandard

from hub.hubkit import Hub, canonical, tocsin
from tocsin.hub.rows import Batch, Heartbeat
from tocsin.output.outbox import Outbox
from tocsin.output.push import HttpTransport, Pusher

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"

SENSORS = [("chu-a", "probe-1"), ("chu-a", "probe-x"), ("chu-b", "probe-b"), ("chu-a", "gone")]


_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    h = Hub(tmp_path_factory.mktemp("auth") / "home")
    for site, name in SENSORS:
        _TOKENS[name] = h.sensor(site, name).read_text().strip()
    h.start()
    yield h
    h.stop()
    _TOKENS.clear()


def _token(hub: Hub, name: str) -> str:
    """The token of sensor `name` of the module's hub."""
    return _TOKENS[name]


def _client(hub: Hub, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=hub.url, verify=ssl.create_default_context(cafile=str(hub.ca)),
        headers=headers or {}, timeout=30,
    )  # fmt: skip


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _line(marker: str, n: int, kind: str = "dns") -> bytes:
    return json.dumps(
        {"timestamp": f"2026-11-30T10:00:{n % 60:02d}.{n:06d}+0000", "event_type": kind,
         "src_ip": "10.1.0.1", "dest_ip": "10.1.0.2", "marker": marker, "n": n},
        separators=(",", ":"),
    ).encode()  # fmt: skip


def _batch_body(site: str, events: list[tuple[int, bytes]], epoch: int | None = None) -> bytes:
    epoch = secrets.randbits(63) if epoch is None else epoch
    raw = msgspec.msgpack.encode(Batch(site, epoch, events))
    return zstandard.ZstdCompressor().compress(raw)


def _post_batch(hub: Hub, token: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/x-tocsin-batch", "Content-Encoding": "zstd"}
    if token is not None:
        headers.update(_bearer(token))
    with _client(hub, headers) as c:
        return c.post("/api/v1/batches", content=body)


def _post_eve(hub: Hub, token: str, lines: list[bytes]) -> httpx.Response:
    with _client(hub, _bearer(token)) as c:
        return c.post("/api/v1/eve", content=b"\n".join(lines) + b"\n")


def _heartbeat(hub: Hub, token: str, site: str) -> httpx.Response:
    hb = Heartbeat(site=site, at=1.0, version="test", source="pcap", packets=10)
    with _client(hub, _bearer(token)) as c:
        return c.post("/api/v1/heartbeat", content=msgspec.json.encode(hb))


def _with(hub: Hub, marker: str) -> list[bytes]:
    """Every stored line carrying `marker`."""
    needle = f'"marker":"{marker}"'.encode()
    return [ln for ln in hub.events() if needle in ln]


def _sensor_state(hub: Hub, name: str) -> dict[str, Any]:
    (state,) = [s for s in hub.stats()["sensors"] if s["sensor"] == name]
    assert isinstance(state, dict)
    return state


def _marker() -> str:
    return secrets.token_hex(8)


# -- a sensor writes for its own site only


def test_a_sensor_cannot_write_another_sites_batch(hub: Hub) -> None:
    marker = _marker()
    body = _batch_body("chu-b", [(i, _line(marker, i)) for i in range(5)])
    r = _post_batch(hub, _token(hub, "probe-1"), body)
    assert r.status_code == 403
    assert r.json()["detail"] == "sensor 'probe-1' belongs to site 'chu-a', not 'chu-b'"
    r = _post_batch(hub, _token(hub, "probe-b"),
                    _batch_body("chu-a", [(i, _line(marker, i)) for i in range(5)]))  # fmt: skip
    assert r.status_code == 403
    assert _with(hub, marker) == []
    # its own site: accepted
    r = _post_batch(hub, _token(hub, "probe-1"),
                    _batch_body("chu-a", [(i, _line(marker, i)) for i in range(5)]))  # fmt: skip
    assert r.status_code == 200, r.text
    assert len(_with(hub, marker)) == 5
    assert not [ln for ln in hub.events("chu-b") if marker.encode() in ln]


def test_a_sensor_cannot_report_for_another_site(hub: Hub) -> None:
    r = _heartbeat(hub, _token(hub, "probe-x"), "chu-b")
    assert r.status_code == 403
    assert "belongs to site 'chu-a'" in r.json()["detail"]
    assert _sensor_state(hub, "probe-x")["last_heartbeat"] is None
    assert _heartbeat(hub, _token(hub, "probe-1"), "chu-a").status_code == 200
    assert _sensor_state(hub, "probe-1")["report"]["packets"] == 10


# -- a sensor reads nothing


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events?site=chu-a",
                                  "/api/v1/stats"])  # fmt: skip
def test_a_sensor_token_reads_nothing(hub: Hub, path: str) -> None:
    marker = _marker()
    token = _token(hub, "probe-1")
    assert _post_eve(hub, token, [_line(marker, 1)]).status_code == 200
    for headers in (
        _bearer(token),
        {"Authorization": "Basic " + base64.b64encode(f"probe-1:{token}".encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(f"admin:{token}".encode()).decode()},
    ):
        with _client(hub, headers) as c:
            r = c.get(path)
        assert r.status_code == 401
        assert set(r.json()) == {"detail"}
        for secret in (marker, "chu-a", "probe-1", '"event"', "held"):
            assert secret not in r.text


# -- who is not let in


def test_a_revoked_token_is_refused_everywhere(hub: Hub) -> None:
    token = _token(hub, "gone")
    marker = _marker()
    assert _post_eve(hub, token, [_line(marker, 0)]).status_code == 200
    tocsin("hub", "sensor", "revoke", "gone", "--site", "chu-a", "--home", str(hub.home))
    refused = [
        _post_batch(hub, token, _batch_body("chu-a", [(1, _line(marker, 1))])),
        _post_eve(hub, token, [_line(marker, 2)]),
        _heartbeat(hub, token, "chu-a"),
    ]
    for r in refused:
        assert r.status_code == 401
        assert r.json()["detail"] == "sensor chu-a/gone: token revoked"
    # what it sent before it was revoked stays
    assert [json.loads(ln)["n"] for ln in _with(hub, marker)] == [0]
    assert _sensor_state(hub, "gone")["revoked"] is True


def test_a_sensor_with_a_revoked_token_stops_and_keeps_its_events(hub: Hub, tmp_path: Path) -> None:
    """`tocsin sensor --read` exits 4 with one line naming the revocation; its events wait
    in the outbox, and reach the hub once the same outbox runs with a valid token."""
    site, token_file = "chu-a", tmp_path / "revoked.token"
    tocsin("hub", "sensor", "add", "revoked", "--site", site, "--home", str(hub.home),
           "--token-file", str(token_file))  # fmt: skip
    tocsin("hub", "sensor", "revoke", "revoked", "--site", site, "--home", str(hub.home))
    home = tmp_path / "sensor"
    args = ["--site", site, "--hub", hub.url, "--ca", str(hub.ca), "--home", str(home)]
    done = tocsin("sensor", "--read", str(SAMPLES / "pacs-dicom-store.pcap"),
                  "--token-file", str(token_file), *args, check=False)  # fmt: skip
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("tocsin: ") and "token revoked" in line and "chu-a/revoked" in line
    kept = re.search(r"(\d+) events kept in the outbox", line)
    assert kept is not None
    local = tmp_path / "pacs.eve.json"
    tocsin("analyze", str(SAMPLES / "pacs-dicom-store.pcap"), "--eve", str(local), "-q")
    produced = [ln for ln in local.read_bytes().split(b"\n") if ln]
    assert int(kept.group(1)) == len(produced) > 0
    outbox = Outbox(home / "sensor" / "outbox.db")
    assert outbox.depth()[0] == len(produced)
    assert outbox.counts()["sent"] == {}
    outbox.close()
    # re-enrolled under a new name, the same sensor home delivers what it kept
    new_token = tmp_path / "new.token"
    tocsin("hub", "sensor", "add", "re-enrolled", "--site", site, "--home", str(hub.home),
           "--token-file", str(new_token))  # fmt: skip
    tocsin("sensor", "--read", str(SAMPLES / "hl7-feed.pcap"), "--token-file", str(new_token),
           *args)  # fmt: skip
    report = _sensor_state(hub, "re-enrolled")["report"]
    assert report["outbox_events"] == 0
    assert sum(report["sent"].values()) > len(produced)
    assert set(canonical(produced)) <= set(canonical(hub.events("chu-a")))


def test_unknown_and_missing_tokens_are_refused(hub: Hub) -> None:
    body = _batch_body("chu-a", [(1, _line(_marker(), 1))])
    for token, detail in (
        ("tcs_" + secrets.token_urlsafe(32), "unknown sensor token"),
        ("not-even-a-token", "unknown sensor token"),
        (None, "a sensor token is needed (Authorization: Bearer ...)"),
    ):
        r = _post_batch(hub, token, body)
        assert r.status_code == 401, token
        assert r.json()["detail"] == detail
    with _client(hub, {"Authorization": "Basic " + base64.b64encode(b"admin:x").decode()}) as c:
        assert c.post("/api/v1/eve", content=_line("x", 1)).status_code == 401
    with _client(hub, _bearer("tcs_nope")) as c:
        assert c.post("/api/v1/heartbeat", content=b"{}").status_code == 401


def test_people_need_the_right_password(hub: Hub) -> None:
    def basic(user: str, password: str) -> dict[str, str]:
        cred = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {cred}"}

    for headers in (
        basic("admin", "wrong password"),
        basic("nobody", "correct horse battery staple"),
        basic("admin", ""),
        {"Authorization": "Basic !!!not-base64"},
        {},
    ):
        with _client(hub, headers) as c:
            for path in ("/api/v1/events", "/api/v1/stats"):
                r = c.get(path)
                assert r.status_code == 401, (headers, path)
                assert set(r.json()) == {"detail"}
    with hub.client() as c:
        assert c.get("/api/v1/stats").status_code == 200


# -- TLS is not optional


def test_plain_http_to_the_https_port_fails(hub: Hub) -> None:
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{hub.port}/api/v1/health", timeout=10)


def test_a_sensor_that_does_not_pin_the_ca_cannot_connect(hub: Hub, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db")
    outbox.put([("dns", _line(_marker(), 1))])
    said: list[str] = []
    link = HttpTransport(hub.url, _token(hub, "probe-1"))
    pusher = Pusher(outbox, link, "chu-a", log=said.append)
    try:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            pusher.send_one()
        # in its loop, it keeps the line and retries
        stop = threading.Event()
        timer = threading.Timer(1.5, stop.set)
        timer.start()
        pusher.run(stop)
        timer.join()
    finally:
        pusher.close()
    assert pusher.failures >= 1 and pusher.delivered == 0
    assert said and "hub unreachable" in said[0] and "certificate verify failed" in said[0]
    assert outbox.depth()[0] == 1
    outbox.close()


def test_tocsin_sensor_without_ca_retries_and_delivers_nothing(hub: Hub, tmp_path: Path) -> None:
    marker = _marker()
    eve = tmp_path / "eve.json"
    eve.write_bytes(b"\n".join(_line(marker, i) for i in range(3)) + b"\n")
    token = tmp_path / "t"
    token.write_text(_token(hub, "probe-1"))
    done = tocsin("sensor", "--eve-file", str(eve), "--hub", hub.url, "--site", "chu-a",
                  "--token-file", str(token), "--home", str(tmp_path / "s"), "--duration", "3",
                  check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "certificate verify failed" in done.stderr
    assert "0 events delivered" in done.stderr and "3 still queued" in done.stderr
    assert _with(hub, marker) == []


# -- stored once


def test_the_same_batch_twice_is_stored_once(hub: Hub) -> None:
    marker = _marker()
    body = _batch_body("chu-a", [(i, _line(marker, i)) for i in range(1, 8)])
    first = _post_batch(hub, _token(hub, "probe-1"), body)
    again = _post_batch(hub, _token(hub, "probe-1"), body)
    assert first.json() == {"accepted": 7, "rejected": 0, "stored": 7, "duplicates": 0}
    assert again.json() == {"accepted": 7, "rejected": 0, "stored": 0, "duplicates": 7}
    assert sorted(json.loads(ln)["n"] for ln in _with(hub, marker)) == list(range(1, 8))


def test_a_batch_overlapping_one_already_stored_stores_the_new_lines(hub: Hub) -> None:
    marker, epoch = _marker(), secrets.randbits(63)
    token = _token(hub, "probe-1")
    old = [(i, _line(marker, i)) for i in range(5)]
    new = [(i, _line(marker, i)) for i in range(3, 9)]
    _post_batch(hub, token, _batch_body("chu-a", old, epoch))
    r = _post_batch(hub, token, _batch_body("chu-a", new, epoch))
    assert (r.json()["stored"], r.json()["duplicates"]) == (4, 2)
    assert len(_with(hub, marker)) == 9


def test_a_malformed_line_is_named_and_the_rest_stored(hub: Hub) -> None:
    marker = _marker()
    events = [
        (10, _line(marker, 10)),
        (11, b"this is not json"),
        (12, _line(marker, 12, "alert")),
        (13, b'{"event_type":"dns","marker":"%s"}' % marker.encode()),  # no timestamp
        (14, _line(marker, 14).replace(b"2026-11-30T", b"yesterday ")),
        (15, _line(marker, 15, "flow")),
    ]
    r = _post_batch(hub, _token(hub, "probe-1"), _batch_body("chu-a", events))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["accepted"], answer["rejected"], answer["stored"]) == (3, 3, 3)
    assert [x["at"] for x in answer["reasons"]] == [11, 13, 14]
    assert all(x["reason"] for x in answer["reasons"])
    assert "timestamp" in answer["reasons"][1]["reason"]
    assert "not ISO 8601" in answer["reasons"][2]["reason"]
    assert sorted(json.loads(ln)["n"] for ln in _with(hub, marker)) == [10, 12, 15]


def test_eve_lines_posted_twice_are_stored_once(hub: Hub) -> None:
    marker = _marker()
    lines = [_line(marker, i, ("alert", "dns", "flow")[i % 3]) for i in range(6)]
    token = _token(hub, "probe-b")
    first = _post_eve(hub, token, lines)
    assert first.json() == {"accepted": 6, "rejected": 0, "stored": 6, "duplicates": 0}
    again = _post_eve(hub, token, [*lines[3:], _line(marker, 6)])
    assert again.json() == {"accepted": 4, "rejected": 0, "stored": 1, "duplicates": 3}
    stored = _with(hub, marker)
    assert sorted(json.loads(ln)["n"] for ln in stored) == list(range(7))
    assert set(canonical(stored)) <= set(canonical(hub.events("chu-b")))


def test_eve_lines_with_a_bad_line_name_it_by_line_number(hub: Hub) -> None:
    marker = _marker()
    body = [_line(marker, 1), b"{broken", _line(marker, 3)]
    r = _post_eve(hub, _token(hub, "probe-b"), body)
    assert r.status_code == 200
    assert r.json()["stored"] == 2 and [x["at"] for x in r.json()["reasons"]] == [2]
