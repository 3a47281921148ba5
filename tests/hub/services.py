"""Real PostgreSQL and NATS JetStream servers for the hub's tests, driven by scripts/services.

Each server is a throwaway: its own data directory under the system temp dir (not pytest's
tmp_path, which the postgres system user cannot reach when tests run as root), its own free
port on 127.0.0.1, no network. `PostgresServer` and `NatsServer` know their directory and port:
`kill()` is kill -9 (a crash: PostgreSQL's every backend too), `start()` brings the server
back on the same port and data (so `url` never changes), `stop()` shuts it down cleanly.

`postgres()` / `nats()` are context managers that start a server and always stop it and delete
its directory on exit, failing tests included. `require()` skips a test when the Debian package
is missing, or fails it when CI=true: CI must prove the hub against the real services.

Not here: the servers are not tuned (Debian defaults, fsync on; nats-server's 1 MB max_payload).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services"

MISSING = {
    "postgres": "PostgreSQL not installed: apt install postgresql (./dev test does)",
    "nats": "nats-server not installed: apt install nats-server (./dev test does)",
}


class ServiceError(RuntimeError):
    """scripts/services failed; the message is its one-line error."""


def installed(kind: str) -> bool:
    """Whether the Debian package for `kind` ("postgres" or "nats") is there, as the script
    looks for it (PG_BINDIR and NATS_SERVER override the default places)."""
    if kind == "postgres":
        bindir = os.environ.get("PG_BINDIR")
        found = [f"{bindir}/initdb"] if bindir else glob.glob("/usr/lib/postgresql/*/bin/initdb")
        return any(os.access(p, os.X_OK) for p in found)
    if kind == "nats":
        path = os.environ.get("NATS_SERVER") or shutil.which("nats-server")
        path = path or "/usr/sbin/nats-server"
        return os.access(path, os.X_OK)
    raise ValueError(f"unknown service {kind!r}")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def require(kind: str) -> None:
    """Skip the calling test (fixture) when `kind` is not installed; under CI=true, fail it."""
    if installed(kind):
        return
    if in_ci():
        pytest.fail(f"{MISSING[kind]}; CI=true, so this is a failure, not a skip", pytrace=False)
    pytest.skip(MISSING[kind])


def run_script(*args: str, env: dict[str, str] | None = None) -> str:
    """Run scripts/services with `args`; its stdout, stripped. ServiceError on failure."""
    proc = subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        raise ServiceError(lines[-1])
    return proc.stdout.strip()


def pid_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(") ")[2][:1] != "Z"


class Server:
    """One throwaway server in `home`; `url` is set by the first start() and stays the same."""

    kind: ClassVar[str]

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port: int | None = None
        self.url = ""

    def start(self) -> str:
        """Start (or restart, on the same port and data); returns the URL once it serves."""
        port = ["--port", str(self.port)] if self.port else []
        url = run_script("start", self.kind, str(self.home), *port)
        self.port = urlsplit(url).port
        self.url = url
        return url

    def stop(self) -> None:
        """Clean shutdown; nothing running is fine."""
        run_script("stop", str(self.home), self.kind)

    def kill(self) -> None:
        """kill -9, as a crash would; returns once the processes are gone."""
        run_script("kill", str(self.home), self.kind)

    @property
    def pid(self) -> int | None:
        try:
            return int((self.home / f"{self.kind}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and pid_alive(pid)

    def ensure_running(self) -> None:
        """Restart the server if a test killed or stopped it."""
        if not self.running:
            self.start()


class PostgresServer(Server):
    """`url` names database `tocsin`; user postgres, no password (trust on loopback)."""

    kind = "postgres"

    def database_url(self, name: str) -> str:
        """The URL of database `name` on this server."""
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (a plain identifier); returns its URL."""
        self._admin(f'CREATE DATABASE "{_ident(name)}"')
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE `name`, disconnecting whoever is still on it."""
        self._admin(f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.database_url("postgres"), autocommit=True) as conn:
            conn.execute(sql.encode())


class NatsServer(Server):
    """`url` is nats://127.0.0.1:PORT; JetStream on, file store in home/js."""

    kind = "nats"


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"not a plain database name: {name!r}")
    return name


@contextlib.contextmanager
def _running(server: Server) -> Iterator[Server]:
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(server.home, ignore_errors=True)


@contextlib.contextmanager
def postgres() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server, stopped and deleted on exit."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="tocsin-pg-")))
    with _running(server):
        yield server


@contextlib.contextmanager
def nats() -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream, stopped and deleted on exit."""
    server = NatsServer(Path(tempfile.mkdtemp(prefix="tocsin-nats-")))
    with _running(server):
        yield server
