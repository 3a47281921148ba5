"""`tocsin rules test`: suricata-verify style tests of rules, run with Tocsin's engine.

A test is a folder with a `test.yaml` (suricata-verify's format), a pcap and rules.
`testcase.discover` finds them and `TestCase.plan` reads each into a `TestPlan` (pcap, rule
files, `RunSettings`, checks) or says why it is not run; `runner.run_tests` runs the plans with
an injected engine function and judges the EVE output with `checks`; `report` prints the result.

The engine function is `run_plan(plan, eve_path) -> RunOutcome`, defined in
`tocsin.detect.verify.engine_run` and importable from here (loaded on first use, so planning
and judging never import the detection engine).
"""

from __future__ import annotations

import importlib
from typing import Any

from tocsin.detect.verify.checks import CheckResult, evaluate, event_matches, find_value
from tocsin.detect.verify.requires import FEATURES, SURICATA_VERSION
from tocsin.detect.verify.runner import Report, RunOutcome, TestResult, run_tests
from tocsin.detect.verify.settings import RunSettings
from tocsin.detect.verify.testcase import Check, NotPlanned, TestCase, TestPlan, discover

__all__ = [
    "FEATURES",
    "SURICATA_VERSION",
    "Check",
    "CheckResult",
    "NotPlanned",
    "Report",
    "RunOutcome",
    "RunSettings",
    "TestCase",
    "TestPlan",
    "TestResult",
    "discover",
    "evaluate",
    "event_matches",
    "find_value",
    "run_plan",
    "run_tests",
]


def __getattr__(name: str) -> Any:
    if name == "run_plan":
        return importlib.import_module("tocsin.detect.verify.engine_run").run_plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
