"""The signature engine: rules run over packets, transactions and protocol events.

One `DetectEngine` per worker. The pipeline calls it at two places:

- **packets** (`packets()`, once per sub-batch, after the flow kernel): candidates come from
  the Hyperscan prefilter over the whole sub-batch's payloads (`prefilter.PatternSet`), from
  vectorised header masks for packet rules without a fast pattern, and, for IP-only rules,
  from the first packet of each flow direction. Only candidates reach Python, where each is
  evaluated in full (header, flow, flowbits, payload keywords);
- **transactions** (`on_http()`, `on_event()`, called by the app-layer dispatcher at the packet
  that completed them): the transaction's sticky buffers (`detect.buffers`) are scanned with
  each buffer's database, and candidate rules evaluated once their buffers are complete; each
  rule is decided once per transaction.

A transformed buffer (`detect.transforms`: `"dns.query|dotprefix"`) is a buffer of its own, with
its own prefilter database: its values are its base buffer's, transformed, once per inspection
round. A rule whose fast pattern is in a transformed packet payload has no raw-payload prefilter:
it is a candidate wherever its header allows.

A match runs the rule's flowbit actions, then its threshold / detection_filter, then becomes an
EVE `alert` (unless `noalert`). Alerts are returned tagged with their packet index, so the
pipeline writes them in packet order with flow and app-layer events, and the flow's
`alerted` flag is set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from time import perf_counter
from typing import Any, Protocol

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.decode.layout import FLAG_FLOW, FLAG_IP, FLAG_PORTS
from tocsin.detect.buffers.registry import spec
from tocsin.detect.compile import CompiledRule, buffer_proto, prepare
from tocsin.detect.match.fastpattern import choose_fast_pattern, fp_bytes
from tocsin.detect.model import (
    ANY_ADDR,
    CMP_OPS,
    PAYLOAD,
    V4_BASE,
    AddrSet,
    IntCmp,
    PortSet,
    Rule,
    TcpFlags,
)
from tocsin.detect.prefilter import PatternSet
from tocsin.detect.state import FlowBits, RateFilters, Thresholds, XBits
from tocsin.detect.thresholdfile import ThresholdConfig
from tocsin.detect.transforms import SEP, apply, split_key
from tocsin.flow.layout import FF_ALERTED, PS_APP, PS_ESTABLISHED, PS_FIRST
from tocsin.flow.table import FlowTable
from tocsin.model.events import AlertEvent, AlertFlow, AlertInfo
from tocsin.model.ids import FlowId, ip_text
from tocsin.output.eve_flow import PROTO_NAMES
from tocsin.output.timefmt import eve_timestamp

# what `alert.action` says: Tocsin watches a copy of the traffic (IDS), so a drop or reject
# rule blocks nothing: it alerts like Suricata in IDS mode
_ACTION = "allowed"
_V4_MASK = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class DetectConfig:
    max_threshold_trackers: int = 100_000
    max_xbits: int = 100_000  # (name, host or address pair) entries
    thresholds: ThresholdConfig | None = None  # a site's threshold.config


class _V4Table:
    """The IPv4 part of an AddrSet / a PortSet as arrays, for vectorised membership."""

    __slots__ = ("hi", "lo")

    def __init__(self, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]) -> None:
        self.lo = lo
        self.hi = hi

    def mask(self, v: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        i = np.searchsorted(self.lo, v, side="right") - 1
        ok = i >= 0
        return ok & (v <= self.hi[np.maximum(i, 0)])


def _v4_table(s: AddrSet) -> _V4Table:
    lo: list[int] = []
    hi: list[int] = []
    top = V4_BASE + _V4_MASK
    for a, b in zip(s.lo, s.hi, strict=True):
        if b < V4_BASE or a > top:
            continue
        lo.append(max(a, V4_BASE) - V4_BASE)
        hi.append(min(b, top) - V4_BASE)
    return _V4Table(np.asarray(lo, dtype=np.int64), np.asarray(hi, dtype=np.int64))


def _port_table(s: PortSet) -> _V4Table:
    return _V4Table(np.asarray(s.lo, dtype=np.int64), np.asarray(s.hi, dtype=np.int64))


def _cmp_mask(c: IntCmp, v: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    compare = CMP_OPS.get(c.op)
    if compare is not None:
        return np.asarray(compare(v, c.a), dtype=np.bool_)
    inside = (v > c.a) & (v < c.b)
    return inside if c.op == "<>" else ~inside


def flags_match(f: TcpFlags, flags: int) -> bool:
    """`flags:` on a TCP flags byte (bits in `mask` are ignored)."""
    v = flags & ~f.mask & 0xFF
    want = f.flags
    if f.modifier == "+":
        return v & want == want
    if f.modifier == "*":
        return v & want != 0 if want else v == 0
    if f.modifier == "!":
        return v & want == 0 if want else v != 0
    return v == want


class _Pkt:
    """One candidate packet's fields, read once."""

    __slots__ = (
        "app",
        "dir",
        "dport",
        "dst",
        "fid",
        "flags",
        "icode",
        "idx",
        "ipver",
        "itype",
        "pay",
        "pcnt",
        "ports",
        "proto",
        "ps",
        "rec",
        "slot",
        "sport",
        "src",
        "ts",
        "ttl",
    )
    app: int
    dir: int
    dport: int
    dst: int
    fid: int
    flags: int
    icode: int
    idx: int
    ipver: int
    itype: int
    pay: bytes
    pcnt: int
    ports: bool
    proto: int
    ps: int
    rec: np.void | None
    slot: int
    sport: int
    src: int
    ts: int
    ttl: int


