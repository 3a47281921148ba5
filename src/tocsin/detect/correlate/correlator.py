"""The correlator: per-host detectors fed by flow and app-layer events, in packet time.

`Correlator.flows(batch)` and `Correlator.event(ev)` dispatch to the detectors subscribed to
that event type; `advance(now_us)` runs the tick hooks whose boundary packet time crossed;
`finish(now_us)` runs every tick hook once more with `final=True`. Each returns the EVE
`alert` events raised, in order.

Every detector call is wrapped: an exception is counted under the detector's name
(`correlate.errors.<name>`) and the run goes on. A finding whose (detector, key) already
alerted within `realert_s` seconds is folded into that alert (counted, not written): one
alert per indicator and host per window, not one per packet.

Time is packet time: the same events in the same order give the same alerts.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tocsin.detect.correlate.alerts import to_alert
from tocsin.detect.correlate.netclass import HomeNet
from tocsin.detect.correlate.plugin import Context, Detector, Finding
from tocsin.model.events import AlertEvent
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import parse_eve_timestamp

_FOLD_CAP = 200_000  # (detector, key) pairs remembered for folding repeats
_HOLD_ROWS = 16_384  # flows held before dispatch, at most


def _concat(batches: list[FlowBatch]) -> list[FlowBatch]:
    """Consecutive batches with the same app-protocol names joined into one."""
    out: list[FlowBatch] = []
    run: list[FlowBatch] = []
    for b in batches:
        if run and b.app_names != run[0].app_names:
            out.append(_join(run))
            run = []
        run.append(b)
    if run:
        out.append(_join(run))
    return out


def _join(run: list[FlowBatch]) -> FlowBatch:
    if len(run) == 1:
        return run[0]
    cols = {
        f: np.concatenate([getattr(b, f) for b in run])
        for f in FlowBatch.__dataclass_fields__
        if f != "app_names"
    }
    return FlowBatch(**cols, app_names=run[0].app_names)


class Correlator:
    """Runs `detectors` over events; see the module docstring."""

    def __init__(
        self, detectors: Sequence[Detector], home: HomeNet, *, realert_s: int = 3600
    ) -> None:
        self.detectors = list(detectors)
        self.home = home
        self.realert_us = realert_s * 1_000_000
        self._by_type: dict[str, list[Detector]] = {}
        for d in self.detectors:
            for t in d.subscribes:
                self._by_type.setdefault(t, []).append(d)
        self._plan = {t: _plan(t, ds) for t, ds in self._by_type.items() if t != "flow"}
        self._flow_dets = self._by_type.get("flow", [])
        self._ticking = [d for d in self.detectors if d.tick_s > 0]
        self._next_tick: dict[str, int] = {}
        self._out: list[AlertEvent] = []
        self._held: list[FlowBatch] = []
        self._held_rows = 0
        self._last: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.now_us = 0
        self.alerts: dict[str, int] = {}
        self.folded: dict[str, int] = {}
        self.errors: dict[str, int] = {}
        self.events_in = 0
        self.flows_in = 0
        self._current: Detector | None = None
        self._ctx = Context(0, home, self._emit)

    def wants(self, event_type: str) -> bool:
        return event_type in self._by_type

    def keeps(self, ev: Any) -> bool:
        """Whether `events()` would show `ev` to a detector or let it move packet time: a
        worker process sends the correlator only these (see `runtime.workers`)."""
        plan = self._plan.get(_TAGS.get(type(ev)) or event_type(ev))
        if plan is None:
            return False
        preds, _, gated = plan
        if not gated:
            return True
        try:
            return any(p(ev) for p in preds)
        except Exception:  # a prefilter that cannot decide lets the event through
            return True

    # -- feeding --------------------------------------------------------------------------

    def flows(self, batch: FlowBatch) -> list[AlertEvent]:
        """Flows that ended: held until `flush()` (or until an event crosses a tick, or
        `_HOLD_ROWS` are held), so detectors see a few large batches rather than many small
        ones — the order of flows against ticks is kept, against events nearly."""
        if not self._flow_dets or batch.n == 0:
            return []
        self.flows_in += batch.n
        self._held.append(batch)
        self._held_rows += batch.n
        if self._held_rows >= _HOLD_ROWS:
            return self.flush()
        return []

    def flush(self) -> list[AlertEvent]:
        """Dispatch the flows held; call it before their arrays may change."""
        self.flush_held()
        return self._take()

    def _dispatch_flows(self, batch: FlowBatch) -> None:
        if not self._ticking:
            self._advance(int(batch.last_ts.max()))
            for d in self._flow_dets:
                self._call(d, d.on_flows, batch)
            return
        # Ticks fall between the flows whose time crossed them, whatever the batches'
        # sizes: the same flows in the same order give the same alerts.
        cm = np.maximum.accumulate(batch.last_ts)
        n = batch.n
        self._advance(int(cm[0]))
        start = 0
        while True:
            due = min(self._next_tick.values(), default=None)
            if due is None:
                break
            idx = int(np.searchsorted(cm, due, side="left"))
            if idx >= n:
                break
            if idx > start:
                part = batch.select(np.arange(start, idx))
                for d in self._flow_dets:
                    self._call(d, d.on_flows, part)
            self._advance(int(cm[idx]))
            start = idx
        part = batch if start == 0 else batch.select(np.arange(start, n))
        for d in self._flow_dets:
            self._call(d, d.on_flows, part)
        self._advance(int(cm[-1]))

    def event(self, ev: Any) -> list[AlertEvent]:
        return self.events((ev,))

    def events(self, evs: Sequence[Any]) -> list[AlertEvent]:
        """App-layer events, in order: each reaches the detectors subscribed to its type
        whose prefilter (if any) keeps it; returns the alerts raised."""
        plans = self._plan
        ctx = self._ctx
        for ev in evs:
            plan = plans.get(_TAGS.get(type(ev)) or event_type(ev))
            if plan is None:
                continue
            self.events_in += 1
            preds, hooks, gated = plan
            kept: list[bool] = []
            if preds:
                try:
                    kept = [bool(p(ev)) for p in preds]
                except Exception:  # a prefilter that cannot decide lets the event through
                    kept = [True] * len(preds)
                if gated and not any(kept):
                    continue  # no detector keeps it: it does not move packet time either
            ts = _event_us(ev)
            if ts is not None:
                if self._held and ts >= min(self._next_tick.values(), default=ts + 1):
                    self.flush_held()
                if ts > self.now_us:
                    self._advance(ts)
            for d, fn, k in hooks:
                if k >= 0 and not kept[k]:
                    continue
                self._current = d
                try:
                    fn(ev, ctx)
                except Exception:  # a detector bug must not stop the sensor: count it
                    name = d.info.name
                    self.errors[name] = self.errors.get(name, 0) + 1
            self._current = None
        return self._take()

    def advance(self, now_us: int) -> list[AlertEvent]:
        """Packet time is now `now_us` (never goes back): run due tick hooks."""
        self._advance(now_us)
        return self._take()

    def _advance(self, now_us: int) -> None:
        if len(self._next_tick) < len(self._ticking):  # the first time: first boundaries
            for d in self._ticking:
                step = d.tick_s * 1_000_000
                self._next_tick.setdefault(d.info.name, (now_us // step + 1) * step)
        if now_us <= self.now_us:
            return
        self.now_us = now_us
        for d in self._ticking:
            step = d.tick_s * 1_000_000
            nxt = self._next_tick[d.info.name]
            if now_us >= nxt:
                self._next_tick[d.info.name] = (now_us // step + 1) * step
                self._ctx.now_us = nxt
                self._call(d, d.on_tick)
        self._ctx.now_us = now_us

    def flush_held(self) -> None:
        held, self._held, self._held_rows = self._held, [], 0
        for batch in _concat(held):
            self._dispatch_flows(batch)

    def finish(self, now_us: int) -> list[AlertEvent]:
        self.flush_held()
        self._advance(now_us)
        self._ctx.final = True
        self._ctx.now_us = max(self.now_us, now_us)
        for d in self.detectors:
            self._call(d, d.on_tick)
        self._ctx.final = False
        return self._take()

    # -- internals ------------------------------------------------------------------------

    def _call(self, d: Detector, fn: Any, *args: Any) -> None:
        self._current = d
        try:
            fn(*args, self._ctx)
        except Exception:  # a detector bug must not stop the sensor: count it, go on
            name = d.info.name
            self.errors[name] = self.errors.get(name, 0) + 1
        finally:
            self._current = None

    def _emit(self, f: Finding) -> None:
        d = self._current
        if d is None:
            raise RuntimeError("a finding emitted outside a detector hook")
        name = d.info.name
        k = (name, f.key)
        last = self._last.get(k)
        if last is not None and 0 <= f.ts_us - last < self.realert_us:
            self.folded[name] = self.folded.get(name, 0) + 1
            return
        self._last[k] = f.ts_us
        self._last.move_to_end(k)
        if len(self._last) > _FOLD_CAP:
            self._last.popitem(last=False)
        self.alerts[name] = self.alerts.get(name, 0) + 1
        self._out.append(to_alert(d.info, f))

    def _take(self) -> list[AlertEvent]:
        out, self._out = self._out, []
        return out

    def counter_dict(self) -> dict[str, int]:
        c: dict[str, int] = {
            "correlate.detectors": len(self.detectors),
            "correlate.flows": self.flows_in,
            "correlate.events": self.events_in,
            "correlate.alerts": sum(self.alerts.values()),
            "correlate.folded": sum(self.folded.values()),
        }
        for name, n in self.errors.items():
            c[f"correlate.errors.{name}"] = n
        for d in self.detectors:
            for k, v in d.counters().items():
                c[f"correlate.{d.info.name}.{k}"] = v
        return c


_Hook = tuple[Detector, Any, int]  # detector, its bound on_event, index of its prefilter or -1


def _plan(
    kind: str, dets: list[Detector]
) -> tuple[tuple[Callable[[Any], bool], ...], tuple[_Hook, ...], bool]:
    """The detectors an event of type `kind` goes to, in order, each with the index of its
    prefilter for that type among the distinct ones (a predicate shared by several detectors
    runs once per event), and whether every one has a prefilter (then an event none keeps is
    dropped before its time is even read)."""
    preds: list[Callable[[Any], bool]] = []
    hooks: list[_Hook] = []
    for d in dets:
        p = d.prefilter.get(kind)
        if p is None:
            hooks.append((d, d.on_event, -1))
            continue
        if p not in preds:
            preds.append(p)
        hooks.append((d, d.on_event, preds.index(p)))
    return tuple(preds), tuple(hooks), all(k >= 0 for _, _, k in hooks)


def _event_us(ev: Any) -> int | None:
    ts = getattr(ev, "timestamp", None)
    return parse_eve_timestamp(ts) if isinstance(ts, str) else None


def event_type(ev: Any) -> str:
    """An event's type: the msgspec tag of a model record (a tagged `msgspec.Struct` has no
    attribute for its tag, the same for every instance: cached by class), or its
    `event_type` attribute."""
    cls = type(ev)
    t = _TAGS.get(cls)
    if t is not None:
        return t
    tag = getattr(getattr(cls, "__struct_config__", None), "tag", None)
    if isinstance(tag, str):
        _TAGS[cls] = tag
        return tag
    attr = getattr(ev, "event_type", None)
    return attr if isinstance(attr, str) else ""


_TAGS: dict[type, str] = {}
