"""`generate`: one site's background traffic for `hours`, the scenarios injected, as a pcap
plus its truth file.

Order of work (and of random draws: same arguments, same bytes): the site is laid out, the
scenarios are placed and injected (all their packets are built first, held by the trace),
then the background is generated slice by slice (`SLICE_S` of packet time) and everything
older than the current slice is flushed to the file, so memory holds about one slice plus
the scenarios. Scenarios are spread over the window: with n of them, the i-th starts at
(i + 1) / (n + 1) of it, moved back so it ends before the window does; `campaign` chains
its steps one after the other from the first position.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tocsin import __version__
from tocsin.exercise.background import ACTIVITIES
from tocsin.exercise.scenarios import SCENARIOS
from tocsin.exercise.site import HOME_NET, build_site
from tocsin.exercise.truth import Truth, truth_path, write_truth
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.world import World

SLICE_S = 60.0


class GenerateError(Exception):
    """Arguments that cannot make a capture (names what and why)."""


@dataclass(frozen=True, slots=True)
class Generated:
    capture: Path
    truth: Path
    packets: int
    steps: int
    wall_s: float


def place(names: Sequence[str], start: float, end: float) -> list[tuple[str, float]]:
    """Start times of the scenarios `names` in [start, end) (see the module docstring)."""
    out = []
    n = len(names)
    for i, name in enumerate(names):
        sc = SCENARIOS[name]
        at = start + (end - start) * (i + 1) / (n + 1)
        at = max(start + 1.0, min(at, end - sc.duration_s - 1.0))
        out.append((name, at))
    return out


def generate(
    out: Path,
    *,
    profile: str,
    scenarios: Sequence[str],
    hours: float,
    seed: int,
    start: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> Generated:
    """Write `out` (pcap) and its truth file; `progress(fraction)` after each slice.
    `GenerateError` for an unknown scenario, a window too short for the scenarios, or an
    unwritable path."""
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise GenerateError(
            f"unknown scenario {unknown[0]!r}: choose from {', '.join(sorted(SCENARIOS))}"
        )
    if hours <= 0:
        raise GenerateError(f"--hours must be positive, got {hours}")
    t_start = World.default_start() if start is None else start
    t_end = t_start + hours * 3600
    need = sum(SCENARIOS[s].duration_s for s in scenarios)
    if need > t_end - t_start:
        raise GenerateError(
            f"the scenarios need about {need / 3600:.2f} h; the capture is {hours} h long "
            "(raise --hours)"
        )
    clock = time.monotonic()
    rng = random.Random(seed)
    try:
        site = build_site(profile, rng)
    except ValueError as e:
        raise GenerateError(str(e)) from None
    trace = Trace(seed)
    w = World(site, trace, rng, t_start, t_end)
    for name, at in place(scenarios, t_start, t_end):
        SCENARIOS[name].inject(w, at)
    try:
        f = out.open("wb")
    except OSError as e:
        raise GenerateError(f"{out}: cannot write the capture ({e.strerror or e})") from None
    packets = 0
    with f:
        t = t_start
        while t < t_end:
            t1 = min(t + SLICE_S, t_end)
            for _, activity in ACTIVITIES:
                activity(w, t, t1)
            packets += trace.flush_before(t, f)
            t = t1
            if progress is not None:
                progress((t - t_start) / (t_end - t_start))
        packets += trace.write_to(f)
    truth = Truth(
        generator=f"tocsin {__version__}",
        profile=profile,
        site=site.name,
        seed=seed,
        start=World.iso(t_start),
        end=World.iso(t_end),
        hours=hours,
        packets=packets,
        home_net=list(HOME_NET),
        scenarios=list(scenarios),
        steps=sorted(w.steps, key=lambda s: s.start),
    )
    tp = truth_path(out)
    write_truth(truth, tp)
    return Generated(out, tp, packets, len(truth.steps), time.monotonic() - clock)
