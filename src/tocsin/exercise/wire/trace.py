"""`Trace`: conversations in, consistent packets out (held in memory, written as a pcap).

The calls others make (times are float seconds since the epoch; hosts are `hosts.Host`,
reused objects: a trace keys its host table on them):

- `tcp(t0, cli, cport, srv, sport, turns, *, rtt_s=0.0008, mss=1460, close="fin",
  window=64240, ack_every=2) -> end`: a whole TCP connection. Handshake (SYN and SYN/ACK carry
  MSS, window scale 7 and SACK-permitted), each `Turn` cut into MSS segments (PSH on its last;
  MSS at most 1440 over IPv6), the receiver ACKing every `ack_every` segments and the last one
  (that last ACK rides on the receiver's next turn instead when it comes within 40 ms, as
  delayed ACK does), then `close`: "fin" (client FIN/ACK, server FIN/ACK, client ACK), "rst"
  (client RST/ACK, Windows' abortive close) or "none" (left open). Sending is paced by a
  1 Gbit/s link and by the window over the round trip, so a receiver's window never fills.
- `tcp_probe(t, cli, cport, srv, sport, flags="S", reply="synack_rst", *, rtt_s) -> end`: a
  scanner's probe (raw: window 1024, MSS option only, no DF) and what a real stack answers.
  flags "S" (SYN), "F" (FIN), "" (NULL), "FPU" (Xmas), "A" (ACK); reply "synack_rst" (SYN
  only: open port, SYN/ACK then the scanner's RST), "rst" (closed port: RST/ACK; to an ACK
  probe a bare RST, open or closed) or None (filtered; or open, for FIN/NULL/Xmas).
- `tcp_refused(t, cli, cport, srv, sport, *, rtt_s) -> end`: SYN answered by RST/ACK.
- UDP, ICMP and ARP: see `dgram`; `len(trace)`, `pending`, `flush_before(t, f)`,
  `write_to(f)`, `write(path)`: see `store`.

Timing model: the capture point sits halfway, so an answer is seen `rtt_s / 2` after what it
answers; `Turn.delay_s` is added before its turn. VLAN: every frame of a conversation carries
one 802.1Q tag, the answering side's VLAN (the server's, the echo's target, the reporter of an
ICMP error, the sender of an ARP message), else the other side's, else none: the sensor is
taken to be on the servers' side of the router, where a SPAN of the trunk sees both
directions on the server's segment, and a flow keeps one VLAN (flow trackers such as
Suricata's and Tocsin's key flows on it). IPv4 ID: per sender, in capture order.

Not done: IP fragmentation, TCP timestamps, retransmissions, loss. Every call raises
`ValueError` on a bad argument (IPv4 with IPv6 ends, a port outside 0-65535, a window too
small for the MSS...).
"""

from __future__ import annotations

from collections.abc import Sequence

from tocsin.exercise.wire.dgram import Datagrams, half_rtt, port
from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.pcapout import (
    ACK_F,
    FIN,
    K_TCP,
    K_TCP_SCAN,
    NODF,
    PSH,
    RST,
    SYN,
    URG,
)
from tocsin.exercise.wire.tcpconv import CLOSE_FIN, CLOSE_NONE, CLOSE_RST, TURN, WSCALE
from tocsin.exercise.wire.turns import CLIENT, Turn

DELACK_S = 0.040
LINK_BPS = 1e9
_KT = K_TCP << 56
_S = SYN << 48
_SA = (SYN | ACK_F) << 48
_RA = (RST | ACK_F) << 48
_R = RST << 48
_CLOSE_CODES = {"fin": CLOSE_FIN, "rst": CLOSE_RST, "none": CLOSE_NONE}
_CLOSE_PACKETS = {"fin": 3, "rst": 1, "none": 0}
_PROBE_FLAGS = {"S": SYN, "F": FIN, "": 0, "FPU": FIN | PSH | URG, "A": ACK_F}
_PROBE_REPLIES: dict[str, tuple[str | None, ...]] = {
    "S": ("synack_rst", "rst", None),
    "A": ("rst", None),
}


