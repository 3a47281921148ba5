"""suricata-verify `requires:` and `skip:` blocks, judged for Tocsin.

A suricata-verify test (and each of its checks) may require a Suricata version, build features,
an OS... Tocsin is judged as **Suricata `SURICATA_VERSION` (8.0.0) with the build features in
`FEATURES`**: a test written for another version range describes behaviour Tocsin is not judged
by, and a feature Tocsin lacks (HAVE_LUA, MAGIC, QA_SIMULATION...) makes the test, or the check,
not applicable.

Versions compare on the components the requirement writes, as the corpus's reference checker
does (`min-version: 8` accepts every 8.x.y, `lt-version: 8.0.7` accepts 8.0.0 to 8.0.6,
`version: 7` accepts every 7.x.y); missing components of the judged version count as 0.
(suricata-verify's run.py mostly agrees; its `lt-version` ignores the major version once it
is equal, a bug this module does not reproduce.)

`unmet(requires, ...)` returns why a requirement is not met, or None. Requirements that need
Suricata's source tree or running something (`files`, `script`, `lambda`) are never met:
`tocsin rules test` runs untrusted test folders and executes nothing from them.
"""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from typing import Any

SURICATA_VERSION = "8.0.0"
# Suricata build features Tocsin's output has: JA3 and JA4 are always computed
FEATURES = frozenset({"HAVE_JA3", "HAVE_JA4"})

VERSION_KEYS = ("min-version", "lt-version", "gt-version", "version")


def version_parts(text: object) -> tuple[int, ...]:
    """The numeric components written in a version (`"8.0"` -> (8, 0); `7` -> (7,))."""
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:3])


def version_satisfied(key: str, want: object, version: str = SURICATA_VERSION) -> bool:
    """Whether Suricata `version` meets `key: want` (key: min-, lt-, gt-version or version)."""
    w = version_parts(want)
    if not w:
        return True  # an empty requirement: suricata-verify treats it as none
    v = (*version_parts(version), 0, 0, 0)[: len(w)]
    if key == "min-version":
        return v >= w
    if key == "lt-version":
        return v < w
    if key == "gt-version":
        return v > w
    if key == "version":
        return v == w
    raise ValueError(f"not a version requirement: {key}")


def unmet(
    requires: Mapping[str, Any] | None,
    *,
    version: str = SURICATA_VERSION,
    features: frozenset[str] = FEATURES,
) -> str | None:
    """Why `requires` (a test's or a check's) is not met by Tocsin judged as `version`, or None.

    Keys: min-version, lt-version, gt-version, version, features, os, arch, env (judged);
    files, script, lambda (never met); pcap (not judged here: the planner reads it).
    An unknown key is reported as unmet (suricata-verify's runner stops on it).
    """
    if not requires:
        return None
    for key, want in requires.items():
        if key in VERSION_KEYS:
            if not version_satisfied(key, want, version):
                return f"requires {key} {want} (Tocsin is judged as Suricata {version})"
        elif key == "features":
            wanted = [str(f) for f in (want if isinstance(want, list) else [want])]
            missing = [f for f in wanted if f not in features]
            if missing:
                return f"requires Suricata features Tocsin lacks: {', '.join(missing)}"
        elif key == "os":
            if not platform.system().lower().startswith(str(want).lower()):
                return f"requires os {want}"
        elif key == "arch":
            if not platform.machine().lower().startswith(str(want).lower()):
                return f"requires arch {want}"
        elif key == "env":
            names = want if isinstance(want, list) else [want]
            absent = [str(n) for n in names if str(n) not in os.environ]
            if absent:
                return f"requires environment variables {', '.join(absent)}"
        elif key == "files":
            return "requires files of Suricata's source tree"
        elif key in ("script", "lambda"):
            return f"requires a `{key}` to run (tocsin rules test executes nothing from a test)"
        elif key == "pcap":
            continue
        else:
            return f"unknown requirement `{key}`"
    return None


def check_requires(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A check's requirements: its `requires` block plus the shorthand keys suricata-verify
    also reads on the check itself (`version`, `min-version`, `lt-version`, `feature`)."""
    req: dict[str, Any] = dict(spec.get("requires") or {})
    for key in ("version", "min-version", "lt-version"):
        if spec.get(key) is not None:
            req[key] = spec[key]
    if spec.get("feature") is not None:
        req["features"] = [*req.get("features", []), spec["feature"]]
    return req


def skip_listed(
    skip: Any, *, features: frozenset[str] = FEATURES, config: Mapping[str, str] | None = None
) -> str | None:
    """Why a test's `skip:` block skips it, or None.

    `skip: true` always skips; a list entry skips on `feature` (a feature Tocsin has), `uid`
    (the current user's) or `config` (a setting of the test's own configuration matching the
    regular expression with that value).
    """
    if isinstance(skip, bool):
        return "skipped by the test (skip: true)" if skip else None
    for entry in skip if isinstance(skip, list) else []:
        if not isinstance(entry, dict):
            continue
        msg = entry.get("msg")
        if "feature" in entry and str(entry["feature"]) in features:
            return str(msg or f"not for feature {entry['feature']}")
        uid = getattr(os, "getuid", None)
        if "uid" in entry and uid is not None and uid() == entry["uid"]:
            return str(msg or f"not for uid {entry['uid']}")
        for pattern, value in (entry.get("config") or {}).items():
            for key, have in (config or {}).items():
                if re.match(str(pattern), key) and str(have) == str(value):
                    return str(msg or f"not for {key} = {value}")
    return None
