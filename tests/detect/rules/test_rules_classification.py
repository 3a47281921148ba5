"""classification.config (`detect.rules.classification`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.detect.rules.classification import (
    ClassType,
    default_classification,
    load_classification,
    parse_classification,
)
from tocsin.detect.rules.errors import RuleFileError


def test_parse() -> None:
    text = (
        "# comment\n"
        "\n"
        "config classification: not-suspicious,Not Suspicious Traffic,3\n"
        "config classification:bad-unknown,Potentially Bad Traffic, 2\n"
        "config classification: Odd_Name , Spaces, and, commas , 1 \n"
        "config classification: broken line\n"
        "config classification: bad-unknown,Redefined,4\n"
    )
    classes = parse_classification(text)
    assert classes["not-suspicious"] == ClassType("not-suspicious", "Not Suspicious Traffic", 3)
    assert classes["odd_name"] == ClassType("odd_name", "Spaces, and, commas", 1)
    assert classes["bad-unknown"].priority == 4  # the later definition wins
    assert len(classes) == 3


def test_default_is_suricatas_list() -> None:
    classes = default_classification()
    assert classes["trojan-activity"] == ClassType(
        "trojan-activity", "A Network Trojan was detected", 1
    )
    assert classes["inappropriate-content"].priority == 1
    assert classes["command-and-control"].description == (
        "Malware Command and Control Activity Detected"
    )
    assert len(classes) == 43
    assert load_classification(None) == classes


def test_load_file(tmp_path: Path) -> None:
    f = tmp_path / "classification.config"
    f.write_text("config classification: mine,Mine,2\n")
    assert load_classification(f) == {"mine": ClassType("mine", "Mine", 2)}
    with pytest.raises(RuleFileError) as e:
        load_classification(tmp_path / "missing.config")
    assert "missing.config" in str(e.value)
