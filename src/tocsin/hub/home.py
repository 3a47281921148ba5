"""The hub's data directory: `<home>/hub/` holds hub.json (its settings), tls/ and hub.db.

`--home DIR` or `TOCSIN_HOME` picks the home (default `~/.tocsin`); a sensor's files live in
`<home>/sensor/` of the same home, so one machine can hold both.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec


class HubSettings(msgspec.Struct, frozen=True, omit_defaults=True):
    """hub.json. `store`: a store URL; `cert`/`key`: the server's TLS pair; `ca`: the CA
    sensors pin (None when the operator's certificate chains to a CA they already trust);
    `silence_s`: no heartbeat for this long makes a sensor blind; `drop_ratio`: a share of
    packets dropped in one heartbeat interval that makes it blind too; metadata events older
    than `archive_after_s` move to the Parquet archive (`<home>/hub/archive`) every
    `archive_every_s`, which keeps `retention_days` days."""

    store: str
    cert: str
    key: str
    ca: str | None = None
    listen: str = "0.0.0.0:8443"
    silence_s: float = 120.0
    drop_ratio: float = 0.05
    check_s: float = 10.0
    archive_after_s: float = 2 * 86_400.0
    retention_days: int = 365
    archive_every_s: float = 3_600.0


class HomeError(Exception):
    """The home is missing, unreadable or already initialised (names the path)."""


def home_dir(home: Path | None) -> Path:
    if home is not None:
        return home
    env = os.environ.get("TOCSIN_HOME")
    return Path(env) if env else Path.home() / ".tocsin"


def hub_dir(home: Path | None) -> Path:
    return home_dir(home) / "hub"


def archive_dir(home: Path | None) -> Path:
    return hub_dir(home) / "archive"


def load_settings(home: Path | None) -> HubSettings:
    path = hub_dir(home) / "hub.json"
    try:
        return msgspec.json.decode(path.read_bytes(), type=HubSettings)
    except FileNotFoundError:
        raise HomeError(f"{path}: no hub here (tocsin hub init --home {home_dir(home)})") from None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as err:
        raise HomeError(f"{path}: cannot read the hub's settings: {err}") from None


def save_settings(home: Path | None, settings: HubSettings) -> Path:
    path = hub_dir(home) / "hub.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(settings)) + b"\n")
    return path
