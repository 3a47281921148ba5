"""Flow table under pressure: churn, emergency mode, a small ended buffer, floods, replay
determinism and out-of-order packet time. Packets in, ended flows out."""

from __future__ import annotations

import itertools
import random
import struct

import numpy as np
import pytest
from flowkit import (
    ACK,
    PSH,
    SEC,
    SYN,
    T0,
    Packet,
    feed,
    handshake,
    icmp,
    run_flows,
    tcp,
    udp,
)

from tocsin.flow.layout import FF_IN_USE
from tocsin.flow.table import FlowConfig, FlowTable

ARP = (
    b"\xff" * 6
    + b"\x02\x00\x00\x00\x00\x01"
    + b"\x08\x06"
    + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
    + b"\x00" * 20
)  # no flow: only advances packet time (and so runs the expiry tick)

UDP_TEMPLATE = udp("10.0.0.1", 1, "10.200.0.1", 53, b"q" * 10)
TCP_TEMPLATE = tcp("10.0.0.1", 1, "10.200.0.1", 80, ACK)


def fast(proto: int, src: int, sport: int, dst: int, dport: int) -> bytes:
    """A UDP datagram or TCP ACK between IPv4 addresses given as ints (no `ipaddress` cost)."""
    t = UDP_TEMPLATE if proto == 17 else TCP_TEMPLATE
    return t[:26] + struct.pack("!IIHH", src, dst, sport, dport) + t[38:]


def pkts_of(flows: np.ndarray) -> int:
    return int(flows["pkts_ts"].sum() + flows["pkts_tc"].sum())


def flow_packets(n: int) -> int:
    return n


# --------------------------------------------------------------------------- emergency
def syn_flood(n: int, t: int = T0) -> list[Packet]:
    return [(t + i, tcp("10.1.0.1", 1024 + i, "10.2.0.1", 80, SYN)) for i in range(n)]


def test_emergency_mode_evicts_and_recovers() -> None:
    table = FlowTable(FlowConfig(cap=16, ended_buffer=64))
    run = None
    pkts = syn_flood(100)
    for k in range(0, 100, 7):
        run = feed(table, pkts[k : k + 7], run)
        assert table.active <= 16
    assert run is not None
    c = table.counters()
    assert c["flow.emerg_mode_entered"] == 1 and c["flow.emerg_mode_over"] == 0
    assert c["flow.emergency"] == 1 and table.emergency
    assert c["flow.mgr.flows_evicted"] == 84 and c["flow.total"] == 100
    assert c["flow.active_max"] == 16 and c["flow.active"] == 16
    evs = run.eve()
    assert len(evs) == 84
    assert all(e["flow"]["reason"] == "forced" and e["flow"].get("emergency") for e in evs)
    # least recently active first: the oldest SYNs went
    assert [e["src_port"] for e in evs] == list(range(1024, 1024 + 84))

    # emergency timeouts apply: tcp new 5 s (not 60 s)
    feed(table, [(T0 + 84 + 5 * SEC, ARP)], run)  # the oldest idle exactly 5 s: alive
    assert len(run.flows) == 84 and table.emergency
    feed(table, [(T0 + 99 + 6 * SEC, ARP)], run)
    flows = run.flows
    assert len(flows) == 100
    late = run.eve()[84:]
    assert all(e["flow"]["reason"] == "timeout" and e["flow"].get("emergency") for e in late)
    # ... and the table fell below its recovery level at that tick: back to normal
    c = table.counters()
    assert c["flow.emerg_mode_over"] == 1 and c["flow.emergency"] == 0 and not table.emergency
    assert c["flow.active"] == 0

    # normal timeouts again: a SYN idle for 30 s is not ended
    t1 = T0 + 10 * SEC
    feed(table, [(t1, tcp("10.3.0.1", 5, "10.2.0.1", 80, SYN))], run)
    feed(table, [(t1 + 30 * SEC, ARP), (t1 + 60 * SEC, ARP)], run)
    assert table.active == 1 and len(run.flows) == 100
    feed(table, [(t1 + 61 * SEC, ARP)], run)
    assert table.active == 0
    last = run.eve()[-1]
    assert last["flow"]["reason"] == "timeout" and "emergency" not in last["flow"]
    assert table.counters()["flow.emerg_mode_entered"] == 1


