"""threshold.config: parsing, overrides, suppressions and rate filters, and their effect on
the alerts of a real pipeline run."""

from __future__ import annotations

from pathlib import Path

from detect.engine.conftest import Run, alerts
from detect.engine.pcapkit import Capture, Conversation
from tocsin.detect.engine import DetectConfig, DetectEngine
from tocsin.detect.model import Threshold
from tocsin.detect.rules.loader import load_rules
from tocsin.detect.state import RateFilters
from tocsin.detect.thresholdfile import parse_threshold_config
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

V4 = 0xFFFF << 32


def ip(a: str) -> int:
    b = [int(x) for x in a.split(".")]
    return V4 | (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]


def test_parse_every_directive_and_report_bad_lines() -> None:
    cfg = parse_threshold_config(
        "# site thresholds\n"
        "threshold gen_id 1, sig_id 10, type limit, track by_src, count 1, seconds 60\n"
        "event_filter gen_id 0, sig_id 0, type both, track by_dst, count 5, seconds 30\n"
        "suppress gen_id 1, sig_id 11\n"
        "suppress gen_id 1, sig_id 12, track by_either, ip [10.1.0.0/16,!10.1.2.3]\n"
        "rate_filter gen_id 1, sig_id 13, track by_rule, count 2, seconds 10, "
        "new_action pass, timeout 60\n"
        "rate_filter gen_id 1, sig_id 14, track by_rule, count 2, seconds 10, "
        "new_action drop, timeout 60\n"
        "threshold gen_id 1, sig_id 15, type sometimes, track by_src, count 1, seconds 1\n"
        "suppress gen_id 1\n"
        "bogus line\n",
        name="t.config",
    )
    assert cfg.thresholds[1, 10] == Threshold("limit", "by_src", 1, 60)
    assert cfg.threshold_for(1, 10, Threshold("both", "by_dst", 9, 9)).count == 1  # file wins
    own = Threshold("threshold", "by_src", 3, 3)
    assert cfg.threshold_for(1, 99, own) is own  # a global entry does not replace a rule's own
    assert cfg.threshold_for(1, 99, None) == Threshold("both", "by_dst", 5, 30)
    assert cfg.suppressed(1, 11, ip("1.2.3.4"), ip("5.6.7.8"))
    assert cfg.suppressed(1, 12, ip("8.8.8.8"), ip("10.1.9.9"))  # either side
    assert not cfg.suppressed(1, 12, ip("8.8.8.8"), ip("10.1.2.3"))  # negated host
    assert not cfg.suppressed(1, 13, ip("1.2.3.4"), ip("5.6.7.8"))
    assert cfg.rate_filter_for(1, 13) is not None and cfg.rate_filter_for(1, 14) is None
    assert [p.split(":", 2)[1] for p in cfg.problems] == ["8", "9", "10"]
    assert "unknown type 'sometimes'" in cfg.problems[0]
    assert "missing sig_id" in cfg.problems[1]
    assert cfg.ignored and "drop" in cfg.ignored[0]


def test_rate_filter_passes_after_count_for_the_timeout() -> None:
    r = RateFilters()
    key = ((1, 13), None)
    s = 1_000_000
    got = [r.passing(key, 2, 10, 60, t * s) for t in (0, 1, 2, 3, 70, 71, 72)]
    # 2 alerts, then pass for 60 s (from t=2), then a new window: 2 alerts, pass
    assert got == [False, False, True, True, False, False, True]


def _syns(cap: Capture, n: int) -> None:
    for k in range(n):
        Conversation(cap, client=f"10.0.0.{k % 3 + 1}", cport=41000 + k).open()


def test_threshold_file_changes_the_alerts_of_a_run(tmp_path: Path, run: Run) -> None:
    cap = Capture()
    _syns(cap, 9)
    rules = tmp_path / "r.rules"
    rules.write_text(
        'alert tcp any any -> any 80 (msg:"syn"; flags:S,12; sid:1;)\n'
        'alert tcp any 80 -> any any (msg:"synack"; flags:SA; sid:2;)\n'
    )
    pcap = cap.write(tmp_path / "c.pcap")
    site = parse_threshold_config(
        "threshold gen_id 1, sig_id 1, type limit, track by_src, count 1, seconds 60\n"
        "suppress gen_id 1, sig_id 2, track by_dst, ip 10.0.0.1\n"
    )
    eve = tmp_path / "e.json"
    rs = load_rules([rules])
    analyze([pcap], eve, PipelineConfig(writer_thread=False),
            detect=DetectEngine(rs.rules, DetectConfig(thresholds=site)))  # fmt: skip
    import msgspec

    events = [msgspec.json.decode(x) for x in eve.read_bytes().splitlines()]
    assert len(alerts(events, 1)) == 3  # one per source
    assert {a["dest_ip"] for a in alerts(events, 2)} == {"10.0.0.2", "10.0.0.3"}
    plain = run(rules.read_text(), pcap)
    assert len(alerts(plain, 1)) == 9 and len(alerts(plain, 2)) == 9
