"""`tocsin run --iface IF`: the embedded shape — sensor and hub in one process on one machine.

The live pipeline (one or more workers) writes its EVE file in `<home>/run/`; a feeder moves
its lines into a durable outbox there and a courier hands them to the hub's own ingest code
(`tocsin.hub.local.LocalHub`), which stores them in the home's hub store (SQLite by default).
So a stand-alone site gets what a region gets — the same store, event ids, sensor-blind
alerts, Parquet archive of old metadata — with no server to install, and `tocsin hub stats |
query | archive --home` read it. With `--listen`, the hub's HTTPS API is served from the same
process. The first run sets the home up (`tocsin hub init`'s defaults: TLS for localhost, an
admin account whose password is printed once) and enrols the sensor `<site>/local`.
"""

from __future__ import annotations

import logging
import secrets
import threading
from functools import partial
from pathlib import Path
from typing import Any

import typer

from tocsin.cli import sensor as s
from tocsin.cli.analyze import _error
from tocsin.cli.hub import api_server, listen_address, setup_hub
from tocsin.cli.uplink import hold, tell
from tocsin.hub.home import HomeError, HubSettings, archive_dir, home_dir, hub_dir, load_settings
from tocsin.hub.local import LocalHub, local_sensor
from tocsin.hub.store import Store, StoreError, open_store
from tocsin.hub.store.base import Sensor
from tocsin.hub.watch import Watcher
from tocsin.output.outbox import Outbox, OutboxError
from tocsin.output.push import Pusher

SENSOR_NAME = "local"


class LocalLink:
    """The `Link` of `tocsin run`: outbox and live EVE file in `<home>/run/`, delivered to
    `store` as `sensor`."""

    who = "tocsin run"

    def __init__(
        self, directory: Path, store: Store, sensor: Sensor, outbox_mb: int, heartbeat_s: float
    ) -> None:
        self.dir, self.store, self.sensor, self.heartbeat_s = directory, store, sensor, heartbeat_s
        self.url = f"the local store ({store.name})"
        self.lock = hold(directory, self.who)
        try:
            self.outbox = Outbox(directory / "outbox.db", max_bytes=outbox_mb << 20)
        except OutboxError as err:
            _error(str(err))
            raise typer.Exit(2) from None

    def pusher(self, source: str, health: dict[str, Any]) -> Pusher:
        return Pusher(
            self.outbox,
            LocalHub(self.store, self.sensor),
            self.sensor.site,
            source=source,
            health=lambda: health,
            heartbeat_s=self.heartbeat_s,
            log=partial(tell, self.who),
        )


def _hub(home: Path | None) -> HubSettings:
    """The home's hub settings, setting the hub up on first use."""
    if (hub_dir(home) / "hub.json").exists():
        try:
            return load_settings(home)
        except HomeError as err:
            _error(str(err))
            raise typer.Exit(2) from None
    password = secrets.token_urlsafe(12)
    settings = setup_hub(home, None, [], None, None, None, "admin", password, "127.0.0.1:8443")
    typer.echo(f"set up {home_dir(home)}: store {settings.store}", err=True)
    typer.echo(f"admin account 'admin' (for --listen), password: {password}", err=True)
    return settings


def _serve(settings: HubSettings, store: Store, home: Path | None, listen: str) -> Any:
    """The hub's HTTPS API on `listen`, in a thread of this process; returns the server
    (set `should_exit` to stop it)."""
    from tocsin.hub.app import make_app

    host, port = listen_address(listen)
    server = api_server(make_app(store, settings, None, archive_dir(home), watch=False),
                        settings, host, port)  # fmt: skip
    thread = threading.Thread(target=server.run, name="hub-api", daemon=True)
    thread.start()
    typer.echo(f"hub API on https://{host}:{port}", err=True)
    return server


def run(
    iface: str = typer.Option(
        ...,
        "--iface",
        "-i",
        help="The interface to watch (a SPAN/TAP port, no IP address).",
        metavar="<name>",
    ),
    home: Path | None = typer.Option(
        None,
        "--home",
        envvar="TOCSIN_HOME",
        help="Data directory: the store, archive and outbox (default ~/.tocsin).",
        metavar="<dir>",
    ),
    site: str = typer.Option("local", "--site", help="This site's name in the store."),
    listen: str | None = typer.Option(
        None,
        "--listen",
        help="Also serve the hub's HTTPS API here (HOST:PORT, e.g. 127.0.0.1:8443).",
        metavar="<host:port>",
    ),
    workers: int = s.WORKERS,
    duration: float | None = s.DURATION,
    count: int | None = s.COUNT,
    ring_mb: int = s.RING_MB,
    promisc: bool = s.PROMISC,
    bpf: str | None = s.BPF,
    rules: list[Path] = s.RULES,
    detectors: bool = s.DETECTORS,
    flow_cap: int = s.FLOW_CAP,
    shed: bool = s.SHED,
    outbox_mb: int = s.OUTBOX_MB,
    heartbeat_s: float = typer.Option(
        10.0,
        "--heartbeat-s",
        help="Seconds between two health reports to the store (the sensor-blind checks "
        "judge them).",
    ),
    summary_json: Path | None = s.SUMMARY_JSON,
    quiet: bool = s.QUIET,
) -> None:
    """Watch a live interface and keep what it sees on this machine (the embedded shape):
    the live pipeline and the hub's store in one process, no server to install. Events go
    to the home's store (SQLite; read them with `tocsin hub stats|query --home`), old
    metadata to its Parquet archive; a capture that goes silent or drops packets raises a
    sensor-blind alert. With --listen, the hub's HTTPS API is served too. Stops on Ctrl-C,
    SIGTERM, --duration or --count, after storing what is left."""
    from tocsin.cli.uplink import live

    if listen is not None:
        listen_address(listen)
    watch = s.live_watch(iface, workers, flow_cap, ring_mb, promisc, None, bpf, rules,
                         detectors, shed, duration, count, quiet)  # fmt: skip
    settings = _hub(home)
    try:
        store = open_store(settings.store)
        directory = home_dir(home) / "run"
        sensor = local_sensor(store, site, SENSOR_NAME, directory / "sensor.token")
    except (StoreError, OSError) as err:
        _error(str(err))
        raise typer.Exit(2) from None
    link = LocalLink(directory, store, sensor, outbox_mb, heartbeat_s)
    logging.basicConfig(level=logging.INFO, format="tocsin run: %(message)s")
    watcher = Watcher(store, settings, archive_dir(home))
    watcher.start()
    server = _serve(settings, store, home, listen) if listen else None
    try:
        result = live(link, watch, drain_s=30.0)
    finally:
        if server is not None:
            server.should_exit = True
        watcher.stop()
    held = sum(n for where, _, n in store.event_counts() if where == site)
    store.close()
    s.report(result, iface, str(link.dir / "live.eve.json"), quiet, summary_json)
    if not quiet:
        tell(LocalLink.who, f"{held} events of site {site} held in {store.name}")
