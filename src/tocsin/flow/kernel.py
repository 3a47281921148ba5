"""The compiled flow table: lookup/insert, TCP state, timeouts and eviction for a batch.

Data structures (all NumPy, owned by `flow.table.FlowTable`, handed to the kernels bundled in a
`FlowArrays` tuple):

- `fl`: `FLOW_DTYPE[cap]` flow slots; `free` a stack of unused slot numbers;
- `idx`: the hash index (`flow.index`), keys hashed by `flow.key`;
- one doubly-linked list per timeout class (`heads`/`tails`, links in `fl.prev/next`), ordered
  by the time each flow was queued (`lru_ts`): every flow of a class has the same timeout, so
  expiry only ever looks at list heads and costs O(1) per flow — no table scans, whatever the
  number of flows. A packet does not move its flow (that would cost two cache misses); a head
  found still active at expiry time is re-queued instead (see `_expire`).

Time is packet time: expiry runs when packet time has advanced by `tick_us` since the last run,
and a packet whose flow is already idle past its timeout ends that flow (reason "timeout") and
starts a new one, whatever the tick's phase. A flow ends when now - last > timeout.
When a new flow is needed and the table holds `cap` flows, the table enters emergency mode:
emergency timeouts apply, and if that frees nothing the least recently active flow is evicted
(reason "forced"). Emergency mode ends when the table falls below the recovery level.

Every ended flow is copied to the `ended` buffer; when the buffer is nearly full the kernel
returns early with the index of the next packet to process, and the caller drains the buffer
and calls again. Nothing is ever dropped silently.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_FAILED, ALPROTO_UNKNOWN, PROBE_MORE, PROBE_NO
from tocsin.decode.layout import FLAG_FLOW, TH_ACK, TH_RST, TH_SYN
from tocsin.flow.index import idx_entry, idx_remove, lookup
from tocsin.flow.key import key_hash, mix64, pclass
from tocsin.flow.layout import (
    AF_DONE_TC,
    AF_DONE_TS,
    AF_FAIL_TC,
    AF_FAIL_TS,
    AF_PY,
    AF_PYPROBE,
    AF_SKIP_TC,
    AF_SKIP_TS,
    END_FLUSH,
    FC_ACTIVE,
    FC_ACTIVE_MAX,
    FC_APP_SKIPPED,
    FC_EMERG_ENTERED,
    FC_EMERG_OVER,
    FC_EMERGENCY,
    FC_END_NEW,
    FC_EVICTED,
    FC_ICMPV4,
    FC_ICMPV6,
    FC_TCP,
    FC_TCP_MIDSTREAM,
    FC_TCP_REUSE,
    FC_TCP_RST,
    FC_TCP_SESSIONS,
    FC_TCP_SYN,
    FC_TCP_SYNACK,
    FC_TIMEOUT,
    FC_TOTAL,
    FC_UDP,
    FF_EMERGENCY,
    FF_IN_USE,
    FF_ISN_TC,
    FF_ISN_TS,
    FF_MIDSTREAM,
    FF_TC_SEEN,
    N_CLASSES,
    PROBE_MAX_PKTS,
    PS_APP,
    PS_ESTABLISHED,
    PS_FIRST,
    PS_MIDSTREAM,
    REASON_FORCED,
    REASON_SHUTDOWN,
    REASON_TCP_REUSE,
    REASON_TIMEOUT,
    STATE_CLOSED,
    STATE_ESTABLISHED,
    STATE_NEW,
    TCP_CLOSED,
    TCP_ESTABLISHED,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
)
from tocsin.flow.tcp import tcp_closed, tcp_next
from tocsin.jit import inline_kernel, kernel
from tocsin.model.icmp import icmp_counterpart

_SEQ_SALT = np.uint64(0x9E3779B97F4A7C15)

# indexes into the `st` state array
ST_FREE_TOP = 0
ST_EMERG = 1
ST_LAST_TICK = 2
ST_CAP = 3
ST_RECOVER_BELOW = 4
ST_TICK_US = 5
ST_NOW = 6
ST_SWEEP = 7  # 1: emergency mode was just entered, its expiry sweep is not finished
N_ST = 8


class FlowArrays(NamedTuple):
    """The flow table's arrays, handed to every kernel as one argument."""

    fl: np.ndarray  # FLOW_DTYPE[cap]: the flow slots
    idx: np.ndarray  # uint64 hash index (flow.index)
    heads: np.ndarray  # int32[N_CLASSES]: first flow of each timeout list
    tails: np.ndarray  # int32[N_CLASSES]: last flow of each timeout list
    free: np.ndarray  # int32[cap]: stack of free slots (top at st[ST_FREE_TOP])
    st: np.ndarray  # int64[N_ST]: the table's scalar state (ST_*)
    ctr: np.ndarray  # int64[N_FLOW_COUNTERS]: Suricata-named counters
    tmo: np.ndarray  # int64[2, N_CLASSES]: timeouts in µs, normal and emergency
    ended: np.ndarray  # FLOW_DTYPE[ended_buffer]: flows that ended, for the caller


