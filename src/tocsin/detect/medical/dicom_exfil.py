"""Bulk retrieval of studies to a destination never seen before (`medical.dicom_bulk_retrieve`).

Reads `dicom` events. A C-MOVE sends the matching images to a third AE (`move_destination`),
a C-GET back to the requestor itself: both are how an archive is emptied. The detector learns
which destinations receive retrieves — the move destination AE title for C-MOVE, the
requestor's (host, calling AE) for C-GET — during a learning period of `learn_s` seconds of
packet time (default one day from the first DICOM event, so a short capture is all learning
and never alerts). A destination first seen after that is *new* for `new_for_s` (one day).

sid 8_000_420: within `window_s` (3600 s), a new destination received `min_retrieves` (20)
retrieve commands (roughly, studies) or `min_instances` (2000) images (sub-operations
completed + failed + warning). Key the destination. Evidence: destination, its host when
an association to that AE was seen, requestors and archives (AE titles), command and
instance counts, query levels, statuses, first/last seen, thresholds.

Near misses it ignores: any volume to a destination known from the learning period (routine
prefetch to reading workstations), a new destination retrieving a few studies, refused
C-MOVEs (e.g. "move destination unknown": nothing moved, though they count as commands).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding, event_us
from tocsin.detect.correlate.state import BoundedMap
from tocsin.detect.medical._learn import DAY_S, LearningClock
from tocsin.model.dicom import DicomCommand, DicomEvent
from tocsin.output.timefmt import eve_timestamp

SID_BULK = 8_000_420


@dataclass(frozen=True, slots=True)
class DicomBulkRetrieveConfig:
    learn_s: int = DAY_S  # learning period from the first DICOM event (packet time)
    new_for_s: int = DAY_S  # a destination first seen after learning stays "new" this long
    min_retrieves: int = 20  # C-MOVE/C-GET commands to one new destination ...
    min_instances: int = 2000  # ... or images (sub-operations) ...
    window_s: int = 3600  # ... within this window
    max_destinations: int = 50_000


@dataclass(slots=True)
class _Dest:
    first_ts: int
    last_ts: int
    commands: int = 0
    instances: int = 0
    refused: int = 0
    requestors: set[str] = field(default_factory=set)
    archives: set[str] = field(default_factory=set)
    levels: dict[str, int] = field(default_factory=dict)
    alerted: bool = False


def instances(cmd: DicomCommand) -> int:
    so = cmd.sub_operations
    if so is None:
        return cmd.pending_responses if cmd.command == "C-GET" else 0
    return (so.completed or 0) + (so.failed or 0) + (so.warning or 0)


class DicomBulkRetrieve(Detector):
    """Many studies moved (C-MOVE) or fetched (C-GET) to a destination never seen before."""

    info = DetectorInfo(
        name="medical.dicom_bulk_retrieve",
        signature_id=SID_BULK,
        signature="TOCSIN MEDICAL DICOM bulk retrieve to a new destination",
        category="Attempted Information Leak",
        technique="T1213",
        tactic="TA0009",
        severity=1,
        confidence="medium",
        description="Many C-MOVE/C-GET retrieves (studies, images) to an AE title or host "
        "first seen after the learning period.",
    )
    subscribes = frozenset({"dicom"})
    Config = DicomBulkRetrieveConfig

    def __init__(self, config: DicomBulkRetrieveConfig | None = None) -> None:
        super().__init__(config or DicomBulkRetrieveConfig())
        self.cfg: DicomBulkRetrieveConfig = self.config
        cap = self.cfg.max_destinations
        self.clock = LearningClock(self.cfg.learn_s)
        self.first_seen: BoundedMap[str, int] = BoundedMap(cap)  # destination -> first seen
        self.windows: BoundedMap[str, _Dest] = BoundedMap(cap)
        self.ae_hosts: BoundedMap[str, str] = BoundedMap(cap)  # called AE -> its host

    def on_event(self, ev: DicomEvent, ctx: Context) -> None:
        d = ev.dicom
        ts = event_us(ev, ctx.now_us)
        learning = self.clock.learning(ts)
        if d.type == "association" and d.called_ae:
            self.ae_hosts.pop(d.called_ae)
            self.ae_hosts.get_or_create(d.called_ae, lambda: ev.dest_ip)
            return
        cmd = d.command
        if d.type != "command" or cmd is None or cmd.issuer != "requestor":
            return
        if cmd.command == "C-MOVE" and cmd.move_destination:
            dest = f"AE {cmd.move_destination}"
        elif cmd.command == "C-GET":
            dest = f"{ev.src_ip} AE {d.calling_ae or '-'}"
        else:
            return
        first = self.first_seen.get_or_create(dest, lambda: ts)
        if learning or first < (self.clock.end_us() or 0):
            return
        if ts - first > self.cfg.new_for_s * 1_000_000:
            return
        window = self.cfg.window_s * 1_000_000
        w = self.windows.get_or_create(dest, partial(_Dest, ts, ts))
        if ts - w.first_ts > window:
            self.windows.pop(dest)
            w = self.windows.get_or_create(dest, partial(_Dest, ts, ts))
        w.last_ts = max(w.last_ts, ts)
        w.commands += 1
        w.instances += instances(cmd)
        if cmd.status_category == "failure":
            w.refused += 1
        if len(w.requestors) < 20:
            w.requestors.add(f"{ev.src_ip} AE {d.calling_ae or '-'}")
        if d.called_ae and len(w.archives) < 20:
            w.archives.add(d.called_ae)
        lvl = cmd.query_level or "-"
        w.levels[lvl] = w.levels.get(lvl, 0) + 1
        moved = w.commands - w.refused
        if not w.alerted and (
            moved >= self.cfg.min_retrieves or w.instances >= self.cfg.min_instances
        ):
            w.alerted = True
            self._report(ev, cmd, dest, first, w, ts, ctx)

    def _report(
        self,
        ev: DicomEvent,
        cmd: DicomCommand,
        dest: str,
        first: int,
        w: _Dest,
        ts: int,
        ctx: Context,
    ) -> None:
        evidence: dict[str, Any] = {
            "destination": dest,
            "destination_first_seen": eve_timestamp(first),
            "learning_since": self.clock.since(),
            "retrieves": w.commands,
            "refused": w.refused,
            "instances": w.instances,
            "query_levels": dict(sorted(w.levels.items())),
            "requestors": sorted(w.requestors),
            "archives": sorted(w.archives),
            "first_seen": eve_timestamp(w.first_ts),
            "last_seen": eve_timestamp(w.last_ts),
            "threshold": f"{self.cfg.min_retrieves} retrieves or {self.cfg.min_instances} "
            f"images in {self.cfg.window_s} s to a destination new since the learning period",
        }
        if cmd.move_destination:
            host = self.ae_hosts.get(cmd.move_destination)
            if host:
                evidence["destination_host"] = host
        ctx.emit(
            Finding.from_event(
                ev,
                key=dest,
                ts_us=ts,
                evidence=evidence,
                proto="TCP",
                app_proto="dicom",
            )
        )

    def counters(self) -> dict[str, int]:
        ev = self.first_seen.evicted + self.windows.evicted + self.ae_hosts.evicted
        return {"evicted": ev, "destinations": len(self.first_seen)}


DETECTORS = (DicomBulkRetrieve,)
