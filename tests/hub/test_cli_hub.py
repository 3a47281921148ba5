"""`tocsin hub …` and `tocsin sensor --hub …` as an operator meets them: a user's mistake is
exit 2 and one plain line saying what is wrong, never a traceback; and the hub runs on
PostgreSQL from the same commands."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from hub.hubkit import TOCSIN, tocsin


def _fails(*args: str, code: int = 2) -> str:
    """Run `tocsin args`, expect exit `code` and one line on stderr; returns that line."""
    done = tocsin(*args, check=False, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tocsin: "), lines
    return lines[0]


def _ok(*args: str) -> subprocess.CompletedProcess[str]:
    done = tocsin(*args, check=False, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with a hub set up (SQLite) and site chu-a."""
    h = tmp_path / "home"
    _ok("hub", "init", "--home", str(h), "--listen", "127.0.0.1:0")
    _ok("hub", "site", "add", "chu-a", "--home", str(h))
    return h


def test_init_prints_the_ca_and_a_generated_password(tmp_path: Path) -> None:
    done = _ok("hub", "init", "--home", str(tmp_path / "h"))
    assert "sensors pin this CA:" in done.stdout
    assert "admin account 'admin', password: " in done.stdout
    settings = json.loads((tmp_path / "h" / "hub" / "hub.json").read_text())
    assert settings["store"].startswith("sqlite:///")
    assert Path(settings["ca"]).is_file() and Path(settings["key"]).is_file()
    assert Path(settings["key"]).stat().st_mode & 0o077 == 0, "the server key is private"


def test_init_twice_in_one_home(home: Path) -> None:
    line = _fails("hub", "init", "--home", str(home))
    assert "already set up" in line and str(home / "hub") in line


def test_init_with_a_missing_password_file(tmp_path: Path) -> None:
    line = _fails("hub", "init", "--home", str(tmp_path / "h"), "--admin-password-file",
                  str(tmp_path / "nope.pw"))  # fmt: skip
    assert "nope.pw" in line
    assert not (tmp_path / "h" / "hub" / "hub.json").exists()


def test_init_where_the_home_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = _fails("hub", "init", "--home", str(tmp_path / "file"))
    assert str(tmp_path / "file") in line