@inline_kernel
def _lru_unlink(fl: np.ndarray, heads: np.ndarray, tails: np.ndarray, s: int) -> None:
    c = fl[s]["cls"]
    p = fl[s]["prev"]
    n = fl[s]["next"]
    if p >= 0:
        fl[p]["next"] = n
    else:
        heads[c] = n
    if n >= 0:
        fl[n]["prev"] = p
    else:
        tails[c] = p


@inline_kernel
def _lru_append(fl: np.ndarray, heads: np.ndarray, tails: np.ndarray, s: int, c: int) -> None:
    fl[s]["cls"] = c
    t = tails[c]
    fl[s]["prev"] = t
    fl[s]["next"] = -1
    if t >= 0:
        fl[t]["next"] = s
    else:
        heads[c] = s
    tails[c] = s


@kernel
def _end_flow(t: FlowArrays, n_ended: int, s: int, reason: int, i: int) -> int:
    """Copy flow `s` to `ended[n_ended]` (ended at packet `i` of the batch), free its slot;
    returns the new `n_ended`."""
    fl, idx, heads, tails, free, st, ctr, _, ended = t
    ended[n_ended] = fl[s]
    ended[n_ended]["reason"] = reason
    ended[n_ended]["end_idx"] = i
    if st[ST_EMERG] != 0:
        ended[n_ended]["fflags"] |= FF_EMERGENCY
    ctr[FC_END_NEW + fl[s]["state"]] += 1
    _lru_unlink(fl, heads, tails, s)
    idx_remove(fl, idx, s)
    fl[s]["fflags"] = 0
    top = st[ST_FREE_TOP]
    free[top] = s
    st[ST_FREE_TOP] = top + 1
    ctr[FC_ACTIVE] -= 1
    return n_ended + 1


@kernel
def _expire(t: FlowArrays, n_ended: int, now: int, limit: int, i: int) -> tuple[int, bool]:
    """End flows idle past their class timeout. Returns (n_ended, finished).

    A class list is ordered by `lru_ts`, the time a flow was (re)queued, not by its last
    packet: moving a flow on every packet would cost two cache misses a packet. So a head
    whose queue time is past the timeout is ended if its last packet is too, and otherwise
    re-queued at the tail with its last packet's time; the walk stops at the first head
    queued recently enough. Every flow is still ended within one tick of its timeout.
    """
    fl, _, heads, tails, _, st, ctr, tmo, _ = t
    mode = 1 if st[ST_EMERG] != 0 else 0
    for c in range(N_CLASSES):
        timeout = tmo[mode, c]
        while heads[c] >= 0:
            s = heads[c]
            if now - fl[s]["lru_ts"] <= timeout:
                break
            if now - fl[s]["last_ts"] <= timeout:
                _lru_unlink(fl, heads, tails, s)
                _lru_append(fl, heads, tails, s, c)
                fl[s]["lru_ts"] = fl[s]["last_ts"]
                continue
            if n_ended >= limit:
                return n_ended, False
            n_ended = _end_flow(t, n_ended, s, REASON_TIMEOUT, i)
            ctr[FC_TIMEOUT] += 1
    return n_ended, True


@kernel
def _oldest(fl: np.ndarray, heads: np.ndarray) -> int:
    best = -1
    best_ts = np.int64(0)
    for c in range(N_CLASSES):
        s = heads[c]
        if s >= 0 and (best < 0 or fl[s]["last_ts"] < best_ts):
            best = s
            best_ts = fl[s]["last_ts"]
    return best


@inline_kernel
def _seq_le(a: int, b: int) -> bool:
    """a <= b in 32-bit sequence space."""
    return ((np.int64(b) - np.int64(a)) & 0xFFFFFFFF) < 0x80000000


