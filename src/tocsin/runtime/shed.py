"""Load shedding: what a live sensor stops doing, in a fixed order, when it falls behind the wire.

How far behind is the lag: the wall clock minus the newest packet's capture time (the kernel
stamps packets as they arrive, so a sensor keeping up has a lag of about a ring block's
timeout). Past `enter_s[k]` of lag, level k+1 is shed; a level is given back once the lag has
fallen under a quarter of its threshold (so the sensor does not flap). Nothing is shed in
the first `grace_s` after the first packet (start-up).

1. **payload inspection of bulk data**: signatures no longer scan the payloads of packets of
   flows past their first `bulk_after` packets (the headers, IP-only rules and every flow's
   first packets still are);
2. **app-layer parsing of low-value protocols** (`LOW_VALUE`: web, mail, FTP): their flows'
   payloads no longer go to the parsers. DICOM, HL7, SMB, DCE-RPC, Kerberos, DNS, TLS, RDP,
   SSH, DHCP are still parsed;
3. never shed: flow accounting, alerts, stats and heartbeats.

Every shed is counted (`tocsin.shed.*` in the `sensor` counters event): the packets whose
payload was not inspected, the flows of low-value protocols that ended while their parsing
was off, the time spent at each level. Entering a level raises a self-alert (gid 9) saying
what is not inspected and since when; leaving it writes a `sensor` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.detect.engine import DetectEngine
from tocsin.model import selfalerts
from tocsin.model.events import SensorEvent, SensorInfo
from tocsin.output.timefmt import eve_timestamp

# protocols whose parsing goes first under overload: bulk, and of little weight in a
# hospital's threat picture next to the medical, identity and file-sharing protocols
LOW_VALUE = ("http", "pop3", "imap", "ftp")

LEVEL_NAMES = ("none", "payload_inspection", "app_layer_low_value")
SELF_ALERTS = (selfalerts.SHED_PAYLOAD, selfalerts.SHED_APP_LAYER)
WHAT = (
    "signatures do not inspect the payloads of bulk data (packets of flows past their first "
    "packets)",
    "the payloads of web, mail and FTP flows are not parsed",
)


@dataclass(frozen=True, slots=True)
class ShedConfig:
    enter_s: tuple[float, float] = (1.0, 3.0)  # lag that starts shedding level 1, level 2
    bulk_after: int = 16  # packets of a flow whose payloads signatures still scan
    # wall time after the first packet during which nothing is shed: the ring absorbs what
    # arrives while the sensor starts (kernels compiled on first use, caches warming)
    grace_s: float = 5.0


class Shedder:
    """Turns the lag into a shedding level with hysteresis: `level_for(lag_s)`."""

    def __init__(self, config: ShedConfig | None = None) -> None:
        self.config = config or ShedConfig()
        self.level = 0

    def level_for(self, lag_s: float) -> int:
        enter = self.config.enter_s
        level = self.level
        while level < len(enter) and lag_s > enter[level]:
            level += 1
        while level > 0 and lag_s < enter[level - 1] / 4:
            level -= 1
        self.level = level
        return level


class LoadShed:
    """A pipeline's shedding: what is shed (`level`), since when, and what it cost. Acts on
    the signature engine (`detect`) and the flow kernel's parser switches (`app_want`)."""

    def __init__(self, detect: DetectEngine | None, app_want: npt.NDArray[np.uint8]) -> None:
        self.config = ShedConfig()
        self.level = 0
        self.detect = detect
        self.app_want = app_want
        self._saved = app_want.copy()
        self._low = np.asarray(
            [ALPROTO_NAMES.index(n) for n in LOW_VALUE if n in ALPROTO_NAMES], dtype=np.int64
        )
        self._since: list[int | None] = [None] * len(LEVEL_NAMES)
        self._spent_us = [0] * len(LEVEL_NAMES)
        self._app_flows = 0

    def set(self, level: int, now: int) -> list[Any]:
        """Shed up to `level` from packet time `now`; the events to write: a self-alert and
        a `shedding` event for each level entered, a `shedding_over` event for each left."""
        old = self.level
        if level == old:
            return []
        if self.detect is not None:
            self.detect.bulk_after = self.config.bulk_after if level >= 1 else None
        self.app_want[self._low] = 0 if level >= 2 else self._saved[self._low]
        self.level = level
        ts = eve_timestamp(now)
        out: list[Any] = []
        for k in range(old + 1, level + 1):  # entered
            self._since[k] = now
            out.append(selfalerts.alert_event(ts, SELF_ALERTS[k - 1]))
            out.append(self._event(now, "shedding", f"overloaded since {ts}: {WHAT[k - 1]}"))
        for k in range(old, level, -1):  # left
            since = self._since[k]
            spent = now - since if since is not None else 0
            self._spent_us[k] += spent
            self._since[k] = None
            what = f"{LEVEL_NAMES[k]} shedding over after {spent / 1e6:.1f} s: inspected again"
            out.append(self._event(now, "shedding_over", what))
        return out

    def count_ended(self, ended: npt.NDArray[np.void]) -> None:
        """Flows that ended: those of low-value protocols while their parsing was shed."""
        if self.level >= 2 and self._low.size:
            self._app_flows += int(np.isin(ended["app_proto"], self._low).sum())

    def counters(self, now: int) -> dict[str, int]:
        out = {"shed.level": self.level, "shed.app_layer_flows": self._app_flows}
        out["shed.payload_packets"] = self.detect.shed_packets if self.detect else 0
        for k in range(1, len(LEVEL_NAMES)):
            since = self._since[k]
            spent = self._spent_us[k] + (now - since if since is not None else 0)
            out[f"shed.{LEVEL_NAMES[k]}_s"] = spent // 1_000_000
        return out

    def _event(self, now: int, kind: str, message: str) -> SensorEvent:
        info = SensorInfo(kind=kind, message=message, counters=self.counters(now))
        return SensorEvent(timestamp=eve_timestamp(now), sensor=info)
