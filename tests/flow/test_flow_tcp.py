"""Flow table, TCP side: packets in, ended flows out (as EVE sees them)."""

from __future__ import annotations

import pytest
from flowkit import ACK, FIN, PSH, RST, SEC, SYN, T0, Packet, handshake, one, run_flows, tcp

from tocsin.flow.table import FlowConfig

C, S = "10.0.0.1", "10.0.0.2"
CP, SP = 40000, 80


def c2s(t: int, flags: int, payload: bytes = b"") -> Packet:
    return (t, tcp(C, CP, S, SP, flags, payload))


def s2c(t: int, flags: int, payload: bytes = b"") -> Packet:
    return (t, tcp(S, SP, C, CP, flags, payload))


def session(close: str = "fin") -> list[Packet]:
    pkts = handshake(C, CP, S, SP, T0)
    pkts += [
        c2s(T0 + 3000, PSH | ACK, b"GET / HTTP/1.0\r\n\r\n"),
        s2c(T0 + 4000, PSH | ACK, b"x" * 100),
    ]
    if close == "fin":
        pkts += [c2s(T0 + 5000, FIN | ACK), s2c(T0 + 6000, FIN | ACK), c2s(T0 + 7000, ACK)]
    elif close == "server_fin":
        pkts += [s2c(T0 + 5000, FIN | ACK), c2s(T0 + 6000, FIN | ACK), s2c(T0 + 7000, ACK)]
    elif close == "rst":
        pkts += [s2c(T0 + 5000, RST)]
    return pkts


