"""What a correlator detector is: its identity, the events it reads, what it reports.

A detector is a class with a `DetectorInfo` (stable dotted name — it becomes the alert's
rule id —, signature id in Tocsin's range, ATT&CK technique, severity, confidence), a typed
`Config` of thresholds (a frozen dataclass; the site overrides fields by name), the event
types it subscribes to, and three hooks:

- `on_flows(flows, ctx)`: a `model.flows.FlowBatch` of flows that ended;
- `on_event(ev, ctx)`: one app-layer event (`dns`, `http`, `tls`, `smb`, `smb_file`,
  `dcerpc`, `dicom`, `hl7`, `ssh`, `rdp`, `dhcp`, `krb5`, `ftp`, `arp`...);
- `on_tick(ctx)`: called as packet time passes each tick boundary and at the end of the run
  (`ctx.final`), for detectors that judge a window (beacons, floods).

Detectors report `Finding`s through `ctx.emit`; the correlator turns them into EVE `alert`
events (one shape with signatures), folds repeats of one (detector, key) within the re-alert
window, and counts everything. A detector keeps per-host state only in `BoundedMap`s
(`detect.correlate.state`), so no traffic can grow it without bound.

Detectors read `model` records only, never a worker's tables: the same code runs in one
process, or in a correlator fed by many workers, or over a Suricata probe's EVE file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tocsin.detect.correlate.netclass import HomeNet
from tocsin.model.app import AppEvent
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import parse_eve_timestamp

TOCSIN_DETECTOR_GID = 8  # gid of every correlator alert (1: signatures, 9: sensor health)

CONFIDENCE = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class DetectorInfo:
    """A detector's identity and how its alerts read."""

    name: str  # dotted, stable: "behaviour.port_scan"
    signature_id: int  # in 8_000_000..8_999_999, stable
    signature: str  # the alert's text (a finding may give a more precise one)
    category: str  # "Attempted Information Leak", "Potential Corporate Privacy Violation"...
    technique: str  # ATT&CK technique id: "T1046"
    tactic: str  # ATT&CK tactic id: "TA0007"
    severity: int = 2  # 1 high .. 3 low, as Suricata
    confidence: str = "medium"  # low / medium / high
    description: str = ""  # one paragraph for `tocsin detectors` and the docs


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector reports. `key` identifies the thing that is alerted about (the source
    host of a scan, the pair of a beacon): repeats of one key within the re-alert window fold
    into the first alert. `evidence`: JSON values an analyst reads to see why (counts,
    peers, times as EVE timestamps, sample values)."""

    key: str
    ts_us: int
    evidence: dict[str, Any]
    src_ip: str | None = None
    dest_ip: str | None = None
    src_port: int | None = None
    dest_port: int | None = None
    proto: str | None = None
    flow_id: int | None = None
    app_proto: str | None = None
    signature: str | None = None  # overrides the detector's text (e.g. names the indicator)
    signature_id: int | None = None  # overrides the detector's id (sub-cases of one detector)
    severity: int | None = None
    confidence: str | None = None
    metadata: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_event(
        cls,
        ev: AppEvent,
        *,
        key: str,
        ts_us: int,
        evidence: dict[str, Any],
        **overrides: Any,
    ) -> Finding:
        """A finding about one app-layer event: addresses, ports, `proto`, `flow_id` and
        `app_proto` come from the event's header; `overrides` (any other `Finding` field, or
        one of those) replace them, e.g. `app_proto="dicom"` where the event does not carry
        it."""
        fields: dict[str, Any] = {
            "src_ip": ev.src_ip,
            "dest_ip": ev.dest_ip,
            "src_port": ev.src_port,
            "dest_port": ev.dest_port,
            "proto": ev.proto,
            "flow_id": int(ev.flow_id),
            "app_proto": ev.app_proto,
        }
        fields.update(overrides)
        return cls(key=key, ts_us=ts_us, evidence=evidence, **fields)


def event_us(ev: Any, default: int = 0) -> int:
    """An event's packet time in µs (its EVE `timestamp`), or `default` when it has none.
    Parsing is cached: every detector an event reaches may ask."""
    ts = getattr(ev, "timestamp", None)
    us = parse_eve_timestamp(ts) if isinstance(ts, str) else None
    return us if us is not None else default


# event type -> predicate on the event (`Detector.prefilter`)
Prefilters = Mapping[str, Callable[[Any], bool]]


@dataclass(slots=True)
class Context:
    """What a hook gets: packet time now, the site's networks, and where findings go."""

    now_us: int
    home: HomeNet
    emit: Callable[[Finding], None]
    final: bool = False  # on_tick at the end of the run: report what is pending


class Detector:
    """Base of every correlator detector (built-in or plug-in). Subclasses set `info`,
    `subscribes`, optionally `Config`, and override the hooks they need."""

    info: ClassVar[DetectorInfo]
    subscribes: ClassVar[frozenset[str]] = frozenset()  # "flow" and/or app-layer event types
    Config: ClassVar[type[Any] | None] = None
    tick_s: ClassVar[int] = 0  # >0: on_tick is called every tick_s seconds of packet time
    # event type -> predicate: an event of that type reaches on_event only when it is true
    # (cheap tests on one field; a predicate object shared by detectors runs once per event)
    prefilter: ClassVar[Prefilters] = {}

    def __init__(self, config: Any = None) -> None:
        self.config = config

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        """Flows that ended."""

    def on_event(self, ev: Any, ctx: Context) -> None:
        """One app-layer event of a subscribed type."""

    def on_tick(self, ctx: Context) -> None:
        """Packet time passed a tick boundary (or the run ended: `ctx.final`)."""

    def counters(self) -> dict[str, int]:
        """The detector's own counters (state evictions...), reported under its name."""
        return {}