class Trace(Datagrams):
    """Packets of many conversations, in memory until flushed. `seed` fixes the TCP initial
    sequence numbers and IP ID starts: same seed and calls, byte-identical pcap."""

    def tcp(
        self,
        t0: float,
        cli: Host,
        cport: int,
        srv: Host,
        sport: int,
        turns: Sequence[Turn],
        *,
        rtt_s: float = 0.0008,
        mss: int = 1460,
        close: str = "fin",
        window: int = 64240,
        ack_every: int = 2,
    ) -> float:
        """One TCP connection from `cli:cport` to `srv:sport` carrying `turns`; returns the
        time of its last packet."""
        hc, hs, v6, call = self._pair(cli, srv)
        if v6 and mss > 1440:
            mss = 1440
        wf = window >> WSCALE
        budget = (wf << WSCALE) - (ack_every + 1) * mss  # bytes in flight the pacing allows
        if not (0 <= cport <= 0xFFFF and 0 <= sport <= 0xFFFF):
            raise ValueError(f"ports {cport}, {sport} outside 0-65535")
        if not (0 < mss <= 0xFFFF and ack_every >= 1 and budget > mss and wf <= 0xFFFF):
            raise ValueError(f"mss {mss}, window {window}, ack_every {ack_every}: inconsistent")
        if close not in _CLOSE_CODES:
            raise ValueError(f"close {close!r}: 'fin', 'rst' or 'none'")
        half = max(2, int(rtt_s * 5e5 + 0.5))
        t = int(t0 * 1e6 + 0.5)
        if t < self._floor:
            self._at(t0)  # raises
        # a full segment every `iv` ps: the link's rate, or the window over the round trip
        iv = int(max((mss + 78) * 8e6 / LINK_BPS, mss * 2.0 * half / budget) * 1e6)
        tl = t + 2 * half  # the last packet so far, and its side
        last = CLIENT
        pend = 0
        count = 3
        blobs = self._blobs
        bpos = self._blob_pos
        paypos = self._paypos
        rec = self._tcp_turns
        first = len(rec) // TURN
        nt = len(turns)
        for k in range(nt):
            turn = turns[k]
            data = turn.data
            n = len(data)
            dly = turn.delay_s
            d = int(dly * 1e6 + 0.5) if dly else 0
            if d < 0:
                raise ValueError(f"turn {k}: negative delay {dly}")
            if not n:
                pend += d
                continue
            x = turn.side
            start = tl + (1 if x == last else half) + d + pend
            pend = 0
            if k + 1 < nt:
                nx = turns[k + 1]
                piggy = nx.side != x and nx.delay_s < DELACK_S and len(nx.data) > 0
            else:
                piggy = False
            nseg = (n + mss - 1) // mss
            tl = start + (nseg - 1) * iv // 1_000_000
            if piggy:
                last = x
                count += nseg + (nseg - 1) // ack_every
            else:
                tl += half
                last = 1 - x
                count += nseg + (nseg + ack_every - 1) // ack_every
            blobs.append(data)
            bpos.append(paypos)
            rec.extend((start, x, paypos, n, piggy))
            paypos += n
        self._paypos = paypos
        tf = tl + (half if last != CLIENT else 1)
        end = tl if close == "none" else tf if close == "rst" else tf + 2 * half
        count += _CLOSE_PACKETS[close]
        rnd = self._rng.getrandbits
        self._tcp_conv.extend((t, hc, hs, cport << 16 | sport, rnd(32), rnd(32), window, mss,
                               half, iv, ack_every, _CLOSE_CODES[close], tf, first,
                               len(rec) // TURN, count, call))  # fmt: skip
        self._tcp_count += count
        return end / 1e6

    def tcp_probe(
        self,
        t: float,
        cli: Host,
        cport: int,
        srv: Host,
        sport: int,
        flags: str = "S",
        reply: str | None = "synack_rst",
        *,
        rtt_s: float = 0.0008,
    ) -> float:
        """A scan probe and the answer a real stack gives for the port state `reply` stands
        for; returns the time of the last packet."""
        fl = _PROBE_FLAGS.get(flags)
        if fl is None or reply not in _PROBE_REPLIES.get(flags, ("rst", None)):
            raise ValueError(f"probe flags {flags!r} with reply {reply!r}")
        hc, hs, _, call = self._pair(cli, srv)
        pc = port(cport) << 16 | port(sport)
        pr = sport << 16 | cport
        half = half_rtt(rtt_s)
        tu = self._at(t)
        seq = self._rng.getrandbits(32)
        ack = self._rng.getrandbits(32) if fl & ACK_F else 0
        probe = K_TCP_SCAN << 56 | NODF | fl << 48 | 1024 << 32 | pc
        ext = self._rows.extend
        ext((tu, hc, probe, seq, ack, 1460 << 16, call))
        if reply is None:
            return tu / 1e6
        tr = tu + half
        if reply == "synack_rst":
            isn = self._rng.getrandbits(32)
            opts = (WSCALE << 16 | 1460) << 16
            ext((tr, hs, _KT | _SA | 64240 << 32 | pr, isn, seq + 1, opts, call))
            ext((tr + half, hc, _KT | _R | pc, seq + 1, 0, 0, call))
            return (tr + half) / 1e6
        if fl == ACK_F:
            ext((tr, hs, _KT | _R | pr, ack, 0, 0, call))
        else:
            ext((tr, hs, _KT | _RA | pr, 0, seq + (1 if fl & (SYN | FIN) else 0), 0, call))
        return tr / 1e6

    def tcp_refused(
        self, t: float, cli: Host, cport: int, srv: Host, sport: int, *, rtt_s: float = 0.0008
    ) -> float:
        """A connection attempt to a closed port: SYN, then RST/ACK; returns the end time."""
        hc, hs, v6, call = self._pair(cli, srv)
        pc = port(cport) << 16 | port(sport)
        tu, half = self._at(t), half_rtt(rtt_s)
        seq = self._rng.getrandbits(32)
        opts = (WSCALE << 16 | (1440 if v6 else 1460)) << 16
        self._rows.extend((tu, hc, _KT | _S | 64240 << 32 | pc, seq, 0, opts, call))
        self._rows.extend((tu + half, hs, _KT | _RA | sport << 16 | cport, 0, seq + 1, 0, call))
        return (tu + half) / 1e6
