"""The application-layer dispatcher: per-flow parser state, fed from the flow kernel's picks.

The flow kernel marks, per packet, the payloads a parser wants (`FlowTable.app`: the flow's
`ALPROTO_*`, or `PROBE_MORE` while the protocol is still undecided); everything else never
reaches Python. For the marked packets `AppLayer.process` (one call per batch):

- finds or creates the flow's `_AppFlow` (keyed by flow id): a parser from the `Registry`, one
  `flow.stream.Stream` per TCP direction, and the EVE header of its events;
- for TCP, puts segments in order (`flow.stream`), drops the bytes the parser asked to skip,
  tells it about gaps; for UDP hands it each datagram;
- decides the protocol itself for flows whose first bytes were too short for the kernel's
  probe (`AF_PYPROBE`: the stream's start is buffered, bounded, and probed again);
- wraps every emitted body in its event class with the flow's header, tagged with the packet
  index that caused it (the pipeline writes app events and flow events in packet order);
- writes back to the flow table what the kernel needs to stop handing over bytes: the
  protocol, directions done, skip points (`_write_back`, at the end of each batch).

`end_flows(ended)` closes the parsers of flows that ended (pending transactions are emitted),
and puts the final `app_proto` on their flow records. A parser error (`ParseError`) is counted
(`app_layer.error.<proto>.parser`), logged as an `anomaly` event, and ends parsing of that flow;
any other exception is counted as internal and does the same: the sensor never stops for it.
The number of flows with Python state is bounded (`AppConfig.max_flows`); past it new flows are
not parsed and counted (`app_layer.flows_memcap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.applayer.base import AppLimits, AppParser, ParseError
from tocsin.applayer.probe import probe
from tocsin.applayer.protos import (
    ALPROTO_DCERPC,
    ALPROTO_DNS,
    ALPROTO_FAILED,
    ALPROTO_KRB5,
    ALPROTO_NAMES,
    ALPROTO_UNKNOWN,
    PROBE_MORE,
    PROBE_NO,
)
from tocsin.applayer.registry import Registry
from tocsin.decode.layout import TH_SYN
from tocsin.detect.engine import DetectEngine, TxCtx
from tocsin.detect.hooks import TxHooks
from tocsin.flow.layout import (
    AF_DONE_TC,
    AF_DONE_TS,
    AF_PY,
    AF_PYPROBE,
    AF_SKIP_TC,
    AF_SKIP_TS,
    FF_ALERTED,
    FF_IN_USE,
    FF_ISN_TC,
    FF_ISN_TS,
)
from tocsin.flow.stream import Stream, StreamCounters
from tocsin.model.events import AnomalyEvent, AnomalyInfo
from tocsin.model.ids import FlowId, ip_text
from tocsin.output.community_id import community_id_text
from tocsin.output.timefmt import eve_timestamp

_PROBE_MAX_BYTES = 2048  # stream start buffered for probing in Python, per direction
_PROTO_NAMES = {6: "TCP", 17: "UDP"}
# Suricata's stats word for a protocol per transport, where it differs from the EVE word
_STAT_WORD = {
    (ALPROTO_DNS, 6): "dns_tcp",
    (ALPROTO_DNS, 17): "dns_udp",
    (ALPROTO_KRB5, 6): "krb5_tcp",
    (ALPROTO_KRB5, 17): "krb5_udp",
}
_STAT_WORD_DCERPC = {6: "dcerpc_tcp", 17: "dcerpc_udp"}


def stat_word(alproto: int, ip_proto: int) -> str:
    """The `app_layer.{flow,tx,error}.<word>` name of a protocol on a transport."""
    if alproto == ALPROTO_DCERPC:
        return _STAT_WORD_DCERPC.get(ip_proto, "dcerpc_tcp")
    if alproto == ALPROTO_FAILED:
        return "failed_tcp" if ip_proto == 6 else "failed_udp"
    return _STAT_WORD.get((alproto, ip_proto), ALPROTO_NAMES[alproto])


@dataclass(frozen=True, slots=True)
class AppConfig:
    """App-layer settings (injected by the pipeline)."""

    enabled: bool = True
    midstream: bool = True  # parse TCP flows picked up without their handshake
    limits: AppLimits = field(default_factory=AppLimits)
    max_flows: int = 200_000  # flows with parser state at once
    stream_max_ooo: int = 256 << 10  # out-of-order bytes held per TCP direction
    stream_max_total: int = 64 << 20  # ... over all streams
    community_id_seed: int = 0
    sub_batch: int = 1024  # packets between two write-backs of parser decisions to the kernel
    file_hashes: bool = False  # hash HTTP files (response and PUT bodies): `fileinfo` events
    file_hash_max_bytes: int = 50 << 20  # decoded bytes hashed per file; past it: TRUNCATED


class _AppFlow:
    """One flow's app-layer state."""

    __slots__ = (
        "alproto",
        "changed",
        "closed",
        "det",
        "fid",
        "hdr",
        "hooks",
        "ip_proto",
        "parser",
        "probe_buf",
        "probe_fail",
        "skip_left",
        "slot",
        "streams",
        "word",
    )

    def __init__(self, fid: int, slot: int, ip_proto: int, hdr: tuple[dict[str, Any], ...]):
        self.fid = fid
        self.slot = slot
        self.ip_proto = ip_proto
        self.hdr = hdr  # EVE header fields for events about direction 0 and 1
        self.alproto = ALPROTO_UNKNOWN
        self.word = ""
        self.parser: AppParser | None = None
        self.streams: list[Stream | None] = [None, None]
        self.skip_left = [0, 0]
        self.probe_buf: list[bytearray] | None = None
        self.probe_fail = [False, False]
        self.changed = True  # kernel-side state must be written back
        self.closed = False  # the parser is finished (done both ways, error, or closed)
        self.det: TxCtx | None = None  # signature state, when rules inspect this protocol
        self.hooks: TxHooks | None = None  # transaction inspection (HTTP)


