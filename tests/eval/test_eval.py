"""`tocsin eval`: the expectations loader, the matching and the report arithmetic, and the
command's errors, on tiny expectation files and the small captures of `samples/`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.eval.expectations import ExpectationsError, load, parse
from tocsin.eval.report import Alert, Report, score, to_json, to_markdown
from tocsin.eval.runner import REPO_ROOT, run

TOCSIN = str(Path(sys.executable).with_name("tocsin"))
SCANNER = "172.16.0.8"
SCANNED = "64.13.134.52"
ONLY_SCAN = CorrelateConfig(enable=("behaviour.port_scan",))


def doc(*captures: dict[str, object], **top: object) -> dict[str, object]:
    return {"captures": list(captures), **top}


def exp(detector: object = "behaviour.port_scan", **kw: object) -> dict[str, object]:
    return {"detector": detector, "why": "a reason", "truth": "a baseline:1", **kw}


# ------------------------------------------------------------------ the expectations file


def test_parse_types_every_field() -> None:
    e = parse(
        doc(
            {
                "capture": "pcaps/a.pcap",
                "home_net": ["147.32.0.0/16"],
                "intel": "rules/x.txt",
                "expected": [
                    exp(["behaviour.dns_tunnel", "behaviour.dga"], src="10.0.0.1", min_count=2)
                ],
                "explained": [{"detector": "behaviour.port_scan", "why": "the same attacker"}],
            },
            {"capture": "repo:samples/web-browsing.pcap", "expected": []},
            targets={"recall": 0.9, "fp_per_capture": 0.5},
        ),
        "x.yaml",
    )
    a, b = e.captures
    assert a.attack and not b.attack
    assert a.home_net == ("147.32.0.0/16",) and a.intel == ("rules/x.txt",)
    assert a.expected[0].detectors == ("behaviour.dns_tunnel", "behaviour.dga")
    assert a.expected[0].min_count == 2 and a.expected[0].src == "10.0.0.1"
    assert (e.recall_target, e.fp_target) == (0.9, 0.5)
    assert b.path(Path("/corpus"), Path("/repo")) == Path("/repo/samples/web-browsing.pcap")
    assert a.path(Path("/corpus"), Path("/repo")) == Path("/corpus/pcaps/a.pcap")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "x.yaml: expected a mapping"),
        (doc(), "x.yaml: 'captures' must be a non-empty list"),
        (doc({"expected": []}), "captures[0]: missing 'capture'"),
        (doc({"capture": "a.pcap"}), "captures[0] (a.pcap): missing 'expected'"),
        (
            doc({"capture": "a.pcap", "expected": [{"detector": "x", "why": "w"}]}),
            "captures[0] (a.pcap): expected[0]: missing 'truth'",
        ),
        (
            doc({"capture": "a.pcap", "expected": [], "explained": [{"detector": "x"}]}),
            "captures[0] (a.pcap): explained[0]: missing 'why'",
        ),
        (
            doc({"capture": "a.pcap", "expected": [exp(src="10.0.0.300")]}),
            "expected[0]: src: '10.0.0.300' is not an IP address",
        ),
        (doc({"capture": "a.pcap", "expected": [exp(min_count=0)]}), "min_count"),
        (doc({"capture": "a.pcap", "expected": [exp(port=22)]}), "unknown key 'port'"),
        (doc({"capture": "a.pcap", "expected": [exp(detector=[])]}), "'detector' must be"),
        (doc({"capture": "a.pcap", "expected": [], "home_net": ["x"]}), "home_net: 'x'"),
        (
            doc({"capture": "a.pcap", "expected": []}, {"capture": "a.pcap", "expected": []}),
            "captures[1]: a.pcap listed twice",
        ),
    ],
)
def test_malformed_entries_name_the_file_and_entry(document: object, message: str) -> None:
    with pytest.raises(ExpectationsError, match=None) as info:
        parse(document, "x.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("x.yaml")


def test_load_reports_yaml_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("captures: [\n")
    with pytest.raises(ExpectationsError) as info:
        load(bad)
    assert str(info.value).startswith(f"{bad}:2:1: not valid YAML: ")
    assert "\n" not in str(info.value)


def test_committed_expectations_load_and_cite_their_truth() -> None:
    e = load(REPO_ROOT / "eval" / "expectations.yaml")
    assert len([c for c in e.captures if not c.attack]) >= 10
    assert all(x.truth and x.why for c in e.captures for x in c.expected)


# ------------------------------------------------------------------ matching and arithmetic


def spec_of(*captures: dict[str, object]):  # type: ignore[no-untyped-def]
    return parse(doc(*captures), "t.yaml")


def test_score_found_missed_explained_extra() -> None:
    e = spec_of(
        {
            "capture": "a.pcap",
            "expected": [
                exp("behaviour.port_scan", src="10.0.0.1"),  # found (twice)
                exp("behaviour", dest="10.0.0.9"),  # family prefix, found
                exp("behaviour.beacon", src="10.0.0.1"),  # missed
                exp("behaviour.port_scan", src="10.0.0.1", min_count=3),  # 2 < 3: missed
            ],
            "explained": [{"detector": "behaviour.arp_scan", "host": "10.0.0.5", "why": "w"}],
        }
    )
    alerts = [
        Alert("behaviour.port_scan", "10.0.0.1", "10.0.0.9"),
        Alert("behaviour.port_scan", "10.0.0.1", "10.0.0.8"),
        Alert("behaviour.arp_scan", "10.0.0.5", None),  # explained
        Alert("behaviour.arp_scan", "10.0.0.6", None),  # extra
        Alert("behaviourx.odd", "10.0.0.2", "10.0.0.9"),  # a prefix matches whole labels only
    ]
    r = score(e.captures[0], alerts)
    assert [x.detectors for x, _ in r.found] == [("behaviour.port_scan",), ("behaviour",)]
    assert [(x.detectors, n) for x, n in r.missed] == [
        (("behaviour.beacon",), 0),
        (("behaviour.port_scan",), 2),
    ]
    assert len(r.tp) == 2 and r.explained == [alerts[2]]
    assert r.extra == [alerts[3], alerts[4]]


def test_report_totals_and_detector_rows() -> None:
    e = spec_of(
        {"capture": "a.pcap", "expected": [exp(src="10.0.0.1"), exp("behaviour.beacon")]},
        {"capture": "b.pcap", "expected": []},
        {"capture": "c.pcap", "expected": []},
    )
    ra = score(e.captures[0], [Alert("behaviour.port_scan", "10.0.0.1", "10.0.0.2")])
    rb = score(e.captures[1], [Alert("behaviour.port_scan", "10.0.0.3", "10.0.0.4")] * 2)
    rc = score(e.captures[2], [])
    rep = Report(e, [ra, rb, rc])
    assert (rep.n_expected, rep.n_found, rep.recall) == (2, 1, 0.5)
    assert rep.n_extra == 2
    assert rep.fp_per_capture == pytest.approx(2 / 3)
    assert rep.fp_per_benign_capture == pytest.approx(1.0)
    assert rep.fp_pass and not rep.recall_pass and not rep.passed
    rows = {d.name: d for d in rep.detectors()}
    scan, beacon = rows["behaviour.port_scan"], rows["behaviour.beacon"]
    assert (scan.expected, scan.found, scan.missed, scan.tp_alerts, scan.extra) == (1, 1, 0, 1, 2)
    assert scan.precision == pytest.approx(1 / 3) and scan.recall == 1.0
    assert (beacon.expected, beacon.missed, beacon.precision, beacon.recall) == (1, 1, None, 0.0)
    j = to_json(rep)
    assert j["totals"]["recall"] == 0.5 and j["totals"]["pass"] is False
    assert "| `behaviour.port_scan` | 1 | 1 | 0 | 2 | 0.33 | 1.00 |" in to_markdown(rep)


# ------------------------------------------------------------------ end to end on samples/


def test_runner_on_the_syn_scan_sample(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO_ROOT / "samples" / "syn-scan.pcapng", corpus / "scan-unlabelled.pcapng")
    e = spec_of(
        {
            "capture": "repo:samples/syn-scan.pcapng",
            "expected": [
                exp(src=SCANNER, dest=SCANNED),  # right: found
                exp(src="10.9.9.9"),  # wrong host: missed
            ],
        },
        {"capture": "scan-unlabelled.pcapng", "expected": []},  # its alert is extra
        {"capture": "not-there.pcap", "expected": [exp()]},  # skipped, not counted
        {
            "capture": "repo:samples/web-browsing.pcap",  # there; its intel source is not
            "intel": ["rules/none.txt"],
            "expected": [exp()],
        },
    )
    rep = run(e, corpus, config=ONLY_SCAN)
    labelled, unlabelled, missing, no_intel = rep.captures
    assert len(labelled.found) == 1 and len(labelled.missed) == 1 and not labelled.extra
    assert [a.detector for a in unlabelled.extra] == ["behaviour.port_scan"]
    assert unlabelled.extra[0].src == SCANNER
    assert missing.status == "skipped" and "not-there.pcap not found" in missing.message
    assert no_intel.status == "skipped" and "intel source" in no_intel.message
    assert (rep.n_expected, rep.n_found, rep.n_extra, len(rep.ran)) == (2, 1, 1, 2)
    assert not rep.passed


# ------------------------------------------------------------------ the command


def tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TOCSIN, *map(str, args)], capture_output=True, text=True, timeout=300, check=False
    )


def test_cli_bad_yaml_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "exp.yaml"
    bad.write_text("captures:\n  - capture: a.pcap\n    expected:\n      - detector: x\n")
    proc = tocsin("eval", bad)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"tocsin: {bad}: captures[0] (a.pcap): expected[0]: missing 'why' "
        "(what the alert is about)\n"
    )
    assert "Traceback" not in proc.stdout + proc.stderr


def test_cli_pass_and_fail_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "captures:\n"
        "  - capture: repo:samples/syn-scan.pcapng\n"
        "    expected:\n"
        f"      - {{detector: behaviour.port_scan, src: {SCANNER}, why: nmap, truth: PROVENANCE}}\n"
        "  - capture: missing.pcap\n"
        "    expected: []\n"
    )
    conf = tmp_path / "detect.yaml"
    conf.write_text("enable: [behaviour.port_scan]\n")
    out = tmp_path / "r.json"
    proc = tocsin("eval", good, "--corpus", tmp_path, "--detect-config", conf, "--json", out, "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "missing.pcap: skipped" in proc.stderr
    assert "Overall: PASS" in proc.stdout
    assert json.loads(out.read_text())["totals"]["recall"] == 1.0
    bad = tmp_path / "wrong.yaml"
    bad.write_text(good.read_text().replace(SCANNER, "10.9.9.9"))
    md = tmp_path / "r.md"
    proc = tocsin(
        "eval", bad, "--corpus", tmp_path, "--detect-config", conf, "--markdown", md, "-q"
    )
    assert proc.returncode == 1
    assert "missed: repo:samples/syn-scan.pcapng: behaviour.port_scan (src 10.9.9.9)" in proc.stdout
    assert "Overall: **FAIL**" in md.read_text()


def test_capture_thresholds_reach_the_detector(tmp_path: Path) -> None:
    """A capture's `thresholds` are the detector's for that capture only: raised out of
    reach, the scan is missed; the next capture runs with the defaults again."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(REPO_ROOT / "samples" / "syn-scan.pcapng", corpus / "copy.pcapng")
    e = spec_of(
        {
            "capture": "repo:samples/syn-scan.pcapng",
            "thresholds": {"behaviour.port_scan": {"min_ports": 1_000_000}},
            "expected": [exp(src=SCANNER)],
        },
        {"capture": "copy.pcapng", "expected": [exp(src=SCANNER)]},
    )
    rep = run(e, corpus, config=ONLY_SCAN)
    assert [len(c.missed) for c in rep.captures] == [1, 0]