def test_emergency_ends_only_below_recovery_level() -> None:
    table = FlowTable(FlowConfig(cap=20, ended_buffer=64))  # recovery level: 14 flows
    run = feed(table, [(T0, tcp("10.9.0.1", 1, "10.2.0.1", 80, SYN))])  # goes stale
    t = T0 + 6 * SEC
    keep = [(t, udp("10.4.0.1", 100, "10.2.0.1", 53))]  # one-way UDP: emergency timeout 10 s
    for i in range(13):  # answered UDP: emergency timeout 100 s
        keep += [
            (t + i, udp("10.4.0.1", 200 + i, "10.2.0.1", 53)),
            (t + i, udp("10.2.0.1", 53, "10.4.0.1", 200 + i)),
        ]
    syns = [(t + 20 + i, tcp("10.5.0.1", 2000 + i, "10.2.0.1", 80, SYN)) for i in range(6)]
    feed(table, keep + syns, run)
    # the 21st flow found the table full: emergency mode; its emergency expiry ended the stale
    # SYN (idle 6 s > 5 s), so nothing had to be evicted
    c = table.counters()
    assert c["flow.emerg_mode_entered"] == 1 and c["flow.mgr.flows_evicted"] == 0
    assert table.active == 20 and table.emergency
    assert [e["flow"]["reason"] for e in run.eve()] == ["timeout"]
    feed(table, [(t + 6 * SEC, ARP)], run)  # the 6 SYNs time out: 14 left, not below 14
    assert table.active == 14 and table.emergency
    feed(table, [(t + 10 * SEC + 1, ARP)], run)  # the one-way UDP flow times out: 13 left
    assert table.active == 13 and not table.emergency
    assert table.counters()["flow.emerg_mode_over"] == 1
    assert all(e["flow"].get("emergency") for e in run.eve())


# --------------------------------------------------------------------------- ended buffer
def test_small_ended_buffer_loses_nothing() -> None:
    cfg = FlowConfig(cap=64, ended_buffer=4)
    pkts = [(T0 + i, udp("10.0.0.1", 1000 + i, "10.0.0.2", 53)) for i in range(50)]
    pkts.append((T0 + 31 * SEC, udp("10.0.0.9", 9, "10.0.0.2", 53)))  # 50 time out at once
    pkts += [(T0 + 31 * SEC + i, udp("10.0.0.1", 1000 + i, "10.0.0.2", 53)) for i in range(20)]
    r = run_flows(pkts, cfg)
    assert all(1 <= len(c) <= 4 for c in r.ended)
    assert r.at_flush == 50 and len(r.ended) > 13
    flows = r.flows
    assert len(flows) == 71
    assert len(set(flows["flow_id"].tolist())) == 71
    assert pkts_of(flows) == len(pkts)
    reasons = [e["flow"]["reason"] for e in r.eve()]
    assert reasons.count("timeout") == 50 and reasons.count("shutdown") == 21
    # the per-packet results cover the whole batch, though it was processed in pieces
    assert (r.table.slot >= 0).all() and r.table.slot.shape[0] == len(pkts)


def test_small_ended_buffer_under_eviction() -> None:
    r = run_flows(syn_flood(100), FlowConfig(cap=16, ended_buffer=3))
    flows = r.flows
    assert len(flows) == 100 and pkts_of(flows) == 100
    assert all(len(c) <= 3 for c in r.ended)


