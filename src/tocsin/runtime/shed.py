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

from tocsin.model import selfalerts

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
