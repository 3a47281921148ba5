"""Attack scenarios: each module defines `SCENARIO`, a `Scenario` injecting its steps.

A scenario is given the `World` and a start time; it writes its conversations into the
trace, records each step with `World.step` (time window, hosts, ATT&CK technique, the
detectors expected to see it, what a defender should see) and returns when its last step
ends. `SCENARIOS` lists them by name, in a stable order; `campaign` chains several.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Protocol

from tocsin.exercise.world import World


class Scenario(Protocol):
    name: str  # the CLI's name for it ("ransomware")
    summary: str  # one line for `tocsin exercise scenarios`
    duration_s: float  # about how long it runs (to place it in the capture's window)

    def inject(self, w: World, t: float) -> float:
        """Write the scenario's traffic from `t` on, record its steps; return its end."""
        ...


def _load() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{m.name}")
        sc = getattr(mod, "SCENARIO", None)
        if sc is not None:
            found[sc.name] = sc
    return found


SCENARIOS: dict[str, Scenario] = _load()
