"""Speed of `tocsin exercise generate` end to end, per profile (the issue's target: the
generator is a benchmark source at >= 200,000 packets/s).

    python bench/exercise_gen.py [--hours 1] [--start 2024-03-12T09:00] [--scenario campaign]
                                 [--out-dir /dev/shm/tocsin-exercise] [--repeat 2]

Runs the installed `tocsin exercise generate` for each profile (chu, ch, clinic) over the
same window and seed, best of `--repeat`, and writes a table (packets, bytes, seconds,
packets/s, MB/s, peak RSS) to `bench/results/<date>-exercise.md`. The output goes to
`--out-dir` (a tmpfs by default, so the disk's speed is not what is measured) and is deleted
after each run. There is no peer: no other tool writes a hospital's traffic.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import measure

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TOCSIN = str(Path(sys.executable).with_name("tocsin"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--start", default="2024-03-12T09:00")
    ap.add_argument("--scenario", default="campaign")
    ap.add_argument("--profiles", default="chu,ch,clinic")
    ap.add_argument("--out-dir", default="/dev/shm/tocsin-exercise")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    hours = max(args.hours, 1.6) if args.scenario == "campaign" else args.hours
    rows = []
    for profile in args.profiles.split(","):
        best = None
        for _ in range(args.repeat):
            pcap = out_dir / f"{profile}.pcap"
            cmd = [TOCSIN, "exercise", "generate", "--profile", profile, "--hours", str(hours),
                   "--start", args.start, "--seed", str(args.seed), "-o", str(pcap)]  # fmt: skip
            if args.scenario:
                cmd += ["--scenario", args.scenario]
            m = measure.run(cmd, out_dir / "gen.out", out_dir / "gen.err", 3600)
            text = (out_dir / "gen.out").read_text()
            found = re.search(r"Wrote .*?: ([\d,]+) packets", text)
            if m.returncode != 0 or found is None:
                raise SystemExit(f"{profile}: {(out_dir / 'gen.err').read_text()[-500:]}")
            size = pcap.stat().st_size
            packets = int(found.group(1).replace(",", ""))
            pcap.unlink()
            pcap.with_name(f"{profile}.truth.json").unlink(missing_ok=True)
            row = (profile, packets, size, m.wall_s, m.peak_rss_mb)
            print(f"{profile:7} {packets:>12,} packets {size / 1e9:6.2f} GB {m.wall_s:7.2f} s "
                  f"{packets / m.wall_s:>10,.0f} pkt/s", file=sys.stderr)  # fmt: skip
            if best is None or row[3] < best[3]:
                best = row
        assert best is not None
        rows.append(best)
    shutil.rmtree(out_dir, ignore_errors=True)
    stamp = time.strftime("%Y-%m-%d-%H%M")
    lines = [
        f"# `tocsin exercise generate` — {stamp}",
        "",
        f"{hours:g} h from {args.start} (Paris), scenario `{args.scenario or 'none'}`, seed "
        f"{args.seed}, best of {args.repeat}, output on {args.out_dir}. Whole process (start-up "
        "and numba cache load included). Target: >= 200,000 packets/s.",
        "",
        "| profile | packets | GB | wall s | packets/s | MB/s | peak RSS MB | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for profile, packets, size, wall, rss in rows:
        pps = packets / wall
        lines.append(
            f"| {profile} | {packets:,} | {size / 1e9:.2f} | {wall:.2f} | {pps:,.0f} | "
            f"{size / wall / 1e6:,.0f} | {rss:,.0f} | {'PASS' if pps >= 200_000 else 'FAIL'} |"
        )
    out = RESULTS / f"{stamp}-exercise.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
