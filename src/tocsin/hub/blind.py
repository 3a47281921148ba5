"""Silence is an alert: sensors that stop reporting, see no packets or drop many are blind.

`check(store, settings, now)` compares each enrolled sensor's latest heartbeat with the
rules below and records a change of state with an `alert` (gid 9, Tocsin's sensor-health
range) in the same table as threat alerts, so a blind site is in the same queue:
- 9000010 silent: no heartbeat for `silence_s` (or none since enrolment, that long ago);
- 9000011 no packets: a live sensor's last interval counted zero packets;
- 9000012 heavy drops: more than `drop_ratio` of the interval's packets dropped.
A sensor that reports again in health leaves the blind state (no alert; the queue keeps the
one raised). Revoked sensors are not watched.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import msgspec

from tocsin.hub.home import HubSettings
from tocsin.hub.rows import Heartbeat, Row, line_eid
from tocsin.hub.store.base import SensorState, Store

SILENT, NO_PACKETS, DROPS = 9_000_010, 9_000_011, 9_000_012
_SIGNATURES = {
    SILENT: "TOCSIN HUB sensor silent: no heartbeat",
    NO_PACKETS: "TOCSIN HUB sensor blind: no packets captured",
    DROPS: "TOCSIN HUB sensor blind: heavy packet drops",
}


def _verdict(state: SensorState, settings: HubSettings, now: float) -> tuple[int, str] | None:
    """(signature id, what is wrong) or None when the sensor is healthy."""
    if not state.body:
        if now - state.created > settings.silence_s:
            return SILENT, f"no heartbeat since enrolment ({now - state.created:.0f} s)"
        return None
    if now - state.received > settings.silence_s:
        return SILENT, f"no heartbeat for {now - state.received:.0f} s"
    hb = msgspec.json.decode(state.body, type=Heartbeat)
    judged = hb.interval_s is None or hb.interval_s > 0  # a run's first report covers nothing
    if hb.live and judged and hb.interval_packets == 0 and hb.interval_drops == 0:
        return NO_PACKETS, "no packets in the last interval"
    seen = hb.interval_packets + hb.interval_drops
    if seen and hb.interval_drops / seen > settings.drop_ratio:
        return DROPS, f"{hb.interval_drops} of {seen} packets dropped in the last interval"
    return None


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def blind_alert(state: SensorState, sid: int, what: str, now: float) -> Row:
    s = state.sensor
    event = {
        "timestamp": _stamp(now),
        "event_type": "alert",
        "host": s.name,
        "alert": {
            "action": "allowed",
            "gid": 9,
            "signature_id": sid,
            "rev": 1,
            "signature": f"{_SIGNATURES[sid]} ({s.site}/{s.name}: {what})",
            "category": "Sensor health",
            "severity": 1,
        },
        "tocsin": {"site": s.site, "sensor": s.name},
    }
    line = msgspec.json.encode(event)
    eid = line_eid(f"blind:{s.id}:{sid}:{int(now)}".encode())
    return Row(s.site_id, s.id, eid, "alert", now, now, None, None, line)


def check(store: Store, settings: HubSettings, now: float | None = None) -> list[Row]:
    """Update every sensor's blind state; returns the alerts raised."""
    now = time.time() if now is None else now
    raised = []
    for state in store.states():
        if state.sensor.revoked is not None:
            continue
        verdict = _verdict(state, settings, now)
        if verdict is None:
            if state.blind is not None:
                store.set_blind(state.sensor.id, None, now, None)
            continue
        sid, what = verdict
        if state.blind == str(sid):
            continue
        alert = blind_alert(state, sid, what, now)
        store.set_blind(state.sensor.id, str(sid), now, alert)
        raised.append(alert)
    return raised
