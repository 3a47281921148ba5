"""Workers' counters rolled up into the one `stats` event a sensor writes.

Counters add up across workers (packets, flows, drops, memory in use...), except the few
that are a maximum or the same in every worker, and the average packet size, which is
recomputed. `flow.active_max` is the sum of the workers' peaks (an upper bound of the
sensor's).
"""

from __future__ import annotations

Counters = dict[str, int]

# the largest worker's value, not the sum
_MAX = frozenset(["decoder.max_pkt_size", "uptime", "flow.emergency", "detect.rules", "shed.level"])


def roll_up(parts: list[tuple[Counters, Counters]]) -> tuple[Counters, Counters]:
    """(Suricata-named, Tocsin-only) counters of all workers from each worker's."""
    flat: Counters = {}
    extra: Counters = {}
    for f, e in parts:
        for into, src in ((flat, f), (extra, e)):
            for name, v in src.items():
                if name in _MAX:
                    into[name] = max(into.get(name, v), v)
                else:
                    into[name] = into.get(name, 0) + v
    pkts = flat.get("decoder.pkts", 0)
    if "decoder.avg_pkt_size" in flat:
        flat["decoder.avg_pkt_size"] = flat["decoder.bytes"] // pkts if pkts else 0
    return flat, extra
