"""The ground truth of a generated capture: `capture.truth.json` next to `capture.pcap`.

One `Step` per scenario step: its time window, the attacking and attacked hosts, the ATT&CK
technique and tactic, the detectors expected to see it and, in words, what a defender should
see. `tocsin exercise run` scores the alerts of a replay against these steps (`score`).

The file is a contract read by other tools (the console's exercise view, a drill organiser's
own scripts): fields are only added, `format` changes when one changes meaning.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

FORMAT = 1


class Step(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "<scenario>.<step>", unique in the file ("ransomware.encrypt")
    scenario: str
    name: str  # what the attacker does, in a sentence
    start: str  # EVE timestamp (UTC) of the step's first packet
    end: str  # of its last packet
    attackers: list[str]  # addresses (or networks: a spoofed range) acting for the attacker
    targets: list[str]  # addresses attacked, scanned or used
    technique: str  # ATT&CK technique id ("T1486")
    tactic: str  # ATT&CK tactic id ("TA0040")
    detectors: list[str]  # Tocsin detectors expected to alert on it (any one suffices)
    defender_sees: str  # what a defender should see, in a sentence


class Truth(msgspec.Struct, kw_only=True):
    format: int = FORMAT
    generator: str  # "tocsin <version>"
    profile: str
    site: str  # the site's name ("CHU de Valmont")
    seed: int
    start: str  # EVE timestamps of the capture's window
    end: str
    hours: float
    packets: int
    home_net: list[str]
    scenarios: list[str]
    steps: list[Step]


class TruthError(Exception):
    """A truth file that cannot be read: says which file and why."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Truth)


def truth_path(capture: Path) -> Path:
    """`capture.truth.json` for `capture.pcap` (the suffix replaced)."""
    return capture.with_name(capture.stem + ".truth.json")


def write_truth(truth: Truth, path: Path) -> None:
    path.write_bytes(msgspec.json.format(_encoder.encode(truth), indent=2) + b"\n")


def read_truth(path: Path) -> Truth:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TruthError(f"{path}: cannot read the truth file ({e.strerror or e})") from None
    try:
        truth = _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise TruthError(f"{path}: not a Tocsin truth file ({e})") from None
    if truth.format != FORMAT:
        raise TruthError(f"{path}: truth format {truth.format}, this Tocsin reads {FORMAT}")
    return truth
