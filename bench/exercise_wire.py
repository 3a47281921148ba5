"""Speed of the exercise wire layer alone: conversations in, a pcap out.

    python bench/exercise_wire.py [--packets 2000000] [--out /dev/shm/exercise_wire.pcap]
                                  [--flush-every 2000] [--seed 1]

Plans about `--packets` packets of mixed conversations over one simulated hour (drawn before
the timing), then times `tocsin.exercise.wire.Trace` making them and writing the pcap, with a
time-ordered flush every `--flush-every` conversations as a scheduler does. The mix, by calls:
40 % short TCP request/response connections (2 or 4 turns, HTTP-like), 15 % longer ones
(6 turns, closed by RST), 30 % DNS-like UDP exchanges, 5 % ICMP echoes, 2 % ARP requests,
5 % SYN-scan probes, 3 % refused connections, and 1 in 2000 a DICOM-study-like transfer
(60-250 client turns, up to a few MB). Payloads come from a pool of 80 random byte strings
(40 B to 16 kB), so the number measures the wire layer (segmentation, sequencing, sorting,
checksums, pcap formatting and writing), not payload building.

Prints packets and file size, wall and CPU packets/s for build + write (the target is
>= 1,000,000 packets/s), and the time spent in the file's write() (memory bandwidth on
/dev/shm; the disk's speed otherwise). The kernels are compiled or loaded before timing.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import time
from collections.abc import Callable
from typing import BinaryIO

from tocsin.exercise.wire.hosts import EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.wire.turns import Turn, client, server

T0 = 1_717_200_000.0
HOUR = 3600.0


def _pool(rng: random.Random) -> list[bytes]:
    sizes = [40, 120, 300, 520, 900, 1400, 2200, 4000, 9000, 16000]
    return [rng.randbytes(n) for n in sizes for _ in range(8)]


Call = tuple[Callable[..., object], tuple[object, ...], dict[str, object]]


def plan(trace: Trace, target: int, seed: int) -> list[tuple[float, Call]]:
    """The conversations to add, in increasing start time, about `target` packets in all
    (drawn before the timing, so the random draws do not count)."""
    rng = random.Random(seed)
    pool = _pool(rng)
    small = [p for p in pool if len(p) <= 1400]
    ws = [Host.make(f"ws{i}", f"10.10.{i // 250}.{i % 250 + 1}", ttl=128) for i in range(2000)]
    srv = [Host.make(f"srv{i}", f"10.20.0.{i + 1}", vlan=20) for i in range(40)]
    pacs = Host.make("pacs", "10.30.0.10", vlan=30)
    modality = Host.make("ct1", "10.30.1.20", vlan=30)
    dns = Host.make("dc1", "10.20.0.250", vlan=20)
    scanner = Host.make("scanner", "10.10.9.66")
    ports = EphemeralPorts(rng)
    out: list[tuple[float, Call]] = []
    t = T0
    step = HOUR / (target / 8.0)
    packets = 0
    while packets < target:
        t += rng.expovariate(1.0 / step)
        r = rng.random()
        w = rng.choice(ws)
        c: Call
        if r < 0.40:
            turns: list[Turn] = [client(rng.choice(small)), server(rng.choice(pool), 0.002)]
            if rng.random() < 0.3:
                turns += [client(rng.choice(small), 0.01), server(rng.choice(pool), 0.003)]
            c = (trace.tcp, (t, w, ports.take(w), rng.choice(srv), 443, turns), {})
            packets += 7 + sum(len(x.data) // 1400 * 3 // 2 + 1 for x in turns)
        elif r < 0.55:
            turns = [client(rng.choice(small)) if k % 2 == 0 else server(rng.choice(pool))
                     for k in range(6)]  # fmt: skip
            c = (trace.tcp, (t, w, ports.take(w), rng.choice(srv), 443, turns), {"close": "rst"})
            packets += 4 + sum(len(x.data) // 1400 * 3 // 2 + 1 for x in turns)
        elif r < 0.85:
            c = (
                trace.udp_exchange,
                (t, w, ports.take(w), dns, 53, [client(pool[1]), server(pool[2], 0.0005)]),
                {},
            )
            packets += 2
        elif r < 0.90:
            c = (trace.icmp_echo, (t, w, rng.choice(srv), 1, rng.randrange(65536)), {})
            packets += 2
        elif r < 0.92:
            c = (trace.arp_request, (t, w, "10.10.0.254"), {})
            packets += 1
        elif r < 0.97:
            reply = rng.choice(("synack_rst", "rst", "rst", None))
            c = (
                trace.tcp_probe,
                (t, scanner, 40_000, rng.choice(srv), rng.randrange(1, 1024), "S", reply),
                {},
            )
            packets += 2
        elif r < 0.9995:
            c = (trace.tcp_refused, (t, w, ports.take(w), rng.choice(srv), 8080), {})
            packets += 2
        else:
            study = [client(rng.choice(pool)) for _ in range(rng.randrange(60, 250))]
            turns = [client(pool[0]), server(pool[0]), *study, server(pool[1])]
            c = (trace.tcp, (t, modality, ports.take(modality), pacs, 104, turns), {})
            packets += 10 + sum(len(x.data) // 1400 * 3 // 2 + 1 for x in turns)
        out.append((t, c))
    return out


def run(trace: Trace, calls: list[tuple[float, Call]], f: BinaryIO, flush_every: int) -> None:
    """Make the calls, flushing every `flush_every` conversations, then write the rest."""
    for k, (t, (fn, args, kw)) in enumerate(calls, 1):
        fn(*args, **kw)
        if k % flush_every == 0:
            trace.flush_before(t, f)
    trace.write_to(f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=2_000_000)
    ap.add_argument("--out", default="/dev/shm/exercise_wire.pcap")
    ap.add_argument("--flush-every", type=int, default=2_000, help="conversations per flush")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    warm = Trace(0)  # compile / load the kernels outside the timing
    h1, h2 = Host.make("a", "10.0.0.1"), Host.make("b", "10.0.0.2")
    warm.tcp(T0, h1, 50000, h2, 80, [client(b"x")])
    with open(os.devnull, "wb") as null:
        warm.write_to(null)

    trace = Trace(a.seed)
    calls = plan(trace, a.packets, a.seed)
    with open(a.out, "wb") as raw:
        f = _TimedFile(raw)
        gc.collect()
        t, cpu = time.perf_counter(), time.process_time()
        run(trace, calls, f, a.flush_every)  # type: ignore[arg-type]
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    n = len(trace)
    size = os.path.getsize(a.out)
    print(f"packets {n:,}  file {size / 1e6:,.1f} MB  -> {a.out}")
    print(f"build + write: wall {wall:.2f} s, {n / wall:,.0f} packets/s")
    print(f"  CPU {cpu:.2f} s: {n / cpu:,.0f} packets per CPU second")
    rest = wall - f.seconds
    print(f"  write() to the file: {f.seconds:.2f} s; the rest: {n / rest:,.0f} packets/s")


class _TimedFile:
    """A binary file that counts the time spent in `write`."""

    def __init__(self, f: BinaryIO) -> None:
        self.f, self.seconds = f, 0.0

    def write(self, b: bytes | memoryview) -> int:
        t = time.perf_counter()
        n = self.f.write(b)
        self.seconds += time.perf_counter() - t
        return n


if __name__ == "__main__":
    main()
