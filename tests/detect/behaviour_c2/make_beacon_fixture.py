"""Writes `tests/fixtures/correlate/beacon-60s-2h.pcap`, the synthetic capture of the beacon
tests (run it from the repository root: `python tests/detect/behaviour_c2/make_beacon_fixture.py`).

Over two hours, seeded so the file is the same every time:

- the beacon: 10.20.0.15 opens a TLS-like connection (TCP 443, TLS application-data records)
  to 203.0.113.50 every 60 s ± 3 s, sending 180 ± 4 bytes and getting 300 ± 8 back;
- near miss, browsing: 10.20.0.16 to 198.51.100.20:443 in bursts of 1-6 connections a few
  seconds apart, pauses of 30 s to 10 min, sizes from 150 to 1200 bytes;
- near miss, infrastructure: 10.20.0.15 asks the site resolver 10.20.0.53 (UDP 53) and an
  external NTP server 192.0.2.123 (UDP 123) every 60 s and 64 s, to the second.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))

from pcapkit import Capture, Conversation

T0 = 1_700_000_000.0
SPAN = 2 * 3600.0


def _record(rng: random.Random, n: int) -> bytes:
    body = bytes(rng.getrandbits(8) for _ in range(n - 5))
    return b"\x17\x03\x03" + len(body).to_bytes(2, "big") + body


def build(path: Path) -> Path:
    rng = random.Random(7)
    events: list[tuple[float, str, int]] = []
    t = T0 + 5
    while t < T0 + SPAN:
        events.append((t, "beacon", 0))
        t += 60 + rng.uniform(-3, 3)
    t = T0 + 20
    while t < T0 + SPAN:
        for _ in range(rng.randint(1, 6)):
            events.append((t, "browse", 0))
            t += rng.uniform(0.5, 8)
        t += rng.uniform(30, 600)
    events += [(T0 + 30 + 60 * k, "dns", k) for k in range(int(SPAN // 60))]
    events += [(T0 + 40 + 64 * k, "ntp", k) for k in range(int(SPAN // 64))]
    events.sort()
    cap = Capture(t=T0)
    port = 40000
    for ts, kind, k in events:
        cap.t = max(cap.t, ts)
        port = port + 1 if port < 60000 else 40000
        if kind == "dns":
            q = (k & 0xFFFF).to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            q += b"\x05intra\x08hospital\x04test\x00\x00\x01\x00\x01"
            cap.udp("10.20.0.15", port, "10.20.0.53", 53, q)
            a = q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:]
            a += b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x14\x00\x05"
            cap.udp("10.20.0.53", 53, "10.20.0.15", port, a)
        elif kind == "ntp":
            cap.udp("10.20.0.15", 123, "192.0.2.123", 123, b"\x23" + bytes(47))
            cap.udp("192.0.2.123", 123, "10.20.0.15", 123, b"\x24" + bytes(47), dt=0.02)
        else:
            beacon = kind == "beacon"
            c = Conversation(
                cap,
                client="10.20.0.15" if beacon else "10.20.0.16",
                server="203.0.113.50" if beacon else "198.51.100.20",
                cport=port,
                sport=443,
            )
            c.open()
            up = 180 + rng.randint(-4, 4) if beacon else rng.randint(150, 1200)
            down = 300 + rng.randint(-8, 8) if beacon else rng.randint(150, 1200)
            c.send(0, _record(rng, up))
            c.send(1, _record(rng, down), dt=0.03)
            c.close()
    written: Path = cap.write(path)
    return written


if __name__ == "__main__":
    out = Path("tests/fixtures/correlate/beacon-60s-2h.pcap")
    print(build(out), out.stat().st_size)
