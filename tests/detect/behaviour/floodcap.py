"""Synthetic flood captures for the flood tests: raw Ethernet/IPv4/TCP frames built with
`struct` (20,000 packets in a blink), written as a classic pcap."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

_ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def _csum(b: bytes) -> int:
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF


def tcp_frame(src: str, sport: int, dst: str, dport: int, flags: int, seq: int, ack: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, socket.inet_aton(src), socket.inet_aton(dst)
    )
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return _ETH + ip + tcp


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, frame in sorted(packets, key=lambda p: p[0]):
        sec = int(t)
        out.append(struct.pack("<IIII", sec, round((t - sec) * 1e6), len(frame), len(frame)))
        out.append(frame)
    path.write_bytes(b"".join(out))
    return path


def busy_server(
    t0: float, seconds: int, per_s: int, server: str = "10.1.0.10"
) -> list[tuple[float, bytes]]:
    """Clients completing handshakes with `server`:443 (SYN, SYN/ACK, ACK, FIN exchange)."""
    pk: list[tuple[float, bytes]] = []
    n = seconds * per_s
    for i in range(n):
        t = t0 + i / per_s
        c = f"10.2.{(i // 250) % 250}.{i % 250 + 1}"
        sp = 20000 + i % 40000
        pk.append((t, tcp_frame(c, sp, server, 443, 0x02, 1000, 0)))
        pk.append((t + 0.0001, tcp_frame(server, 443, c, sp, 0x12, 5000, 1001)))
        pk.append((t + 0.0002, tcp_frame(c, sp, server, 443, 0x10, 1001, 5001)))
        pk.append((t + 0.0003, tcp_frame(c, sp, server, 443, 0x11, 1001, 5001)))
        pk.append((t + 0.0004, tcp_frame(server, 443, c, sp, 0x11, 5001, 1002)))
    return pk


def syn_flood(
    t0: float, n: int, seconds: float, target: str = "10.1.0.10", port: int = 443
) -> list[tuple[float, bytes]]:
    """`n` SYNs from spoofed random-looking sources to `target`:`port`."""
    pk = []
    for i in range(n):
        x = (i * 2654435761) & 0xFFFFFFFF
        src = f"{(x >> 24) % 200 + 11}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255 or 1}"
        pk.append(
            (t0 + i * seconds / n, tcp_frame(src, 1024 + x % 60000, target, port, 0x02, x, 0))
        )
    return pk
