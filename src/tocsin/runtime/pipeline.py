"""The sensor pipeline for one worker: capture batch → decode → defrag → flow → EVE.

`Pipeline.process(batch)` runs the compiled decoder and flow table over a whole batch and
writes what ended; Python only touches the exceptions — fragments, anomalies, self-alerts,
periodic stats — each counted. `Pipeline.finish()` ends every flow and writes the final stats.

Time is packet time: stats intervals, timeouts and fragment expiry follow the packets' own
timestamps, so the same capture gives byte-identical EVE output every time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES, ALPROTO_UNKNOWN
from tocsin.applayer.registry import Registry, builtin
from tocsin.capture.batch import PacketBatch
from tocsin.capture.errors import CaptureError
from tocsin.decode.common import VXLAN_DEFAULT_PORT
from tocsin.decode.decoder import Decoder
from tocsin.decode.defrag import Defragmenter
from tocsin.decode.layout import (
    ANOMALY_CODE,
    FLAG_FRAG,
    new_packets,
)
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.engine import DetectEngine
from tocsin.flow.layout import AF_PY, FC_EMERG_ENTERED, FC_EMERG_OVER
from tocsin.flow.table import FlowConfig, FlowTable
from tocsin.model import selfalerts
from tocsin.model.events import (
    SensorEvent,
    SensorInfo,
)
from tocsin.output.eve_flow import PROTO_NAMES, FlowFormatter
from tocsin.output.sink import EveSink
from tocsin.output.timefmt import eve_timestamp
from tocsin.output.writer import EveWriter, stack
from tocsin.runtime.applayer import AppConfig, AppLayer, stat_word
from tocsin.runtime.correlate import CorrelatedWriter, arp_events, arp_rows
from tocsin.runtime.fragments import Reassembled, anomaly_events, defragment
from tocsin.runtime.ordering import in_order, mark_alerted, merge, with_alert_flows
from tocsin.runtime.shard import ShardWriter
from tocsin.runtime.shed import LoadShed
from tocsin.runtime.stats import stats_events
from tocsin.runtime.talkers import TopTalkers

# flow arrays and event lists handed to the EVE writer at once (one queue item): big enough
# that a flood's thousands of tiny pieces do not cost a thread hand-over each, small enough
# that the writer works while the next sub-batches are parsed
_WRITER_ITEMS = 64

# protocols Suricata's stats schema knows (app_layer.{flow,tx,error}.<word>); others (dicom,
# hl7) are Tocsin-only counters
_SURICATA_APP_WORDS = frozenset(
    [
        "http",
        "tls",
        "dns_udp",
        "dns_tcp",
        "smb",
        "dcerpc_tcp",
        "dcerpc_udp",
        "dhcp",
        "ssh",
        "rdp",
        "ftp",
        "krb5_tcp",
        "krb5_udp",
        "pop3",
        "imap",
        "failed_tcp",
        "failed_udp",
    ]
)

# defragmenter counters that mean fragments were thrown away for lack of room
_DEFRAG_DROPS = ("max_trackers_reached", "memcap_reached", "max_frags_reached")


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Everything the pipeline stages are configured with (injected, never global)."""

    flow: FlowConfig = field(default_factory=FlowConfig)
    stats_interval_s: int = 60
    vxlan_port: int = VXLAN_DEFAULT_PORT
    community_id_seed: int = 0
    defrag_max_trackers: int = 65_536
    defrag_max_bytes: int = 32 << 20
    defrag_timeout_s: int = 60
    writer_thread: bool = True  # format and write EVE on a second thread
    app: AppConfig = field(default_factory=AppConfig)


@dataclass(slots=True)
class RunTotals:
    """What the summary reports, accumulated over the run."""

    flows: int = 0
    flows_by_proto: dict[str, int] = field(default_factory=dict)
    bytes_by_proto: dict[str, int] = field(default_factory=dict)
    flows_by_app: dict[str, int] = field(default_factory=dict)  # app_proto -> flows
    first_ts: int | None = None
    last_ts: int | None = None


