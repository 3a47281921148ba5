"""Live capture from the operator's side: `tocsin sensor --iface` on one end of a veth pair
(inside its own network namespace, as a SPAN port would be: no address, IPv6 off), the
frames of a capture sent into the other end, and the sensor's flows and protocol events are
the ones `tocsin analyze` finds in the file; the kernel's counters are in the stats.

Needs root and `ip` (network namespaces, veth): skipped otherwise, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dpkt
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "web-browsing.pcap"
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
NS = f"tocsin-live-{os.getpid()}"
OUT, IN = f"tlo{os.getpid() % 100000}", f"tli{os.getpid() % 100000}"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def veth() -> Iterator[tuple[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("live capture tests need root (network namespaces, AF_PACKET)")
    if shutil.which("ip") is None:
        pytest.skip("live capture tests need iproute2's ip")
    if _ip("netns", "add", NS).returncode != 0:
        pytest.skip("cannot create a network namespace here")
    try:
        r = _ip("link", "add", OUT, "type", "veth", "peer", "name", IN, "netns", NS)
        if r.returncode != 0:
            pytest.skip(f"cannot create a veth pair: {r.stderr.strip()}")
        for cmd in (
            ["sysctl", "-qw", f"net.ipv6.conf.{OUT}.disable_ipv6=1"],
            ["ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{IN}.disable_ipv6=1"],
            ["ip", "link", "set", OUT, "mtu", "9000", "up"],
            ["ip", "netns", "exec", NS, "ip", "link", "set", IN, "mtu", "9000", "up"],
        ):
            subprocess.run(cmd, check=True, capture_output=True)
        yield OUT, IN
    finally:
        _ip("link", "del", OUT)
        _ip("netns", "del", NS)


def _replay(iface: str, pcap: Path) -> int:
    """Send every frame of `pcap` out of `iface`, in order; returns how many."""
    n = 0
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((iface, 0))
        with pcap.open("rb") as f:
            for _, frame in dpkt.pcap.Reader(f):
                s.send(frame)
                n += 1
                if n % 64 == 0:
                    time.sleep(0.001)  # a steady rate, well within what the ring holds
    return n


def _flows(eve: Path) -> tuple[Counter[tuple[object, ...]], Counter[str]]:
    flows: Counter[tuple[object, ...]] = Counter()
    events: Counter[str] = Counter()
    for line in eve.read_text().splitlines():
        ev = json.loads(line)
        t = ev["event_type"]
        events[t] += 1
        if t == "flow":
            f = ev["flow"]
            flows[(ev["src_ip"], ev.get("src_port"), ev["dest_ip"], ev.get("dest_port"),
                   ev["proto"], f["pkts_toserver"], f["pkts_toclient"],
                   f["bytes_toserver"], f["bytes_toclient"])] += 1  # fmt: skip
    return flows, events


def _analyzed(tmp_path: Path) -> tuple[Counter[tuple[object, ...]], Counter[str]]:
    """What `tocsin analyze` finds in the sample file: its flows and events by type."""
    ref = tmp_path / "file.json"
    subprocess.run(
        [TOCSIN, "analyze", str(SAMPLE), "--eve", str(ref), "--no-progress", "--quiet"],
        check=True,
    )
    return _flows(ref)


def _watch(veth: tuple[str, str], eve: Path, summary: Path, *extra: str) -> int:
    """Run the sensor on the namespace's end while the sample is sent into the other end;
    returns the frames sent."""
    out, into = veth
    sensor = subprocess.Popen(
        ["ip", "netns", "exec", NS, TOCSIN, "sensor", "--iface", into, "--eve", str(eve),
         "--summary-json", str(summary), "--ring-mb", "16", "--no-shed", *extra],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert sensor.stderr is not None
        line = sensor.stderr.readline()
        assert "watching" in line, line + sensor.stderr.read()
        sent = _replay(out, SAMPLE)
        time.sleep(1.0)  # the last block is retired within 100 ms
    finally:
        sensor.send_signal(signal.SIGTERM)
        rc = sensor.wait(timeout=60)
    assert rc == 0
    return sent


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_capture_sent_into_the_interface_gives_what_analyze_finds(
    workers: str, veth: tuple[str, str], tmp_path: Path
) -> None:
    """With 2 workers, each has its own ring in one FANOUT group: the kernel gives both
    directions of a flow to the same one, and the main process writes all of it."""
    eve, summary = tmp_path / "live.json", tmp_path / "summary.json"
    sent = _watch(veth, eve, summary, "--workers", workers)
    live_flows, live_events = _flows(eve)
    file_flows, file_events = _analyzed(tmp_path)
    assert live_flows == file_flows
    for t in ("http", "dns", "tls", "alert"):
        assert live_events[t] == file_events[t], t
    s = json.loads(summary.read_text())
    assert s["packets"] == sent
    assert s["counters"]["capture.kernel_packets"] >= sent
    assert s["counters"]["capture.kernel_drops"] == 0
    stats = [json.loads(x) for x in eve.read_text().splitlines() if '"event_type":"stats"' in x]
    assert stats and "kernel_drops" in stats[-1]["stats"]["capture"]


def test_a_bpf_filter_keeps_what_it_accepts_only(veth: tuple[str, str], tmp_path: Path) -> None:
    eve, summary = tmp_path / "live.json", tmp_path / "summary.json"
    _watch(veth, eve, summary, "--bpf", "not tcp port 55083")
    live_flows, live_events = _flows(eve)
    file_flows, file_events = _analyzed(tmp_path)
    kept = Counter({k: n for k, n in file_flows.items() if 55083 not in (k[1], k[3])})
    assert live_flows == kept and sum(kept.values()) == sum(file_flows.values()) - 1
    assert 0 < live_events["http"] < file_events["http"]


def test_a_bad_filter_is_libpcaps_message_and_exit_2() -> None:
    r = subprocess.run(
        [TOCSIN, "sensor", "--iface", "lo", "--bpf", "port banana", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip() == "tocsin: BPF filter 'port banana': unknown port 'banana'"


def test_an_interface_that_does_not_exist_is_one_line_and_exit_2() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: without it the error is about permissions (also tested)")
    r = subprocess.run(
        [TOCSIN, "sensor", "--iface", "nosuch0", "--duration", "1"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip() == "tocsin: nosuch0: cannot capture: No such device"