@inline_kernel
def _app_select(
    f: np.ndarray,
    d: int,
    proto: int,
    data: np.ndarray,
    o: int,
    plen: int,
    seq: int,
    app_want: np.ndarray,
    ctr: np.ndarray,
) -> int:
    """Whether a payload packet goes to the Python app layer: its flow's protocol (or
    `PROBE_MORE` while Python probes the stream's start), 0 when it does not.

    Protocol unknown: the probes look at the payload; a match sets `app_proto`, no match in
    both directions (or `PROBE_MAX_PKTS` payloads without one) makes it "failed", a prefix of
    a known protocol hands the stream's start to Python (`AF_PYPROBE`). Known protocol with a
    parser on: delivered unless the parser said it is done with that direction, or the bytes
    all fall before the direction's skip point (counted in `FC_APP_SKIPPED`).
    """
    ap = np.int64(f["app_proto"])
    af = np.int64(f["app_flags"])
    if ap == ALPROTO_UNKNOWN:
        if (af & AF_PYPROBE) != 0:
            f["app_flags"] = af | AF_PY
            return PROBE_MORE
        r = probe(data, o, plen, proto, d, np.int64(f["sport"]), np.int64(f["dport"]))
        if r == PROBE_MORE:
            f["app_flags"] = af | AF_PYPROBE | AF_PY
            return PROBE_MORE
        if r == PROBE_NO:
            af |= AF_FAIL_TS if d == 0 else AF_FAIL_TC
            npk = np.int64(f["app_npkt"]) + 1
            f["app_npkt"] = npk
            both = AF_FAIL_TS | AF_FAIL_TC
            if (af & both) == both or npk >= PROBE_MAX_PKTS:
                f["app_proto"] = ALPROTO_FAILED
            f["app_flags"] = af
            return 0
        f["app_proto"] = r
        ap = r
    if app_want[ap] == 0:
        return 0
    done = AF_DONE_TS if d == 0 else AF_DONE_TC
    if (af & done) != 0:
        return 0
    skip = AF_SKIP_TS if d == 0 else AF_SKIP_TC
    if proto == 6 and (af & skip) != 0:
        until = np.int64(f["skip_ts"] if d == 0 else f["skip_tc"])
        if _seq_le((seq + plen) & 0xFFFFFFFF, until):
            ctr[FC_APP_SKIPPED] += plen
            return 0
        af &= ~skip
    f["app_flags"] = af | AF_PY
    return ap


