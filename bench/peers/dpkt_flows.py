"""Peer: a plain dpkt loop building a bidirectional 5-tuple flow table.

    python bench/peers/dpkt_flows.py CAPTURE

For each packet: Ethernet (VLAN tags handled by dpkt) -> IPv4 / IPv6 -> TCP / UDP ports (0 for
other protocols and for non-first fragments). The key is the 5-tuple with the two endpoints in
a canonical order; each flow keeps packets and bytes per direction. Prints one JSON line:
{"packets", "flows", "non_ip", "malformed"}. No timeouts: every flow stays in the table.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dpkt

FlowKey = tuple[bytes, int, bytes, int, int]


def open_reader(f: Any) -> Any:
    try:
        return dpkt.pcap.Reader(f)
    except ValueError:
        f.seek(0)
        return dpkt.pcapng.Reader(f)


def main(path: str) -> int:
    table: dict[FlowKey, list[int]] = {}
    packets = non_ip = malformed = 0
    with open(path, "rb") as f:
        for _ts, buf in open_reader(f):
            packets += 1
            try:
                ip = dpkt.ethernet.Ethernet(buf).data
            except (dpkt.UnpackError, IndexError):
                malformed += 1
                continue
            if isinstance(ip, dpkt.ip.IP):
                proto = ip.p
            elif isinstance(ip, dpkt.ip6.IP6):
                proto = ip.nxt
            else:
                non_ip += 1
                continue
            l4 = ip.data
            sport = getattr(l4, "sport", 0) if isinstance(l4, dpkt.Packet) else 0
            dport = getattr(l4, "dport", 0) if isinstance(l4, dpkt.Packet) else 0
            a, b = (ip.src, sport), (ip.dst, dport)
            forward = a <= b
            key = (a[0], a[1], b[0], b[1], proto) if forward else (b[0], b[1], a[0], a[1], proto)
            counters = table.get(key)
            if counters is None:
                counters = table[key] = [0, 0, 0, 0]
            i = 0 if forward else 2
            counters[i] += 1
            counters[i + 1] += len(buf)
    result = {"packets": packets, "flows": len(table), "non_ip": non_ip, "malformed": malformed}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
