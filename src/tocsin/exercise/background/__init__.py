"""Background traffic of a hospital site: each module defines `ACTIVITIES`, generators of
one kind of everyday traffic.

An activity is called once per time slice with the `World` and the slice [t0, t1); it adds
the conversations that *start* in the slice (they may run past its end), drawing counts
from `World.count` (rates per hour at full activity, scaled by the day/night rhythm and the
site's size) and every choice from `World.rng`. Activities run in a fixed order (module
name, then list order), so a seed gives the same capture.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from tocsin.exercise.world import World

Activity = Callable[[World, float, float], None]


def _load() -> list[tuple[str, Activity]]:
    found: list[tuple[str, Activity]] = []
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        for fn in getattr(mod, "ACTIVITIES", ()):
            found.append((f"{m.name}.{fn.__name__}", fn))
    return found


ACTIVITIES: list[tuple[str, Activity]] = _load()
