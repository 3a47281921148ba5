"""A stand-in for `tocsin analyze`, to test the harness before the real CLI exists.

    python bench/standin_tocsin.py analyze CAPTURE... --eve FILE --summary-json FILE [--no-progress]

It only walks the pcap record headers (no decode, no flows) and writes the summary JSON with
the keys the harness reads: packets, wall_s, startup_s, steady_pps (no `flows`, on purpose, to
exercise the harness's handling of a missing key). Its numbers mean nothing about Tocsin.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time

T_START = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["analyze"])
    ap.add_argument("captures", nargs="+")
    ap.add_argument("--eve", required=True)
    ap.add_argument("--summary-json", required=True)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    packets, first_at = 0, None
    rec = struct.Struct("<IIII")
    for path in args.captures:
        with open(path, "rb") as f:
            f.seek(24)
            while len(hdr := f.read(16)) == 16:
                f.seek(rec.unpack(hdr)[2], 1)
                packets += 1
                if first_at is None:
                    first_at = time.perf_counter()
    with open(args.eve, "w") as eve:
        eve.write(json.dumps({"event_type": "stats", "packets": packets}) + "\n")
    end = time.perf_counter()
    startup = (first_at or end) - T_START
    summary = {
        "packets": packets,
        "wall_s": end - T_START,
        "startup_s": startup,
        "steady_pps": packets / max(end - (first_at or end), 1e-9),
    }
    with open(args.summary_json, "w") as f:
        json.dump(summary, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
