"""The correlator's configuration: which detectors run, their thresholds, the site's networks.

Read from YAML (`tocsin analyze --detect-config FILE`)::

    home_net: [10.0.0.0/8, 192.168.0.0/16]   # default: private ranges
    realert_s: 3600                          # one alert per (detector, key) per window
    disable: [behaviour.beacon]              # names, or family prefixes ("medical")
    detectors:
      behaviour.port_scan: {min_ports: 30, window_s: 60}

Each detector's thresholds are its `Config` dataclass; an unknown detector or field, or a value
of the wrong type, is a `ConfigError` naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.correlate.netclass import DEFAULT_HOME, HomeNet
from tocsin.detect.correlate.plugin import Detector
from tocsin.detect.correlate.registry import available


class ConfigError(Exception):
    """A detector configuration that cannot be used; the message names where."""


@dataclass(frozen=True, slots=True)
class CorrelateConfig:
    home_net: tuple[str, ...] = DEFAULT_HOME
    realert_s: int = 3600
    enable: tuple[str, ...] = ()  # empty: every detector not disabled
    disable: tuple[str, ...] = ()
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = "<defaults>"
    intel: tuple[str, ...] = ()  # indicator files/dirs for the intel.* detectors
    allowlists: tuple[str, ...] = ()  # the site's allow-lists (plain list / CSV)
    warninglists: bool = True  # MISP warning lists (CDNs, resolvers, top sites) as allow-lists


def load_config(path: str | Path) -> CorrelateConfig:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(doc, dict):
        raise ConfigError(f"{p}: expected a mapping at the top level")
    known = {"home_net", "realert_s", "enable", "disable", "detectors"}
    known |= {"intel", "allowlists", "warninglists"}
    for k in doc:
        if k not in known:
            raise ConfigError(f"{p}: unknown key {k!r} (known: {', '.join(sorted(known))})")
    dets = doc.get("detectors") or {}
    if not isinstance(dets, dict) or not all(isinstance(v, dict | None) for v in dets.values()):
        raise ConfigError(f"{p}: detectors: expected a mapping of name to thresholds")
    home = doc.get("home_net", list(DEFAULT_HOME))
    if isinstance(home, str):
        home = [x for x in home.strip("[]").split(",")]
    if not isinstance(home, list):
        raise ConfigError(f"{p}: home_net: expected a list of networks")
    for net in home:
        try:
            ipaddress.ip_network(str(net).strip(), strict=False)
        except ValueError:
            raise ConfigError(
                f"{p}: home_net: {net!r} is not a network (e.g. 10.0.0.0/8)"
            ) from None
    realert = doc.get("realert_s", 3600)
    if not isinstance(realert, int) or realert < 0:
        raise ConfigError(f"{p}: realert_s: expected a non-negative integer")
    return CorrelateConfig(
        home_net=tuple(str(h) for h in home),
        realert_s=realert,
        enable=tuple(doc.get("enable") or ()),
        disable=tuple(doc.get("disable") or ()),
        detectors={k: dict(v or {}) for k, v in dets.items()},
        source=str(p),
        intel=_paths(p, doc, "intel"),
        allowlists=_paths(p, doc, "allowlists"),
        warninglists=bool(doc.get("warninglists", True)),
    )


def _paths(p: Path, doc: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of paths (or one), relative ones resolved against the config file's folder."""
    v = doc.get(key) or ()
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list | tuple) or not all(isinstance(x, str) for x in items):
        raise ConfigError(f"{p}: {key}: expected a path or a list of paths")
    return tuple(str(p.parent / x) if not Path(x).is_absolute() else x for x in items)


def _selected(name: str, patterns: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p.rstrip(".") + ".") for p in patterns)


def build_detectors(cfg: CorrelateConfig, *, intel: Any = None) -> list[Detector]:
    """Instantiate the selected detectors with their thresholds (ConfigError when wrong).
    Detectors with `needs_intel` get the indicator set (`intel`, else loaded from
    `cfg.intel`) as the `intel` keyword; without indicators they are not instantiated."""
    classes = available()
    for name in cfg.detectors:
        if name not in classes:
            raise ConfigError(
                f"{cfg.source}: detectors: unknown detector {name!r} (see `tocsin detectors list`)"
            )
    for pat in (*cfg.enable, *cfg.disable):
        if not any(_selected(n, (pat,)) for n in classes):
            raise ConfigError(f"{cfg.source}: no detector matches {pat!r}")
    out: list[Detector] = []
    for name in sorted(classes):
        if cfg.enable and not _selected(name, cfg.enable):
            continue
        if _selected(name, cfg.disable):
            continue
        cls = classes[name]
        conf = _thresholds(cls, cfg.detectors.get(name, {}), cfg.source)
        if getattr(cls, "needs_intel", False):
            if intel is None and cfg.intel:
                intel = _load_intel(cfg)
            if intel is None:
                continue  # no indicators loaded: nothing to match
            out.append(cls(conf, intel=intel))  # type: ignore[call-arg]
            continue
        out.append(cls(conf))
    return out


def _load_intel(cfg: CorrelateConfig) -> Any:
    from tocsin.detect.intel._model import IntelError
    from tocsin.detect.intel._set import load_intel

    try:
        return load_intel(cfg.intel, cfg.allowlists, cfg.warninglists)
    except IntelError as e:
        raise ConfigError(str(e)) from e


def _thresholds(cls: type[Detector], given: dict[str, Any], source: str) -> Any:
    conf_cls = cls.Config
    if conf_cls is None:
        if given:
            raise ConfigError(f"{source}: {cls.info.name} has no thresholds to set")
        return None
    fields = {f.name: f for f in dataclasses.fields(conf_cls)}
    for k, v in given.items():
        if k not in fields:
            raise ConfigError(
                f"{source}: {cls.info.name}.{k}: unknown threshold "
                f"(known: {', '.join(sorted(fields))})"
            )
        default = getattr(conf_cls(), k)
        if isinstance(default, bool) != isinstance(v, bool) or (
            isinstance(default, int | float) and not isinstance(v, int | float)
        ):
            raise ConfigError(
                f"{source}: {cls.info.name}.{k}: expected {type(default).__name__}, got {v!r}"
            )
        if isinstance(default, tuple | frozenset) and isinstance(v, list):
            given = {**given, k: type(default)(v)}
    return conf_cls(**given)


def build_correlator(cfg: CorrelateConfig, *, intel: Any = None) -> Correlator:
    return Correlator(
        build_detectors(cfg, intel=intel), HomeNet(cfg.home_net), realert_s=cfg.realert_s
    )
