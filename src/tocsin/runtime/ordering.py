"""Putting a sub-batch's output in packet order for the EVE writer: ended flows, app-layer
events and signature alerts interleaved as the packets that caused them were seen, and alerts
given the counts of their flow as of their packet. Pure functions over the flow records and
events; the same whatever the batch size."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.detect.engine import alert_flow
from tocsin.flow.layout import FF_ALERTED
from tocsin.flow.table import FlowTable
from tocsin.model.events import AlertEvent


def in_order(
    ended: npt.NDArray[np.void] | None,
    events: list[tuple[int, Any]],
    closing: list[tuple[int, list[Any]]],
) -> list[Any]:
    """Writer items in packet order: `ended` flows (sorted by `end_idx`, the packet at which
    each ended), `events` as (packet index, event), and `closing`, each (row of `ended`,
    the events that flow's end raised). A flow that ended at packet i comes before the events
    of packet i; a flow's own closing events come just before it."""
    if not events and not closing:
        return [] if ended is None else [ended]
    if ended is None:
        return [[ev for _, ev in events]]
    ends = ended["end_idx"]
    cuts: list[tuple[int, int, int, list[Any]]] = []
    cut_at = np.searchsorted(ends, [i for i, _ in events], side="right").tolist()
    for k, (_, ev) in enumerate(events):
        cuts.append((cut_at[k], 0, k, [ev]))
    for row, evs in closing:
        cuts.append((row, 1, row, [ended_alert_flow(ev, ended[row]) for ev in evs]))
    cuts.sort(key=lambda c: (c[0], c[1], c[2]))
    items: list[Any] = []
    done = 0
    pending: list[Any] = []
    for cut, _, _, evs in cuts:
        if cut > done:
            if pending:
                items.append(pending)
                pending = []
            items.append(ended[done:cut])
            done = cut
        pending.extend(evs)
    if pending:
        items.append(pending)
    if done < ended.shape[0]:
        items.append(ended[done:])
    return items


def merge(events: list[tuple[int, Any]], alerts: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """App events and packet alerts in packet order (a packet's alerts first)."""
    if not events:
        return alerts
    both = [(i, 0, k, ev) for k, (i, ev) in enumerate(alerts)]
    both += [(i, 1, k, ev) for k, (i, ev) in enumerate(events)]
    both.sort(key=lambda x: (x[0], x[1], x[2]))
    return [(i, ev) for i, _, _, ev in both]


def mark_alerted(
    items: list[Any], chunks: list[npt.NDArray[np.void]], alerts: list[tuple[int, Any]]
) -> None:
    """Flows that ended in this sub-batch before detection ran: set their `alerted` flag."""
    fids = np.asarray([ev.flow_id for _, ev in alerts if ev.flow_id is not None], dtype=np.uint64)
    if fids.size == 0:
        return
    for arr in [*chunks, *(x for x in items if isinstance(x, np.ndarray))]:
        hit = np.isin(arr["flow_id"], fids)
        if hit.any():
            arr["fflags"][hit] |= FF_ALERTED


def with_alert_flows(
    events: list[tuple[int, Any]], t: FlowTable, wirelen: npt.NDArray[np.uint32]
) -> list[tuple[int, Any]]:
    """Signature alerts get `alert.flow` with the counts as of their packet: the flow
    record's counts at the end of the sub-batch, less the sub-batch's later packets of that
    flow (the same whatever the batch size). Alerts of flows that ended in the sub-batch keep
    none (their slot may hold another flow by now)."""
    out: list[tuple[int, Any]] = []
    fids, dirs = t.flow_id, t.direction
    for i, ev in events:
        if not isinstance(ev, AlertEvent) or ev.flow_id is None or ev.flow is not None:
            out.append((i, ev))
            continue
        s = int(t.slot[i])
        rec = t.fl[s] if s >= 0 else None
        if rec is None or int(rec["flow_id"]) != ev.flow_id:
            out.append((i, ev))
            continue
        later = fids[i + 1 :] == np.uint64(ev.flow_id)
        to_srv = later & (dirs[i + 1 :] == 0)
        to_cli = later & (dirs[i + 1 :] == 1)
        wl = wirelen[i + 1 :]
        pkts = (int(rec["pkts_ts"]) - int(to_srv.sum()), int(rec["pkts_tc"]) - int(to_cli.sum()))
        nbytes = (
            int(rec["bytes_ts"]) - int(wl[to_srv].sum()),
            int(rec["bytes_tc"]) - int(wl[to_cli].sum()),
        )
        out.append((i, msgspec.structs.replace(ev, flow=alert_flow(rec, pkts, nbytes))))
    return out


def ended_alert_flow(ev: Any, rec: np.void) -> Any:
    """An alert raised as its flow ended: the flow's final counts."""
    if not isinstance(ev, AlertEvent) or ev.flow_id is None or ev.flow is not None:
        return ev
    pkts = (int(rec["pkts_ts"]), int(rec["pkts_tc"]))
    nbytes = (int(rec["bytes_ts"]), int(rec["bytes_tc"]))
    return msgspec.structs.replace(ev, flow=alert_flow(rec, pkts, nbytes))
