"""The learning period of an exercise replay: the background before the first attack step is
what the sensor has learned the site from.

Detectors that report what is *new* (`medical.dicom_new_peer`, `medical.dicom_bulk_retrieve`,
`medical.hl7_new_sender`, `behaviour.rdp_new_client`: every detector whose thresholds have a
`learn_s`) learn for a day of packet time by default, from the first event they see. A
generated capture lasts hours: with the default, all of it is learning and an attack in it
is learned as normal, where a deployed sensor would have learned the site for days before
the attack came. `learned_before_attack` ends the learning before the first step: `learn_s`
becomes `LEARN_SHARE` of the time from the capture's start to the first step's start (at
least `MIN_LEARN_S`), for each such detector that a step of the truth expects to alert and
whose `learn_s` the configuration does not set. The others keep their day: a detector no
step relies on would only report background peers that a sensor learning for days would
have known (an administrator's RDP session once an afternoon, a feed quiet at night).
Half, not all of it: a detector's clock starts at its first event, which can come minutes
after the capture's start (the imaging background's verification echoes bound that wait
to `background.imaging.ECHO_PERIOD_S`).

A capture without steps (a false-alert measurement) keeps the configuration as given. Peers
of the background that first appear after the shortened learning period may be reported as
new: the score sheet counts them as false alerts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.detect.correlate.registry import available
from tocsin.exercise.truth import Truth
from tocsin.output.timefmt import parse_eve_timestamp

LEARN_SHARE = 0.5
MIN_LEARN_S = 60
FIELD = "learn_s"


def learning_detectors() -> list[str]:
    """Names of the detectors with a learning period (a `learn_s` threshold), sorted."""
    out = []
    for name, cls in available().items():
        conf = cls.Config
        if conf is not None and any(f.name == FIELD for f in dataclasses.fields(conf)):
            out.append(name)
    return sorted(out)


def learn_s_for(truth: Truth) -> int | None:
    """The learning period for a replay of `truth`'s capture, or None without steps."""
    starts = [parse_eve_timestamp(s.start) for s in truth.steps]
    first = min((s for s in starts if s is not None), default=None)
    begin = parse_eve_timestamp(truth.start)
    if first is None or begin is None:
        return None
    return max(MIN_LEARN_S, int((first - begin) / 1e6 * LEARN_SHARE))


def learned_before_attack(cfg: CorrelateConfig, truth: Truth) -> CorrelateConfig:
    """`cfg` with `learn_s` set (see the module docstring) where it does not set it."""
    learn = learn_s_for(truth)
    if learn is None:
        return cfg
    expected = {d for s in truth.steps for d in s.detectors}
    detectors: dict[str, dict[str, Any]] = {k: dict(v) for k, v in cfg.detectors.items()}
    for name in learning_detectors():
        if name in expected:
            detectors.setdefault(name, {}).setdefault(FIELD, learn)
    return dataclasses.replace(cfg, detectors=detectors)
