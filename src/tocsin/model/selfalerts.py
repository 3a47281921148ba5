"""The sensor's own alerts: what it could not see and why. gid 9 is Tocsin's sensor-health range.

Self-alerts go into the same queue as threat alerts: a blind sensor is an incident too.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.model.events import AlertEvent, AlertInfo

SENSOR_GID = 9
CATEGORY = "Sensor health"


@dataclass(frozen=True, slots=True)
class SelfAlert:
    """A sensor-health signature: stable id, text, severity (1 high .. 3 low)."""

    signature_id: int
    signature: str
    severity: int


FLOW_EMERGENCY = SelfAlert(
    9_000_001,
    "TOCSIN SENSOR flow table full: emergency mode, flows evicted early",
    2,
)
CAPTURE_ERROR = SelfAlert(
    9_000_002,
    "TOCSIN SENSOR capture unreadable or truncated: packets not analysed",
    2,
)
DEFRAG_MEMCAP = SelfAlert(
    9_000_003,
    "TOCSIN SENSOR fragment reassembly cache full: fragments dropped",
    2,
)
SHED_PAYLOAD = SelfAlert(
    9_000_004,
    "TOCSIN SENSOR overloaded: signatures skip the payloads of bulk data",
    2,
)
SHED_APP_LAYER = SelfAlert(
    9_000_005,
    "TOCSIN SENSOR overloaded: web, mail and FTP traffic not parsed",
    2,
)


def alert_event(timestamp: str, sig: SelfAlert) -> AlertEvent:
    """The EVE `alert` of a self-alert at `timestamp`."""
    return AlertEvent(
        timestamp=timestamp,
        alert=AlertInfo(
            action="allowed",
            gid=SENSOR_GID,
            signature_id=sig.signature_id,
            rev=1,
            signature=sig.signature,
            category=CATEGORY,
            severity=sig.severity,
        ),
    )