class AppLayer:
    """Per-worker app-layer state; see the module docstring."""

    def __init__(
        self, config: AppConfig, registry: Registry, detect: DetectEngine | None = None
    ) -> None:
        self.config = config
        self.registry = registry
        self.detect = detect
        self.flows: dict[int, _AppFlow] = {}
        self.events: list[tuple[int, msgspec.Struct]] = []  # (packet index, event)
        self.stream_ctr = StreamCounters(max_total=config.stream_max_total)
        self.counters: dict[str, int] = {}  # Suricata-named (app_layer.*)
        self.extra: dict[str, int] = {}  # Tocsin-only
        self.packets = 0  # payload packets handed to Python
        self.parsed_packets = 0  # ... that reached a parser
        self._touched: list[_AppFlow] = []
        self._closed: list[_AppFlow] = []  # parsing over: state dropped after write-back
        self._idx = 0
        self._pcnt: int | None = None
        self.last_ts = 0  # time of the packet being parsed

    # -- per batch ---------------------------------------------------------------------------

    def process(
        self,
        pk: npt.NDArray[np.void],
        data: npt.NDArray[np.uint8],
        pos: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        slot: npt.NDArray[np.int32],
        direction: npt.NDArray[np.uint8],
        flow_id: npt.NDArray[np.uint64],
        app: npt.NDArray[np.uint8],
        fl: npt.NDArray[np.void],
        pcnt_base: int,
        pcnt: npt.NDArray[np.int64] | None = None,
    ) -> None:
        """Feed the parsers the payloads the kernel picked (`app[i] != 0`). An event's
        `pcap_cnt` is `pcnt[i]`, or `pcnt_base + i + 1` without `pcnt`."""
        rows = np.flatnonzero(app)
        if rows.size == 0:
            return
        self.packets += int(rows.size)
        sub = pk[rows]
        starts = (pos[rows] + sub["pay_off"]).tolist()
        lens = sub["pay_len"].tolist()
        seqs = sub["tcp_seq"].tolist()
        tfl = sub["tcp_flags"].tolist()
        protos = sub["proto"].tolist()
        tss = ts_us[rows].tolist()
        slots = slot[rows].tolist()
        dirs = direction[rows].tolist()
        fids = flow_id[rows].tolist()
        aps = app[rows].tolist()
        counts = (pcnt[rows] if pcnt is not None else rows + (pcnt_base + 1)).tolist()
        buf = data
        for k, i in enumerate(rows.tolist()):
            fid = fids[k]
            af = self.flows.get(fid)
            if af is None:
                if len(self.flows) >= self.config.max_flows:
                    self._bump(self.extra, "app_layer.flows_memcap")
                    continue
                af = self._new_flow(fid, slots[k], pk[i], dirs[k], protos[k], fl)
                self.flows[fid] = af
                if aps[k] != PROBE_MORE:
                    self._start(af, aps[k])
                else:
                    af.probe_buf = [bytearray(), bytearray()]
            d = dirs[k]
            if af.closed or (af.parser is not None and af.parser.done[d]):
                continue  # the kernel stops handing these over at the batch's write-back
            if not af.changed:
                af.changed = True
                self._touched.append(af)
            self._idx = i
            self._pcnt = counts[k]
            self.last_ts = tss[k]
            s = starts[k]
            payload = bytes(buf[s : s + lens[k]])
            if af.ip_proto == 6:
                self._tcp(af, d, seqs[k], tfl[k], payload, tss[k])
            else:
                self._udp(af, d, payload, tss[k])
        self._pcnt = None

    def write_back(self, fl: npt.NDArray[np.void]) -> None:
        """Tell the flow kernel what the parsers no longer need (end of each batch)."""
        for af in self._touched:
            af.changed = False
            s = af.slot
            rec = fl[s]
            if int(rec["flow_id"]) != af.fid or not int(rec["fflags"]) & FF_IN_USE:
                continue
            flags = int(rec["app_flags"])
            if af.alproto != ALPROTO_UNKNOWN:
                rec["app_proto"] = af.alproto
                flags &= ~AF_PYPROBE
            if af.closed:
                flags |= AF_DONE_TS | AF_DONE_TC
                flags &= ~(AF_PY | AF_SKIP_TS | AF_SKIP_TC)
            elif af.parser is not None:
                for d, done_bit, skip_bit, field_ in (
                    (0, AF_DONE_TS, AF_SKIP_TS, "skip_ts"),
                    (1, AF_DONE_TC, AF_SKIP_TC, "skip_tc"),
                ):
                    if af.parser.done[d]:
                        flags |= done_bit
                    st = af.streams[d]
                    nxt = st.next_seq if st is not None else None
                    if af.skip_left[d] and nxt is not None:
                        rec[field_] = (nxt + af.skip_left[d]) & 0xFFFFFFFF
                        flags |= skip_bit
            rec["app_flags"] = flags
            if af.det is not None and af.det.alerted:
                rec["fflags"] |= FF_ALERTED
        self._touched.clear()

    # -- flows ending --------------------------------------------------------------------------

    def end_flows(self, ended: npt.NDArray[np.void]) -> list[tuple[int, list[msgspec.Struct]]]:
        """Close the parsers of ended flows that have state; returns (row, events) pairs in
        row order and puts the decided `app_proto` on each such row."""
        out: list[tuple[int, list[msgspec.Struct]]] = []
        rows = np.flatnonzero(ended["app_flags"] & AF_PY)
        for r in rows.tolist():
            fid = int(ended[r]["flow_id"])
            af = self.flows.pop(fid, None)
            if af is None:
                continue
            if af.det is not None and af.det.alerted:
                ended[r]["fflags"] |= FF_ALERTED
            if af.alproto != ALPROTO_UNKNOWN:
                ended[r]["app_proto"] = af.alproto
            elif af.probe_buf is not None:
                ended[r]["app_proto"] = ALPROTO_FAILED
            start = len(self.events)
            last = int(ended[r]["last_ts"])
            for d, st in enumerate(af.streams):
                if st is not None and not af.closed:
                    for piece in st.flush():  # what waited behind a hole: after a gap
                        if af.closed:
                            break
                        self._deliver(af, d, piece, last)
            if not af.closed:
                self._close(af, last)
            self._release(af)
            evs = [ev for _, ev in self.events[start:]]
            del self.events[start:]
            if evs:
                out.append((r, evs))
        return out

    @property
    def current_pcnt(self) -> int | None:
        """`pcap_cnt` of the packet being parsed (None at a flow's end)."""
        return self._pcnt

    def add_alerts(self, alerts: list[Any]) -> None:
        """Alerts raised by the signatures at the packet being parsed."""
        self.events.extend((self._idx, a) for a in alerts)

    def take_events(self) -> list[tuple[int, msgspec.Struct]]:
        evs, self.events = self.events, []
        return evs

    # -- internals -----------------------------------------------------------------------------

    def _new_flow(
        self, fid: int, slot: int, r: np.void, d: int, ip_proto: int, fl: npt.NDArray[np.void]
    ) -> _AppFlow:
        ipver = int(r["ipver"])
        a = (int(r["src_hi"]), int(r["src_lo"]), int(r["sport"]))
        b = (int(r["dst_hi"]), int(r["dst_lo"]), int(r["dport"]))
        cli, srv = (a, b) if d == 0 else (b, a)
        cli_ip = ip_text(ipver, cli[0], cli[1])
        srv_ip = ip_text(ipver, srv[0], srv[1])
        pname = _PROTO_NAMES.get(ip_proto, str(ip_proto))
        vlan = [v for v in (int(r["vlan0"]), int(r["vlan1"])) if v] or None
        cid = community_id_text(self.config.community_id_seed, ipver, cli, srv, ip_proto)
        fwd = {
            "flow_id": FlowId(fid),
            "src_ip": cli_ip,
            "src_port": cli[2],
            "dest_ip": srv_ip,
            "dest_port": srv[2],
            "proto": pname,
            "ip_v": ipver,
            "vlan": vlan,
            "community_id": cid,
        }
        rev = dict(fwd)
        rev.update(src_ip=srv_ip, src_port=srv[2], dest_ip=cli_ip, dest_port=cli[2])
        af = _AppFlow(fid, slot, ip_proto, (fwd, rev))
        if self.detect is not None:
            af.det = TxCtx(
                fid,
                af.hdr,
                ((cli[0] << 64) | cli[1], cli[2], (srv[0] << 64) | srv[1], srv[2], ip_proto),
            )
        self._touched.append(af)
        if ip_proto == 6:
            rec = fl[slot]
            same = int(rec["flow_id"]) == fid
            fflags = int(rec["fflags"]) if same else 0
            isn_ts = int(rec["tcp_isn"]) if fflags & FF_ISN_TS else None
            isn_tc = int(rec["tcp_isn_tc"]) if fflags & FF_ISN_TC else None
            mo, mt = self.config.stream_max_ooo, self.stream_ctr
            af.streams = [Stream(mt, isn_ts, mo), Stream(mt, isn_tc, mo)]
        return af

    def _start(self, af: _AppFlow, alproto: int) -> None:
        """The protocol is known: create its parser (if any)."""
        af.alproto = alproto
        af.probe_buf = None
        af.word = stat_word(alproto, af.ip_proto)
        cls = self.registry.parser_for(alproto, af.ip_proto)
        if cls is None:
            af.closed = True
            return
        hdr = af.hdr
        word = ALPROTO_NAMES[alproto]
        hooks = None
        if self.detect is not None and af.det is not None and self.detect.wants(word):
            hooks = TxHooks(self.detect, af.det, word, self)

        def emit(
            event_cls: type[msgspec.Struct],
            body: msgspec.Struct,
            direction: int,
            ts_us: int,
            tx_id: int | None = None,
            *,
            extra: dict[str, Any] | None = None,
        ) -> None:
            by_packet = getattr(event_cls, "by_packet", False)
            h = hdr[direction if by_packet else 0]
            tag = event_cls.__struct_config__.tag
            pcnt = self._pcnt
            ev = event_cls(
                timestamp=eve_timestamp(ts_us),
                pcap_cnt=pcnt,
                pkt_src="wire/pcap" if pcnt is not None else "stream (flow timeout)",
                tx_id=tx_id,
                **h,
                **{str(tag): body},
                **(extra or {}),
            )
            if hooks is not None and hooks.on_events:
                hooks.event(str(tag), body, direction, ts_us, tx_id)
                if hooks.strip_certs:  # kept for tls.certs rules only, not logged
                    body = msgspec.structs.replace(body, certificate=None, chain=None)
                    ev = msgspec.structs.replace(ev, tls=body)
            self.events.append((self._idx, ev))
            self._bump(self.counters, f"app_layer.tx.{af.word}")

        if hooks is not None and word == "tls" and self.detect is not None:
            hooks.strip_certs = self.detect.reads("tls.certs")
            af.parser = cls(emit, self.config.limits, certificates=hooks.strip_certs)  # type: ignore[call-arg]
        elif hooks is not None and hooks.on_transactions:
            af.parser = cls(
                emit,
                self.config.limits,
                inspect_bodies=True,
                on_transaction=hooks.final,
                **self._file_options(word),
            )  # type: ignore[call-arg]
            af.hooks = hooks
            hooks.parser = af.parser
        else:
            af.parser = cls(emit, self.config.limits, **self._file_options(word))

    def _file_options(self, word: str) -> dict[str, Any]:
        """Parser options for file hashing (`AppConfig.file_hashes`: HTTP only)."""
        c = self.config
        if word != "http" or not c.file_hashes:
            return {}
        return {"file_hashes": True, "file_max_bytes": c.file_hash_max_bytes}

    def _tcp(self, af: _AppFlow, d: int, seq: int, tfl: int, payload: bytes, ts: int) -> None:
        st = af.streams[d]
        assert st is not None
        if tfl & TH_SYN:
            seq = (seq + 1) & 0xFFFFFFFF  # SYN with data (TCP Fast Open): data after the SYN
        if af.skip_left[d]:  # packets the kernel dropped as skipped (write_back) leave no hole
            af.skip_left[d] -= st.skip_to(seq, af.skip_left[d])
        for piece in st.add(seq, payload):
            if af.closed:
                return
            self._deliver(af, d, piece, ts)

    def _udp(self, af: _AppFlow, d: int, payload: bytes, ts: int) -> None:
        if af.parser is not None and not af.parser.done[d]:
            self._feed(af, d, payload, ts)

    def _deliver(self, af: _AppFlow, d: int, piece: bytes | tuple[int, int], ts: int) -> None:
        if isinstance(piece, tuple):  # a gap
            if af.probe_buf is not None:
                self._probe_failed(af)
                return
            if af.parser is None:
                return
            af.skip_left[d] = max(0, af.skip_left[d] - piece[1])
            if af.skip_left[d] == 0 and not af.parser.done[d]:
                self._call(af, "gap", d, ts)
            return
        if af.probe_buf is not None:
            self._probe_more(af, d, piece, ts)
            return
        parser = af.parser
        if parser is None or parser.done[d]:
            return
        skip = af.skip_left[d]
        if skip:
            if skip >= len(piece):
                af.skip_left[d] = skip - len(piece)
                return
            piece = piece[skip:]
            af.skip_left[d] = 0
        self._feed(af, d, piece, ts)

    def _feed(self, af: _AppFlow, d: int, data: bytes, ts: int) -> None:
        parser = af.parser
        assert parser is not None
        self.parsed_packets += 1
        if not self._call(af, "feed", d, ts, data):
            return
        if af.hooks is not None:
            af.hooks.progress(parser, d, ts)
        more = parser.skip[d]
        if more:
            parser.skip[d] = 0
            af.skip_left[d] += more
        if parser.done[0] and parser.done[1] and not af.closed:
            self._close(af, ts)

    def _call(self, af: _AppFlow, what: str, d: int, ts: int, data: bytes = b"") -> bool:
        """Run one parser call, containing its failures. False when the flow's parsing
        ended because of it."""
        parser = af.parser
        assert parser is not None
        try:
            if what == "feed":
                parser.feed(d, data, ts)
            else:
                self._bump(self.counters, f"app_layer.error.{af.word}.gap")
                parser.gap(d, ts)
            return True
        except ParseError as err:
            self._bump(self.counters, f"app_layer.error.{af.word}.parser")
            self._anomaly(af, d, ts, err)
            if parser.datagram:  # one bad datagram says nothing of the next one
                return True
        except Exception:  # a bug in a parser: count it, stop parsing this flow, go on
            self._bump(self.counters, f"app_layer.error.{af.word}.internal")
        af.closed = True
        self._mark_done(af)
        return False

    def _close(self, af: _AppFlow, ts: int) -> None:
        af.closed = True
        self._mark_done(af)
        if af.parser is None:
            return
        self._pcnt = None
        self.last_ts = ts
        try:
            af.parser.close(ts)
        except ParseError as err:
            self._bump(self.counters, f"app_layer.error.{af.word}.parser")
            self._anomaly(af, 0, ts, err)
        except Exception:
            self._bump(self.counters, f"app_layer.error.{af.word}.internal")

    def _mark_done(self, af: _AppFlow) -> None:
        self._closed.append(af)
        if not af.changed:
            af.changed = True
            self._touched.append(af)

    def _anomaly(self, af: _AppFlow, d: int, ts: int, err: Exception) -> None:
        h = af.hdr[d]
        self.events.append(
            (
                self._idx,
                AnomalyEvent(
                    timestamp=eve_timestamp(ts),
                    anomaly=AnomalyInfo(
                        type="applayer",
                        event="APPLAYER_PARSER_ERROR",
                        layer="proto_parser",
                        app_proto=ALPROTO_NAMES[af.alproto],
                    ),
                    pcap_cnt=self._pcnt,
                    src_ip=h["src_ip"],
                    dest_ip=h["dest_ip"],
                    proto=h["proto"],
                    src_port=h["src_port"],
                    dest_port=h["dest_port"],
                    vlan=h["vlan"],
                    flow_id=h["flow_id"],
                ),
            )
        )

    def _ports(self, af: _AppFlow) -> tuple[int, int]:
        h = af.hdr[0]
        return int(h["src_port"]), int(h["dest_port"])

    def _probe_more(self, af: _AppFlow, d: int, piece: bytes, ts: int) -> None:
        """The stream's start, probed again with more bytes (flows the kernel could not
        decide on a single packet). A direction fails on no match or `_PROBE_MAX_BYTES`
        without a decision; both failed: the flow is "failed"."""
        bufs = af.probe_buf
        assert bufs is not None
        if af.probe_fail[d]:
            return
        buf = bufs[d]
        buf += piece[: _PROBE_MAX_BYTES - len(buf)]
        arr = np.frombuffer(bytes(buf), np.uint8)
        r = int(probe(arr, 0, len(buf), 6, d, *self._ports(af)))
        if r == PROBE_MORE and len(buf) < _PROBE_MAX_BYTES:
            return
        if r in (PROBE_NO, PROBE_MORE):
            af.probe_fail[d] = True
            if af.probe_fail[1 - d]:
                self._probe_failed(af)
            return
        fail = af.probe_fail
        self._start(af, r)
        for dd in (d, 1 - d):
            if bufs[dd] and not fail[dd] and af.parser is not None and not af.closed:
                self._deliver(af, dd, bytes(bufs[dd]), ts)

    def _probe_failed(self, af: _AppFlow) -> None:
        af.probe_buf = None
        af.alproto = ALPROTO_FAILED
        af.word = stat_word(ALPROTO_FAILED, af.ip_proto)
        af.closed = True
        self._mark_done(af)

    def _release(self, af: _AppFlow) -> None:
        for st in af.streams:
            if st is not None:
                st.release()

    def retire_closed(self) -> None:
        """Drop the state of flows whose parsing is over (after `write_back`): the kernel no
        longer hands their packets over; their `app_proto` lives on in the flow table."""
        for af in self._closed:
            if self.flows.pop(af.fid, None) is not None:
                self._release(af)
        self._closed.clear()

    @staticmethod
    def _bump(d: dict[str, int], key: str, n: int = 1) -> None:
        d[key] = d.get(key, 0) + n

    def counter_dict(self) -> tuple[dict[str, int], dict[str, int]]:
        """(Suricata-named counters, Tocsin-only counters)."""
        flat = dict(self.counters)
        for k, v in self.stream_ctr.as_dict().items():
            flat[k] = v
        extra = dict(self.extra)
        extra["app_layer.flows_active"] = len(self.flows)
        extra["app_layer.packets_python"] = self.packets
        extra["app_layer.packets_parsed"] = self.parsed_packets
        return flat, extra
