"""Peer: NFStream flow metering, counting the flows it exports.

    python bench/peers/nfstream_flows.py CAPTURE [--dissections N] [--meters N]

Defaults: statistical_analysis=False, n_dissections=0 (no nDPI: flows only), n_meters=1 (one
metering process, plus this consumer process). Prints one JSON line:
{"packets" (sum of bidirectional_packets), "flows", "dissections", "meters"}.
"""

from __future__ import annotations

import argparse
import json
import sys

from nfstream import NFStreamer


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("capture")
    ap.add_argument("--dissections", type=int, default=0)
    ap.add_argument("--meters", type=int, default=1)
    args = ap.parse_args(argv)
    streamer = NFStreamer(
        source=args.capture,
        statistical_analysis=False,
        n_dissections=args.dissections,
        n_meters=args.meters,
    )
    flows = packets = 0
    for flow in streamer:
        flows += 1
        packets += flow.bidirectional_packets
    result = {
        "packets": packets,
        "flows": flows,
        "dissections": args.dissections,
        "meters": args.meters,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
