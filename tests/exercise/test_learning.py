"""`exercise.learning`: a replay's detectors that report what is new learn from the background
before the first attack step, not for the default day (which would swallow any capture)."""

from __future__ import annotations

from tocsin.detect.correlate.config import CorrelateConfig, build_detectors
from tocsin.exercise.learning import learn_s_for, learned_before_attack, learning_detectors
from tocsin.exercise.truth import Step, Truth


def _truth(*steps: tuple[str, list[str]]) -> Truth:
    return Truth(
        generator="test", profile="clinic", site="Clinique", seed=1,
        start="2024-03-12T07:00:00.000000+0000", end="2024-03-12T08:00:00.000000+0000",
        hours=1.0, packets=0, home_net=["10.20.0.0/16"], scenarios=["x"],
        steps=[
            Step(id=f"x.{i}", scenario="x", name="step", start=start, end=start,
                 attackers=["10.20.0.30"], targets=["10.20.30.10"], technique="T1213",
                 tactic="TA0009", detectors=dets, defender_sees="it")
            for i, (start, dets) in enumerate(steps)
        ],
    )  # fmt: skip


def test_the_learning_detectors_are_the_ones_with_a_learn_s_threshold() -> None:
    assert learning_detectors() == [
        "behaviour.rdp_new_client",
        "medical.dicom_bulk_retrieve",
        "medical.dicom_new_peer",
        "medical.hl7_new_sender",
    ]


def test_learning_ends_halfway_to_the_first_step_for_the_detectors_the_steps_expect() -> None:
    first = ["medical.dicom_enumeration", "medical.dicom_new_peer"]
    truth = _truth(
        ("2024-03-12T07:40:00.000000+0000", ["medical.dicom_bulk_retrieve"]),
        ("2024-03-12T07:30:00.000000+0000", first),
    )
    assert learn_s_for(truth) == 900  # half of the 30 minutes before the first step
    cfg = learned_before_attack(CorrelateConfig(), truth)
    assert cfg.detectors == {
        "medical.dicom_bulk_retrieve": {"learn_s": 900},
        "medical.dicom_new_peer": {"learn_s": 900},
    }
    dets = {d.info.name: d for d in build_detectors(cfg)}
    assert dets["medical.dicom_bulk_retrieve"].config.learn_s == 900
    assert dets["medical.hl7_new_sender"].config.learn_s == 86_400  # no step relies on it
    assert dets["behaviour.rdp_new_client"].config.learn_s == 86_400


def test_a_configured_learning_period_and_other_thresholds_are_kept() -> None:
    truth = _truth(("2024-03-12T07:30:00.000000+0000", ["medical.dicom_bulk_retrieve"]))
    given = CorrelateConfig(
        detectors={"medical.dicom_bulk_retrieve": {"learn_s": 7200, "min_retrieves": 5}}
    )
    assert learned_before_attack(given, truth).detectors == given.detectors
    given = CorrelateConfig(detectors={"medical.dicom_bulk_retrieve": {"min_retrieves": 5}})
    out = learned_before_attack(given, truth).detectors
    assert out == {"medical.dicom_bulk_retrieve": {"min_retrieves": 5, "learn_s": 900}}
    assert given.detectors == {"medical.dicom_bulk_retrieve": {"min_retrieves": 5}}


def test_without_steps_or_warm_up_the_defaults_hold_or_a_minute_is_learned() -> None:
    cfg = CorrelateConfig()
    assert learned_before_attack(cfg, _truth()) is cfg  # a false-alert measurement
    early = _truth(("2024-03-12T07:00:01.000000+0000", ["medical.dicom_new_peer"]))
    assert learn_s_for(early) == 60