def test_emergency_outcome_does_not_depend_on_the_ended_buffer() -> None:
    """Entering emergency mode ends every flow past its emergency timeout before evicting
    any, however small the ended buffer: the same flows end, for the same reasons."""
    old = [(T0 + i, udp("10.0.0.1", 1000 + i, "10.0.0.2", 53)) for i in range(16)]
    # 20 s later the 16 old UDP flows are past udp's emergency timeout (10 s), not its normal
    # one (30 s); new flows then fill the table and force evictions
    new = [(T0 + 20 * SEC + i, pk) for i, (_, pk) in enumerate(syn_flood(40))]
    small = run_flows(old + new, FlowConfig(cap=16, ended_buffer=3))
    large = run_flows(old + new, FlowConfig(cap=16, ended_buffer=1024))
    assert small.eve_bytes() == large.eve_bytes()
    reasons = [e["flow"]["reason"] for e in large.eve()]
    assert reasons[:16] == ["timeout"] * 16  # none of the old flows was evicted as "forced"
    assert "forced" in reasons


def test_ended_buffer_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="ended-flow buffer"):
        FlowConfig(ended_buffer=2)


# --------------------------------------------------------------------------- churn
def churn_packets(n: int, pool: int, seed: int) -> list[Packet]:
    rnd = random.Random(seed)
    keys = [
        (
            rnd.choice((6, 17)),
            0x0A000000 + rnd.randrange(64),
            rnd.randrange(1024, 1124),
            0x0A010000 + rnd.randrange(16),
            rnd.choice((53, 80, 443, 8080)),
        )
        for _ in range(pool)
    ]
    out: list[Packet] = []
    t = T0
    for _ in range(n):
        t += rnd.choice((0, 1, 10, 100, 1000, 2000, 3000))
        if rnd.random() < 0.0005:
            t += rnd.choice((6, 12, 40)) * SEC  # a lull: timeouts (emergency or normal)
        proto, a, ap, b, bp = rnd.choice(keys)
        if rnd.random() < 0.4:
            a, ap, b, bp = b, bp, a, ap
        out.append((t, fast(proto, a, ap, b, bp)))
    return out


def ip4(lo: int) -> int:
    return int(lo) & 0xFFFFFFFF


def test_hash_index_survives_churn() -> None:
    pkts = churn_packets(50_000, 30_000, seed=1)
    table = FlowTable(FlowConfig(cap=4096, ended_buffer=512))
    run = None
    for k in range(0, len(pkts), 5000):
        run = feed(table, pkts[k : k + 5000], run)
        assert table.active <= 4096
    assert run is not None
    c = table.counters()
    assert c["flow.mgr.flows_timeout"] > 1000
    assert c["flow.mgr.flows_evicted"] > 1000
    now = pkts[-1][0]
    feed(table, [(now + SEC, ARP)], run)  # a tick: nothing left that is past its timeout

    # the index holds exactly the live slots, once each
    live = np.flatnonzero(table.fl["fflags"] & FF_IN_USE)
    assert len(live) == table.active
    in_idx = (table.idx[table.idx != 0] & 0xFFFFFFFF).astype(np.int64) - 1
    assert sorted(in_idx.tolist()) == sorted(live.tolist())

    # every live flow is still found: one more packet each creates no flow
    total = c["flow.total"]
    fl = table.fl[live]
    probe = [
        (
            now + SEC,
            fast(
                int(f["proto"]),
                ip4(f["src_lo"]),
                int(f["sport"]),
                ip4(f["dst_lo"]),
                int(f["dport"]),
            ),
        )
        for f in fl
    ]
    before = len(run.flows)
    feed(table, probe, run)
    assert len(run.flows) == before
    assert table.counters()["flow.total"] == total
    assert table.slot.tolist() == live.tolist()
    assert (table.direction == 0).all()
    for chunk in table.flush():
        run.ended.append(chunk.copy())
    flows = run.flows
    assert len(flows) == total
    assert pkts_of(flows) == len(pkts) + len(probe)
    assert len(set(flows["flow_id"].tolist())) == total


