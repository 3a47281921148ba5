"""`tocsin analyze --workers N` against `--workers 1`, in one run (the issue's target: the
2-worker/1-worker ratio >= 1.8 on this 2-core machine).

    python bench/workers.py [--captures mixed-slice,flood-slice,mixed] [--workers 1,2]
                            [--repeat 2] [--detectors/--no-detectors]

For each capture, runs the installed `tocsin analyze` with each worker count, alternating
the counts run after run (`--repeat` rounds, each row keeps its fastest), every parser and
— by default — every correlator detector on, EVE to a tmpfs (`/dev/shm`). Checks that every
count wrote the same number of events (less the stats), and writes packets/s, the ratio to
one worker, CPU time and peak memory (the process tree's) to `bench/results/<date>-workers.md`.
Captures: `bench/work/*-slice-1000000.pcap` and `bench/data/*.pcap` (`make_captures.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import measure

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TOCSIN = str(Path(sys.executable).with_name("tocsin"))
CAPTURES = {
    "mixed-slice": BENCH / "work" / "mixed-slice-1000000.pcap",
    "flood-slice": BENCH / "work" / "flood-slice-1000000.pcap",
    "mixed": BENCH / "data" / "mixed.pcap",
    "flood": BENCH / "data" / "flood.pcap",
}


def _no_counters(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k not in ("stats", "sensor")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--captures", default="mixed-slice,flood-slice,mixed")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--detectors", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--eve-dir", default="/dev/shm")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    work = Path(args.eve_dir)
    rows: list[str] = []
    load0 = os.getloadavg()
    for name in args.captures.split(","):
        path = CAPTURES[name]
        if not path.exists():
            sys.exit(f"{path}: missing (python bench/make_captures.py; bench/run.py makes slices)")
        best: dict[int, measure.Measured] = {}
        summaries: dict[int, dict[str, Any]] = {}
        for _ in range(args.repeat):
            for n in counts:
                eve = work / f"tocsin-workers-{name}-{n}.eve.json"
                summary = work / f"tocsin-workers-{name}-{n}.summary.json"
                cmd = [TOCSIN, "analyze", str(path), "--eve", str(eve), "--workers", str(n)]
                cmd += ["--summary-json", str(summary), "--no-progress", "-q"]
                if not args.detectors:
                    cmd.append("--no-detectors")
                m = measure.run(cmd, work / "w.out", work / "w.err", 3600)
                if m.returncode != 0:
                    sys.exit(f"{' '.join(cmd)}: exit {m.returncode}: {m.stderr.read_text()}")
                print(f"{name:12} workers={n}  {m.wall_s:7.2f} s", file=sys.stderr)
                if n not in best or m.wall_s < best[n].wall_s:
                    best[n] = m
                summaries[n] = json.loads(summary.read_text())
                eve.unlink(missing_ok=True)
                summary.unlink(missing_ok=True)
        base = best[counts[0]].wall_s
        ref = summaries[counts[0]]
        for n in counts:
            s, m = summaries[n], best[n]
            same = _no_counters(s["events"]) == _no_counters(ref["events"])
            pkts = int(s["packets"])
            rows.append(
                f"| {name} | {n} | {pkts:,} | {m.wall_s:.2f} | {pkts / m.wall_s:,.0f} | "
                f"{base / m.wall_s:.2f} | {m.user_s + m.sys_s:.1f} | {m.peak_rss_mb:,.0f} | "
                f"{'yes' if same else 'NO'} |"
            )
    load1 = os.getloadavg()
    stamp = time.strftime("%Y-%m-%d-%H%M")
    lines = [
        f"# tocsin analyze --workers ({stamp})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {load0[0]:.2f} at start, {load1[0]:.2f} at end. Detectors "
        f"{'on' if args.detectors else 'off'}; best of {args.repeat}, counts alternated.",
        "",
        "| capture | workers | packets | wall s | packets/s | ratio to 1 | CPU s | peak MB "
        "| same events |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Target: ratio >= 1.8 with 2 workers on this 2-core machine.",
    ]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{stamp}-workers.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"written: {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
