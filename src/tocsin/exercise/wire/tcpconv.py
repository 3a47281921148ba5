"""TCP connections recorded compactly by `Trace.tcp`, expanded into packet rows when flushed.

`Trace.tcp` decides every time that matters (when each turn starts, when the connection
closes, whether a turn's last ACK rides on the answer) and records one connection as a
`CONV`-word header plus five words per turn; `expand` turns a batch of them into packet rows
(layout in `pcapout`) with a compiled kernel, so a connection costs Python a few dozen
operations instead of seven ints and a tuple per packet. `Trace.tcp` also counts the rows
(for `len`); `expand` checks the count.

Header words: SYN time (µs), the two HOSTS words, `cport << 16 | sport`, the two initial
sequence numbers, window (bytes), MSS, half round trip (µs), pacing (picoseconds between full
segments), ack_every, close (`CLOSE_FIN`, `CLOSE_RST`, `CLOSE_NONE`), close time (µs), first
and end index of its turns, packet count, the call's number. Turn words: start time (µs),
side (0 client, 1 server), payload position, length, 1 if its last ACK rides on the next turn.

Rows per connection, in this order: SYN, SYN/ACK, ACK; per turn its segments (ACK, PSH/ACK on
the last; segment j at `start + j * pacing`), each followed by the receiver's ACK `half` later
when it completes `ack_every` segments or is the turn's last (unless that one rides on the
next turn); then FIN/ACK, FIN/ACK, ACK, or one RST/ACK, or nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tocsin.exercise.wire.pcapout import (
    ACK,
    ACK_F,
    CALL,
    FIN,
    HOSTS,
    K_TCP,
    NWORDS,
    PAY,
    PF,
    PSH,
    RST,
    SEQ,
    SYN,
    TS,
)
from tocsin.jit import inline_kernel, kernel

I64 = npt.NDArray[np.int64]

WSCALE = 7
CLOSE_FIN, CLOSE_RST, CLOSE_NONE = 0, 1, 2
C_T, C_HC, C_HS, C_PORTS, C_ISNC, C_ISNS, C_WIN, C_MSS, C_HALF, C_IV = range(10)
C_ACKE, C_CLOSE, C_TF, C_TURN0, C_TURN1, C_COUNT, C_CALL = range(10, 17)
CONV = 17
TURN = 5  # start, side, pos, n, piggy


@inline_kernel
def _row(out: I64, r: int, ts: int, h: int, pf: int, sq: int, ak: int, pay: int) -> int:
    if r >= out.shape[0]:  # miscounted: `expand` raises, nothing is written out of bounds
        return r + 1
    out[r, TS] = ts
    out[r, HOSTS] = h
    out[r, PF] = pf
    out[r, SEQ] = sq
    out[r, ACK] = ak
    out[r, PAY] = pay
    return r + 1


@kernel
def _expand(conv: I64, turns: I64, out: I64) -> int:
    r = 0
    kt = np.int64(K_TCP) << 56
    a_ = np.int64(ACK_F) << 48
    pa = np.int64(PSH | ACK_F) << 48
    fa = np.int64(FIN | ACK_F) << 48
    for c in range(conv.shape[0]):
        r0 = r
        t = conv[c, C_T]
        hc = conv[c, C_HC]
        hs = conv[c, C_HS]
        pc = conv[c, C_PORTS]
        ps = ((pc & 0xFFFF) << 16) | (pc >> 16)
        win = conv[c, C_WIN]
        mss = conv[c, C_MSS]
        half = conv[c, C_HALF]
        iv = conv[c, C_IV]
        ae = conv[c, C_ACKE]
        bc = kt | ((win >> WSCALE) << 32) | pc
        bs = kt | ((win >> WSCALE) << 32) | ps
        synw = kt | (min(win, 0xFFFF) << 32)
        opts = ((WSCALE << 16) | mss) << 16
        sc = conv[c, C_ISNC]
        ss = conv[c, C_ISNS]
        r = _row(out, r, t, hc, synw | (np.int64(SYN) << 48) | pc, sc, 0, opts)
        r = _row(out, r, t + half, hs, synw | (np.int64(SYN | ACK_F) << 48) | ps, ss, sc + 1, opts)
        sc += 1
        ss += 1
        r = _row(out, r, t + 2 * half, hc, bc | a_, sc, ss, 0)
        for u in range(conv[c, C_TURN0], conv[c, C_TURN1]):
            start = turns[u, 0]
            pos = turns[u, 2]
            n = turns[u, 3]
            piggy = turns[u, 4]
            if turns[u, 1] == 0:
                hx, hy, bx, by, sx, sy = hc, hs, bc, bs, sc, ss
                sc += n
            else:
                hx, hy, bx, by, sx, sy = hs, hc, bs, bc, ss, sc
                ss += n
            nseg = (n + mss - 1) // mss
            for j in range(nseg):
                ts = start + j * iv // 1_000_000
                o = j * mss
                ln = min(mss, n - o)
                last = j == nseg - 1
                r = _row(
                    out, r, ts, hx, bx | (pa if last else a_), sx + o, sy, ((pos + o) << 16) | ln
                )
                if ((j + 1) % ae == 0 or last) and not (last and piggy):
                    r = _row(out, r, ts + half, hy, by | a_, sy, sx + o + ln, 0)
        close = conv[c, C_CLOSE]
        tf = conv[c, C_TF]
        if close == CLOSE_FIN:
            r = _row(out, r, tf, hc, bc | fa, sc, ss, 0)
            r = _row(out, r, tf + half, hs, bs | fa, ss, sc + 1, 0)
            r = _row(out, r, tf + 2 * half, hc, bc | a_, sc + 1, ss + 1, 0)
        elif close == CLOSE_RST:
            r = _row(out, r, tf, hc, bc | (np.int64(RST | ACK_F) << 48), sc, ss, 0)
        for k in range(r0, min(r, out.shape[0])):
            out[k, CALL] = conv[c, C_CALL]
    return r


def expand(conv: list[int], turns: list[int]) -> I64:
    """The packet rows, shape (n, NWORDS), of the connections recorded in `conv` / `turns`."""
    c = np.array(conv, np.int64).reshape(-1, CONV)
    u = np.array(turns, np.int64).reshape(-1, TURN) if turns else np.zeros((1, TURN), np.int64)
    out = np.empty((int(c[:, C_COUNT].sum()), NWORDS), np.int64)
    end = _expand(c, u, out)
    if end != len(out):
        raise AssertionError(f"expanded {end} TCP packets, counted {len(out)}")
    return out