def test_init_with_half_a_certificate_pair(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    line = _fails("hub", "init", "--home", str(tmp_path / "h"), "--cert", str(cert))
    assert "--cert and --key go together" in line


def test_init_with_a_store_url_it_does_not_know(tmp_path: Path) -> None:
    line = _fails("hub", "init", "--home", str(tmp_path / "h"), "--store", "mysql://u:pw@db/x")
    assert "mysql://u@db/x: not a store URL" in line and ":pw@" not in line
    assert not (tmp_path / "h" / "hub" / "hub.json").exists()


def test_site_add_twice(home: Path) -> None:
    line = _fails("hub", "site", "add", "chu-a", "--home", str(home))
    assert "site 'chu-a' already exists" in line
    assert _ok("hub", "site", "list", "--home", str(home)).stdout.split() == ["chu-a"]


def test_sensor_add_at_a_site_that_does_not_exist(home: Path) -> None:
    line = _fails("hub", "sensor", "add", "probe-1", "--site", "nowhere", "--home", str(home))
    assert "'nowhere'" in line


def test_sensor_add_twice_and_revoke_an_unknown_one(home: Path, tmp_path: Path) -> None:
    token = _ok("hub", "sensor", "add", "probe-1", "--site", "chu-a", "--home", str(home))
    assert token.stdout.strip().startswith("tcs_")
    line = _fails("hub", "sensor", "add", "probe-1", "--site", "chu-a", "--home", str(home))
    assert "sensor 'probe-1' already exists at site 'chu-a'" in line
    line = _fails("hub", "sensor", "revoke", "probe-9", "--site", "chu-a", "--home", str(home))
    assert "probe-9" in line


def test_sensor_add_token_file_in_a_missing_directory_enrols_nothing(
    home: Path, tmp_path: Path
) -> None:
    where = tmp_path / "no" / "such" / "t.token"
    line = _fails("hub", "sensor", "add", "probe-1", "--site", "chu-a", "--home", str(home),
                  "--token-file", str(where))  # fmt: skip
    assert str(where) in line
    # the sensor was not enrolled with a token nobody has: enrolling it again works
    token = tmp_path / "t.token"
    _ok("hub", "sensor", "add", "probe-1", "--site", "chu-a", "--home", str(home),
        "--token-file", str(token))  # fmt: skip
    assert token.read_text().startswith("tcs_")
    assert token.stat().st_mode & 0o077 == 0


def test_stats_on_an_empty_home(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    line = _fails("hub", "stats", "--home", str(empty))
    assert f"no hub here (tocsin hub init --home {empty})" in line


def test_stats_from_the_environment_home(home: Path) -> None:
    import os

    env = dict(os.environ, TOCSIN_HOME=str(home))
    done = tocsin("hub", "stats", "--json", env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"events": [], "sensors": []}


@pytest.mark.parametrize("listen", ["nonsense", "127.0.0.1:", ":8443", "127.0.0.1:99999",
                                    "127.0.0.1:http"])  # fmt: skip
def test_serve_with_a_bad_listen_address(home: Path, listen: str) -> None:
    line = _fails("hub", "serve", "--home", str(home), "--listen", listen)
    assert "--listen" in line and "HOST:PORT" in line


def test_serve_without_a_hub(tmp_path: Path) -> None:
    assert "no hub here" in _fails("hub", "serve", "--home", str(tmp_path / "none"))


# -- tocsin sensor --hub


def _sensor(tmp_path: Path, *args: str) -> str:
    return _fails("sensor", "--home", str(tmp_path / "s"), *args)


def test_sensor_read_without_a_hub(tmp_path: Path) -> None:
    line = _sensor(tmp_path, "--read", "x")
    assert "--hub" in line


def test_sensor_hub_without_site_or_token(tmp_path: Path) -> None:
    line = _sensor(tmp_path, "--read", "x", "--hub", "https://127.0.0.1:1")
    assert "--site" in line and "--token-file" in line


def test_sensor_hub_over_plain_http(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("tcs_x\n")
    line = _sensor(tmp_path, "--read", "x", "--hub", "http://127.0.0.1:1", "--site", "chu-a",
                   "--token-file", str(token))  # fmt: skip
    assert "HTTPS only" in line


def test_sensor_with_a_missing_token_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.token"
    line = _sensor(tmp_path, "--read", "x", "--hub", "https://127.0.0.1:1", "--site", "chu-a",
                   "--token-file", str(missing))  # fmt: skip
    assert str(missing) in line


def test_sensor_with_an_empty_token_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.token"
    empty.write_text("\n")
    line = _sensor(tmp_path, "--read", "x", "--hub", "https://127.0.0.1:1", "--site", "chu-a",
                   "--token-file", str(empty))  # fmt: skip
    assert str(empty) in line and "empty" in line


def test_sensor_with_a_missing_ca(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("tcs_x\n")
    line = _sensor(tmp_path, "--read", "x", "--hub", "https://127.0.0.1:1", "--site", "chu-a",
                   "--token-file", str(token), "--ca", str(tmp_path / "ca.pem"))  # fmt: skip
    assert "ca.pem" in line


def test_sensor_whose_home_is_a_file(tmp_path: Path) -> None:
    token = tmp_path / "t"
    token.write_text("tcs_x\n")
    (tmp_path / "file").write_text("x")
    done = tocsin("sensor", "--read", "x", "--hub", "https://127.0.0.1:1", "--site", "chu-a",
                  "--token-file", str(token), "--home", str(tmp_path / "file"),
                  check=False)  # fmt: skip
    assert "Traceback" not in done.stderr and done.returncode == 2, done.stderr
    assert "cannot open the outbox" in done.stderr


# -- the hub on PostgreSQL


def test_hub_on_postgresql(pg_db: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = _ok("hub", "init", "--home", str(home), "--store", pg_db)
    assert "store " in done.stdout
    settings = json.loads((home / "hub" / "hub.json").read_text())
    assert settings["store"] == pg_db
    assert not (home / "hub" / "hub.db").exists()
    _ok("hub", "site", "add", "chu-a", "--home", str(home))
    _ok("hub", "site", "add", "chu-b", "--home", str(home))
    assert "already exists" in _fails("hub", "site", "add", "chu-b", "--home", str(home))
    _ok("hub", "sensor", "add", "probe-1", "--site", "chu-a", "--home", str(home),
        "--token-file", str(tmp_path / "t"))  # fmt: skip
    _ok("hub", "sensor", "revoke", "probe-1", "--site", "chu-a", "--home", str(home))
    report = json.loads(_ok("hub", "stats", "--json", "--home", str(home)).stdout)
    assert report["events"] == []
    assert [(s["site"], s["sensor"], s["revoked"]) for s in report["sensors"]] == [
        ("chu-a", "probe-1", True)
    ]
    table = _ok("hub", "stats", "--home", str(home)).stdout
    assert "sensor chu-a/probe-1: revoked" in table
    # a second hub home on the same database finds its admin already there
    line = _fails("hub", "init", "--home", str(tmp_path / "other"), "--store", pg_db)
    assert "user 'admin' already exists" in line


def test_two_sensors_on_one_home(tmp_path: Path) -> None:
    """A second sensor on a home in use would share its outbox: refused, naming the first."""
    token = tmp_path / "t"
    token.write_text("tcs_x\n")
    eve = tmp_path / "eve.json"
    eve.write_text("")
    args = ["sensor", "--eve-file", str(eve), "--hub", "https://127.0.0.1:1", "--site",
            "chu-a", "--token-file", str(token), "--home", str(tmp_path / "s")]  # fmt: skip
    first = subprocess.Popen([TOCSIN, *args, "--duration", "60"], stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "s" / "sensor" / "lock"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.1)
        line = _fails(*args, "--duration", "1")
        assert "in use by another tocsin sensor" in line and f"pid {first.pid}" in line
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_run_on_an_interface_it_cannot_capture_sets_nothing_up(tmp_path: Path) -> None:
    """The capture is checked first: no data directory, no admin password printed."""
    line = _fails("run", "--iface", "nosuch0", "--home", str(tmp_path / "h"))
    assert line.startswith("tocsin: nosuch0: ") or "root" in line
    assert not (tmp_path / "h").exists()
