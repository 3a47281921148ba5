"""Fixtures for the hub's tests: real PostgreSQL and NATS JetStream servers (tests/hub/services.py).

    postgres_server  session  PostgresServer: url, kill(), start(), stop(), create_database()
    postgres_url     session  postgresql://postgres@127.0.0.1:PORT/tocsin
    pg_db            function the URL of a fresh empty database, dropped after the test
    nats_server      session  NatsServer: url, kill(), start(), stop(); store survives kill -9
    nats_url         session  nats://127.0.0.1:PORT (JetStream on)
    wan_cut          session, autouse: the WAN-cut scenario (tests/hub/wan.py), started with
                     the first hub test, judged by test_wan_cut.py

A test may kill or stop a session server: it is restarted after the test, on the same port and
data, so later tests see the same URL. Streams, tables and databases other tests created stay:
use names of your own. Without the Debian package a test using these fixtures is skipped, or
fails under CI=true.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from hub import services
from hub.services import NatsServer, PostgresServer
from hub.wan import WanCut

_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    services.require("postgres")
    with services.postgres() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.url


@pytest.fixture
def pg_db(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"test_{next(_db_numbers)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.ensure_running()
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    services.require("nats")
    with services.nats() as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(nats_server: NatsServer) -> str:
    return nats_server.url


@pytest.fixture(autouse=True)
def _revive_killed_servers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Restart a session server the previous test killed or stopped, and this test's too."""
    used = [
        request.getfixturevalue(name)
        for name in ("postgres_server", "nats_server")
        if name in request.fixturenames
    ]
    for server in used:
        server.ensure_running()
    yield
    for server in used:
        server.ensure_running()


@pytest.fixture(scope="session", autouse=True)
def wan_cut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WanCut]:
    scenario = WanCut(tmp_path_factory.mktemp("wan"))
    try:
        scenario.start()
        yield scenario
    finally:
        scenario.close()
