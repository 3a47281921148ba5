"""The compiled flow table: lookup/insert, TCP state, timeouts and eviction for a batch.

Data structures (all NumPy, owned by `flow.table.FlowTable`):

- `fl`: `FLOW_DTYPE[cap]` flow slots; `free` a stack of unused slot numbers;
- `idx`: open-addressing hash index (linear probing, power-of-two size ≥ 2 × cap); an entry
  holds the flow's slot + 1 and the low 32 bits of its hash (0 = empty), so probing past other
  flows and deleting them never touches their records (one cache miss less per packet under a
  flood); deletion is by backward shift, so there are no tombstones;
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

import numpy as np

from tocsin.decode.layout import FLAG_FLOW, TH_ACK, TH_FIN, TH_RST, TH_SYN
from tocsin.flow.layout import (
    FC_ACTIVE,
    FC_ACTIVE_MAX,
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
    FF_MIDSTREAM,
    FF_TC_SEEN,
    N_CLASSES,
    PCLASS_ICMP,
    PCLASS_OTHER,
    PCLASS_TCP,
    PCLASS_UDP,
    REASON_FORCED,
    REASON_SHUTDOWN,
    REASON_TCP_REUSE,
    REASON_TIMEOUT,
    STATE_CLOSED,
    STATE_ESTABLISHED,
    STATE_NEW,
    TCP_CLOSE_WAIT,
    TCP_CLOSED,
    TCP_CLOSING,
    TCP_ESTABLISHED,
    TCP_FIN_WAIT1,
    TCP_FIN_WAIT2,
    TCP_LAST_ACK,
    TCP_SYN_RECV,
    TCP_SYN_SENT,
    TCP_TIME_WAIT,
)
from tocsin.jit import inline_kernel, kernel

# indexes into the `st` state array
ST_FREE_TOP = 0
ST_EMERG = 1
ST_LAST_TICK = 2
ST_CAP = 3
ST_RECOVER_BELOW = 4
ST_TICK_US = 5
ST_NOW = 6
ST_SEQ = 7
ST_SWEEP = 8  # 1: emergency mode was just entered, its expiry sweep is not finished
N_ST = 9

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_LOW32 = np.uint64(0xFFFFFFFF)


@inline_kernel
def _mix(x: np.uint64) -> np.uint64:
    x ^= x >> _S33
    x *= _M1
    x ^= x >> _S33
    x *= _M2
    x ^= x >> _S33
    return x


@inline_kernel
def _endpoint(hi: np.uint64, lo: np.uint64, port: int) -> np.uint64:
    return _mix(hi ^ _mix(lo ^ (np.uint64(port) << np.uint64(48))))


@inline_kernel
def key_hash(
    shi: np.uint64,
    slo: np.uint64,
    sp: int,
    dhi: np.uint64,
    dlo: np.uint64,
    dp: int,
    proto: int,
    v0: int,
    v1: int,
) -> np.uint64:
    """Direction-independent hash of a flow key."""
    h = _endpoint(shi, slo, sp) + _endpoint(dhi, dlo, dp)
    h ^= (np.uint64(proto) << np.uint64(32)) | (np.uint64(v0) << np.uint64(16)) | np.uint64(v1)
    return _mix(h)


@inline_kernel
def icmp_counterpart(ipver: int, itype: int) -> int:
    """The response (or request) type paired with `itype`, or -1 (Community ID's table)."""
    if ipver == 4:
        if itype == 8:
            return 0
        if itype == 0:
            return 8
        if itype == 13:
            return 14
        if itype == 14:
            return 13
        if itype == 15:
            return 16
        if itype == 16:
            return 15
        if itype == 17:
            return 18
        if itype == 18:
            return 17
        if itype == 10:
            return 9
        if itype == 9:
            return 10
        return -1
    if itype == 128:
        return 129
    if itype == 129:
        return 128
    if itype == 133:
        return 134
    if itype == 134:
        return 133
    if itype == 135:
        return 136
    if itype == 136:
        return 135
    if itype == 130:
        return 131
    if itype == 131:
        return 130
    if itype == 144:
        return 145
    if itype == 145:
        return 144
    return -1


@inline_kernel
def _pclass(proto: int) -> int:
    if proto == 6:
        return PCLASS_TCP
    if proto == 17:
        return PCLASS_UDP
    if proto == 1 or proto == 58:
        return PCLASS_ICMP
    return PCLASS_OTHER


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


@inline_kernel
def _idx_entry(h: np.uint64, s: int) -> np.uint64:
    """An index entry: the hash's low 32 bits (a tag) above slot + 1; 0 is an empty bucket."""
    return ((h & _LOW32) << np.uint64(32)) | np.uint64(s + 1)


@kernel
def _idx_remove(fl: np.ndarray, idx: np.ndarray, s: int) -> None:
    mask = idx.shape[0] - 1
    b = np.int64(fl[s]["hash"] & np.uint64(mask))
    want = np.uint64(s + 1)
    while (idx[b] & _LOW32) != want:
        b = (b + 1) & mask
    i = b
    j = b
    while True:
        j = (j + 1) & mask
        e = idx[j]
        if e == 0:
            break
        k = np.int64((e >> np.uint64(32)) & np.uint64(mask))  # home bucket, from the tag
        # the entry at j stays when its home bucket k is cyclically within (i, j]
        stays = i < k <= j if i <= j else k > i or k <= j
        if stays:
            continue
        idx[i] = e
        i = j
    idx[i] = 0


@kernel
def _end_flow(
    fl: np.ndarray,
    idx: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    free: np.ndarray,
    st: np.ndarray,
    ctr: np.ndarray,
    ended: np.ndarray,
    n_ended: int,
    s: int,
    reason: int,
) -> int:
    """Copy flow `s` to `ended[n_ended]`, free its slot; returns the new `n_ended`."""
    ended[n_ended] = fl[s]
    ended[n_ended]["reason"] = reason
    if st[ST_EMERG] != 0:
        ended[n_ended]["fflags"] |= FF_EMERGENCY
    ctr[FC_END_NEW + fl[s]["state"]] += 1
    _lru_unlink(fl, heads, tails, s)
    _idx_remove(fl, idx, s)
    fl[s]["fflags"] = 0
    top = st[ST_FREE_TOP]
    free[top] = s
    st[ST_FREE_TOP] = top + 1
    ctr[FC_ACTIVE] -= 1
    return n_ended + 1


@kernel
def _expire(
    fl: np.ndarray,
    idx: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    free: np.ndarray,
    st: np.ndarray,
    ctr: np.ndarray,
    tmo: np.ndarray,
    ended: np.ndarray,
    n_ended: int,
    now: int,
    limit: int,
) -> tuple[int, bool]:
    """End flows idle past their class timeout. Returns (n_ended, finished).

    A class list is ordered by `lru_ts`, the time a flow was (re)queued, not by its last
    packet: moving a flow on every packet would cost two cache misses a packet. So a head
    whose queue time is past the timeout is ended if its last packet is too, and otherwise
    re-queued at the tail with its last packet's time; the walk stops at the first head
    queued recently enough. Every flow is still ended within one tick of its timeout.
    """
    mode = 1 if st[ST_EMERG] != 0 else 0
    for c in range(N_CLASSES):
        t = tmo[mode, c]
        while heads[c] >= 0:
            s = heads[c]
            if now - fl[s]["lru_ts"] <= t:
                break
            if now - fl[s]["last_ts"] <= t:
                _lru_unlink(fl, heads, tails, s)
                _lru_append(fl, heads, tails, s, c)
                fl[s]["lru_ts"] = fl[s]["last_ts"]
                continue
            if n_ended >= limit:
                return n_ended, False
            n_ended = _end_flow(
                fl, idx, heads, tails, free, st, ctr, ended, n_ended, s, REASON_TIMEOUT
            )
            ctr[FC_TIMEOUT] += 1
    return n_ended, True


@inline_kernel
def _tcp_next(state: int, d: int, fl_: int) -> int:
    """TCP state after a packet with flags `fl_` in direction `d` (0 = to server)."""
    if (fl_ & TH_RST) != 0:
        return TCP_CLOSED
    syn = (fl_ & TH_SYN) != 0
    ack = (fl_ & TH_ACK) != 0
    fin = (fl_ & TH_FIN) != 0
    if state == TCP_SYN_SENT:
        if d == 1 and syn:
            return TCP_SYN_RECV
        return state
    if state == TCP_SYN_RECV:
        if d == 0 and ack and not syn:
            return TCP_FIN_WAIT1 if fin else TCP_ESTABLISHED
        return state
    if state == TCP_ESTABLISHED:
        if fin:
            return TCP_FIN_WAIT1 if d == 0 else TCP_CLOSE_WAIT
        return state
    if state == TCP_FIN_WAIT1:
        if d == 1 and fin:
            return TCP_TIME_WAIT if ack else TCP_CLOSING
        if d == 1 and ack:
            return TCP_FIN_WAIT2
        return state
    if state == TCP_FIN_WAIT2:
        if d == 1 and fin:
            return TCP_TIME_WAIT
        return state
    if state == TCP_CLOSE_WAIT:
        if d == 0 and fin:
            return TCP_LAST_ACK
        return state
    if state == TCP_LAST_ACK:
        if d == 1 and ack:
            return TCP_CLOSED
        return state
    if state == TCP_CLOSING:
        if ack:
            return TCP_TIME_WAIT
        return state
    return state


@inline_kernel
def _tcp_closed(state: int) -> bool:
    return state in (TCP_TIME_WAIT, TCP_LAST_ACK, TCP_CLOSING, TCP_CLOSED)


@kernel
def _lookup(
    fl: np.ndarray,
    idx: np.ndarray,
    h: np.uint64,
    shi: np.uint64,
    slo: np.uint64,
    sp: int,
    dhi: np.uint64,
    dlo: np.uint64,
    dp: int,
    proto: int,
    ipver: int,
    v0: int,
    v1: int,
) -> tuple[int, int, int]:
    """Returns (slot or -1, direction, bucket where the key is or would go).

    `ipver` is part of the key: an IPv4 address is stored IPv4-mapped, so an IPv6 flow between
    ::ffff:a.b.c.d addresses has the very same address bits as the IPv4 flow.
    """
    mask = idx.shape[0] - 1
    b = np.int64(h & np.uint64(mask))
    tag = h & _LOW32
    while True:
        e = idx[b]
        if e == 0:
            return -1, 0, b
        s = np.int64(e & _LOW32) - 1
        if (
            (e >> np.uint64(32)) == tag
            and fl[s]["hash"] == h
            and fl[s]["proto"] == proto
            and fl[s]["ipver"] == ipver
            and fl[s]["vlan0"] == v0
            and fl[s]["vlan1"] == v1
        ):
            if (
                fl[s]["src_lo"] == slo
                and fl[s]["dst_lo"] == dlo
                and fl[s]["sport"] == sp
                and fl[s]["dport"] == dp
                and fl[s]["src_hi"] == shi
                and fl[s]["dst_hi"] == dhi
            ):
                return s, 0, b
            if (
                fl[s]["src_lo"] == dlo
                and fl[s]["dst_lo"] == slo
                and fl[s]["sport"] == dp
                and fl[s]["dport"] == sp
                and fl[s]["src_hi"] == dhi
                and fl[s]["dst_hi"] == shi
            ):
                return s, 1, b
        b = (b + 1) & mask


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


@kernel
def flow_update(
    pk: np.ndarray,
    wirelen: np.ndarray,
    ts_us: np.ndarray,
    i0: int,
    pslot: np.ndarray,
    pdir: np.ndarray,
    pfid: np.ndarray,
    fl: np.ndarray,
    idx: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    free: np.ndarray,
    st: np.ndarray,
    ctr: np.ndarray,
    tmo: np.ndarray,
    ended: np.ndarray,
    n_ended: int,
) -> tuple[int, int]:
    """Account packets `i0..` of a decoded batch to flows.

    Fills `pslot` (slot, -1 when the packet has no flow), `pdir` (0 to server, 1 to client)
    and `pfid` (flow id). Returns (next packet index, n_ended): the next index is
    `len(pk)` when the batch is done, smaller when `ended` must be drained first.
    """
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
            n_ended, done = _expire(
                fl, idx, heads, tails, free, st, ctr, tmo, ended, n_ended, now, room - 2
            )
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
        if (pk[i]["flags"] & FLAG_FLOW) == 0:
            continue
        proto = np.int64(pk[i]["proto"])
        ipver = np.int64(pk[i]["ipver"])
        sp = np.int64(pk[i]["sport"])
        dp = np.int64(pk[i]["dport"])
        if proto == 1 or proto == 58:
            cp = icmp_counterpart(ipver, sp)
            dp = cp if cp >= 0 else dp
        shi = pk[i]["src_hi"]
        slo = pk[i]["src_lo"]
        dhi = pk[i]["dst_hi"]
        dlo = pk[i]["dst_lo"]
        v0 = np.int64(pk[i]["vlan0"])
        v1 = np.int64(pk[i]["vlan1"])
        tfl = np.int64(pk[i]["tcp_flags"])
        h = key_hash(shi, slo, sp, dhi, dlo, dp, proto, v0, v1)
        s, d, b = _lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
        if s >= 0 and now - fl[s]["last_ts"] > tmo[1 if st[ST_EMERG] != 0 else 0, fl[s]["cls"]]:
            # idle past its timeout, though the expiry tick has not come round yet: the flow
            # is over whatever the tick's phase, and this packet starts a new one
            n_ended = _end_flow(
                fl, idx, heads, tails, free, st, ctr, ended, n_ended, s, REASON_TIMEOUT
            )
            ctr[FC_TIMEOUT] += 1
            s, d, b = _lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
        if (
            s >= 0
            and proto == 6
            and (tfl & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN
            and _tcp_closed(fl[s]["tcp_state"])
            # the client resending its first SYN (e.g. after a RST) is not a new connection
            and not (d == 0 and pk[i]["tcp_seq"] == fl[s]["tcp_isn"])
        ):
            n_ended = _end_flow(
                fl, idx, heads, tails, free, st, ctr, ended, n_ended, s, REASON_TCP_REUSE
            )
            ctr[FC_TCP_REUSE] += 1
            s, d, b = _lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
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
                    n_ended, done = _expire(
                        fl,
                        idx,
                        heads,
                        tails,
                        free,
                        st,
                        ctr,
                        tmo,
                        ended,
                        n_ended,
                        now,
                        room - 2,
                    )
                    if not done:
                        return i, n_ended
                    st[ST_SWEEP] = 0
                if ctr[FC_ACTIVE] >= cap:
                    victim = _oldest(fl, heads)
                    n_ended = _end_flow(
                        fl,
                        idx,
                        heads,
                        tails,
                        free,
                        st,
                        ctr,
                        ended,
                        n_ended,
                        victim,
                        REASON_FORCED,
                    )
                    ctr[FC_EVICTED] += 1
                s, d, b = _lookup(fl, idx, h, shi, slo, sp, dhi, dlo, dp, proto, ipver, v0, v1)
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
            seq = st[ST_SEQ]
            st[ST_SEQ] = seq + 1
            f["flow_id"] = _mix(h ^ _mix(np.uint64(ts) + np.uint64(seq))) & np.uint64(
                0x7FFFFFFFFFFFF
            )
            idx[b] = _idx_entry(h, s)
            _lru_append(fl, heads, tails, s, _pclass(proto) * 3 + STATE_NEW)
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
        wl = np.uint64(wirelen[i])
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
                else:
                    ctr[FC_TCP_SYN] += 1
            if (tfl & TH_RST) != 0:
                ctr[FC_TCP_RST] += 1
            old = np.int64(f["tcp_state"])
            if old != 0:
                f["tcp_state"] = _tcp_next(old, d, tfl)
            tstate = np.int64(f["tcp_state"])
            if _tcp_closed(tstate):
                state = STATE_CLOSED
            elif tstate >= TCP_ESTABLISHED and (f["fflags"] & FF_TC_SEEN) != 0:
                state = STATE_ESTABLISHED
            else:
                state = STATE_NEW
        else:
            state = STATE_ESTABLISHED if (f["fflags"] & FF_TC_SEEN) != 0 else STATE_NEW
        f["state"] = state
        cls = _pclass(proto) * 3 + state
        if cls != f["cls"]:  # same class: stays where it is (see _expire)
            _lru_unlink(fl, heads, tails, s)
            _lru_append(fl, heads, tails, s, cls)
            f["lru_ts"] = f["last_ts"]
        pslot[i] = s
        pdir[i] = d
        pfid[i] = f["flow_id"]
    return n, n_ended


@kernel
def flow_flush(
    fl: np.ndarray,
    idx: np.ndarray,
    heads: np.ndarray,
    tails: np.ndarray,
    free: np.ndarray,
    st: np.ndarray,
    ctr: np.ndarray,
    ended: np.ndarray,
    n_ended: int,
) -> tuple[int, bool]:
    """End every flow (reason "shutdown"), oldest activity first, while `ended` has room."""
    room = ended.shape[0]
    while n_ended < room:
        s = _oldest(fl, heads)
        if s < 0:
            return n_ended, True
        n_ended = _end_flow(
            fl, idx, heads, tails, free, st, ctr, ended, n_ended, s, REASON_SHUTDOWN
        )
    return n_ended, _oldest(fl, heads) < 0
