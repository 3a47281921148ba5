"""`tocsin sensor --hub …`: analyse or follow a source and push its events to the hub.

Sources (one per run): `--iface IF` (the live pipeline; its EVE file is followed),
`--read CAPTURE…` (backfill: analyse, push, exit once delivered),
`--eve-file PATH` (a Suricata-based probe's EVE log, followed), `--zeek-dir DIR` (Zeek JSON
or TSV logs, followed and mapped to EVE). Files live in `<home>/sensor/`: the outbox
(outbox.db) and the spool of finished analyses not yet fed to it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

import typer

from tocsin.cli.analyze import _error
from tocsin.hub.home import home_dir
from tocsin.output.outbox import Outbox, OutboxError
from tocsin.output.push import HttpTransport, Pusher, PushError
from tocsin.runtime.uplink import Feed, SpoolFeed, TailFeed, Uplink, spool_files

T = TypeVar("T")


class Link(Protocol):
    """Where a live sensor's events go: a remote hub (`HubLink`) or the local store (`tocsin
    run`'s `LocalLink`). `dir` holds the outbox and the live EVE file."""

    url: str
    dir: Path
    outbox: Outbox
    who: str  # the command, as it signs its messages

    def pusher(self, source: str, health: dict[str, Any]) -> Pusher: ...


class HubLink:
    """What `--hub`, `--site`, `--token-file`, `--ca`, `--home`, `--outbox-mb` say."""

    who = "tocsin sensor"

    def __init__(
        self,
        url: str,
        site: str,
        token_file: Path,
        ca: Path | None,
        home: Path | None,
        outbox_mb: int,
        heartbeat_s: float,
    ) -> None:
        if not url.startswith("https://"):
            raise _exit(f"--hub {url!r}: the hub is reached over HTTPS only (https://HOST:PORT)")
        try:
            self.token = token_file.read_text().strip()
        except OSError as err:
            raise _exit(f"{token_file}: cannot read the sensor token: {err.strerror}") from None
        if not self.token:
            raise _exit(f"{token_file}: empty token file")
        if ca is not None and not ca.is_file():
            raise _exit(f"--ca {ca}: no such file")
        self.url, self.site, self.ca, self.heartbeat_s = url, site, ca, heartbeat_s
        self.dir = home_dir(home) / "sensor"
        self.lock = hold(self.dir, self.who)
        try:
            self.outbox = Outbox(self.dir / "outbox.db", max_bytes=outbox_mb << 20)
        except OutboxError as err:
            raise _exit(str(err)) from None

    def pusher(self, source: str, health: dict[str, Any]) -> Pusher:
        return Pusher(
            self.outbox,
            HttpTransport(self.url, self.token, self.ca),
            self.site,
            source=source,
            health=lambda: health,
            heartbeat_s=self.heartbeat_s,
            log=_say,
        )


def hold(directory: Path, who: str) -> int:
    """Lock `directory` for this process's life (returns the lock's descriptor): one sensor
    per home, since a second would share its outbox and live EVE file. Another process
    holding it, or a directory that cannot be made: one line, exit 2."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise _exit(f"{directory}: cannot open the outbox here: {err.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise _exit(
            f"{directory}: in use by another {who} (pid {pid}); give each its own --home"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def _exit(message: str, code: int = 2) -> typer.Exit:
    _error(message)
    return typer.Exit(code)


def tell(who: str, message: str) -> None:
    """A progress line for the user on stderr, signed by the command `who`."""
    sys.stderr.write(f"{who}: {message}\n")
    sys.stderr.flush()


def _say(message: str) -> None:
    tell(HubLink.who, message)


def _run(
    link: HubLink,
    source: str,
    feeds: list[Feed],
    health: dict[str, Any],
    until_done: bool,
    duration: float | None,
) -> None:
    uplink = Uplink(link.outbox, link.pusher(source, health), feeds)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        uplink.stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    if duration is not None:
        timer = threading.Timer(duration, uplink.stop.set)
        timer.daemon = True
        timer.start()
    try:
        uplink.run(until_done=until_done)
    except PushError as err:
        raise _exit(f"{err}; {link.outbox.depth()[0]} events kept in the outbox", 4) from None
    except OutboxError as err:
        raise _exit(str(err)) from None
    depth, _ = link.outbox.depth()
    counts = link.outbox.counts()
    shed = sum(counts["shed"].values())
    _say(
        f"{uplink.pusher.delivered} events delivered to {link.url}; {depth} still queued"
        + (f"; {shed} shed (outbox full) since it was created" if shed else "")
    )


def backfill(link: HubLink, captures: list[Path], analyse: Any) -> None:
    """Analyse `captures` into the spool, then push every finished analysis."""
    spool = link.dir / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    for torn in spool.glob("*.part"):
        _say(f"{torn.name}: an analysis that did not finish; discarded (run it again)")
        torn.unlink()
    part = spool / f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}.eve.json.part"
    result = analyse(captures, part)
    part.rename(part.with_suffix(""))
    feeds: list[Feed] = [SpoolFeed(link.outbox, p) for p in spool_files(spool)]
    health = {
        "packets": result.packets,
        "drops": sum(result.drops.values()),
        "live": False,
        "emergency": bool(result.counters.get("flow.emergency", 0)),
    }
    _run(link, "pcap", feeds, health, until_done=True, duration=None)


def follow_eve(link: HubLink, path: Path, duration: float | None) -> None:
    """Follow a third-party EVE file (rotation included) and push it."""
    _say(f"following {path} for {link.url} (Ctrl-C to stop)")
    _run(link, "eve-file", [TailFeed(link.outbox, path)], {}, False, duration)


def follow_zeek(link: HubLink, directory: Path, duration: float | None) -> None:
    """Follow the Zeek logs Tocsin maps in `directory` (current files: conn.log, dns.log…)."""
    from tocsin.capture.zeek import MAPPED_LOGS, ZeekLineReader, zeek_to_eve

    if not directory.is_dir():
        raise _exit(f"--zeek-dir {directory}: not a directory")
    feeds: list[Feed] = []
    for log in sorted(MAPPED_LOGS):
        reader = ZeekLineReader()

        def mapper(line: bytes, log: str = log, reader: ZeekLineReader = reader) -> Any:
            rec = reader.feed(line)
            return None if rec is None else zeek_to_eve(log, rec)

        feeds.append(TailFeed(link.outbox, directory / f"{log}.log", mapper))
    _say(f"following the Zeek logs in {directory} for {link.url} (Ctrl-C to stop)")
    _run(link, "zeek-dir", feeds, {}, False, duration)


def live(link: Link, watch: Callable[[Path, dict[str, Any]], T], drain_s: float) -> T:
    """Run `watch(eve_path, health)` (the live pipeline, in this thread) while its EVE file
    is followed into the outbox and pushed; once it returns, deliver what is left for up to
    `drain_s` seconds (the rest waits in the outbox for the next run)."""
    eve = link.dir / "live.eve.json"
    feed = TailFeed(link.outbox, eve)
    while feed.poll():  # what the last run wrote and did not feed: before it is overwritten
        pass
    health: dict[str, Any] = {"live": True, "packets": 0, "drops": 0, "emergency": False}
    uplink = Uplink(link.outbox, link.pusher("iface", health), [feed])
    failed: list[BaseException] = []

    def push() -> None:
        try:
            uplink.run(until_done=True)
        except (PushError, OutboxError) as err:
            failed.append(err)
            _error(f"{err}; events stay in the outbox {link.outbox.path}")

    thread = threading.Thread(target=push, name="uplink", daemon=True)
    thread.start()
    try:
        result = watch(eve, health)
    finally:
        health["live"] = False  # not capturing any more: no "no packets" verdict on the way out
        feed.final = True
        thread.join(drain_s)
        if thread.is_alive():
            uplink.stop.set()
            thread.join()
    depth, _ = link.outbox.depth()
    tell(
        link.who, f"{uplink.pusher.delivered} events delivered to {link.url}; {depth} still queued"
    )
    if failed:
        raise typer.Exit(4)
    return result
