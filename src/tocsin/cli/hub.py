"""`tocsin hub …`: the regional hub — set up, enrol sites and sensors, serve, report."""

from __future__ import annotations

import json
import secrets as _secrets
import socket
from pathlib import Path
from typing import Any

import typer

from tocsin.cli.analyze import _error
from tocsin.hub.home import (
    HomeError,
    HubSettings,
    archive_dir,
    hub_dir,
    load_settings,
    save_settings,
)
from tocsin.hub.secrets import hash_password, new_token, token_hash
from tocsin.hub.store import Store, StoreError, open_store

hub_app = typer.Typer(
    help="The regional hub: sensors push to it over HTTPS; it stores, ranks and watches.",
    no_args_is_help=True,
)
site_app = typer.Typer(help="Sites (hospitals).", no_args_is_help=True)
sensor_app = typer.Typer(
    help="Sensors, each at one site, each with its own token.", no_args_is_help=True
)
hub_app.add_typer(site_app, name="site")
hub_app.add_typer(sensor_app, name="sensor")

HOME = typer.Option(
    None,
    "--home",
    envvar="TOCSIN_HOME",
    help="Data directory (default ~/.tocsin).",
    metavar="<dir>",
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    _error(message)
    return typer.Exit(code)


def _store(home: Path | None) -> tuple[HubSettings, Store]:
    try:
        settings = load_settings(home)
        return settings, open_store(settings.store)
    except (HomeError, StoreError) as err:
        raise _fail(str(err)) from None


@hub_app.command("init")
def init(
    home: Path | None = HOME,
    store: str | None = typer.Option(
        None, "--store", help="postgresql://… (default: SQLite in the home).", metavar="<url>"
    ),
    names: list[str] = typer.Option(
        [],
        "--name",
        help="DNS name or address sensors reach the hub by (repeat; default: "
        "this host's name, localhost, 127.0.0.1).",
        metavar="<name>",
    ),
    cert: Path | None = typer.Option(None, "--cert", help="Your own server certificate (PEM)."),
    key: Path | None = typer.Option(None, "--key", help="Its private key (PEM)."),
    ca: Path | None = typer.Option(None, "--ca", help="The CA that signed --cert, for sensors."),
    admin: str = typer.Option("admin", "--admin", help="The first admin account's name."),
    password_file: Path | None = typer.Option(
        None, "--admin-password-file", help="Its password (default: generated and printed)."
    ),
    listen: str = typer.Option("0.0.0.0:8443", "--listen", help="Where `hub serve` listens."),
) -> None:
    """Create the hub's data directory: settings, TLS (a CA and server certificate, or your
    own), the store, and an admin account."""
    try:
        password = (
            password_file.read_text().strip() if password_file else _secrets.token_urlsafe(12)
        )
    except OSError as err:
        raise _fail(f"{password_file}: cannot read the admin password: {err.strerror}") from None
    settings = setup_hub(home, store, names, cert, key, ca, admin, password, listen)
    directory = hub_dir(home)
    typer.echo(f"hub set up in {directory} (hub.json); store {settings.store.split('@')[-1]}")
    if settings.ca:
        typer.echo(f"sensors pin this CA: {settings.ca}")
    if password_file is None:
        typer.echo(f"admin account {admin!r}, password: {password}")


def setup_hub(
    home: Path | None, store: str | None, names: list[str], cert: Path | None,
    key: Path | None, ca: Path | None, admin: str, password: str, listen: str,
) -> HubSettings:  # fmt: skip
    """Create the hub's directory, TLS files (unless `cert`/`key` are given), the store and
    the `admin` account; save and return the settings. A mistake: one line, exit 2."""
    from tocsin.hub.pki import make_ca_and_server

    directory = hub_dir(home)
    if (directory / "hub.json").exists():
        raise _fail(f"{directory}: a hub is already set up here")
    if (cert is None) != (key is None):
        raise _fail("--cert and --key go together")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _fail(f"{directory}: cannot create the hub's directory: {err.strerror}") from None
    if cert is None or key is None:
        hosts = names or [socket.gethostname(), "localhost", "127.0.0.1"]
        ca_path, cert_path, key_path = make_ca_and_server(directory / "tls", hosts)
        ca_text: str | None = str(ca_path.resolve())
        cert_path, key_path = cert_path.resolve(), key_path.resolve()
    else:
        for p in (cert, key, *([ca] if ca else [])):
            if not p.is_file():
                raise _fail(f"{p}: no such file")
        cert_path, key_path, ca_text = (
            cert.resolve(),
            key.resolve(),
            str(ca.resolve()) if ca else None,
        )
    url = store or f"sqlite:///{(directory / 'hub.db').resolve()}"
    try:
        opened = open_store(url)
        opened.add_user(admin, hash_password(password), "admin")
        opened.close()
    except StoreError as err:
        raise _fail(str(err)) from None
    settings = HubSettings(
        store=url, cert=str(cert_path), key=str(key_path), ca=ca_text, listen=listen
    )
    save_settings(home, settings)
    return settings


@site_app.command("add")
def site_add(
    name: str = typer.Argument(..., help="The site's short name."), home: Path | None = HOME
) -> None:
    """Enrol a site."""
    _, store = _store(home)
    try:
        store.add_site(name)
    except StoreError as err:
        raise _fail(str(err)) from None
    typer.echo(f"site {name} added")


@site_app.command("list")
def site_list(home: Path | None = HOME) -> None:
    """The enrolled sites."""
    _, store = _store(home)
    for s in store.sites():
        typer.echo(s.name)


@sensor_app.command("add")
def sensor_add(
    name: str = typer.Argument(..., help="The sensor's name (unique at its site)."),
    site: str = typer.Option(..., "--site", help="Its site."),
    home: Path | None = HOME,
    token_file: Path | None = typer.Option(
        None, "--token-file", help="Write the token here (mode 600) instead of printing it."
    ),
) -> None:
    """Enrol a sensor and give its one-time token (only its hash is kept: print it once,
    copy it to the sensor's --token-file)."""
    _, store = _store(home)
    if token_file is not None and not token_file.parent.is_dir():
        raise _fail(f"--token-file {token_file}: no directory {token_file.parent}")
    token = new_token()
    try:
        store.add_sensor(site, name, token_hash(token))
    except StoreError as err:
        raise _fail(str(err)) from None
    if token_file is not None:
        token_file.touch(mode=0o600)
        token_file.write_text(token + "\n")
        typer.echo(f"sensor {site}/{name} added; token written to {token_file}")
    else:
        typer.echo(token)


@sensor_app.command("revoke")
def sensor_revoke(
    name: str = typer.Argument(...),
    site: str = typer.Option(..., "--site"),
    home: Path | None = HOME,
) -> None:
    """Refuse a sensor's token from now on (its events stay)."""
    _, store = _store(home)
    try:
        store.revoke_sensor(site, name)
    except StoreError as err:
        raise _fail(str(err)) from None
    typer.echo(f"sensor {site}/{name} revoked")


@hub_app.command("serve")
def serve(
    home: Path | None = HOME,
    listen: str | None = typer.Option(None, "--listen", help="HOST:PORT (default: hub.json's)."),
    bus: str | None = typer.Option(
        None,
        "--bus",
        help="nats://… : publish accepted batches to JetStream for `hub worker`s "
        "instead of storing them here.",
        metavar="<url>",
    ),
) -> None:
    """Run the hub's HTTPS API in the foreground (Ctrl-C stops it)."""
    import logging

    from tocsin.hub.app import make_app

    settings, store = _store(home)
    host, port = listen_address(listen or settings.listen)
    for p in (settings.cert, settings.key):
        if not Path(p).is_file():
            raise _fail(f"{p}: TLS file missing (see hub.json)")
    logging.basicConfig(level=logging.INFO, format="tocsin hub: %(message)s")
    publish = None
    if bus is not None:
        from tocsin.hub.bus import BusError, publisher

        try:
            publish = publisher(bus)
        except BusError as err:
            raise _fail(str(err)) from None
    app = make_app(store, settings, publish, archive_dir(home))
    typer.echo(f"hub listening on https://{host}:{port} (store {store.name})", err=True)
    api_server(app, settings, host, port).run()


def api_server(app: Any, settings: HubSettings, host: str, port: int) -> Any:
    """The hub's HTTPS API (uvicorn) serving `app` on host:port with the hub's TLS files:
    `.run()` it (in the main thread, Ctrl-C stops it) or, from a thread, set its
    `should_exit` to stop it. Clients get 5 s to finish on shutdown."""
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=settings.cert,
        ssl_keyfile=settings.key,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def listen_address(where: str) -> tuple[str, int]:
    """HOST:PORT as (host, port); a mistake: one line, exit 2."""
    host, _, port = where.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(f"--listen {where!r}: expected HOST:PORT")
    return host, int(port)


@hub_app.command("stats")
def stats(
    home: Path | None = HOME,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Per site and event type: events the hub holds, and what each sensor says it sent,
    shed or still has queued."""
    from tocsin.hub.app import hub_stats

    _, store = _store(home)
    report = hub_stats(store, archive_dir(home))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    held: dict[tuple[str, str], int] = {
        (e["site"], e["event_type"]): e["held"] for e in report["events"]
    }
    said: dict[tuple[str, str], list[int]] = {}
    for s in report["sensors"]:
        r = s["report"] or {}
        for i, kind in enumerate(("sent", "shed", "queued")):
            for t, n in (r.get(kind) or {}).items():
                said.setdefault((s["site"], t), [0, 0, 0])[i] += n
    table = Table("site", "event type", "held", "sent", "shed", "queued")
    for key in sorted(set(held) | set(said)):
        sent, shed, queued = said.get(key, [0, 0, 0])
        table.add_row(key[0], key[1], str(held.get(key, 0)), str(sent), str(shed), str(queued))
    out = Console()
    out.print(table)
    for s in report["sensors"]:
        state = "revoked" if s["revoked"] else ("BLIND " + s["blind"] if s["blind"] else "ok")
        out.print(f"sensor {s['site']}/{s['sensor']}: {state}", highlight=False)


@hub_app.command("worker")
def worker(
    bus: str = typer.Option(
        ..., "--bus", help="nats://HOST:PORT of the hub's JetStream.", metavar="<url>"
    ),
    home: Path | None = HOME,
    ack_wait: float = typer.Option(
        30.0,
        "--ack-wait",
        help="Seconds before a batch a worker took but did not store is given to another worker.",
    ),
) -> None:
    """Store the batches ingest nodes publish (any number of workers share the stream; each
    batch is stored once). Runs until Ctrl-C or SIGTERM."""
    import signal
    import threading

    from tocsin.hub.bus import BusError, work

    _, store = _store(home)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    typer.echo(f"hub worker: {bus} -> {store.name}", err=True)
    try:
        work(store, bus, stop, ack_wait=ack_wait)
    except BusError as err:
        raise _fail(str(err)) from None


@hub_app.command("archive")
def archive_cmd(
    home: Path | None = HOME,
    older_than_h: float | None = typer.Option(
        None,
        "--older-than-h",
        help="Move metadata received more than this many hours ago "
        "(default: hub.json's archive_after_s, two days).",
    ),
    retention_days: int | None = typer.Option(
        None,
        "--retention-days",
        help="Delete archive days older than this (default: hub.json's retention_days, 365).",
    ),
) -> None:
    """Move flows and protocol events from the store to the Parquet archive (by site and
    day) and expire old days; alerts stay in the store. `hub serve` does it every hour."""
    from tocsin.hub.archive import archive, expire

    settings, store = _store(home)
    after = settings.archive_after_s if older_than_h is None else older_than_h * 3600.0
    keep = settings.retention_days if retention_days is None else retention_days
    root = archive_dir(home)
    moved = archive(store, root, after)
    gone = expire(root, keep)
    typer.echo(f"{moved} events archived to {root}; {gone} day partitions past {keep} days deleted")


@hub_app.command("query")
def query_cmd(
    sql: str = typer.Argument(
        ...,
        help="SQL over the view `metadata` (site, day, sensor_id, "
        "event_type, ts, src_ip, dest_ip, event).",
    ),
    home: Path | None = HOME,
) -> None:
    """Query the metadata archive with DuckDB, e.g. "SELECT site, count(*) FROM metadata
    WHERE event_type = 'dns' AND event LIKE '%evil.example%' GROUP BY site"."""
    import duckdb

    from tocsin.hub.archive import query

    hub_dir_ = hub_dir(home)
    if not (hub_dir_ / "hub.json").exists():
        raise _fail(f"{hub_dir_}: no hub here (tocsin hub init --home {hub_dir_.parent})")
    try:
        names, rows = query(archive_dir(home), sql)
    except duckdb.Error as err:
        raise _fail(f"query: {str(err).splitlines()[0]}") from None
    typer.echo("\t".join(names))
    for row in rows:
        typer.echo("\t".join("" if v is None else str(v) for v in row))
