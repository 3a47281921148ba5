"""Every scenario, from the drill organiser's side: `tocsin exercise generate` writes a capture
tshark reads without a malformed packet or an expert error, and a truth file; `tocsin exercise
run` replays it and the score sheet says every step was detected, by the detector the truth
names, with every EVE line marked as exercise.

Each scenario is generated alone over a short window of a small site (the clinic) with its
background, so a failure names the scenario.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tocsin.exercise.scenarios import SCENARIOS
from tocsin.exercise.truth import read_truth

TOCSIN = str(Path(sys.executable).with_name("tocsin"))


def _generate(tmp: Path, scenario: str, seed: int = 7) -> Path:
    out = tmp / f"{scenario}.pcap"
    hours = max(0.5, round(SCENARIOS[scenario].duration_s / 3600 + 0.4, 2))
    r = subprocess.run(
        [TOCSIN, "exercise", "generate", "--profile", "clinic", "-s", scenario,
         "--hours", str(hours), "--seed", str(seed), "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("scenarios")
    return {name: _generate(tmp, name) for name in SCENARIOS}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_step_is_detected_by_its_detector(
    generated: dict[str, Path], scenario: str, tmp_path: Path
) -> None:
    pcap = generated[scenario]
    truth = read_truth(pcap.with_name(pcap.stem + ".truth.json"))
    assert truth.steps and all(s.scenario == scenario for s in truth.steps)
    eve, sheet = tmp_path / "eve.json", tmp_path / "score.json"
    r = subprocess.run(
        [TOCSIN, "exercise", "run", str(pcap), "--eve", str(eve), "--score-json", str(sheet)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "EXERCISE" in r.stdout and "Score sheet" in r.stdout
    score = json.loads(sheet.read_text())
    missed = [s["id"] for s in score["steps"] if not s["detected"]]
    assert missed == [], r.stdout
    others = [s["id"] for s in score["steps"] if not s["by_expected_detector"]]
    assert others == [], r.stdout
    for line in eve.read_bytes().splitlines():
        assert b'"exercise":{' in line


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_tshark_finds_no_malformed_packet_and_no_expert_error(
    generated: dict[str, Path], scenario: str
) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (apt install tshark)")
    pcap = generated[scenario]
    args = ["tshark", "-n", "-r", str(pcap), "-o", "tcp.check_checksum:TRUE",
            "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
            "-d", "tcp.port==104,dicom", "-d", "tcp.port==11112,dicom",
            "-d", "tcp.port==2575,hl7"]  # fmt: skip
    bad = subprocess.run(
        [*args, "-Y", "_ws.malformed || _ws.expert.severity == error"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert bad.returncode == 0, bad.stderr
    assert bad.stdout.strip() == "", bad.stdout[:2000]


def test_same_seed_same_bytes_and_truth(tmp_path: Path) -> None:
    runs = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        pcap = _generate(tmp_path / d, "recon", 11)
        runs.append((pcap.read_bytes(), pcap.with_name("recon.truth.json").read_bytes()))
    assert runs[0] == runs[1]


def test_unknown_scenario_and_bad_hours_are_one_line_errors(tmp_path: Path) -> None:
    for args, message in (
        (["-s", "nope"], "unknown scenario 'nope'"),
        (["--hours", "0"], "--hours must be positive"),
        (["--profile", "hopital"], "unknown profile 'hopital'"),
        (["--start", "hier"], "--start: 'hier' is not an ISO 8601 time"),
    ):
        r = subprocess.run(
            [TOCSIN, "exercise", "generate", "-o", str(tmp_path / "x.pcap"), *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert r.returncode == 2
        assert message in r.stderr and "Traceback" not in r.stderr


def test_run_without_a_truth_file_says_so(tmp_path: Path) -> None:
    pcap = tmp_path / "lonely.pcap"
    pcap.write_bytes(b"")
    r = subprocess.run([TOCSIN, "exercise", "run", str(pcap)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "lonely.truth.json: cannot read the truth file" in r.stderr


def test_the_cli_lists_the_generators_profiles() -> None:
    from tocsin.cli.exercise import PROFILES as CLI_PROFILES
    from tocsin.exercise.site import PROFILES

    assert CLI_PROFILES == PROFILES


def test_an_unwritable_score_file_is_one_line(tmp_path: Path) -> None:
    pcap = _generate(tmp_path, "recon", 3)
    r = subprocess.run(
        [TOCSIN, "exercise", "run", str(pcap), "--eve", str(tmp_path / "e.json"),
         "--score-json", str(tmp_path / "no" / "s.json")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "s.json: cannot write the score sheet (No such file or directory)" in r.stderr