class Pipeline:
    """One worker's pipeline: owns the decoder counters, flow table and defragmenter."""

    def __init__(
        self,
        config: PipelineConfig,
        sink: EveSink,
        registry: Registry | None = None,
        detect: DetectEngine | None = None,
        correlate: Correlator | None = None,
        tee: Callable[[EveWriter], ShardWriter] | None = None,
    ) -> None:
        """`tee` wraps the EVE writer of a worker process (see `runtime.shard`); without
        it, `correlate` (if any) runs here, in front of the writer."""
        self.config = config
        self.detect = detect
        self.correlate = correlate
        self.sink = sink
        self.flows = FlowTable(config.flow)
        self.app: AppLayer | None = None
        if config.app.enabled:
            reg = builtin() if registry is None else registry
            # one Community ID seed for flow and app-layer events
            app_cfg = replace(config.app, community_id_seed=config.community_id_seed)
            self.app = AppLayer(app_cfg, reg, detect)
            self.flows.app_want[0] = 1 if config.app.midstream else 2
            for code in reg.protocols():
                self.flows.app_want[code] = 1
        self._app_flows = np.zeros((256, 256), dtype=np.int64)  # [ip proto, alproto]
        self.defrag = Defragmenter(
            max_trackers=config.defrag_max_trackers,
            max_bytes=config.defrag_max_bytes,
            timeout_us=config.defrag_timeout_s * 1_000_000,
        )
        writer = EveWriter(
            sink,
            FlowFormatter(config.community_id_seed),
            on_flows=self._count_flows,
            threaded=config.writer_thread and tee is None,
        )
        self.out: EveWriter | CorrelatedWriter | ShardWriter = writer
        if tee is not None:
            self.out = tee(writer)
        elif correlate is not None:
            self.out = CorrelatedWriter(writer, correlate)
        self._wants_arp = not isinstance(self.out, EveWriter) and self.out.wants_arp
        self.position = 0  # capture number of the last packet accounted
        self.shedding = LoadShed(detect, self.flows.app_want)  # see runtime.shed
        self.talkers = TopTalkers()
        self.totals = RunTotals()
        self.decoder = Decoder(config.vxlan_port)
        self._pk = new_packets(0)  # decoded records, reused batch after batch
        self.other_events: dict[str, int] = {}
        self.internal_errors: dict[str, int] = {}  # exceptions caught in a stage, by stage
        self.capture_errors = 0
        self.packets = 0
        self._next_stats: int | None = None
        self._emerg_entered = 0
        self._emerg_over = 0
        self._defrag_dropped = 0  # fragments / trackers dropped at the last self-alert
        self._defrag_alert_at: int | None = None
        self._proto_flows = np.zeros(256, dtype=np.int64)
        # a live source's kernel counters (capture.kernel_packets, capture.kernel_drops...),
        # written with the others in every stats event
        self.capture_counters: dict[str, int] = {}
        self._proto_bytes = np.zeros(256, dtype=np.float64)

    # -- hot path -------------------------------------------------------------------------

    def process(
        self,
        batch: PacketBatch,
        pcnt: npt.NDArray[np.int64] | None = None,
        clock: tuple[int, int] | None = None,
    ) -> None:
        """Decode, account and log one batch of packets.

        A worker's share of a capture batch gives `pcnt`, its packets' numbers in the
        capture (pcap_cnt; default: numbered on from the previous batch), and `clock`, the
        first and last packet times of the whole batch, so every worker's packet time (stats
        intervals, fragment expiry) moves with the capture's, even with no packet of its own.
        """
        n = batch.n
        if n == 0:
            if clock is not None:
                self._expire_flows(clock[1])
                self._advance(*clock)
            return
        if pcnt is None:
            pcnt = np.arange(self.packets + 1, self.packets + n + 1, dtype=np.int64)
        if self._pk.shape[0] < n:
            self._pk = new_packets(n)
        pk = self.decoder.decode(batch, into=self._pk)
        # ARP packets, for correlator detectors only (never written): handed over after the
        # batch's flows and events, so an ARP alert may follow later packets of the batch
        arp = arp_rows(pk["flags"]) if self._wants_arp else None
        anomalous = np.flatnonzero(pk["anomaly"])
        if anomalous.size:
            self._log_anomalies(batch, pk, anomalous, pcnt)
        wirelen, ts_us = batch.wirelen, batch.ts_us
        data, pos = batch.data, batch.offset
        frags = np.flatnonzero(pk["flags"] & FLAG_FRAG)
        if frags.size:
            pk, wirelen, ts_us, data, pos, pcnt = self._defragment(batch, pk, frags, pcnt)
        self._account(pk, wirelen, ts_us, data, pos, pcnt)
        if arp is not None and arp.size and not isinstance(self.out, EveWriter):
            for ev in arp_events(batch, arp):
                self.out.observe(ev)
        self.packets += n
        self.position = int(pcnt[-1])
        if clock is not None:  # the capture's time moves this worker's flow table too
            self._expire_flows(clock[1])
            first, last = clock
        else:
            first, last = int(batch.ts_us[0]), int(batch.ts_us[-1])
        self._advance(first, last)

    def _end_flows(self, ended: Iterator[npt.NDArray[np.void]]) -> None:
        """Write flows ended outside a batch's packets (expiry by the clock, shutdown)."""
        for chunk in ended:
            if self.app is None:
                self.out.flows(chunk)
            else:
                self.out.sequence(self._in_order([chunk.copy()], []))

    def _expire_flows(self, now: int) -> None:
        self._end_flows(self.flows.advance(now))

    def _advance(self, ts_first: int, ts_last: int) -> None:
        """Packet time moved to `ts_last`: expire fragments, check health, write stats due."""
        if self.totals.first_ts is None:
            self.totals.first_ts = ts_first
            self._next_stats = ts_first + self.config.stats_interval_s * 1_000_000
        self.totals.last_ts = max(self.totals.last_ts or ts_last, ts_last)
        self.defrag.expire(self.totals.last_ts)
        self._check_health(self.totals.last_ts)
        if self._next_stats is not None and self.totals.last_ts >= self._next_stats:
            self.write_stats(self.totals.last_ts)
            interval = self.config.stats_interval_s * 1_000_000
            behind = (self.totals.last_ts - self._next_stats) // interval + 1
            self._next_stats += behind * interval

    def _account(
        self,
        pk: npt.NDArray[np.void],
        wirelen: npt.NDArray[np.uint32],
        ts_us: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8],
        pos: npt.NDArray[np.int64],
        pcnt: npt.NDArray[np.int64],
    ) -> None:
        app = self.app
        det = self.detect
        if app is None:
            if det is None:
                for ended in self.flows.update(pk, wirelen, ts_us, pcnt=pcnt):
                    self.out.flows(ended)
                return
            self._detect_only(det, pk, wirelen, ts_us, data, pos, pcnt)
            return
        # In steps of `sub_batch` packets, so what parsers say (skip this body, done with
        # this direction) reaches the kernel soon: most flows live within one big batch.
        step = self.config.app.sub_batch
        n = pk.shape[0]
        t = self.flows
        items: list[Any] = []  # flows and events of the whole batch, in order: one writer item
        for a in range(0, n, step):
            b = min(n, a + step)
            spk = pk[a:b]
            chunks: list[npt.NDArray[np.void]] = []
            for e in t.update(spk, wirelen[a:b], ts_us[a:b], data, pos[a:b], pcnt[a:b]):
                # nothing of the app layer before these flows ended (no payload picked up to
                # their last packet, no parser state of theirs): no ordering to work out
                quiet = not chunks and not (e["app_flags"] & AF_PY).any()
                if quiet and not t.app[: int(e["end_idx"].max()) + 1].any():
                    self._count_app_flows(e)
                    items.append(e.copy())
                    continue
                chunks.append(e.copy())
            app.process(
                spk,
                data,
                pos[a:b],
                ts_us[a:b],
                t.slot,
                t.direction,
                t.flow_id,
                t.app,
                t.fl,
                self.packets + a,
                pcnt[a:b],
            )
            app.write_back(t.fl)
            app.retire_closed()
            events = app.take_events()
            if det is not None:
                alerts = det.packets(
                    spk, data, pos[a:b], ts_us[a:b], t, self.packets + a, pcnt[a:b]
                )
                if alerts:
                    events = merge(events, alerts)
                    mark_alerted(items, chunks, alerts)
                if events:
                    events = with_alert_flows(events, t, wirelen[a:b])
            items += self._in_order(chunks, events)
            self.position = int(pcnt[b - 1])
            if len(items) >= _WRITER_ITEMS:  # keep the writer thread busy meanwhile
                self.out.sequence(items)
                items = []
        self.out.sequence(items)

    def _detect_only(
        self,
        det: DetectEngine,
        pk: npt.NDArray[np.void],
        wirelen: npt.NDArray[np.uint32],
        ts_us: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8],
        pos: npt.NDArray[np.int64],
        pcnt: npt.NDArray[np.int64],
    ) -> None:
        """Signatures without the app layer: packet and IP-only rules only."""
        t = self.flows
        step = self.config.app.sub_batch
        n = pk.shape[0]
        for a in range(0, n, step):
            b = min(n, a + step)
            ended = t.update(pk[a:b], wirelen[a:b], ts_us[a:b], data, pos[a:b], pcnt[a:b])
            chunks = [e.copy() for e in ended]
            alerts = det.packets(
                pk[a:b], data, pos[a:b], ts_us[a:b], t, self.packets + a, pcnt[a:b]
            )
            if alerts:
                mark_alerted([], chunks, alerts)
                alerts = with_alert_flows(alerts, t, wirelen[a:b])
            self.out.sequence(self._in_order(chunks, alerts))

    def _in_order(
        self, chunks: list[npt.NDArray[np.void]], events: list[tuple[int, Any]]
    ) -> list[Any]:
        """Ended flows and events (app-layer events, alerts) in packet order, as writer items:
        a flow that ended at packet i (timeout, reuse, eviction) comes before the events of
        packet i; a flow's own closing events (transactions left pending) come just before
        it."""
        app = self.app
        ended = stack(chunks) if len(chunks) > 1 else (chunks[0] if chunks else None)
        closing: list[tuple[int, list[Any]]] = []
        if ended is not None and ended.shape[0]:
            if app is not None and (ended["app_flags"] & AF_PY).any():
                closing = app.end_flows(ended)
            self._count_app_flows(ended)
        return in_order(ended, events, closing)

    def shed(self, level: int, now: int) -> None:
        """Shed load up to `level` (0: none; see `runtime.shed` for the order) from packet
        time `now`, saying so in the EVE output."""
        for ev in self.shedding.set(level, now):
            self.out.event(ev)

    def _count_app_flows(self, ended: npt.NDArray[np.void]) -> None:
        self.shedding.count_ended(ended)
        if self.detect is not None:
            self.detect.flows_ended(ended["flow_id"])
        ap = ended["app_proto"]
        has = np.flatnonzero(ap != ALPROTO_UNKNOWN)
        if has.size:
            np.add.at(self._app_flows, (ended["proto"][has], ap[has]), 1)

    def _count_flows(self, ended: npt.NDArray[np.void]) -> None:
        """Summary accounting of logged flows (runs on the EVE writer's thread)."""
        self.totals.flows += ended.shape[0]
        self.talkers.add(ended)
        proto = ended["proto"].astype(np.int64)
        self._proto_flows += np.bincount(proto, minlength=256)
        self._proto_bytes += np.bincount(
            proto,
            weights=(ended["bytes_ts"] + ended["bytes_tc"]).astype(np.float64),
            minlength=256,
        )

    # -- exception paths (Python, counted) -------------------------------------------------

    def _log_anomalies(
        self,
        batch: PacketBatch,
        pk: npt.NDArray[np.void],
        rows: npt.NDArray[np.intp],
        pcnt: npt.NDArray[np.int64],
    ) -> None:
        for ev in anomaly_events(batch, pk, rows, pcnt):
            self.out.event(ev)

    def _defragment(
        self,
        batch: PacketBatch,
        pk: npt.NDArray[np.void],
        rows: npt.NDArray[np.intp],
        pcnt: npt.NDArray[np.int64],
    ) -> Reassembled:
        """The fragments of `rows` through the defragmenter (see `runtime.fragments`); its
        anomalies counted and written, its failures counted."""
        out, events, failed = defragment(
            self.defrag, self.decoder, self.app is not None, batch, pk, rows, pcnt
        )
        if failed:  # a bug, not bad input: counted, the fragment dropped
            self.internal_errors["defrag"] = self.internal_errors.get("defrag", 0) + failed
        for name, ev in events:
            self._count_event(name)
            self.out.event(ev)
        return out

    def _count_event(self, name: str) -> None:
        code = ANOMALY_CODE.get(name)
        if code is not None:
            self.decoder.events[code] += 1
        else:
            self.other_events[name] = self.other_events.get(name, 0) + 1

    def _check_health(self, now: int) -> None:
        dropped = sum(self.defrag.counters.get(k, 0) for k in _DEFRAG_DROPS)
        interval = self.config.stats_interval_s * 1_000_000
        if dropped > self._defrag_dropped and (
            self._defrag_alert_at is None or now - self._defrag_alert_at >= interval
        ):  # at most one such self-alert per stats interval, however long the flood
            self._defrag_dropped = dropped
            self._defrag_alert_at = now
            self._self_alert(now, selfalerts.DEFRAG_MEMCAP)
        entered = int(self.flows.ctr[FC_EMERG_ENTERED])
        if entered > self._emerg_entered:
            self._emerg_entered = entered
            if isinstance(self.out, ShardWriter):  # said once for all workers' tables
                self.out.emergency(now, True, self.flows.counters())
            else:
                self._self_alert(now, selfalerts.FLOW_EMERGENCY)
        over = int(self.flows.ctr[FC_EMERG_OVER])
        if over > self._emerg_over:
            self._emerg_over = over
            if isinstance(self.out, ShardWriter):
                self.out.emergency(now, False, self.flows.counters())
                return
            self.out.event(
                SensorEvent(
                    timestamp=eve_timestamp(now),
                    sensor=SensorInfo(
                        kind="emergency_over",
                        message="flow table back under its recovery level: normal timeouts",
                        counters=self.flows.counters(),
                    ),
                )
            )

    def _self_alert(self, now: int, sig: selfalerts.SelfAlert) -> None:
        self.out.event(selfalerts.alert_event(eve_timestamp(now), sig))

    def capture_errors_met(self, errors: Sequence[CaptureError]) -> None:
        """Log the capture problems of `errors` (a reader's list, which only grows: those
        past the ones logged already) as a sensor event and a self-alert each."""
        for err in errors[self.capture_errors :]:
            self.capture_errors += 1
            ts = self.totals.last_ts or 0
            info = SensorInfo(kind="capture_error", message=err.problem, file=str(err.path))
            self.out.event(SensorEvent(timestamp=eve_timestamp(ts), sensor=info))
            self._self_alert(ts, selfalerts.CAPTURE_ERROR)

    # -- end of run ------------------------------------------------------------------------

    def finish(self) -> None:
        """End every flow — those idle past their timeout at the last packet's time with
        reason "timeout", the others "shutdown" — and write the final stats."""
        if self.totals.last_ts is not None:
            self._end_flows(self.flows.expire_all(self.totals.last_ts))
        self._end_flows(self.flows.flush())
        if not isinstance(self.out, EveWriter):
            self.out.finish(self.totals.last_ts or 0)
        self.write_stats(self.totals.last_ts or 0)
        self.out.close()
        for p in np.flatnonzero(self._proto_flows).tolist():
            name = PROTO_NAMES.get(p, str(p))
            self.totals.flows_by_proto[name] = int(self._proto_flows[p])
            self.totals.bytes_by_proto[name] = int(self._proto_bytes[p])
        per_app = self._app_flows.sum(axis=0)
        for code in np.flatnonzero(per_app).tolist():
            self.totals.flows_by_app[ALPROTO_NAMES[code]] = int(per_app[code])

    def counters(self) -> tuple[dict[str, int], dict[str, int]]:
        """(Suricata-named counters, Tocsin-only counters), flat dotted names."""
        flat: dict[str, int] = dict(self.capture_counters)
        extra: dict[str, int] = {}
        for name, v in self.decoder.counter_dict().items():
            flat[f"decoder.{name}"] = v
        pkts = flat["decoder.pkts"]
        flat["decoder.avg_pkt_size"] = flat["decoder.bytes"] // pkts if pkts else 0
        for name, v in self.other_events.items():
            flat[f"decoder.event.{name}"] = v
        for name, v in self.flows.counters().items():
            if name in ("flow.active_max", "flow.emergency", "app_layer.skipped_bytes"):
                extra[name] = v
            else:
                flat[name] = v
        for name, v in self.defrag.counters.items():
            if name == "memcap_reached":
                extra[f"defrag.{name}"] = v
            else:
                flat[f"defrag.{name}"] = v
        if self.app is not None:
            app_flat, app_extra = self.app.counter_dict()
            flat.update(app_flat)
            extra.update(app_extra)
            for ip_proto, alproto in zip(*np.nonzero(self._app_flows), strict=True):
                word = stat_word(int(alproto), int(ip_proto))
                n = int(self._app_flows[ip_proto, alproto])
                if word in _SURICATA_APP_WORDS:
                    flat[f"app_layer.flow.{word}"] = n
                else:
                    extra[f"app_layer.flow.{word}"] = n
            for name in [k for k in flat if k.startswith(("app_layer.tx.", "app_layer.error."))]:
                word = name.split(".")[2]
                if word not in _SURICATA_APP_WORDS:
                    extra[name] = flat.pop(name)
        if self.detect is not None:
            for name, v in self.detect.counter_dict().items():
                if name == "detect.alert":
                    flat[name] = v
                else:
                    extra[name] = v
        if self.correlate is not None:
            extra.update(self.correlate.counter_dict())
        flat["capture.errors"] = self.capture_errors
        extra.update(self.shedding.counters(self.totals.last_ts or 0))
        for stage, n in self.internal_errors.items():
            extra[f"tocsin.internal_errors.{stage}"] = n
        return flat, extra

    def write_stats(self, now: int) -> None:
        flat, extra = self.counters()
        uptime = (now - self.totals.first_ts) // 1_000_000 if self.totals.first_ts else 0
        flat["uptime"] = uptime
        if isinstance(self.out, ShardWriter):  # the main process writes all workers' at once
            self.out.stats(now, flat, extra)
            return
        for ev in stats_events(now, flat, extra):
            self.out.event(ev)
