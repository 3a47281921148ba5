"""Test helper for the exercise generator's protocol tests: a `Trace` written as a pcap, run
through Tocsin (`correlate_kit.analyze_alerts`) and read back, and tshark run over it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from correlate_kit import analyze_alerts
from tocsin.exercise.wire.trace import Trace

TSHARK = "/usr/bin/tshark"


@dataclass
class Capture:
    pcap: Path
    events: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


def analysed(tr: Trace, root: Path, name: str, only: tuple[str, ...]) -> Capture:
    """`tr` written to `root/name`, analysed with the detectors `only`: its EVE events and
    alerts."""
    pcap = root / name
    tr.write(str(pcap))
    alerts = analyze_alerts([pcap], root, only=only)
    events = [json.loads(line) for line in (root / "eve.json").read_text().splitlines()]
    return Capture(pcap, events, alerts)


def tshark(pcap: Path, *args: str) -> str:
    """tshark's output on `pcap` with `args` (names not resolved); fails on its errors."""
    return subprocess.run(
        [TSHARK, "-n", "-r", str(pcap), *args], capture_output=True, text=True, check=True
    ).stdout
