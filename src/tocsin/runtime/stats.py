"""Counters in Suricata's `stats` layout: dotted names become nested objects."""

from __future__ import annotations

from typing import Any

from tocsin.model.events import Event, SensorEvent, SensorInfo, StatsEvent
from tocsin.output.timefmt import eve_timestamp


def stats_tree(flat: dict[str, int]) -> dict[str, Any]:
    """`{"decoder.event.ipv4.trunc_pkt": 3}` → `{"decoder": {"event": {"ipv4": {...}}}}`.

    Keys are sorted so the output is stable. A name that is both a leaf and a prefix of
    another name is a programming error (ValueError).
    """
    tree: dict[str, Any] = {}
    for name in sorted(flat):
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"stats name {name!r} extends the counter {part!r}")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ValueError(f"stats name {name!r} is also a group")
        node[parts[-1]] = flat[name]
    return tree


def stats_events(now: int, flat: dict[str, int], extra: dict[str, int]) -> list[Event]:
    """What a stats point writes: the `stats` event (Suricata-named counters) and a `sensor`
    event with the counters Suricata has no name for."""
    ts = eve_timestamp(now)
    info = SensorInfo(kind="counters", message="counters Suricata has no name for", counters=extra)
    return [
        StatsEvent(timestamp=ts, stats=stats_tree(flat)),
        SensorEvent(timestamp=ts, sensor=info),
    ]
