"""The everyday network of a generated hospital (`exercise.background.web`, `infra`, `guest`),
judged from the sensor's side.

For each profile a short window of a weekday morning is generated with these activities
only, written as a pcap, read by tshark (nothing malformed, no expert error) and run through
Tocsin's pipeline: the EVE output must show what a hospital's network shows — DNS through
the domain controllers and their forwarder, TLS with server names (and, for TLS 1.2,
certificates valid at the capture's date), HTTP, NTP, DHCP, RDP, IPP printing — and two
hours of the clinic must raise no alert at all. The night is quieter than the day, and a
seed gives the same bytes.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.detect.correlate.config import CorrelateConfig, build_correlator
from tocsin.exercise.background import guest, infra, web
from tocsin.exercise.proto import rdp
from tocsin.exercise.site import HOME_NET, Site, build_site
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.world import World
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

ACTIVITIES = (*web.ACTIVITIES, *infra.ACTIVITIES, *guest.ACTIVITIES)
WINDOWS = {"chu": 20, "ch": 30, "clinic": 60}  # minutes from 09:30, enough for rare events


@dataclass
class Run:
    site: Site
    start: float
    pcap: Path
    packets: int
    events: list[dict[str, Any]]
    alerts: list[dict[str, Any]]


def generate(path: Path, profile: str, start: str, minutes: float, seed: int = 5) -> Run:
    """`minutes` of the activities from `start` (local time), slice by slice as
    `exercise.generate` does."""
    rng = random.Random(seed)
    site = build_site(profile, rng)
    trace = Trace(seed)
    t0 = World.parse_start(start)
    w = World(site, trace, rng, t0, t0 + minutes * 60)
    packets = 0
    with path.open("wb") as f:
        t = t0
        while t < w.end:
            t1 = min(t + 60, w.end)
            for activity in ACTIVITIES:
                activity(w, t, t1)
            packets += trace.flush_before(t, f)
            t = t1
        packets += trace.write_to(f)
    return Run(site, t0, path, packets, [], [])


def analysed(run: Run) -> Run:
    eve = run.pcap.with_suffix(".eve.json")
    correlate = build_correlator(CorrelateConfig(home_net=HOME_NET))
    analyze([str(run.pcap)], eve, PipelineConfig(writer_thread=False), correlate=correlate)
    run.events = [json.loads(line) for line in eve.read_text().splitlines()]
    run.alerts = [e for e in run.events if e["event_type"] == "alert"]
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    tmp = tmp_path_factory.mktemp("background")
    return {
        p: analysed(generate(tmp / f"{p}.pcap", p, "2024-03-12T09:30", m))
        for p, m in WINDOWS.items()
    }


def of(run: Run, kind: str) -> list[dict[str, Any]]:
    return [e for e in run.events if e["event_type"] == kind]


@pytest.mark.parametrize("profile", sorted(WINDOWS))
def test_the_sensor_sees_a_hospitals_everyday_protocols(runs: dict[str, Run], profile: str) -> None:
    run = runs[profile]
    site = run.site
    kinds = Counter(e["event_type"] for e in run.events)
    for kind in ("dns", "tls", "http", "dhcp", "rdp", "flow"):
        assert kinds[kind] > 0, (kind, kinds)
    assert "anomaly" not in kinds
    assert run.alerts == []
    ntp = [f for f in of(run, "flow") if f["proto"] == "UDP" and f["dest_port"] == 123]
    assert {f["dest_ip"] for f in ntp} >= {site.one("dc").ip}
    # DNS: workstations ask their DCs, the DCs ask their forwarder
    dcs = {h.ip for h in site.role("dc")}
    dns = [e for e in of(run, "dns") if e["dns"]["type"] == "request"]
    assert any(e["dest_ip"] in dcs and e["src_ip"].startswith("10.20.0.") for e in dns)
    assert any(e["src_ip"] in dcs and e["dest_ip"] == site.resolver.ip for e in dns)
    assert any(e["src_ip"].startswith("172.20.") and e["dest_ip"] == site.resolver.ip for e in dns)
    # TLS: internet names, the patient record, guests' apps
    snis = {e["tls"].get("sni") for e in of(run, "tls")}
    assert f"dpi.{site.domain}" in snis
    assert snis & {s.name for s in site.internet} and snis & {s.name for s in site.guest_internet}
    # HTTP: Windows' own (BITS, CryptoAPI, NCSI) and IPP printing
    urls = {e["http"].get("url", "") for e in of(run, "http")}
    assert any(
        u.startswith(("/filestreamingservice/", "/msdownload/", "/connecttest")) for u in urls
    )
    dhcp_types = {e["dhcp"]["dhcp_type"] for e in of(run, "dhcp")}
    assert {"request", "ack"} <= dhcp_types
    cookies = {e["rdp"].get("cookie") for e in of(run, "rdp") if e["rdp"].get("cookie")}
    assert cookies


def test_tls_certificates_are_valid_on_the_capture_day(runs: dict[str, Run]) -> None:
    for run in runs.values():
        day = datetime.fromtimestamp(run.start, UTC).replace(tzinfo=None)
        certs = [e["tls"] for e in of(run, "tls") if "notbefore" in e["tls"]]
        assert certs
        internet = {s.name for s in run.site.internet}
        for c in certs:
            start = datetime.fromisoformat(c["notbefore"])
            assert start <= day < datetime.fromisoformat(c["notafter"]), c
            if c.get("sni") in internet:
                assert day - start < timedelta(days=70), c  # issued weeks before, not years


def test_printing_over_ipp_and_raw_9100(runs: dict[str, Run]) -> None:
    run = runs["chu"]
    ipp = [e for e in of(run, "http") if e["http"].get("url") == "/ipp/print"]
    assert ipp and all(e["dest_port"] == 631 and e["http"]["status"] == 200 for e in ipp)
    raw = [f for f in of(run, "flow") if f["dest_port"] == 9100]
    assert raw and all(f["flow"]["bytes_toserver"] > 1000 for f in raw)


def test_tshark_finds_nothing_malformed(runs: dict[str, Run]) -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed (apt install tshark)")
    for run in runs.values():
        args = ["tshark", "-n", "-r", str(run.pcap), "-o", "tcp.check_checksum:TRUE",
                "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
                "-Y", "_ws.malformed || _ws.expert.severity >= warning"]  # fmt: skip
        bad = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert bad.returncode == 0, bad.stderr
        assert bad.stdout.strip() == "", bad.stdout[:2000]


def test_two_hours_of_the_clinic_raise_no_alert(tmp_path: Path) -> None:
    run = analysed(generate(tmp_path / "clinic2h.pcap", "clinic", "2024-03-12T07:30", 120, 11))
    assert run.packets > 100_000
    assert run.alerts == [], [a["alert"]["signature"] for a in run.alerts]


def test_day_is_busier_than_night(tmp_path: Path) -> None:
    """Connections, not packets: a night's update download outweighs many page views."""
    night = analysed(generate(tmp_path / "night.pcap", "clinic", "2024-03-12T03:00", 30))
    day = analysed(generate(tmp_path / "day.pcap", "clinic", "2024-03-12T10:00", 30))
    tcp = [len([f for f in of(r, "flow") if f["proto"] == "TCP"]) for r in (night, day)]
    assert tcp[1] > 3 * tcp[0] > 0, tcp


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a.pcap", "clinic", "2024-03-12T10:00", 5, seed=3)
    b = generate(tmp_path / "b.pcap", "clinic", "2024-03-12T10:00", 5, seed=3)
    assert a.packets > 1000 and a.pcap.read_bytes() == b.pcap.read_bytes()


def test_periodic_schedules_are_stateless_across_slices() -> None:
    whole = list(infra.periodic(1000.0, 5000.0, 300.0, 17.0))
    sliced = [t for s in range(1000, 5000, 60) for t in infra.periodic(s, s + 60, 300.0, 17.0)]
    assert whole == sliced and all((t - 17.0) % 300.0 == 0 for t in whole)


def test_long_rdp_sessions_give_no_segment_tshark_misreads() -> None:
    """tshark 4.0 reads a 3389 segment starting with byte 3 as a TPKT, and one whose first
    byte has its low two bits clear as a fast-path PDU or CredSSP: a long desktop session
    must not have such a byte at any MSS boundary inside its encrypted records."""
    turns = rdp.session(random.Random(4), "jdupont", True, duration_s=1800)
    big = [t.data for t in turns if len(t.data) > 1460]
    assert len(big) > 50
    for data in big:
        firsts = [data[p] for p in range(1460, len(data), 1460)]
        assert all(b != 3 and b & 3 for b in firsts), data[:5]
