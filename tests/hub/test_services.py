"""The real services the hub's tests stand on: PostgreSQL and NATS JetStream (Debian's 2.9),
started by scripts/services, do what the hub relies on — rows and messages survive kill -9,
JetStream drops a re-sent Nats-Msg-Id, a durable pull consumer is shared by two workers."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import nats
import psycopg
import pytest
from nats.js.api import StorageType, StreamConfig

from hub import services
from hub.services import NatsServer, PostgresServer, ServiceError


def test_postgres_round_trips_a_row(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql://postgres@127.0.0.1:")
    assert postgres_url.endswith("/tocsin")
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE round_trip (eid bytea PRIMARY KEY, body text)")
        conn.execute("INSERT INTO round_trip VALUES (%s, %s)", (b"\x00" * 16, "é"))
        row = conn.execute("SELECT eid, body FROM round_trip").fetchone()
    assert row == (b"\x00" * 16, "é")


@pytest.mark.parametrize("run", [1, 2])
def test_pg_db_is_a_fresh_empty_database(pg_db: str, run: int) -> None:
    with psycopg.connect(pg_db) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        conn.execute("CREATE TABLE mine (x int)")  # would clash if the database were shared
    assert name is not None and name[0].startswith("test_")
    assert tables == (0,)


def test_postgres_keeps_committed_rows_through_kill_9(postgres_server: PostgresServer) -> None:
    url = postgres_server.url
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE crash (x int)")
        conn.execute("INSERT INTO crash VALUES (7)")
    postgres_server.kill()
    assert not postgres_server.running
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)
    assert postgres_server.start() == url
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT x FROM crash").fetchall() == [(7,)]


async def _dedup(url: str) -> tuple[bool, bool, int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(name="DEDUP", subjects=["dedup.>"], duplicate_window=120.0)
        )
        first = await js.publish("dedup.a", b"batch", headers={"Nats-Msg-Id": "site1-42"})
        again = await js.publish("dedup.a", b"batch", headers={"Nats-Msg-Id": "site1-42"})
        info = await js.stream_info("DEDUP")
        return first.duplicate or False, again.duplicate or False, info.state.messages
    finally:
        await nc.close()


def test_jetstream_drops_a_resent_msg_id(nats_url: str) -> None:
    assert asyncio.run(_dedup(nats_url)) == (False, True, 1)


async def _publish(url: str) -> int:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name="CRASH", subjects=["crash.>"], storage=StorageType.FILE, duplicate_window=120.0
            )
        )
        ack = await js.publish("crash.a", b"before the crash", headers={"Nats-Msg-Id": "m-1"})
        return ack.seq
    finally:
        await nc.close()


async def _after_restart(url: str, seq: int) -> tuple[bytes, int, bool]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        msg = await js.get_msg("CRASH", seq)
        resent = await js.publish("crash.a", b"before the crash", headers={"Nats-Msg-Id": "m-1"})
        info = await js.stream_info("CRASH")
        return msg.data or b"", info.state.messages, resent.duplicate or False
    finally:
        await nc.close()


def _listening(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:`port`. A connection to itself (the kernel
    may pick the port, free and in its ephemeral range, as the source) is not a listener."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            return bool(s.getsockname() != s.getpeername())
    except OSError:
        return False


def test_jetstream_keeps_messages_and_dedup_through_kill_9(nats_server: NatsServer) -> None:
    url = nats_server.url
    seq = asyncio.run(_publish(url))
    nats_server.kill()
    assert not nats_server.running
    assert not _listening(nats_server.port or 0)
    assert nats_server.start() == url
    data, count, duplicate = asyncio.run(_after_restart(url, seq))
    assert data == b"before the crash"
    assert count == 1
    assert duplicate  # the duplicate window is rebuilt from the store after a crash


async def _two_workers(url: str) -> tuple[list[bytes], list[bytes], int]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="WORK", subjects=["work.>"]))
        for i in range(10):
            await js.publish("work.batch", str(i).encode())
        one = await js.pull_subscribe("work.batch", durable="writers", stream="WORK")
        two = await js.pull_subscribe("work.batch", durable="writers", stream="WORK")
        got: list[list[bytes]] = [[], []]
        for _ in range(5):
            for k, sub in enumerate((one, two)):
                if len(got[0]) + len(got[1]) == 10:
                    break
                for m in await sub.fetch(2, timeout=2):
                    got[k].append(m.data)
                    await m.ack_sync()
        info = await js.consumer_info("WORK", "writers")
        return got[0], got[1], info.num_ack_pending
    finally:
        await nc.close()


def test_durable_pull_consumer_shares_the_stream_between_workers(nats_url: str) -> None:
    first, second, pending = asyncio.run(_two_workers(nats_url))
    assert first and second
    assert sorted(first + second, key=int) == [str(i).encode() for i in range(10)]
    assert pending == 0


def test_script_errors_are_one_clear_line(nats_server: NatsServer, tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=rf"port {nats_server.port} on 127.0.0.1 is in use"):
        services.run_script("start", "nats", str(tmp_path / "a"), "--port", str(nats_server.port))
    env = dict(os.environ, NATS_SERVER="/nonexistent/nats-server", PG_BINDIR="/nonexistent")
    with pytest.raises(ServiceError, match="apt install nats-server"):
        services.run_script("start", "nats", str(tmp_path / "b"), env=env)
    with pytest.raises(ServiceError, match="apt install postgresql"):
        services.run_script("start", "postgres", str(tmp_path / "c"), env=env)
    with pytest.raises(ServiceError, match="unknown service 'redis'"):
        services.run_script("start", "redis", str(tmp_path / "d"))
    services.run_script("stop", str(tmp_path / "never-started"))  # nothing to stop: fine
    if os.geteuid() == 0 and services.installed("postgres"):
        # pytest's tmp_path is private to root: the postgres user cannot get in
        with pytest.raises(ServiceError, match="user postgres cannot reach"):
            services.run_script("start", "postgres", str(tmp_path / "e"))


def test_a_missing_package_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_SERVER", "/nonexistent/nats-server")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt install nats-server"):
        services.require("nats")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        services.require("nats")