@kernel
def flow_update(
    pk: np.ndarray,
    wirelen: np.ndarray,
    ts_us: np.ndarray,
    i0: int,
    pslot: np.ndarray,
    pdir: np.ndarray,
    pfid: np.ndarray,
    t: FlowArrays,
    n_ended: int,
    data: np.ndarray,
    pos: np.ndarray,
    papp: np.ndarray,
    app_want: np.ndarray,
    pstate: np.ndarray,
    pcnt: np.ndarray,
) -> tuple[int, int]:
    """Account packets `i0..` of a decoded batch to flows.

    Fills `pslot` (slot, -1 when the packet has no flow), `pdir` (0 to server, 1 to client)
    and `pfid` (flow id). Returns (next packet index, n_ended): the next index is
    `len(pk)` when the batch is done, smaller when `t.ended` must be drained first.

    Application layer: `data[pos[i]:]` are packet `i`'s bytes; `papp[i]` is set to 1 when its
    payload must go to the Python app layer (see `_app_select`); `app_want[alproto]` != 0 for
    the protocols whose parser is on (all zero: the app layer is off, nothing is probed).

    `pstate[i]` is the flow's state as of packet `i` (PS_* in `flow.layout`): established,
    first packet of its direction, picked up midstream — what the signature engine's `flow`
    keyword reads, per packet, after the packet has been accounted.

    `pcnt[i]` is packet `i`'s number in the capture (its pcap_cnt): a new flow's id mixes it
    with the key and time, so a flow gets the same id however the packets were shared out
    among workers.
    """
    fl, idx, heads, tails, free, st, ctr, tmo, ended = t
    n = pk.shape[0]
    room = ended.shape[0]
    cap = st[ST_CAP]
    for i in range(i0, n):
        if room - n_ended < 2:
            return i, n_ended
        ts = ts_us[i]
        now = st[ST_NOW]
        if ts > now:
            now = ts
            st[ST_NOW] = ts
        if now - st[ST_LAST_TICK] >= st[ST_TICK_US]:
            n_ended, done = _expire(t, n_ended, now, room - 2, i)
            if not done:
                return i, n_ended
            st[ST_LAST_TICK] = now
            if st[ST_EMERG] != 0 and ctr[FC_ACTIVE] < st[ST_RECOVER_BELOW]:
                st[ST_EMERG] = 0
                ctr[FC_EMERG_OVER] += 1
                ctr[FC_EMERGENCY] = 0
        pslot[i] = -1
        pdir[i] = 0
        pfid[i] = 0
        papp[i] = 0
        pstate[i] = 0
        if (pk[i]["flags"] & FLAG_FLOW) == 0:
            continue
        proto = np.int64(pk[i]["proto"])
        ipver = np.int64(pk[i]["ipver"])
        sp = np.int64(pk[i]["sport"])
        dp = np.int64(pk[i]["dport"])
        if proto == 1 or proto == 58:
            cp = icmp_counterpart(proto, sp)
            dp = cp if cp >= 0 else dp
        shi = pk[i]["src_hi"]
        slo = pk[i]["src_lo"]
        dhi = pk[i]["dst_hi"]
        dlo = pk[i]["dst_lo"]
        v0 = np.int64(pk[i]["vlan0"])
        v1 = np.int64(pk[i]["vlan1"])
        tfl = np.int64(pk[i]["tcp_flags"])
        h = key_hash(shi, slo, sp, dhi, dlo, dp, proto, v0, v1)
        s, d, b = lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
        if s >= 0 and now - fl[s]["last_ts"] > tmo[1 if st[ST_EMERG] != 0 else 0, fl[s]["cls"]]:
            # idle past its timeout, though the expiry tick has not come round yet: the flow
            # is over whatever the tick's phase, and this packet starts a new one
            n_ended = _end_flow(t, n_ended, s, REASON_TIMEOUT, i)
            ctr[FC_TIMEOUT] += 1
            s, d, b = lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
        if (
            s >= 0
            and proto == 6
            and (tfl & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN
            and tcp_closed(fl[s]["tcp_state"])
            # the client resending its first SYN (e.g. after a RST) is not a new connection
            and not (d == 0 and pk[i]["tcp_seq"] == fl[s]["tcp_isn"])
        ):
            n_ended = _end_flow(t, n_ended, s, REASON_TCP_REUSE, i)
            ctr[FC_TCP_REUSE] += 1
            s, d, b = lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
        if s < 0:
            if ctr[FC_ACTIVE] >= cap:
                if st[ST_EMERG] == 0:
                    st[ST_EMERG] = 1
                    st[ST_SWEEP] = 1
                    ctr[FC_EMERG_ENTERED] += 1
                    ctr[FC_EMERGENCY] = 1
                if st[ST_SWEEP] != 0:
                    # end every flow past its emergency timeout before evicting any: when the
                    # ended buffer fills, come back to this packet once it is drained, so the
                    # outcome never depends on the buffer's size
                    n_ended, done = _expire(t, n_ended, now, room - 2, i)
                    if not done:
                        return i, n_ended
                    st[ST_SWEEP] = 0
                if ctr[FC_ACTIVE] >= cap:
                    victim = _oldest(fl, heads)
                    n_ended = _end_flow(t, n_ended, victim, REASON_FORCED, i)
                    ctr[FC_EVICTED] += 1
                s, d, b = lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
            top = st[ST_FREE_TOP] - 1
            st[ST_FREE_TOP] = top
            s = free[top]
            d = 0
            rev = proto == 6 and (tfl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK)
            f = fl[s]
            if rev:  # SYN/ACK first: its receiver initiated the connection
                f["src_hi"], f["src_lo"], f["sport"] = dhi, dlo, dp
                f["dst_hi"], f["dst_lo"], f["dport"] = shi, slo, sp
                d = 1
            else:
                f["src_hi"], f["src_lo"], f["sport"] = shi, slo, sp
                f["dst_hi"], f["dst_lo"], f["dport"] = dhi, dlo, dp
            f["hash"] = h
            f["proto"] = proto
            f["ipver"] = ipver
            f["vlan0"] = v0
            f["vlan1"] = v1
            f["first_ts"] = ts
            f["last_ts"] = ts
            f["pkts_ts"] = 0
            f["pkts_tc"] = 0
            f["bytes_ts"] = 0
            f["bytes_tc"] = 0
            f["tcp_flags_ts"] = 0
            f["tcp_flags_tc"] = 0
            f["icmp_type_ts"] = 0
            f["icmp_code_ts"] = 0
            f["icmp_type_tc"] = 0
            f["icmp_code_tc"] = 0
            f["reason"] = 0
            f["state"] = STATE_NEW
            f["fflags"] = FF_IN_USE
            f["tcp_state"] = 0
            f["tcp_isn"] = 0
            f["tcp_isn_tc"] = 0
            f["skip_ts"] = 0
            f["skip_tc"] = 0
            f["end_idx"] = 0
            f["app_proto"] = 0
            f["app_flags"] = 0
            f["app_npkt"] = 0
            # time and packet number mixed apart: a flow re-created one µs earlier (packet
            # time going back) by a later packet must not get the same id
            fid = mix64(h ^ mix64(np.uint64(ts)) ^ mix64(np.uint64(pcnt[i]) + _SEQ_SALT))
            f["flow_id"] = fid & np.uint64(0x7FFFFFFFFFFFF)
            idx[b] = idx_entry(h, s)
            _lru_append(fl, heads, tails, s, pclass(proto) * 3 + STATE_NEW)
            f["lru_ts"] = ts
            ctr[FC_TOTAL] += 1
            ctr[FC_ACTIVE] += 1
            if ctr[FC_ACTIVE] > ctr[FC_ACTIVE_MAX]:
                ctr[FC_ACTIVE_MAX] = ctr[FC_ACTIVE]
            if proto == 6:
                ctr[FC_TCP] += 1
                if (tfl & (TH_SYN | TH_ACK)) == TH_SYN:
                    f["tcp_state"] = TCP_SYN_SENT
                    f["tcp_isn"] = pk[i]["tcp_seq"]
                    f["fflags"] |= FF_ISN_TS
                    ctr[FC_TCP_SESSIONS] += 1
                elif rev:
                    f["tcp_state"] = TCP_SYN_RECV
                    f["fflags"] |= FF_MIDSTREAM
                    ctr[FC_TCP_MIDSTREAM] += 1
                elif (tfl & TH_RST) != 0:
                    f["tcp_state"] = TCP_CLOSED
                else:
                    f["tcp_state"] = TCP_ESTABLISHED
                    f["fflags"] |= FF_MIDSTREAM
                    ctr[FC_TCP_MIDSTREAM] += 1
            elif proto == 17:
                ctr[FC_UDP] += 1
            elif proto == 1:
                ctr[FC_ICMPV4] += 1
            elif proto == 58:
                ctr[FC_ICMPV6] += 1
            if (proto == 1 or proto == 58) and d == 0:
                f["icmp_type_ts"] = pk[i]["icmp_type"]
                f["icmp_code_ts"] = pk[i]["icmp_code"]
        f = fl[s]
        if (
            proto == 6
            and d == 0
            and (tfl & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN
            and f["tcp_state"] == TCP_SYN_SENT
        ):  # the client's SYN again, maybe with a new ISN: the stream starts after this one
            f["tcp_isn"] = pk[i]["tcp_seq"]
        wl = np.uint64(wirelen[i])
        ps = 0
        if (f["pkts_ts"] if d == 0 else f["pkts_tc"]) == 0:
            ps = PS_FIRST
        if (f["fflags"] & FF_MIDSTREAM) != 0:
            ps |= PS_MIDSTREAM
        if d == 0:
            f["pkts_ts"] += np.uint64(1)
            f["bytes_ts"] += wl
        else:
            if (f["fflags"] & FF_TC_SEEN) == 0:
                f["fflags"] |= FF_TC_SEEN
                if proto == 1 or proto == 58:
                    f["icmp_type_tc"] = pk[i]["icmp_type"]
                    f["icmp_code_tc"] = pk[i]["icmp_code"]
            f["pkts_tc"] += np.uint64(1)
            f["bytes_tc"] += wl
        if ts > f["last_ts"]:
            f["last_ts"] = ts
        if proto == 6:
            if d == 0:
                f["tcp_flags_ts"] |= tfl
            else:
                f["tcp_flags_tc"] |= tfl
            if (tfl & TH_SYN) != 0:
                if (tfl & TH_ACK) != 0:
                    ctr[FC_TCP_SYNACK] += 1
                    if d == 1:
                        f["tcp_isn_tc"] = pk[i]["tcp_seq"]
                        f["fflags"] |= FF_ISN_TC
                else:
                    ctr[FC_TCP_SYN] += 1
            if (tfl & TH_RST) != 0:
                ctr[FC_TCP_RST] += 1
            old = np.int64(f["tcp_state"])
            if old != 0:
                f["tcp_state"] = tcp_next(old, d, tfl)
            tstate = np.int64(f["tcp_state"])
            if tcp_closed(tstate):
                state = STATE_CLOSED
            elif tstate >= TCP_ESTABLISHED and (f["fflags"] & FF_TC_SEEN) != 0:
                state = STATE_ESTABLISHED
            else:
                state = STATE_NEW
        else:
            state = STATE_ESTABLISHED if (f["fflags"] & FF_TC_SEEN) != 0 else STATE_NEW
        f["state"] = state
        cls = pclass(proto) * 3 + state
        if cls != f["cls"]:  # same class: stays where it is (see _expire)
            _lru_unlink(fl, heads, tails, s)
            _lru_append(fl, heads, tails, s, cls)
            f["lru_ts"] = f["last_ts"]
        pslot[i] = s
        pdir[i] = d
        pfid[i] = f["flow_id"]
        if state == STATE_ESTABLISHED:
            ps |= PS_ESTABLISHED
        plen = np.int64(pk[i]["pay_len"])
        if (
            plen > 0
            and (proto == 6 or proto == 17)
            and app_want[0] != 0
            and not (app_want[0] == 2 and (f["fflags"] & FF_MIDSTREAM) != 0)
        ):
            papp[i] = _app_select(
                f, d, proto, data, pos[i] + pk[i]["pay_off"], plen, pk[i]["tcp_seq"], app_want, ctr
            )
        if f["app_proto"] != ALPROTO_UNKNOWN:
            ps |= PS_APP
        pstate[i] = ps
    return n, n_ended


@kernel
def flow_expire(t: FlowArrays, n_ended: int, now: int) -> tuple[int, bool]:
    """Packet time is `now` (it never goes back): end the flows idle past their timeout,
    as a packet at `now` would, without one (a worker whose share of the traffic is quiet;
    the end of a run). Returns (n_ended, finished): not finished when `ended` is full."""
    st = t.st
    if now > st[ST_NOW]:
        st[ST_NOW] = now
    now = st[ST_NOW]
    n_ended, done = _expire(t, n_ended, now, t.ended.shape[0] - 2, END_FLUSH)
    if done:
        st[ST_LAST_TICK] = now
        if st[ST_EMERG] != 0 and t.ctr[FC_ACTIVE] < st[ST_RECOVER_BELOW]:
            st[ST_EMERG] = 0
            t.ctr[FC_EMERG_OVER] += 1
            t.ctr[FC_EMERGENCY] = 0
    return n_ended, done


@kernel
def flow_expire_all(t: FlowArrays, n_ended: int, now: int, s0: int) -> tuple[int, int]:
    """End every flow idle past its timeout at `now`, scanning slots from `s0` (the end of
    a run: exact, whatever the order of the timeout lists). Returns (n_ended, next slot to
    scan): the slot count when done, less when `ended` is full."""
    fl, _, _, _, _, st, ctr, tmo, ended = t
    mode = 1 if st[ST_EMERG] != 0 else 0
    room = ended.shape[0]
    for s in range(s0, fl.shape[0]):
        if (fl[s]["fflags"] & FF_IN_USE) == 0 or now - fl[s]["last_ts"] <= tmo[mode, fl[s]["cls"]]:
            continue
        if n_ended >= room:
            return n_ended, s
        n_ended = _end_flow(t, n_ended, s, REASON_TIMEOUT, END_FLUSH)
        ctr[FC_TIMEOUT] += 1
    return n_ended, fl.shape[0]


@kernel
def flow_flush(t: FlowArrays, n_ended: int) -> tuple[int, bool]:
    """End every flow (reason "shutdown"), oldest activity first, while `ended` has room."""
    room = t.ended.shape[0]
    while n_ended < room:
        s = _oldest(t.fl, t.heads)
        if s < 0:
            return n_ended, True
        n_ended = _end_flow(t, n_ended, s, REASON_SHUTDOWN, END_FLUSH)
    return n_ended, _oldest(t.fl, t.heads) < 0