def test_memory_is_bounded_under_a_flood() -> None:
    table = FlowTable(FlowConfig(cap=1000, ended_buffer=4096))
    arrays = {
        name: getattr(table, name)
        for name in ("fl", "idx", "heads", "tails", "free", "st", "ctr", "tmo", "ended")
    }
    shapes = {name: (a.shape, a.ctypes.data) for name, a in arrays.items()}
    ended = 0
    pkts = 0
    batch = 20_000
    for k in range(0, 200_000, batch):
        frames = [
            (T0 + k + i, fast(17, 0x0A000000 + k + i, 1000 + (i & 0xFF), 0x0B000001, 53))
            for i in range(batch)
        ]
        run = feed(table, frames)
        ended += len(run.flows)
        pkts += pkts_of(run.flows)
        assert table.active <= 1000
        for name, a in arrays.items():
            assert getattr(table, name) is a
            assert (a.shape, a.ctypes.data) == shapes[name]
    c = table.counters()
    assert c["flow.total"] == 200_000 and c["flow.active_max"] == 1000
    assert c["flow.mgr.flows_evicted"] == 199_000 and ended == 199_000
    assert c["flow.emerg_mode_entered"] == 1
    assert pkts + table.active == 200_000


# --------------------------------------------------------------------------- determinism
def mixed_capture() -> list[Packet]:
    pkts = churn_packets(3000, 500, seed=7)
    pkts += handshake("10.7.0.1", 999, "10.7.0.2", 22, pkts[-1][0] + 1)
    pkts += [(pkts[-1][0] + 1, icmp("10.7.0.1", "10.7.0.2", 8))]
    return pkts


def test_replay_is_deterministic() -> None:
    pkts = mixed_capture()
    cfg = FlowConfig(cap=64, ended_buffer=16)
    a = run_flows(pkts, cfg, batch=256)
    b = run_flows(pkts, cfg, batch=256)
    assert a.table.counters()["flow.mgr.flows_evicted"] > 0
    assert a.flows.tobytes() == b.flows.tobytes()
    assert a.eve_bytes() == b.eve_bytes()
    # batch boundaries do not change the flows either (only `end_idx`, an index into the
    # batch at which each flow ended)
    c = run_flows(pkts, cfg, batch=1000)
    fa, fc = a.flows.copy(), c.flows.copy()
    assert (fa["end_idx"] != fc["end_idx"]).any()
    fa["end_idx"] = fc["end_idx"] = 0
    assert fa.tobytes() == fc.tobytes()


# --------------------------------------------------------------------------- time
def test_packet_time_going_backwards_a_little() -> None:
    rnd = random.Random(3)
    pkts = handshake("10.0.0.1", 5555, "10.0.0.2", 80, T0, step=100)
    pkts += [(T0 + 300, tcp("10.0.0.1", 5555, "10.0.0.2", 80, PSH | ACK, b"x"))]
    pkts += [(T0 + 400 + 10 * i, udp("10.0.0.3", 7, "10.0.0.4", 7)) for i in range(20)]
    jittered = [(t - rnd.randrange(0, 500), f) for t, f in pkts]
    assert any(b[0] < a[0] for a, b in itertools.pairwise(jittered))
    r = run_flows(jittered)
    evs = r.eve()
    assert len(evs) == 2
    assert pkts_of(r.flows) == len(pkts)
    assert all(e["flow"]["reason"] == "shutdown" for e in evs)
    assert all(f["first_ts"] <= f["last_ts"] for f in r.flows)
    tcp_ev = next(e for e in evs if e["proto"] == "TCP")
    assert tcp_ev["tcp"]["state"] == "established" and tcp_ev["flow"]["age"] >= 0


def test_packet_time_going_backwards_across_a_timeout() -> None:
    a = udp("10.0.0.1", 1, "10.0.0.2", 2)
    b = udp("10.0.0.3", 1, "10.0.0.4", 2)
    pkts = [(T0, a), (T0 + 40 * SEC, b), (T0 + 40 * SEC - 20_000, b), (T0 + 29 * SEC, a)]
    r = run_flows(pkts)
    assert pkts_of(r.flows) == 4
    evs = r.eve()
    # flow a was idle 40 s by packet time (the capture clock never goes back): a new flow
    assert len(evs) == 3
    assert evs[0]["flow"]["reason"] == "timeout" and evs[0]["src_ip"] == "10.0.0.1"
