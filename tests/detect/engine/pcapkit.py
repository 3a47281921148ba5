"""Small, exact captures for the signature-engine tests, built with dpkt (an independent
builder): TCP conversations with a real handshake, UDP datagrams, each packet's index known."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import dpkt


@dataclass
class Capture:
    """Packets appended in order; `write(path)` gives a pcap (1-based index = pcap_cnt)."""

    packets: list[tuple[float, bytes]] = field(default_factory=list)
    t: float = 1_700_000_000.0

    def _ip(self, src: str, dst: str, proto: int, l4: dpkt.Packet) -> bytes:
        ip = dpkt.ip.IP(
            src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, data=l4
        )
        ip.len = len(ip)
        eth = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02", data=ip
        )
        return bytes(eth)

    def add(self, frame: bytes, dt: float = 0.001) -> int:
        self.t += dt
        self.packets.append((self.t, frame))
        return len(self.packets)

    def tcp(
        self,
        src: str,
        sport: int,
        dst: str,
        dport: int,
        flags: int,
        seq: int,
        ack: int,
        data: bytes = b"",
        dt: float = 0.001,
    ) -> int:
        seg = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=data)
        seg.off = 5
        return self.add(self._ip(src, dst, 6, seg), dt)

    def udp(
        self, src: str, sport: int, dst: str, dport: int, data: bytes, dt: float = 0.001
    ) -> int:
        dg = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
        dg.ulen = len(dg)
        return self.add(self._ip(src, dst, 17, dg), dt)

    def write(self, path: Path) -> Path:
        with path.open("wb") as f:
            w = dpkt.pcap.Writer(f)
            for ts, frame in self.packets:
                w.writepkt(frame, ts)
        return path


@dataclass
class Conversation:
    """A TCP connection: `open()` does the handshake, `send(d, bytes)` one segment each way
    (d 0: client to server), `close()` the FIN exchange. Returns packet indices."""

    cap: Capture
    client: str = "10.0.0.1"
    server: str = "192.0.2.10"
    cport: int = 40000
    sport: int = 80
    cseq: int = 1000
    sseq: int = 5000

    def open(self) -> None:
        c, s = self.cap, self
        c.tcp(s.client, s.cport, s.server, s.sport, dpkt.tcp.TH_SYN, s.cseq, 0)
        c.tcp(
            s.server,
            s.sport,
            s.client,
            s.cport,
            dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK,
            s.sseq,
            s.cseq + 1,
        )
        s.cseq += 1
        s.sseq += 1
        c.tcp(s.client, s.cport, s.server, s.sport, dpkt.tcp.TH_ACK, s.cseq, s.sseq)

    def send(self, d: int, data: bytes, dt: float = 0.001) -> int:
        s = self
        flags = dpkt.tcp.TH_ACK | dpkt.tcp.TH_PUSH
        if d == 0:
            i = s.cap.tcp(s.client, s.cport, s.server, s.sport, flags, s.cseq, s.sseq, data, dt)
            s.cseq += len(data)
        else:
            i = s.cap.tcp(s.server, s.sport, s.client, s.cport, flags, s.sseq, s.cseq, data, dt)
            s.sseq += len(data)
        return i

    def close(self) -> None:
        s, fa = self, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK
        s.cap.tcp(s.client, s.cport, s.server, s.sport, fa, s.cseq, s.sseq)
        s.cap.tcp(s.server, s.sport, s.client, s.cport, fa, s.sseq, s.cseq + 1)
        s.cap.tcp(s.client, s.cport, s.server, s.sport, dpkt.tcp.TH_ACK, s.cseq + 1, s.sseq + 1)
