"""The score sheet's rules, from records: which alerts belong to a step, which one detected
it and when, and what counts as a false alert."""

from __future__ import annotations

from tocsin.exercise.score import SeenAlert, score, seen_alert
from tocsin.exercise.truth import Step, Truth
from tocsin.output.timefmt import eve_timestamp

T0 = 1_710_230_400_000_000  # 2024-03-12T08:00:00Z, µs
S = 1_000_000


def _step(id: str, start_s: int, end_s: int, detectors: list[str]) -> Step:
    return Step(
        id=id, scenario=id.split(".")[0], name=id, start=eve_timestamp(T0 + start_s * S),
        end=eve_timestamp(T0 + end_s * S), attackers=["10.20.0.77"], targets=["10.20.20.20"],
        technique="T1486", tactic="TA0040", detectors=detectors, defender_sees="",
    )  # fmt: skip


def _truth(*steps: Step) -> Truth:
    return Truth(
        generator="test", profile="clinic", site="x", seed=1, start=eve_timestamp(T0),
        end=eve_timestamp(T0 + 7200 * S), hours=2.0, packets=0, home_net=[], scenarios=[],
        steps=list(steps),
    )  # fmt: skip


def _alert(at_s: float, src: str, dst: str, rule: str) -> SeenAlert:
    return SeenAlert(T0 + int(at_s * S), src, dst, f"sig {rule}", rule)


def test_the_first_alert_of_an_expected_detector_times_the_detection() -> None:
    beacon = _step("c.beacon", 0, 3000, ["behaviour.beacon"])
    sheet = score(
        _truth(beacon),
        [
            _alert(1500, "10.20.0.77", "10.20.20.10", "behaviour.icmp_scan"),
            _alert(900, "10.20.0.77", "203.0.113.77", "behaviour.beacon"),
        ],
    )
    (s,) = sheet.steps
    assert s.detected and s.by_expected
    assert s.first is not None and s.first.rule == "behaviour.beacon"
    assert s.time_to_detect_s == 900.0
    assert s.rules == {"behaviour.beacon": 1, "behaviour.icmp_scan": 1}
    assert sheet.false_alerts == 0


def test_another_detector_still_detects_but_is_said_to_be_other() -> None:
    sheet = score(
        _truth(_step("r.encrypt", 100, 400, ["behaviour.smb_ransomware"])),
        [_alert(120, "10.20.20.20", "10.20.0.77", "sid:1:2024218")],
    )
    (s,) = sheet.steps
    assert s.detected and not s.by_expected and s.time_to_detect_s == 20.0


def test_alerts_outside_the_window_or_the_hosts_are_false() -> None:
    step = _step("r.encrypt", 100, 400, ["behaviour.smb_ransomware"])
    sheet = score(
        _truth(step),
        [
            _alert(90, "10.20.0.77", "10.20.20.20", "behaviour.smb_ransomware"),  # 10 s early
            _alert(400 + 601, "10.20.0.77", "10.20.20.20", "behaviour.smb_ransomware"),  # late
            _alert(200, "10.20.0.5", "10.20.20.30", "behaviour.beacon"),  # other hosts
            _alert(400 + 599, "10.20.20.20", "10.20.0.9", "behaviour.smb_ransomware"),  # grace
        ],
    )
    (s,) = sheet.steps
    assert s.alerts == 1 and s.time_to_detect_s == 899.0
    assert sheet.false_alerts == 3
    assert sheet.false_by_rule == {"behaviour.smb_ransomware": 2, "behaviour.beacon": 1}
    assert sheet.false_per_hour == 1.5


def test_a_missed_step_and_eve_records_read_as_alerts() -> None:
    ev = {
        "event_type": "alert", "timestamp": eve_timestamp(T0 + 5 * S), "src_ip": "10.20.0.77",
        "dest_ip": "10.20.20.20",
        "alert": {"gid": 8, "signature_id": 8000001, "signature": "scan",
                  "metadata": {"detector": ["behaviour.port_scan"]}},
    }  # fmt: skip
    a = seen_alert(ev)
    assert a is not None and a.rule == "behaviour.port_scan"
    rule = seen_alert({**ev, "alert": {"gid": 1, "signature_id": 2001, "signature": "x"}})
    assert rule is not None and rule.rule == "sid:1:2001"
    assert seen_alert({"event_type": "flow"}) is None
    sheet = score(_truth(_step("x.y", 3600, 3700, ["behaviour.flood"])), [a])
    assert not sheet.steps[0].detected and sheet.steps[0].time_to_detect_s is None
    assert sheet.to_json()["detected"] == 0 and sheet.false_alerts == 1


def test_sensor_self_alerts_are_counted_apart_not_as_false_alerts() -> None:
    ev = {
        "event_type": "alert", "timestamp": eve_timestamp(T0 + 5 * S),
        "alert": {"gid": 9, "signature_id": 9000001,
                  "signature": "TOCSIN SENSOR flow table full: emergency mode"},
    }  # fmt: skip
    a = seen_alert(ev)
    assert a is not None and a.sensor
    sheet = score(_truth(), [a, a])
    assert sheet.false_alerts == 0 and sheet.alerts == 0
    assert sheet.sensor_alerts == {"TOCSIN SENSOR flow table full: emergency mode": 2}
