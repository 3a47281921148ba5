"""Where detectors come from: the built-in ones, and plug-ins from installed packages.

Built-ins are the modules of `BUILTIN_PACKAGES` (importing a module has no side effect; each
exposes its detector classes in a `DETECTORS` tuple; helper modules' names start with `_`).
A third-party package adds its own under the `tocsin.detectors` entry-point group, pointing
at a module with the same `DETECTORS` tuple. Both go through `available()`, so a plug-in is
loaded exactly as a built-in is. Names must be unique and dotted.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points

from tocsin.detect.correlate.plugin import Detector

# packages whose every module may define DETECTORS (one detector family per package)
BUILTIN_PACKAGES = ("tocsin.detect.behaviour", "tocsin.detect.intel", "tocsin.detect.medical")


def builtin_modules() -> list[str]:
    """Every module of the built-in detector packages, sorted (importing has no side effect)."""
    mods: list[str] = []
    for pkg_name in BUILTIN_PACKAGES:
        pkg = importlib.import_module(pkg_name)
        for m in pkgutil.iter_modules(pkg.__path__):
            if not m.name.startswith("_"):
                mods.append(f"{pkg_name}.{m.name}")
    return sorted(mods)


class RegistryError(Exception):
    """A detector module that cannot be loaded, or two detectors with one name."""


def available(extra_modules: tuple[str, ...] = ()) -> dict[str, type[Detector]]:
    """Every detector class by name: built-ins, entry points, then `extra_modules`."""
    mods = builtin_modules()
    for ep in entry_points(group="tocsin.detectors"):
        mods.append(ep.value)
    mods.extend(extra_modules)
    out: dict[str, type[Detector]] = {}
    for m in mods:
        try:
            mod = importlib.import_module(m)
        except Exception as e:  # a broken plug-in names itself, the others still load
            raise RegistryError(f"detector module {m}: cannot import: {e}") from e
        for cls in getattr(mod, "DETECTORS", ()):
            name = cls.info.name
            if "." not in name:
                raise RegistryError(f"detector {name} in {m}: names are dotted (family.name)")
            if name in out and out[name] is not cls:
                raise RegistryError(f"detector {name} defined twice ({m})")
            out[name] = cls
    return out