class DetectEngine:
    """Per-worker detection state and rule groups (see the module docstring)."""

    def __init__(
        self,
        rules: list[Rule],
        config: DetectConfig | None = None,
        blobs: dict[str, bytes] | None = None,
    ) -> None:
        self.config = config or DetectConfig()
        self.rules = prepare(rules)
        self.flowbits = FlowBits()
        self.xbits = XBits(self.config.max_xbits)
        self.thresholds = Thresholds(self.config.max_threshold_trackers)
        self.counters: dict[str, int] = {}
        self.alerts = 0
        self.candidates = 0  # (packet or transaction, rule) pairs evaluated in full
        self.scanned_packets = 0  # payloads through the packet prefilter
        # load shedding (runtime.shed): payloads of flows past this many packets are not
        # scanned, and counted in `shed_packets`; None: every payload is
        self.bulk_after: int | None = None
        self.shed_packets = 0
        self.scanned_bytes = 0
        self.tx_rounds = 0  # transaction / event inspection rounds
        self.prefilter_s = 0.0  # time finding candidates (Hyperscan, header masks)
        self.confirm_s = 0.0  # time evaluating candidates in full
        self._v4: dict[int, _V4Table] = {}
        self._ports: dict[int, _V4Table] = {}
        self._by_word: dict[str, list[tuple[str, PatternSet, tuple[int, ...]]]] = {}
        self.passed: set[int] = set()  # flows an IP-only pass rule let through
        self.by_rule: dict[int, int] = {}  # alerts per rule (by evaluation order)
        self.suppressed = 0  # matches a threshold.config `suppress` kept from alerting
        self.rates = RateFilters()
        pkt_pats: dict[tuple[bytes, bool], list[int]] = {}
        tx_pats: dict[str, dict[tuple[bytes, bool], list[int]]] = {}
        self.pkt_nofp: list[CompiledRule] = []
        self.iponly: list[CompiledRule] = []
        self.tx_nofp: dict[str, list[int]] = {}  # app word -> rule orders
        self.tx_words: set[str] = set()
        self.tx_buffers: set[str] = set()  # every buffer some tx rule reads (transformed or not)
        # packet rules with a transformed packet payload: order -> (key, transforms)
        self._pkt_xf: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
        for cr in self.rules:
            if cr.kind == "iponly":
                self.iponly.append(cr)
                continue
            fp = choose_fast_pattern(cr.rule)
            if cr.kind == "tx":
                assert cr.app_word is not None
                self.tx_words.add(cr.app_word)
                self.tx_buffers.update(split_key(n)[0] for n in cr.tx_dirs)
                if fp is None or split_key(fp[0])[0] == PAYLOAD:
                    self.tx_nofp.setdefault(cr.app_word, []).append(cr.order)
                else:
                    key = (fp_bytes(fp[1]), fp[1].nocase)
                    tx_pats.setdefault(fp[0], {}).setdefault(key, []).append(cr.order)
                continue
            xf = [(n, split_key(n)[1]) for n in cr.rule.buffers if n != PAYLOAD]
            if xf:
                self._pkt_xf[cr.order] = xf
            if fp is None or fp[0] != PAYLOAD:
                self.pkt_nofp.append(cr)
            else:
                key = (fp_bytes(fp[1]), fp[1].nocase)
                pkt_pats.setdefault(key, []).append(cr.order)
        self._iponly_keys, self._iponly_always = _key_sides(self.iponly)
        blobs = blobs or {}
        self.pkt_patterns = PatternSet(list(pkt_pats), list(pkt_pats.values()), blobs.get(PAYLOAD))
        self.tx_patterns = {
            name: PatternSet(list(p), list(p.values()), blobs.get(name))
            for name, p in tx_pats.items()
        }

    def blobs(self) -> dict[str, bytes]:
        """Serialised Hyperscan databases, for the on-disk cache."""
        out: dict[str, bytes] = {}
        for name, ps in [(PAYLOAD, self.pkt_patterns), *self.tx_patterns.items()]:
            b = ps.dump()
            if b is not None:
                out[name] = b
        return out

    # -- packets -----------------------------------------------------------------------------

    def packets(
        self,
        pk: npt.NDArray[np.void],
        data: npt.NDArray[np.uint8],
        pos: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        flows: FlowTable,
        pcnt_base: int,
        pcnt: npt.NDArray[np.int64] | None = None,
    ) -> list[tuple[int, msgspec.Struct]]:
        """Run packet and IP-only rules over a sub-batch; alerts tagged with packet index."""
        n = pk.shape[0]
        if n == 0 or not self.rules:
            return []
        t0 = perf_counter()
        direction, pstate = flows.direction, flows.pstate
        in_flow = (pk["flags"] & FLAG_FLOW) != 0
        cands: dict[int, set[int]] = {}
        if self.pkt_patterns.npatterns:
            rows = np.flatnonzero(in_flow & (pk["pay_len"] > 0))
            if rows.size and self.bulk_after is not None:
                slots = flows.slot[rows]
                rec = flows.fl[np.maximum(slots, 0)]
                small = (slots < 0) | (rec["pkts_ts"] + rec["pkts_tc"] <= self.bulk_after)
                self.shed_packets += int(rows.size - np.count_nonzero(small))
                rows = rows[small]
            if rows.size:
                starts = (pos[rows] + pk["pay_off"][rows]).astype(np.int64)
                lens = pk["pay_len"][rows].astype(np.int64)
                self.scanned_packets += int(rows.size)
                self.scanned_bytes += int(lens.sum())
                which, pids = self.pkt_patterns.scan_many(data, starts, lens)
                if which.size:
                    prules = self.pkt_patterns.rules
                    for k, p in zip(rows[which].tolist(), pids.tolist(), strict=True):
                        got = cands.get(k)
                        if got is None:
                            cands[k] = set(prules[p])
                        else:
                            got.update(prules[p])
        if self.pkt_nofp:
            for cr in self.pkt_nofp:
                m = self._header_mask(cr, pk, direction, pstate, in_flow)
                for k in np.flatnonzero(m).tolist():
                    cands.setdefault(k, set()).add(cr.order)
        if self.iponly:
            first = ((pstate & PS_FIRST) != 0) | (~in_flow & ((pk["flags"] & FLAG_IP) != 0))
            rows = np.flatnonzero(first)
            if rows.size and not self._iponly_always:
                # only packets with an address in some rule's selective side can match
                sub = pk[rows]
                key = self._iponly_keys
                near = self._set_mask(key, sub["src_hi"], sub["src_lo"])
                near |= self._set_mask(key, sub["dst_hi"], sub["dst_lo"])
                rows = rows[near]
            if rows.size:
                sub = pk[rows]
                for cr in self.iponly:
                    m = self._addr_mask(cr, sub)
                    if cr.ip_protos is not None:
                        m &= np.isin(sub["proto"], list(cr.ip_protos))
                    for k in rows[m].tolist():
                        cands.setdefault(k, set()).add(cr.order)
        t1 = perf_counter()
        self.prefilter_s += t1 - t0
        if not cands:
            return []
        out: list[tuple[int, msgspec.Struct]] = []
        passed = self.passed
        ks = sorted(cands)
        for p in self._pkts(ks, pk, data, pos, ts_us, flows):
            k = p.idx
            if passed and p.fid in passed:
                continue
            p.pcnt = int(pcnt[k]) if pcnt is not None else pcnt_base + k + 1
            for order in sorted(cands[k]):
                cr = self.rules[order]
                self.candidates += 1
                if self._match_packet(cr, p):
                    if cr.rule.action == "pass":
                        # pass: no alert, and no other rule for this packet (pass rules run
                        # first); an IP-only pass rule lets the whole flow pass
                        self._apply_flowbits(cr.rule, p.fid, p.src, p.dst, p.ts)
                        if cr.kind == "iponly" and p.rec is not None:
                            passed.add(p.fid)
                        break
                    ev = self._fire(cr, p.fid, p.src, p.dst, p.ts, partial(self._pkt_alert, cr, p))
                    if ev is not None:
                        out.append((k, ev))
                        if p.rec is not None:
                            p.rec["fflags"] |= FF_ALERTED
        self.confirm_s += perf_counter() - t1
        return out

    def _pkts(
        self,
        ks: list[int],
        pk: npt.NDArray[np.void],
        data: npt.NDArray[np.uint8],
        pos: npt.NDArray[np.int64],
        ts_us: npt.NDArray[np.int64],
        flows: FlowTable,
    ) -> list[_Pkt]:
        """The candidate packets' fields, read column by column (not record by record)."""
        slot, direction, flow_id = flows.slot, flows.direction, flows.flow_id
        pstate, fl = flows.pstate, flows.fl
        idx = np.asarray(ks, dtype=np.int64)
        sub = pk[idx]
        cols = [
            sub[c].tolist()
            for c in (
                "ipver", "src_hi", "src_lo", "dst_hi", "dst_lo", "flags", "sport", "dport",
                "proto", "tcp_flags", "ttl", "icmp_type", "icmp_code", "pay_len", "pay_off",
            )
        ]  # fmt: skip
        slots = slot[idx].tolist()
        fids = flow_id[idx].tolist()
        sl = np.asarray(slots, dtype=np.int64)
        has = sl >= 0
        rec_fid = np.zeros(idx.size, dtype=np.uint64)
        rec_app = np.zeros(idx.size, dtype=np.int64)
        if has.any():
            recs = fl[sl[has]]
            rec_fid[has] = recs["flow_id"]
            rec_app[has] = recs["app_proto"]
        # the flow may have ended later in the sub-batch and its slot been taken by another
        same = (has & (rec_fid == flow_id[idx])).tolist()
        apps = rec_app.tolist()
        starts = (pos[idx] + sub["pay_off"]).tolist()
        extra = zip(ts_us[idx].tolist(), direction[idx].tolist(), pstate[idx].tolist(), strict=True)
        out: list[_Pkt] = []
        mv = data.data
        for j, (ts, d, ps) in enumerate(extra):
            (ipver, shi, slo, dhi, dlo, flg, sp, dp, proto, tfl, ttl, it, ic, plen, _) = (
                c[j] for c in cols
            )
            p = _Pkt()
            p.idx = ks[j]
            p.ipver = ipver
            p.src = (shi << 64) | slo
            p.dst = (dhi << 64) | dlo
            p.ports = bool(flg & FLAG_PORTS)
            p.sport = sp
            p.dport = dp
            p.proto = proto
            p.flags = tfl
            p.ttl = ttl
            p.itype = it
            p.icode = ic
            p.ts = ts
            p.slot = slots[j]
            p.dir = d
            p.fid = fids[j]
            p.ps = ps
            p.rec = fl[slots[j]] if same[j] else None
            p.app = apps[j] if same[j] else 0
            p.pay = bytes(mv[starts[j] : starts[j] + plen]) if plen > 0 else b""
            out.append(p)
        return out

    def _match_packet(self, cr: CompiledRule, p: _Pkt) -> bool:
        rule = cr.rule
        if cr.ip_protos is not None and p.proto not in cr.ip_protos:
            return False
        if not cr.match_addrs(p.src, p.sport, p.dst, p.dport, p.ports):
            return False
        if rule.app_proto is not None and not _app_ok(rule, bool(p.ps & PS_APP), p.app):
            return False
        fo = rule.flow
        if fo.to_server is not None and (p.dir == 0) != fo.to_server:
            return False
        if fo.established is not None and bool(p.ps & PS_ESTABLISHED) != fo.established:
            return False
        if rule.dsize is not None and not rule.dsize.test(len(p.pay)):
            return False
        if rule.flags is not None and (p.proto != 6 or not flags_match(rule.flags, p.flags)):
            return False
        if rule.ttl is not None and not rule.ttl.test(p.ttl):
            return False
        if rule.itype is not None and (p.proto not in (1, 58) or not rule.itype.test(p.itype)):
            return False
        if rule.icode is not None and (p.proto not in (1, 58) or not rule.icode.test(p.icode)):
            return False
        if rule.ip_proto is not None and not rule.ip_proto.test(p.proto):
            return False
        if not self._flowbits_ok(rule, p.fid, p.src, p.dst, p.ts):
            return False
        bufs = cr.buffers()
        xf = self._pkt_xf.get(cr.order)
        if xf is None:
            cb = bufs.get(PAYLOAD)
            return cb is None or cb.inspect(p.pay, None)
        env: dict[str, int] = {}
        cb = bufs.get(PAYLOAD)
        if cb is not None and not cb.inspect(p.pay, env):
            return False
        return all(bufs[name].inspect(apply(specs, p.pay), env) for name, specs in xf)

    def _header_mask(
        self,
        cr: CompiledRule,
        pk: npt.NDArray[np.void],
        direction: npt.NDArray[np.uint8],
        pstate: npt.NDArray[np.uint8],
        flows: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.bool_]:
        """Packets that can match a rule without a fast pattern (a superset: the exact test
        is `_match_packet`)."""
        rule = cr.rule
        m = flows.copy()
        if cr.ip_protos is not None:
            m &= np.isin(pk["proto"], list(cr.ip_protos))
        if rule.flow.to_server is not None:
            m &= (direction == 0) if rule.flow.to_server else (direction == 1)
        if rule.flow.established is not None:
            est = (pstate & PS_ESTABLISHED) != 0
            m &= est if rule.flow.established else ~est
        if rule.dsize is not None:
            m &= _cmp_mask(rule.dsize, pk["pay_len"])
        if rule.flags is not None:
            m &= pk["proto"] == 6
        if not m.any():
            return m
        if not cr.any_port and not rule.bidirectional:
            ports = (pk["flags"] & FLAG_PORTS) != 0
            m &= ~ports | (
                self._port_mask(cr.sport, pk["sport"]) & self._port_mask(cr.dport, pk["dport"])
            )
        if not cr.any_addr and m.any():
            m &= self._addr_mask(cr, pk)
        return m

    def _port_mask(self, s: PortSet, v: npt.NDArray[np.uint16]) -> npt.NDArray[np.bool_]:
        if s.is_any:
            return np.ones(v.shape[0], dtype=np.bool_)
        t = self._ports.get(id(s))
        if t is None:
            t = self._ports[id(s)] = _port_table(s)
        return t.mask(v.astype(np.int64))

    def _set_mask(
        self, s: AddrSet, hi: npt.NDArray[Any], lo: npt.NDArray[Any]
    ) -> npt.NDArray[np.bool_]:
        if s.is_any:
            return np.ones(hi.shape[0], dtype=np.bool_)
        t = self._v4.get(id(s))
        if t is None:
            t = self._v4[id(s)] = _v4_table(s)
        v4 = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
        out = np.zeros(hi.shape[0], dtype=np.bool_)
        if v4.any():
            out[v4] = t.mask((lo[v4] & np.uint64(_V4_MASK)).astype(np.int64))
        other = np.flatnonzero(~v4)
        for k in other.tolist():
            out[k] = s.contains((int(hi[k]) << 64) | int(lo[k]))
        return out

    def _addr_mask(self, cr: CompiledRule, pk: npt.NDArray[np.void]) -> npt.NDArray[np.bool_]:
        if cr.any_addr:
            return np.ones(pk.shape[0], dtype=np.bool_)
        sh, sl, dh, dl = pk["src_hi"], pk["src_lo"], pk["dst_hi"], pk["dst_lo"]
        m = self._set_mask(cr.src, sh, sl) & self._set_mask(cr.dst, dh, dl)
        if cr.rule.bidirectional:
            m |= self._set_mask(cr.src, dh, dl) & self._set_mask(cr.dst, sh, sl)
        return m

    # -- shared ------------------------------------------------------------------------------

    def _flowbits_ok(self, rule: Rule, fid: int, src: int, dst: int, ts: int) -> bool:
        """The rule's flowbits and xbits conditions, for a packet (or transaction direction)
        from `src` to `dst` at `ts` (µs)."""
        for fb in rule.flowbits:
            if fb.cmd in ("isset", "isnotset") and not self.flowbits.check(fid, fb):
                return False
        return all(self.xbits.check(xb, src, dst, ts) for xb in rule.xbits)

    def _apply_flowbits(self, rule: Rule, fid: int, src: int, dst: int, ts: int) -> bool:
        """A rule matched: its flowbit and xbit actions. True when it must not alert
        (noalert)."""
        silent = rule.noalert
        for fb in rule.flowbits:
            if fb.cmd == "noalert":
                silent = True
            else:
                self.flowbits.apply(fid, fb)
        for xb in rule.xbits:
            self.xbits.apply(xb, src, dst, ts)
        return silent

    def _fire(
        self,
        cr: CompiledRule,
        fid: int,
        src: int,
        dst: int,
        ts: int,
        make: Callable[[], AlertEvent],
    ) -> AlertEvent | None:
        """A rule matched: flowbit actions, thresholds, then the alert (or None)."""
        rule = cr.rule
        if self._apply_flowbits(rule, fid, src, dst, ts):
            return None
        threshold = rule.threshold
        site = self.config.thresholds
        if site is not None:
            if site.suppressed(rule.gid, rule.sid, src, dst):
                self.suppressed += 1
                return None
            threshold = site.threshold_for(rule.gid, rule.sid, threshold)
            rf = site.rate_filter_for(rule.gid, rule.sid)
            if rf is not None:
                key = (rule.key, _track(rf.track, src, dst, fid))
                if self.rates.passing(key, rf.count, rf.seconds, rf.timeout, ts):
                    self.suppressed += 1
                    return None
        for th in (rule.detection_filter, threshold):
            if th is None:
                continue
            track = _track(th.track, src, dst, fid)
            if not self.thresholds.allow(rule.key, th, track, ts):
                return None
        self.alerts += 1
        self.by_rule[cr.order] = self.by_rule.get(cr.order, 0) + 1
        return make()

    def _info(self, rule: Rule) -> AlertInfo:
        return AlertInfo(
            action=_ACTION,
            gid=rule.gid,
            signature_id=rule.sid,
            rev=rule.rev,
            signature=rule.msg,
            category=rule.category,
            severity=rule.priority,
            metadata=rule.metadata or None,
        )

    def _pkt_alert(self, cr: CompiledRule, p: _Pkt) -> AlertEvent:
        hi_lo = (p.src >> 64, p.src & ((1 << 64) - 1), p.dst >> 64, p.dst & ((1 << 64) - 1))
        src_ip = ip_text(p.ipver, hi_lo[0], hi_lo[1])
        dst_ip = ip_text(p.ipver, hi_lo[2], hi_lo[3])
        app = ALPROTO_NAMES[p.app] or None if p.rec is not None else None
        return AlertEvent(
            timestamp=eve_timestamp(p.ts),
            alert=self._info(cr.rule),
            flow_id=FlowId(p.fid) if p.rec is not None else None,
            pcap_cnt=p.pcnt,
            src_ip=src_ip,
            src_port=p.sport if p.ports else None,
            dest_ip=dst_ip,
            dest_port=p.dport if p.ports else None,
            proto=PROTO_NAMES.get(p.proto, str(p.proto)),
            ip_v=p.ipver,
            pkt_src="wire/pcap",
            direction=("to_server" if p.dir == 0 else "to_client") if p.rec is not None else None,
            app_proto=app,
        )

    # -- transactions and protocol events ----------------------------------------------------

    def reads(self, buffer: str) -> bool:
        """Whether some tx rule inspects this buffer."""
        return buffer in self.tx_buffers

    def wants(self, word: str) -> bool:
        """Whether any tx rule inspects this protocol's buffers."""
        return word in self.tx_words

    def flow_ctx(self, fid: int, hdr: tuple[dict[str, Any], ...], addrs: tuple[int, ...]) -> TxCtx:
        return TxCtx(fid, hdr, addrs)

    def on_tx(
        self,
        ctx: TxCtx,
        word: str,
        tx_key: int,
        bufs: TxBuffers,
        final: bool,
        ts: int,
        pcnt: int | None,
        app_obj: Callable[[], dict[str, Any]],
    ) -> list[AlertEvent]:
        """One inspection round of a transaction (or a protocol event, `final` at once).

        `bufs` gives a buffer's instances per direction and whether it is complete; a rule is
        decided once all its buffers are complete, or at the final round with what there is,
        and only once per transaction (`tx_key`). `app_obj()` is the alert's app-layer field
        (e.g. {"http": HttpInfo})."""
        if self.passed and ctx.fid in self.passed:
            return []
        t0 = perf_counter()
        st = ctx.txs.get(tx_key)
        if st is None:  # first round: the rules without a fast pattern are candidates
            st = ctx.txs[tx_key] = _TxState(set(self.tx_nofp.get(word, ())))
        decided, cands, scanned = st.decided, st.pending, st.scanned
        memo: dict[tuple[str, int | None], list[bytes]] = {}
        ready_memo: dict[tuple[str, int | None], bool] = {}
        # each buffer, in each direction it is inspected in, is scanned once: when it is
        # complete (no rule reading it can be decided before), or at the final round
        for name, ps, dirs in self._tx_sets(word):
            for way in dirs:
                key = (name, way)
                if key in scanned or not (final or _ready(bufs, name, way, ready_memo)):
                    continue
                for v in _tx_values(bufs, name, way, memo):
                    for pid in ps.scan(v):
                        cands.update(ps.rules[pid])
                scanned.add(key)
        cands -= decided
        out: list[AlertEvent] = []
        t1 = perf_counter()
        self.prefilter_s += t1 - t0
        self.tx_rounds += 1
        for order in sorted(cands):  # a copy: decided rules leave `cands` as we go
            cr = self.rules[order]
            if not final and not all(_ready(bufs, n, d, ready_memo) for n, d in cr.tx_dirs.items()):
                continue
            decided.add(order)
            cands.discard(order)
            self.candidates += 1
            d = self._match_tx(cr, ctx, bufs, memo, ts)
            if d is None:
                continue
            src, dst = (ctx.addrs[0], ctx.addrs[2]) if d == 0 else (ctx.addrs[2], ctx.addrs[0])
            if cr.rule.action == "pass":  # the rest of this transaction is let through
                decided.update(cands)
                cands.clear()
                self._apply_flowbits(cr.rule, ctx.fid, src, dst, ts)
                break
            ev = self._fire(
                cr,
                ctx.fid,
                src,
                dst,
                ts,
                partial(self._tx_alert, cr, ctx, d, ts, pcnt, word, app_obj, tx_key),
            )
            if ev is not None:
                out.append(ev)
                ctx.alerted = True
        if final:
            ctx.txs.pop(tx_key, None)
        self.confirm_s += perf_counter() - t1
        return out

    def _tx_sets(self, word: str) -> list[tuple[str, PatternSet, tuple[int, ...]]]:
        """A protocol's buffer databases, with the directions each buffer is inspected in."""
        got = self._by_word.get(word)
        if got is None:
            got = self._by_word[word] = []
            for name, ps in self.tx_patterns.items():
                if buffer_proto(name) != word:
                    continue
                try:
                    stages = spec(split_key(name)[0]).stages
                except KeyError:
                    continue
                dirs = tuple(d for d in (0, 1) if stages[d] is not None)
                got.append((name, ps, dirs))
        return got

    def _match_tx(
        self,
        cr: CompiledRule,
        ctx: TxCtx,
        bufs: TxBuffers,
        memo: dict[tuple[str, int | None], list[bytes]],
        ts: int,
    ) -> int | None:
        """The direction the rule matched the transaction in (0 to_server, 1 to_client: a
        buffer inspected both ways, in a rule with no `flow` direction, matches either), or
        None. `memo`: the round's transformed buffers (`_tx_values`). Flowbits and xbits
        are checked last: xbits need the addresses of the direction matched."""
        rule = cr.rule
        if cr.ip_protos is not None and ctx.proto not in cr.ip_protos:
            return None
        if rule.flow.established is False:
            return None
        compiled = cr.buffers()
        env: dict[str, int] = {}
        d = cr.tx_dir
        for name, bd in cr.tx_dirs.items():
            cb = compiled[name]
            hit = None
            for dd in (0, 1) if bd is None else (bd,):
                try:
                    vals = _tx_values(bufs, name, dd, memo)
                except KeyError:
                    vals = []
                if any(cb.inspect(v, env) for v in vals):
                    hit = dd
                    break
            if hit is None:
                return None
            d = max(d, hit)
        a = ctx.addrs
        src, sport, dst, dport = (a[0], a[1], a[2], a[3]) if d == 0 else (a[2], a[3], a[0], a[1])
        if not cr.match_addrs(src, sport, dst, dport, True):
            return None
        if not self._flowbits_ok(rule, ctx.fid, src, dst, ts):
            return None
        return d

    def _tx_alert(
        self,
        cr: CompiledRule,
        ctx: TxCtx,
        d: int,
        ts: int,
        pcnt: int | None,
        word: str,
        app_obj: Callable[[], dict[str, Any]],
        tx_id: int,
    ) -> AlertEvent:
        h = ctx.hdr[d]
        return AlertEvent(
            timestamp=eve_timestamp(ts),
            alert=self._info(cr.rule),
            flow_id=h["flow_id"],
            pcap_cnt=pcnt,
            src_ip=h["src_ip"],
            src_port=h["src_port"],
            dest_ip=h["dest_ip"],
            dest_port=h["dest_port"],
            proto=h["proto"],
            ip_v=h["ip_v"],
            pkt_src="wire/pcap" if pcnt is not None else "stream (flow timeout)",
            vlan=h["vlan"],
            community_id=h["community_id"],
            direction="to_server" if d == 0 else "to_client",
            tx_id=tx_id if tx_id >= 0 else None,
            app_proto=word,
            **app_obj(),
        )

    def flows_ended(self, fids: npt.NDArray[np.uint64]) -> None:
        if self.flowbits.bits or self.passed:
            for fid in fids.tolist():
                self.flowbits.drop(int(fid))
                self.passed.discard(int(fid))

    def top_alerts(self, n: int = 10) -> list[tuple[int, int, str, int, int]]:
        """The rules that alerted most: (gid, sid, signature, severity, alerts)."""
        top = sorted(self.by_rule.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [
            (r.gid, r.sid, r.msg, r.priority, count)
            for r, count in ((self.rules[order].rule, c) for order, c in top)
        ]

    def timings(self) -> dict[str, float]:
        """Seconds spent finding candidates and confirming them (for the run summary, not
        EVE: EVE output stays the same from run to run)."""
        return {"prefilter_s": self.prefilter_s, "confirm_s": self.confirm_s}

    def counter_dict(self) -> dict[str, int]:
        return {
            "detect.alert": self.alerts,
            "detect.rules": len(self.rules),
            "detect.candidates": self.candidates,
            "detect.scanned_packets": self.scanned_packets,
            "detect.scanned_bytes": self.scanned_bytes,
            "detect.tx_rounds": self.tx_rounds,
            "detect.threshold_evicted": self.thresholds.evicted,
            "detect.xbits_evicted": self.xbits.evicted,
            "detect.suppressed": self.suppressed,
        }


class TxBuffers(Protocol):
    """A transaction's sticky buffers (`detect.buffers.HttpBuffers`, `EventBuffers`)."""

    def multi(self, name: str, direction: int | None = None) -> list[bytes]: ...

    def ready(self, name: str, direction: int | None = None) -> bool: ...


class TxCtx:
    """A flow's detection state on the app-layer side: its EVE header per direction, its
    addresses as integers (client, client port, server, server port, IP protocol), and the
    inspection state of its transactions in progress."""

    __slots__ = ("addrs", "alerted", "fid", "hdr", "proto", "txs")

    def __init__(self, fid: int, hdr: tuple[dict[str, Any], ...], addrs: tuple[int, ...]) -> None:
        self.fid = fid
        self.hdr = hdr
        self.addrs = addrs
        self.proto = addrs[4]
        self.txs: dict[int, _TxState] = {}
        self.alerted = False


class _TxState:
    """One transaction's inspection so far: rules decided, candidates waiting for their
    buffers, buffers already scanned complete (not scanned again in later rounds)."""

    __slots__ = ("decided", "pending", "scanned")

    def __init__(self, pending: set[int]) -> None:
        self.decided: set[int] = set()
        self.pending = pending
        self.scanned: set[tuple[str, int]] = set()


def _ready(
    bufs: TxBuffers, name: str, direction: int | None, memo: dict[tuple[str, int | None], bool]
) -> bool:
    got = memo.get((name, direction))
    if got is None:
        got = memo[name, direction] = bufs.ready(split_key(name)[0], direction)
    return got


def _tx_values(
    bufs: TxBuffers,
    name: str,
    direction: int | None,
    memo: dict[tuple[str, int | None], list[bytes]],
) -> list[bytes]:
    """A tx buffer's instances in `direction` (both for None). A transformed buffer's
    (`base|t1|t2`) are its base buffer's through the transforms, computed once per round
    (`memo`). `KeyError` for a name that is not a buffer of this transaction's protocol."""
    got = memo.get((name, direction))
    if got is None:
        if SEP not in name:
            got = memo[name, direction] = bufs.multi(name, direction)
        else:
            base, specs = split_key(name)
            got = memo[name, direction] = [apply(specs, v) for v in bufs.multi(base, direction)]
    return got


def _track(how: str, src: int, dst: int, fid: int) -> object:
    """The key a threshold counts by."""
    if how == "by_src":
        return src
    if how == "by_dst":
        return dst
    if how == "by_both":  # the address pair, whichever way the packet goes (Suricata's IPPair)
        return (min(src, dst), max(src, dst))
    if how == "by_flow":
        return fid
    return None


def _key_sides(rules: list[CompiledRule]) -> tuple[AddrSet, bool]:
    """The union of the IP-only rules' selective sides (of source and destination, the one
    covering fewer addresses: the bad-address list of `[list] -> $HOME_NET`), and whether
    some rule has none (any to any: every packet is a candidate)."""
    lo: list[int] = []
    hi: list[int] = []
    for cr in rules:
        sides = [s for s in (cr.src, cr.dst) if not s.is_any]
        if not sides:
            return ANY_ADDR, True
        side = min(sides, key=lambda s: sum(b - a for a, b in zip(s.lo, s.hi, strict=True)))
        lo.extend(side.lo)
        hi.extend(side.hi)
    merged_lo: list[int] = []
    merged_hi: list[int] = []
    for a, b in sorted(zip(lo, hi, strict=True)):
        if merged_hi and a <= merged_hi[-1] + 1:
            merged_hi[-1] = max(merged_hi[-1], b)
        else:
            merged_lo.append(a)
            merged_hi.append(b)
    return AddrSet(tuple(merged_lo), tuple(merged_hi)), False


def _app_ok(rule: Rule, known: bool, app: int) -> bool:
    """`app-layer-protocol` (or an app-layer rule protocol) against the flow's protocol as
    known at this packet: nothing matches before the protocol is known (a rule for http does
    not see the handshake), negations included, as in Suricata."""
    if not known:
        return False
    name = ALPROTO_NAMES[app]
    nots = rule.extra.get("app_proto_not")
    if nots:
        return name not in nots
    return (name == rule.app_proto) != rule.app_proto_negated


def alert_flow(rec: np.void, pkts: tuple[int, int], nbytes: tuple[int, int]) -> AlertFlow:
    """`alert.flow` from a flow record, with the counts as of the alerting packet."""
    ipver = int(rec["ipver"])
    ports = int(rec["proto"]) in (6, 17, 132)
    return AlertFlow(
        pkts_toserver=pkts[0],
        pkts_toclient=pkts[1],
        bytes_toserver=nbytes[0],
        bytes_toclient=nbytes[1],
        start=eve_timestamp(int(rec["first_ts"])),
        src_ip=ip_text(ipver, int(rec["src_hi"]), int(rec["src_lo"])),
        dest_ip=ip_text(ipver, int(rec["dst_hi"]), int(rec["dst_lo"])),
        src_port=int(rec["sport"]) if ports else None,
        dest_port=int(rec["dport"]) if ports else None,
    )
