"""The score sheet of an exercise: which steps the replay's alerts saw, by which alert, when.

`score(truth, alerts)` matches every alert of a replay to the steps of the truth file. An
alert belongs to a step when its time falls in the step's window (from its start to its end
plus `grace_s`: detectors judge over windows and report at ticks) and one of its two ends is
an attacker or a target of the step. A step is *detected* when at least one alert belongs to
it; `by_expected` says whether one came from a detector the truth names (another detector
or a signature seeing it still counts: the defender saw something). Time to detect: from the
step's start to the first belonging alert of an expected detector, or to the first belonging
alert when none came from one (0 when the alert's time is before the start: clock
rounding). Alerts belonging to no step are *false alerts*, counted per detector and per
simulated hour. The sensor's self-alerts (gid 9: flow table in emergency mode, drops...)
are about the sensor, true by construction: counted apart, by signature.

Alerts are EVE `alert` events (dicts as read from the file): signature alerts and
detector alerts alike (`alert.metadata.detector` names the detector; a signature's name is
its `signature_id`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tocsin.exercise.truth import Step, Truth
from tocsin.model.selfalerts import SENSOR_GID
from tocsin.output.timefmt import parse_eve_timestamp

GRACE_S = 600  # an alert up to 10 minutes after a step's end still belongs to it
_EARLY_US = 2_000_000  # or 2 s before its start (clock rounding of the first packet)


@dataclass(frozen=True, slots=True)
class SeenAlert:
    ts_us: int
    src_ip: str
    dest_ip: str
    signature: str
    rule: str  # the detector's name, or "sid:<gid>:<signature_id>" for a signature
    sensor: bool = False  # a sensor-health self-alert (gid 9): about the sensor, not a host


@dataclass(slots=True)
class StepScore:
    step: Step
    detected: bool = False
    by_expected: bool = False
    first: SeenAlert | None = None  # the first alert belonging to the step
    time_to_detect_s: float | None = None
    alerts: int = 0
    rules: dict[str, int] = field(default_factory=dict)  # alerts belonging, by rule


@dataclass(slots=True)
class ScoreSheet:
    steps: list[StepScore]
    hours: float
    alerts: int = 0
    false_alerts: int = 0
    false_by_rule: dict[str, int] = field(default_factory=dict)
    false_samples: list[SeenAlert] = field(default_factory=list)
    sensor_alerts: dict[str, int] = field(default_factory=dict)  # self-alerts by signature

    @property
    def detected(self) -> int:
        return sum(1 for s in self.steps if s.detected)

    @property
    def false_per_hour(self) -> float:
        return self.false_alerts / self.hours if self.hours > 0 else float(self.false_alerts)

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": [
                {
                    "id": s.step.id,
                    "name": s.step.name,
                    "technique": s.step.technique,
                    "start": s.step.start,
                    "detected": s.detected,
                    "by_expected_detector": s.by_expected,
                    "first_alert": None if s.first is None else s.first.signature,
                    "first_rule": None if s.first is None else s.first.rule,
                    "time_to_detect_s": s.time_to_detect_s,
                    "alerts": s.alerts,
                    "rules": s.rules,
                }
                for s in self.steps
            ],
            "detected": self.detected,
            "steps_total": len(self.steps),
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_alerts_per_hour": round(self.false_per_hour, 3),
            "false_by_rule": self.false_by_rule,
            "sensor_alerts": self.sensor_alerts,
            "hours": self.hours,
        }


def seen_alert(ev: Mapping[str, Any]) -> SeenAlert | None:
    """The fields scoring reads from an EVE `alert` event, or None for another event."""
    if ev.get("event_type") != "alert":
        return None
    ts = parse_eve_timestamp(str(ev.get("timestamp", "")))
    alert = ev.get("alert") or {}
    if ts is None or not isinstance(alert, dict):
        return None
    meta = alert.get("metadata") or {}
    det = meta.get("detector") if isinstance(meta, dict) else None
    rule = (
        str(det[0])
        if isinstance(det, list) and det
        else f"sid:{alert.get('gid', 1)}:{alert.get('signature_id', 0)}"
    )
    return SeenAlert(
        ts, str(ev.get("src_ip", "")), str(ev.get("dest_ip", "")),
        str(alert.get("signature", "")), rule, alert.get("gid") == SENSOR_GID,
    )  # fmt: skip


def score(truth: Truth, alerts: Iterable[SeenAlert], *, grace_s: int = GRACE_S) -> ScoreSheet:
    scores = [StepScore(s) for s in truth.steps]
    windows = []
    for sc in scores:
        start = parse_eve_timestamp(sc.step.start) or 0
        end = (parse_eve_timestamp(sc.step.end) or start) + grace_s * 1_000_000
        hosts = set(sc.step.attackers) | set(sc.step.targets)
        nets = [ipaddress.ip_network(h, strict=False) for h in hosts if "/" in h]
        windows.append((start, end, hosts, nets, set(sc.step.detectors), sc))
    sheet = ScoreSheet(scores, truth.hours)
    for a in sorted(alerts, key=lambda a: a.ts_us):
        if a.sensor:  # true by construction, and about no step: reported on their own
            sheet.sensor_alerts[a.signature] = sheet.sensor_alerts.get(a.signature, 0) + 1
            continue
        sheet.alerts += 1
        belongs = False
        for start, end, hosts, nets, expected, sc in windows:
            if not (start - _EARLY_US <= a.ts_us <= end):
                continue
            if a.src_ip not in hosts and a.dest_ip not in hosts and not _in(nets, a):
                continue
            belongs = True
            sc.alerts += 1
            sc.rules[a.rule] = sc.rules.get(a.rule, 0) + 1
            if not sc.detected or (a.rule in expected and not sc.by_expected):
                # the first alert, or the first of an expected detector when it comes later
                sc.first = a
                sc.time_to_detect_s = max(0.0, (a.ts_us - start) / 1e6)
            sc.detected = True
            if a.rule in expected:
                sc.by_expected = True
        if not belongs:
            sheet.false_alerts += 1
            sheet.false_by_rule[a.rule] = sheet.false_by_rule.get(a.rule, 0) + 1
            if len(sheet.false_samples) < 20:
                sheet.false_samples.append(a)
    return sheet


def _in(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network], a: SeenAlert) -> bool:
    """Whether an end of `a` is in one of the step's networks (a flood's spoofed range)."""
    for ip in (a.src_ip, a.dest_ip):
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            continue
        if any(addr in n for n in nets):
            return True
    return False
