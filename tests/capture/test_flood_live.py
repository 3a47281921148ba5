"""The flood test, live: a 5 M-packet spoofed SYN flood with a real scan and a real C2 beacon
hidden in it, replayed by tcpreplay into the interface `tocsin sensor` watches.

The capture is the exercise's `smokescreen` scenario with a 5,000,000-SYN flood (a clinic's
background traffic around it; the truth file says who the attackers are and which detectors
should see each step), sent 30 times faster than it was recorded. The sensor runs with a
100,000-flow table: it must stay up, keep its peak RSS under 1 GB, raise the flood alert and
its emergency self-alert, and still see the scan and the beacon from the implanted host.
Time is compressed, so steps are matched by host and detector, not by time window.

Needs root, `ip` and Debian's `tcpreplay` (`./dev test` installs both): skipped otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from capture.test_live import NS, TOCSIN, veth  # noqa: F401  (the fixture, by name)
from tocsin.exercise.generate import generate
from tocsin.exercise.scenarios import SCENARIOS
from tocsin.exercise.scenarios.smokescreen import Smokescreen
from tocsin.exercise.truth import Truth, read_truth, truth_path

FLOOD_SYNS = 5_000_000
RSS_BOUND_MB = 1024
FLOW_CAP = 100_000


@pytest.fixture(scope="module")
def smokescreen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("tcpreplay") is None:
        pytest.skip("the live flood test needs Debian's tcpreplay (./dev test installs it)")
    out = tmp_path_factory.mktemp("flood") / "smokescreen-5m.pcap"
    saved = SCENARIOS["smokescreen"]
    SCENARIOS["smokescreen"] = Smokescreen(flood_syns=FLOOD_SYNS)
    try:
        generate(out, profile="clinic", scenarios=["smokescreen"], hours=0.5, seed=11)
    finally:
        SCENARIOS["smokescreen"] = saved
    yield out
    out.unlink(missing_ok=True)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _seen(step: Any, alerts: list[dict[str, Any]]) -> bool:
    """An alert from one of the step's detectors naming one of its attackers or targets
    (a flood alert names its target only: the sources are spoofed)."""
    nets = [ipaddress.ip_network(a, strict=False) for a in [*step.attackers, *step.targets]]

    def ours(ip: str | None) -> bool:
        return ip is not None and any(ipaddress.ip_address(ip) in n for n in nets)

    for a in alerts:
        info = a["alert"]
        det = (info.get("metadata") or {}).get("detector") or [""]
        ips = [a.get("src_ip"), a.get("dest_ip")]
        ips += [(info.get(side) or {}).get("ip") for side in ("source", "target")]
        if det[0] in step.detectors and any(ours(ip) for ip in ips):
            return True
    return False


def test_a_5m_syn_flood_hides_neither_the_scan_nor_the_beacon(
    veth: tuple[str, str],  # noqa: F811
    smokescreen: Path,
    tmp_path: Path,
) -> None:
    out, into = veth
    eve, summary = tmp_path / "eve.json", tmp_path / "summary.json"
    sensor = subprocess.Popen(
        ["ip", "netns", "exec", NS, TOCSIN, "sensor", "--iface", into, "--eve", str(eve),
         "--summary-json", str(summary), "--flow-cap", str(FLOW_CAP), "--ring-mb", "64"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert sensor.stderr is not None
        line = sensor.stderr.readline()
        assert "watching" in line, line + sensor.stderr.read()
        replay = subprocess.run(
            ["tcpreplay", "-q", "-i", out, "--multiplier", "30", str(smokescreen)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert replay.returncode == 0, replay.stderr
        time.sleep(3.0)  # the last blocks are retired, the backlog processed
        assert sensor.poll() is None, "the sensor stayed up"
        peak = _peak_rss_mb(sensor.pid)
    finally:
        sensor.send_signal(signal.SIGTERM)
        rc = sensor.wait(timeout=300)
    assert rc == 0
    assert peak < RSS_BOUND_MB, f"peak RSS {peak:.0f} MB"
    truth: Truth = read_truth(truth_path(smokescreen))
    with eve.open() as f:  # 5 M flow events: read the alerts only
        alerts = [json.loads(x) for x in f if x.startswith('{"event_type":"alert"')]
    sids = {a["alert"]["signature_id"] for a in alerts}
    assert 9_000_001 in sids, "the flow table's emergency mode said so"
    missed = [s.id for s in truth.steps if not _seen(s, alerts)]
    assert not missed, missed
    s = json.loads(summary.read_text())
    kernel = s["counters"]
    assert s["packets"] + kernel["capture.kernel_drops"] <= kernel["capture.kernel_packets"]
    assert s["packets"] > FLOOD_SYNS * 9 // 10
