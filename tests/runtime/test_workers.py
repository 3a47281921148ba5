"""`tocsin analyze --workers N`: the same events as one process, from N processes.

From the user's side (the installed command): every event of `--workers 1` is in the
output of `--workers 2` and `3` (flows with their ids, app-layer events, signature and
correlator alerts), the summary counts the same packets and flows, the stats roll every
worker's counters up, and two runs give the same bytes. Then the failures a user may meet:
a bad `--workers`, a worker that fails or dies (the run stops with the reason, exit 3).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cli.test_analyze import ROOT, assert_one_line_error, many_flows_pcap, tocsin
from tocsin.runtime.pipeline import PipelineConfig
from tocsin.runtime.workers import WorkerError, analyze_sharded

FIX = ROOT / "tests" / "fixtures"
CAPTURES = [
    FIX / "correlate" / "beacon-60s-2h.pcap",  # a beacon over 2 h: flows end by timeout
    FIX / "correlate" / "chrissanders-synscan.pcapng",  # a scan spread over workers
    FIX / "correlate" / "chrissanders-arppoison.pcapng",  # ARP, worker 0 only
    FIX / "correlate" / "zeek-ftp-bruteforce.pcap",
    FIX / "correlate" / "sqli-http_dvwa_sqlinjection.pcapng",
    FIX / "defrag" / "ipv4frags.pcap",  # fragments meet their datagram's worker
    FIX / "applayer" / "dicom" / "dicom-move.pcap",
    FIX / "applayer" / "smb" / "dcerpc_dcsync.pcap",
]


def events(path: Path) -> Counter[str]:
    """The EVE lines, as a multiset, less the periodic counters (stats and `sensor`
    counters events: they sum the workers' and come at each interval)."""
    out: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        kind = ev["event_type"]
        if kind == "stats" or (kind == "sensor" and ev["sensor"]["kind"] == "counters"):
            continue
        out[json.dumps(ev, sort_keys=True)] += 1
    return out


def _no_counters(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k not in ("stats", "sensor")}


def analyze(capture: Path, out: Path, workers: int) -> dict[str, Any]:
    summary = out.with_suffix(".summary.json")
    proc = tocsin(
        "analyze", capture, "--eve", out, "--summary-json", summary, "-q", "--workers", workers
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(summary.read_text())
    return result


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_two_and_three_workers_give_the_events_of_one(capture: Path, tmp_path: Path) -> None:
    one = analyze(capture, tmp_path / "w1.json", 1)
    base = events(tmp_path / "w1.json")
    assert base, "the capture gives events"
    for n in (2, 3):
        many = analyze(capture, tmp_path / f"w{n}.json", n)
        got = events(tmp_path / f"w{n}.json")
        assert got == base, (n, list((base - got).items())[:2], list((got - base).items())[:2])
        assert many["packets"] == one["packets"]
        assert many["flows"] == one["flows"]
        assert _no_counters(many["events"]) == _no_counters(one["events"])
        assert many["detector_alerts"] == one["detector_alerts"]
        assert many["anomalies"] == one["anomalies"]


def test_stats_roll_every_worker_up_and_runs_repeat_byte_for_byte(tmp_path: Path) -> None:
    capture = FIX / "correlate" / "chrissanders-synscan.pcapng"
    one = analyze(capture, tmp_path / "w1.json", 1)
    analyze(capture, tmp_path / "a.json", 2)
    analyze(capture, tmp_path / "b.json", 2)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    last = [
        json.loads(line)
        for line in (tmp_path / "a.json").read_text().splitlines()
        if '"event_type":"stats"' in line
    ][-1]["stats"]
    assert last["decoder"]["pkts"] == one["packets"]
    assert last["flow"]["total"] == one["counters"]["flow.total"]
    assert last["tcp"]["syn"] == one["counters"]["tcp.syn"]


@pytest.mark.parametrize("bad", ["0", "-2", "65"])
def test_a_bad_worker_count_is_one_line(bad: str, tmp_path: Path) -> None:
    proc = tocsin("analyze", CAPTURES[1], "--eve", tmp_path / "x.json", "--workers", bad)
    assert_one_line_error(proc, 2, f"tocsin: --workers must be between 1 and 64 (got {bad})")


class _Breaks:
    """A correlator stand-in that breaks inside the worker (the main process never calls it
    before the workers have shipped something)."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.detectors: list[Any] = []

    def wants(self, event_type: str) -> bool:
        if self.how == "raise":
            raise RuntimeError("a detector bug")
        os._exit(9)  # killed without a word


@pytest.mark.parametrize(
    ("how", "message"),
    [("raise", "worker 0 failed: RuntimeError: a detector bug"), ("die", "died (exit code 9)")],
)
def test_a_worker_that_fails_or_dies_stops_the_run_with_the_reason(
    how: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(WorkerError, match=message.replace("(", r"\(").replace(")", r"\)")):
        analyze_sharded(
            [CAPTURES[1]],
            tmp_path / "x.json",
            PipelineConfig(),
            2,
            correlate=_Breaks(how),  # type: ignore[arg-type]
        )


def test_emergency_mode_is_said_once_for_the_sensor(tmp_path: Path) -> None:
    """Each worker has its own flow table (a share of `--flow-cap`); when both fill, the
    sensor is in emergency mode once: one self-alert, not one per worker."""
    capture = many_flows_pcap(tmp_path / "many.pcap", 80)
    summary = analyze_capped(capture, tmp_path / "eve.json", workers=2, cap=32)
    lines = [json.loads(ln) for ln in (tmp_path / "eve.json").read_text().splitlines()]
    alerts = [e["alert"]["signature_id"] for e in lines if e["event_type"] == "alert"]
    assert alerts == [9000001]
    assert summary["counters"]["flow.emerg_mode_entered"] == 2  # both workers' tables
    assert len([e for e in lines if e["event_type"] == "flow"]) == 80  # nothing lost


def analyze_capped(capture: Path, out: Path, workers: int, cap: int) -> dict[str, Any]:
    summary = out.with_suffix(".summary.json")
    proc = tocsin(
        "analyze", capture, "--eve", out, "--summary-json", summary, "-q",
        "--workers", workers, "--flow-cap", cap,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(summary.read_text())
    return result
