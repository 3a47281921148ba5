"""`ExerciseMark`: what every EVE event of an exercise replay carries, as `"exercise": {...}`.

Events produced by `tocsin exercise run` come from generated traffic: each line gets this
member so that nothing downstream (a SIEM, the hub, the console) ever mixes them with real
alerts. A line without it is real.
"""

from __future__ import annotations

import msgspec


class ExerciseMark(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # the replay's identifier ("chu-42-20261129T101500Z")
    capture: str  # file name of the generated capture
    profile: str  # chu / ch / clinic
    seed: int
