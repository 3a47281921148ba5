"""`World`: what the background generators and the scenarios share while a capture is built.

The site (`site.Site`), the packet trace (`wire.trace.Trace`), the random generator (every
choice draws from it, in a fixed order: same seed, same capture), the client-port allocator,
the capture's time window, the day/night rhythm, and the truth being written (`step`).

Times are float seconds since the epoch (UTC), as the trace takes them. The site's clock is
Europe/Paris: `local_hour(t)` is what the rhythm reads (a hospital's day starts at 7:00 with
the morning shift, its quietest hours are 2:00-5:00, and it never stops).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tocsin.exercise.site import Site
from tocsin.exercise.truth import Step
from tocsin.exercise.wire.hosts import EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.output.timefmt import eve_timestamp

PARIS = ZoneInfo("Europe/Paris")

# activity of the site by local hour (1.0 = a weekday's busiest hours); ward work, imaging
# and the labs run around the clock at a lower rate
_RHYTHM = (
    0.18, 0.15, 0.12, 0.10, 0.10, 0.12, 0.25, 0.55, 0.85, 1.00, 1.00, 0.95,
    0.80, 0.85, 0.95, 1.00, 0.95, 0.80, 0.60, 0.45, 0.35, 0.30, 0.25, 0.20,
)  # fmt: skip


@dataclass(slots=True)
class World:
    site: Site
    trace: Trace
    rng: random.Random
    start: float  # the capture's window, seconds since the epoch (UTC)
    end: float
    ports: EphemeralPorts = field(init=False)
    steps: list[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ports = EphemeralPorts(self.rng)

    # -- time --------------------------------------------------------------------------------

    @staticmethod
    def local_hour(t: float) -> float:
        d = datetime.fromtimestamp(t, UTC).astimezone(PARIS)
        return d.hour + d.minute / 60

    def activity(self, t: float) -> float:
        """The site's activity at `t`, 0.1-1.0 (see `_RHYTHM`), interpolated by the minute."""
        h = self.local_hour(t)
        i = int(h) % 24
        frac = h - int(h)
        return _RHYTHM[i] * (1 - frac) + _RHYTHM[(i + 1) % 24] * frac

    def count(self, rate_per_hour: float, t0: float, t1: float, *, rhythm: bool = True) -> int:
        """How many times something happening `rate_per_hour` (at full activity) happens in
        [t0, t1): a Poisson draw, so counts vary slice to slice as real ones do."""
        lam = rate_per_hour * (t1 - t0) / 3600 * (self.activity(t0) if rhythm else 1.0)
        if lam <= 0:
            return 0
        if lam > 50:  # normal approximation: cheap and close enough for large counts
            return max(0, round(self.rng.gauss(lam, math.sqrt(lam))))
        limit, k, p = math.exp(-lam), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def times(self, n: int, t0: float, t1: float) -> list[float]:
        """`n` sorted uniform times in [t0, t1)."""
        return sorted(self.rng.uniform(t0, t1) for _ in range(n))

    @staticmethod
    def iso(t: float) -> str:
        return eve_timestamp(round(t * 1e6))

    @staticmethod
    def parse_start(text: str) -> float:
        """A start time given as ISO 8601 (`2024-03-12T08:00`, local Paris time when no
        offset is given) as seconds since the epoch."""
        d = datetime.fromisoformat(text)
        if d.tzinfo is None:
            d = d.replace(tzinfo=PARIS)
        return d.timestamp()

    @staticmethod
    def default_start() -> float:
        """Tuesday 12 March 2024, 08:00 in Paris: a working day's morning."""
        return datetime(2024, 3, 12, 8, 0, tzinfo=PARIS).timestamp()

    @staticmethod
    def plus(t: float, **kw: float) -> float:
        return t + timedelta(**kw).total_seconds()

    # -- truth -------------------------------------------------------------------------------

    def step(
        self,
        id: str,
        name: str,
        start: float,
        end: float,
        attackers: Sequence[Host | str],
        targets: Sequence[Host | str],
        technique: str,
        tactic: str,
        detectors: Sequence[str],
        defender_sees: str,
    ) -> Step:
        """Record one scenario step in the truth (its scenario: the id's first part)."""
        s = Step(
            id=id,
            scenario=id.split(".", 1)[0],
            name=name,
            start=self.iso(start),
            end=self.iso(max(start, end)),
            attackers=[_ip(h) for h in attackers],
            targets=[_ip(h) for h in targets],
            technique=technique,
            tactic=tactic,
            detectors=list(detectors),
            defender_sees=defender_sees,
        )
        self.steps.append(s)
        return s


def _ip(h: Host | str) -> str:
    return h if isinstance(h, str) else h.ip