def test_full_session_is_one_closed_flow() -> None:
    pkts = session("fin")
    r = run_flows(pkts)
    ev = one(r.eve())
    wire_ts = sum(len(p[1]) for p in pkts if p[1][26:30] == bytes([10, 0, 0, 1]))
    wire_tc = sum(len(p[1]) for p in pkts) - wire_ts
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (C, CP, S, SP)
    assert ev["proto"] == "TCP"
    f = ev["flow"]
    assert (f["pkts_toserver"], f["pkts_toclient"]) == (5, 3)
    assert (f["bytes_toserver"], f["bytes_toclient"]) == (wire_ts, wire_tc)
    assert f["state"] == "closed"
    assert f["reason"] == "shutdown"
    assert f["start"].endswith("20.000000+0000") and f["end"].endswith("20.007000+0000")
    t = ev["tcp"]
    assert t["tcp_flags_ts"] == f"{SYN | ACK | PSH | FIN:02x}"
    assert t["tcp_flags_tc"] == f"{SYN | ACK | PSH | FIN:02x}"
    assert t["state"] == "time_wait"
    assert t["syn"] and t["fin"] and t["ack"] and "rst" not in t
    c = r.table.counters()
    assert (c["flow.total"], c["flow.tcp"], c["tcp.sessions"], c["tcp.syn"], c["tcp.synack"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert c["tcp.midstream_pickups"] == 0 and c["flow.active"] == 0
    assert c["flow.end.state.closed"] == 1


def test_server_closes_first_ends_closed() -> None:
    ev = one(run_flows(session("server_fin")).eve())
    assert ev["flow"]["state"] == "closed"
    assert ev["tcp"]["state"] == "closed"


def test_rst_closes() -> None:
    ev = one(run_flows(session("rst")).eve())
    assert ev["flow"]["state"] == "closed"
    assert ev["tcp"]["state"] == "closed"
    assert ev["tcp"]["rst"] is True
    assert ev["tcp"]["tcp_flags_tc"] == f"{SYN | ACK | PSH | RST:02x}"


def test_established_before_close() -> None:
    ev = one(run_flows(session("none")).eve())
    assert ev["flow"]["state"] == "established"
    assert ev["tcp"]["state"] == "established"


def test_syn_only_is_new() -> None:
    r = run_flows([c2s(T0, SYN), c2s(T0 + SEC, SYN)])
    ev = one(r.eve())
    assert ev["flow"]["state"] == "new"
    assert ev["tcp"]["state"] == "syn_sent"
    assert ev["flow"]["pkts_toserver"] == 2 and ev["flow"]["pkts_toclient"] == 0
    assert r.table.counters()["flow.end.state.new"] == 1


def test_midstream_ack_pickup() -> None:
    r = run_flows([s2c(T0, PSH | ACK, b"data"), c2s(T0 + 10, ACK)])
    ev = one(r.eve())
    # the first packet's sender is the flow's source
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (S, SP, C, CP)
    assert ev["flow"]["pkts_toserver"] == 1 and ev["flow"]["pkts_toclient"] == 1
    assert ev["flow"]["state"] == "established"
    assert r.table.counters()["tcp.midstream_pickups"] == 1


def test_midstream_synack_first_reverses() -> None:
    pkts = [s2c(T0, SYN | ACK), c2s(T0 + 10, ACK), c2s(T0 + 20, PSH | ACK, b"hi")]
    r = run_flows(pkts, flush=False)
    assert r.table.direction[:3].tolist() == [1, 0, 0]
    for chunk in r.table.flush():
        r.ended.append(chunk.copy())
    ev = one(r.eve())
    # the SYN/ACK's receiver initiated the connection
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (C, CP, S, SP)
    assert (ev["flow"]["pkts_toserver"], ev["flow"]["pkts_toclient"]) == (2, 1)
    assert ev["tcp"]["tcp_flags_tc"] == f"{SYN | ACK:02x}"
    assert ev["tcp"]["state"] == "established"
    assert r.table.counters()["tcp.midstream_pickups"] == 1


def test_port_reuse_after_close_starts_a_new_flow() -> None:
    pkts = session("fin") + handshake(C, CP, S, SP, T0 + 2 * SEC, isn=7_000_000)
    r = run_flows(pkts)
    evs = r.eve()
    assert len(evs) == 2
    assert r.at_flush == 1
    assert evs[0]["flow"]["reason"] == "tcp_reuse"
    assert evs[0]["flow"]["pkts_toserver"] == 5
    assert evs[1]["flow"]["reason"] == "shutdown"
    assert evs[1]["flow"]["pkts_toserver"] == 2 and evs[1]["tcp"]["state"] == "established"
    assert evs[0]["flow_id"] != evs[1]["flow_id"]
    c = r.table.counters()
    assert c["flow.tcp_reuse"] == 1 and c["flow.total"] == 2


def test_syn_resent_after_rst_with_the_same_isn_is_not_reuse() -> None:
    """A refused connection retried with the same ISN stays one flow (Suricata, tshark)."""
    first = handshake(C, CP, S, SP, T0)[0]
    pkts = [first, s2c(T0 + 1000, RST | ACK), (T0 + SEC, first[1])]
    r = run_flows(pkts)
    evs = r.eve()
    assert len(evs) == 1 and evs[0]["flow"]["pkts_toserver"] == 2
    assert r.table.counters()["flow.tcp_reuse"] == 0


def test_syn_retransmit_is_not_reuse() -> None:
    r = run_flows([*handshake(C, CP, S, SP, T0), c2s(T0 + SEC, SYN)])
    assert len(r.eve()) == 1
    assert r.table.counters()["flow.tcp_reuse"] == 0


# ------------------------------------------------------------------------- timeouts
# (packets that put the flow in a state, time of the last one, timeout in seconds)
STATES = {
    "new": ([c2s(T0, SYN)], 60),
    "established": (session("none"), 600),
    "closed": (session("fin"), 60),
    "rst": (session("rst"), 60),
}


@pytest.mark.parametrize("name", sorted(STATES))
@pytest.mark.parametrize("extra_us", [0, 1])
def test_tcp_timeout_boundary(name: str, extra_us: int) -> None:
    pkts, timeout = STATES[name]
    last = max(p[0] for p in pkts)
    # the same flow seen again exactly at the timeout: still alive; one µs later: ended
    probe = c2s(last + timeout * SEC + extra_us, ACK)
    r = run_flows([*pkts, probe])
    evs = r.eve()
    if extra_us == 0:
        assert len(evs) == 1
        assert evs[0]["flow"]["reason"] == "shutdown"
        assert evs[0]["flow"]["pkts_toserver"] + evs[0]["flow"]["pkts_toclient"] == len(pkts) + 1
    else:
        assert len(evs) == 2
        assert evs[0]["flow"]["reason"] == "timeout"
        assert evs[0]["flow"]["pkts_toserver"] + evs[0]["flow"]["pkts_toclient"] == len(pkts)
        assert r.at_flush == 1
        assert r.table.counters()["flow.mgr.flows_timeout"] == 1


@pytest.mark.parametrize(("name", "timeout"), [("new", 60), ("established", 600)])
def test_timeout_by_other_traffic(name: str, timeout: int) -> None:
    """Unrelated packets advance packet time; the idle flow ends once now - last > timeout."""
    pkts, _ = STATES[name]
    last = max(p[0] for p in pkts)
    other = tcp("10.9.9.9", 1, "10.9.9.8", 2, SYN)
    r = run_flows([*pkts, (last + timeout * SEC, other)], flush=False)
    assert r.at_flush == 0
    r = run_flows([*pkts, (last + timeout * SEC + 1, other)], flush=False)
    assert r.at_flush == 1
    ev = one(r.eve())
    assert ev["flow"]["reason"] == "timeout" and ev["flow"]["state"] == name


def test_timeout_does_not_depend_on_tick_phase() -> None:
    """A packet idle longer than the timeout starts a new flow even when the manager tick
    ran less than `tick_s` earlier."""
    other = tcp("10.9.9.9", 1, "10.9.9.8", 2, SYN)
    pkts = [c2s(T0, SYN), (T0 + 59_500_000, other), c2s(T0 + 60_200_000, SYN)]
    r = run_flows(pkts, FlowConfig(cap=64, ended_buffer=64))
    mine = [e for e in r.eve() if e["src_ip"] == C]
    assert len(mine) == 2
    assert mine[0]["flow"]["reason"] == "timeout"
