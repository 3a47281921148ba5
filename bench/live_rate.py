"""The highest rate `tocsin sensor` takes without a drop, by replaying a capture into a veth.

    sudo python bench/live_rate.py [--capture bench/work/mixed-slice-300000.pcap]
                                   [--rates 50000,100000,150000,200000,300000] [--ring-mb 32]

Builds a network namespace holding one end of a veth pair (no address, IPv6 off, MTU 9000),
runs `tocsin sensor` there (every parser and detector on, as deployed), sends the capture
into the other end with `tcpreplay --pps RATE` (Debian: tcpreplay), and reads the sensor's
summary: packets it processed, and the kernel's own counters of packets seen and dropped
because the ring was full. One run per rate, in order; the table goes to
`bench/results/<date>-live.md`. Needs root; the namespace and the veth are removed at the
end. `--workers N`: N worker processes, each with its own ring in one FANOUT group.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
NS, OUT, IN = "tocsin-bench-live", "tbo0", "tbi0"


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


def setup() -> None:
    sh("ip", "netns", "add", NS)
    sh("ip", "link", "add", OUT, "type", "veth", "peer", "name", IN, "netns", NS)
    sh("sysctl", "-qw", f"net.ipv6.conf.{OUT}.disable_ipv6=1")
    sh("ip", "netns", "exec", NS, "sysctl", "-qw", f"net.ipv6.conf.{IN}.disable_ipv6=1")
    sh("ip", "link", "set", OUT, "mtu", "9000", "up")
    sh("ip", "netns", "exec", NS, "ip", "link", "set", IN, "mtu", "9000", "up")


def teardown() -> None:
    sh("ip", "link", "del", OUT, check=False)
    sh("ip", "netns", "del", NS, check=False)


def one_rate(capture: Path, rate: int, work: Path, ring_mb: int, workers: int) -> dict[str, float]:
    summary = work / f"summary-{rate}.json"
    sensor = subprocess.Popen(
        ["ip", "netns", "exec", NS, TOCSIN, "sensor", "--iface", IN, "--eve", "/dev/null",
         "--summary-json", str(summary), "--ring-mb", str(ring_mb), "--quiet",
         "--workers", str(workers), "--no-shed"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    time.sleep(3.0)  # start-up: imports, kernels, detectors
    t0 = time.monotonic()
    rep = sh("tcpreplay", "-q", "--pps", str(rate), "-i", OUT, str(capture), check=False)
    took = time.monotonic() - t0
    time.sleep(3.0)
    sensor.send_signal(signal.SIGTERM)
    sensor.wait(timeout=600)
    s = json.loads(summary.read_text())
    c = s["counters"]
    sent = next((int(x.split()[1]) for x in rep.stdout.splitlines() if "Actual:" in x), -1)
    # what tcpreplay reached ("Rated: ... pps"): above its own ceiling the asked rate is not
    rated = next((float(x.split()[-2]) for x in rep.stdout.splitlines() if "Rated:" in x), 0.0)
    return {
        "rate": rate,
        "achieved": rated,
        "sent": sent,
        "replay_s": took,
        "processed": s["packets"],
        "kernel_packets": c.get("capture.kernel_packets", 0),
        "kernel_drops": c.get("capture.kernel_drops", 0),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--capture", type=Path, default=BENCH / "work" / "mixed-slice-300000.pcap")
    ap.add_argument("--rates", default="50000,100000,150000,200000,300000")
    ap.add_argument("--ring-mb", type=int, default=32, help="small: a sustained rate, not a burst")
    ap.add_argument("--workers", type=int, default=1, help="sensor worker processes (FANOUT)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("live_rate needs root (network namespaces, AF_PACKET)")
    if not args.capture.is_file():
        raise SystemExit(f"{args.capture}: not found (bench/run.py cuts the slices)")
    work = Path("/dev/shm/tocsin-live-rate")
    work.mkdir(exist_ok=True)
    teardown()
    setup()
    rows = []
    try:
        for rate in (int(x) for x in args.rates.split(",")):
            r = one_rate(args.capture, rate, work, args.ring_mb, args.workers)
            print(r, file=sys.stderr, flush=True)
            rows.append(r)
    finally:
        teardown()
    # with workers the FANOUT group reassembles IP fragments before sharing packets out
    # (PACKET_FANOUT_FLAG_DEFRAG): the kernel sees a few packets fewer than were sent
    lossless = [
        r["achieved"]
        for r in rows
        if r["kernel_drops"] == 0 and r["processed"] >= r["kernel_packets"] > 0
    ]
    stamp = time.strftime("%Y-%m-%d-%H%M")
    lines = [
        f"# `tocsin sensor` lossless rate — {stamp}",
        "",
        f"`{args.capture.name}` replayed with `tcpreplay --pps` into a veth; the sensor in a "
        f"network namespace with a {args.ring_mb} MB ring per worker (small, so a burst cannot "
        f"hide in it), every parser and detector on, {args.workers} worker(s), no shedding.",
        "",
        "| asked (pkt/s) | achieved (pkt/s) | sent | processed | kernel seen | kernel drops |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['rate']:,} | {r['achieved']:,.0f} | {r['sent']:,} | {r['processed']:,} | "
            f"{r['kernel_packets']:,} | {r['kernel_drops']:,} |"
        )
    best = max(lossless, default=None)
    lines += ["", f"Highest rate reached without a drop: {best:,.0f} packets/s." if best else
              "Every rate dropped packets."]  # fmt: skip
    out = BENCH / "results" / f"{stamp}-live-{args.capture.stem}-w{args.workers}.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
