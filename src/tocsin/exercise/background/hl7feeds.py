"""HL7 v2 over MLLP: the interface engine's feeds, the lab analysers, the bedside monitors.

Activities (`ACTIVITIES`, in this order, each adding the conversations starting in its slice):

- `interface_engine`: the admissions system (`ADT_GAM`) sends ADT (A01 admit, A04
  outpatient, A08 update, A03 discharge) to the engine (EAI), which forwards each to every
  system that keeps a patient list (RIS, pharmacy, theatre, lab system, patient record);
  the patient record (DPI) sends ORM orders, imaging ones forwarded to the RIS and lab ones
  to the lab system (SIL); the SIL sends ORU results (on the engine's second channel,
  `RESULTS_PORT`), forwarded to the DPI. The engine forwards 20-300 ms after it
  acknowledged. Rates scale with the site (per workstation) and the rhythm, never under
  `NIGHT_FLOOR` of the day's (emergencies, the labs).
- `lab_analysers`: each analyser's middleware opens a connection per run and sends the
  run's results (ORU^R01, one per sample) to the SIL.
- `bedside_monitors`: each monitor on the biomedical VLAN sends its patient's vital signs
  (ORU^R01) to its central station every 15-60 s, day and night, over a persistent
  connection (internal and periodic: `behaviour.beacon` does not score internal pairs).

Every message gets its ACK: AA, or a rare AE (`NACK_RATE`, never in runs). Long-lived
connections: the links of the engine are opened every `SESSION_S` (on a grid from the
capture's start), carry the messages of that period and close; a link idle for `IDLE_S`
is closed by its sender and reopened for the next message (the receiver's timeout). Each
period's messages are drawn when it opens, so an hour of a feed is one conversation.
Patients, doctors and values are made up (`proto.patients`, `proto.hl7`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence

from tocsin.exercise.background.imaging import local_time
from tocsin.exercise.proto import hl7
from tocsin.exercise.proto.hl7 import App, Spec
from tocsin.exercise.proto.patients import make_patient
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.turns import Turn, client, server
from tocsin.exercise.world import World

HL7_PORT = 2575
RESULTS_PORT = 6661  # the engine's inbound channel for the lab system's results
SESSION_S = 3600.0
IDLE_S = 300.0
NIGHT_FLOOR = 0.2
NACK_RATE = 0.0005
# messages an hour per workstation of the site, at full activity
ADT_RATE = 1.0
RAD_ORDER_RATE = 0.25
LAB_ORDER_RATE = 0.6
RESULT_RATE = 0.6
RUNS_PER_HOUR = 8.0  # analyser runs (connections) an hour at full activity
MONITOR_PERIODS = (15.0, 30.0, 30.0, 60.0)
_ADT_MIX = (("A08", 5), ("A04", 3), ("A01", 2), ("A03", 2))
_UNITS = ("REA", "USC", "SSPI", "URG", "CARDIO", "NEURO")

Item = tuple[float, Spec]


def _sessions(w: World, t0: float, t1: float) -> Iterator[tuple[float, float]]:
    """The periods [s0, s1) of long-lived links that open in [t0, t1)."""
    k = math.ceil((t0 - w.start) / SESSION_S - 1e-9)
    s = w.start + k * SESSION_S
    while s < t1:
        yield s, min(s + SESSION_S, w.end)
        s += SESSION_S


def _draw(w: World, rate: float, s0: float, s1: float, floor: float = NIGHT_FLOOR) -> list[float]:
    """Times of events happening `rate` an hour at full activity in [s0, s1), minute by
    minute (the rhythm moves within an hour), never under `floor` of the rate."""
    out: list[float] = []
    m = s0
    while m < s1:
        e = min(m + 60.0, s1)
        n = w.count(rate * max(w.activity(m), floor), m, e, rhythm=False)
        out += w.times(n, m, e)
        m = e
    return out


def _link(
    w: World,
    cli: Host,
    srv: Host,
    sport: int,
    sender: App,
    receiver: App,
    items: Sequence[Item],
    not_before: float,
    nack_rate: float = NACK_RATE,
) -> None:
    """`items` (time-sorted, none before `not_before`) from `cli` to `srv:sport`, each
    acknowledged, on as few MLLP connections as `IDLE_S` allows."""
    batch: list[Item] = []
    for item in items:
        if batch and item[0] - batch[-1][0] > IDLE_S:
            _connection(w, cli, srv, sport, sender, receiver, batch, nack_rate, not_before)
            batch = []
        batch.append(item)
    if batch:
        _connection(w, cli, srv, sport, sender, receiver, batch, nack_rate, not_before)


def _connection(
    w: World,
    cli: Host,
    srv: Host,
    sport: int,
    sender: App,
    receiver: App,
    items: Sequence[Item],
    nack_rate: float,
    not_before: float,
) -> None:
    """One MLLP connection opened just before its first message (never before
    `not_before`), carrying `items` and their ACKs, closed after the last."""
    rng = w.rng
    t_open = max(not_before, items[0][0] - rng.uniform(0.002, 0.02))
    turns: list[Turn] = []
    prev = t_open + 0.002  # the handshake
    base = rng.randrange(10**7, 10**8)
    for i, (t, spec) in enumerate(items):
        ctl = f"{sender.application[:3]}{base + i}"
        msg = hl7.message(rng, spec, sender, receiver, ctl, local_time(t))
        turns.append(client(hl7.frame(msg), max(0.0, t - prev)))
        latency = rng.uniform(0.004, 0.06)
        code = "AE" if nack_rate and rng.random() < nack_rate else "AA"
        ack = hl7.acknowledge(
            sender, receiver, hl7.trigger(spec), ctl, f"ACK{base + i}", local_time(t + latency),
            code, rng.randrange(8),
        )  # fmt: skip
        turns.append(server(hl7.frame(ack), latency))
        prev = t + latency
    w.trace.tcp(t_open, cli, w.ports.take(cli), srv, sport, turns, rtt_s=0.0004)


def _forwarded(w: World, items: Sequence[Item]) -> list[Item]:
    """`items` as the engine sends them on: 20-300 ms after it received each."""
    return [(t + w.rng.uniform(0.02, 0.3), spec) for t, spec in items]


def interface_engine(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    engine = site.one("hl7_engine")
    apps = {app: h for h, app in site.hl7_apps.items()}
    fac = site.netbios
    eai = App(site.hl7_apps[engine], fac)
    size = len(site.role("workstation"))
    gam, ris, dpi, sil = (
        apps.get("ADT_GAM"),
        apps.get("RIS"),
        site.one("dpi"),
        site.one("lab_system"),
    )
    for s0, s1 in _sessions(w, t0, t1):
        triggers = [t for t, _ in _ADT_MIX]
        weights = [n for _, n in _ADT_MIX]
        adt: list[Item] = [
            (t, hl7.Adt(rng.choices(triggers, weights)[0], make_patient(rng)))
            for t in _draw(w, ADT_RATE * size, s0, s1)
        ]
        rad: list[Item] = [
            (t, hl7.Order(make_patient(rng), "RAD"))
            for t in _draw(w, RAD_ORDER_RATE * size, s0, s1)
        ]
        lab: list[Item] = [
            (t, hl7.Order(make_patient(rng), "LAB"))
            for t in _draw(w, LAB_ORDER_RATE * size, s0, s1)
        ]
        results: list[Item] = [
            (t, hl7.Result(make_patient(rng), rng.randint(2, 8)))
            for t in _draw(w, RESULT_RATE * size, s0, s1)
        ]
        orders = sorted(rad + lab, key=lambda it: it[0])
        # inbound: admissions, orders, results
        if gam is not None:
            _link(w, gam, engine, HL7_PORT, App("ADT_GAM", fac), eai, adt, s0)
        _link(w, dpi, engine, HL7_PORT, App("DPI", fac), eai, orders, s0)
        _link(w, sil, engine, RESULTS_PORT, App(site.hl7_apps[sil], fac), eai, results, s0)
        # outbound: the engine's fan-out
        adt_out = adt if gam is not None else []
        for host, app in site.hl7_apps.items():
            if host in (engine, gam) or host in site.role("central_station"):
                continue
            feed = list(adt_out)
            if host is ris:
                feed += rad
            if host is sil:
                feed += lab
            feed.sort(key=lambda it: it[0])
            out = _forwarded(w, feed)
            _link(w, engine, host, HL7_PORT, eai, App(app, fac), out, s0)
        dpi_feed = sorted(adt_out + results, key=lambda it: it[0])
        _link(w, engine, dpi, HL7_PORT, eai, App("DPI", fac), _forwarded(w, dpi_feed), s0)


def lab_analysers(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    sil = site.one("lab_system")
    fac = site.netbios
    to = App(site.hl7_apps[sil], fac)
    for analyser in site.role("lab_analyser"):
        rate = RUNS_PER_HOUR * max(w.activity(t0), 0.4)
        for start in w.times(w.count(rate, t0, t1, rhythm=False), t0, t1):
            t = start
            items: list[Item] = []
            for _ in range(rng.randint(1, 6)):
                t += rng.uniform(0.05, 0.8)
                items.append((t, hl7.Result(make_patient(rng), rng.randint(1, 4))))
            sender = App(analyser.name, fac)
            _connection(w, analyser, sil, HL7_PORT, sender, to, items, NACK_RATE, start)


def bedside_monitors(w: World, t0: float, t1: float) -> None:
    site, rng = w.site, w.rng
    stations = site.role("central_station")
    if not stations:
        return
    fac = site.netbios
    for s0, s1 in _sessions(w, t0, t1):
        for i, monitor in enumerate(site.role("monitor")):
            station = stations[i % len(stations)]
            period = MONITOR_PERIODS[i % len(MONITOR_PERIODS)]
            bed = f"{_UNITS[i % len(_UNITS)]}^{100 + i:03d}^1"
            # the bed's patient stays the same all capture long (drawn from the bed and day)
            patient = make_patient(random.Random(f"{monitor.ip}/{int(w.start) // 86400}"))
            vitals = hl7.Vitals(patient, bed)
            t = s0 + rng.uniform(0.5, period)
            items: list[Item] = []
            while t < s1:
                items.append((t, vitals))
                t += period + rng.uniform(-0.2, 0.2)
            sender = App(monitor.name, fac)
            receiver = App(site.hl7_apps[station], fac)
            _connection(w, monitor, station, HL7_PORT, sender, receiver, items, 0.0, s0)


ACTIVITIES = (interface_engine, lab_analysers, bedside_monitors)
