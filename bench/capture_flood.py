"""The **flood** capture: ≥ 4 M minimum-size (60-byte) Ethernet frames over one minute.

Content (every field from one seeded RNG, in a fixed call order, so the bytes are stable):
- a spoofed-source SYN flood: `FLOOD_SYNS` SYNs from random public-space IPv4 sources and
  ports to three targets (10.20.0.10:80, 10.20.0.11:443, 10.20.0.12:25), and the targets'
  SYN-ACK answers to one SYN in four;
- a vertical SYN scan (nmap -sS style) of every TCP port of 10.20.0.20 from 10.20.9.66: RST-ACK
  for closed ports, SYN-ACK then the scanner's RST for the open ones;
- a horizontal SYN scan of 10.30.0.0/16 port 445 from 10.20.9.67, a few hosts answering;
- background: complete small TCP conversations (12 packets: handshake, three 6-byte requests /
  answers, FIN exchange) and DNS root-NS queries / answers over UDP.
IPv4 header and TCP / UDP checksums are valid. Frames are padded to 60 bytes (no FCS).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import BinaryIO

import numpy as np

from pcapio import write_header

SEED = 20_240_602
T0_US = 1_717_300_000 * 1_000_000
DURATION_US = 60 * 1_000_000
FLOOD_SYNS = 3_200_000
TCP_CONVERSATIONS = 20_000
DNS_EXCHANGES = 30_000
FRAME = 60
CHUNK_PACKETS = 1 << 20

SYN, RST, PSH, ACK, FIN = 0x02, 0x04, 0x08, 0x10, 0x01
MAC_OUTSIDE = bytes.fromhex("001b21aa0001")
MAC_INSIDE = bytes.fromhex("3cfdfe000002")
RECORD = np.dtype(
    [("sec", "<u4"), ("usec", "<u4"), ("caplen", "<u4"), ("wirelen", "<u4"), ("frame", "u1", FRAME)]
)


def _ip(text: str) -> int:
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


@dataclass
class Packets:
    """One column per header field; every column has one entry per packet."""

    ts: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    proto: np.ndarray  # 6 or 17
    sport: np.ndarray
    dport: np.ndarray
    seq: np.ndarray
    ack: np.ndarray
    flags: np.ndarray
    window: np.ndarray
    ttl: np.ndarray
    ipid: np.ndarray
    payload: np.ndarray  # payload length: TCP 0..6, UDP 17 (a DNS message)
    inbound: np.ndarray  # bool: frame comes from the outside router

    @classmethod
    def make(cls, n: int, **cols: np.ndarray | int) -> Packets:
        defaults: dict[str, np.ndarray | int] = dict(
            proto=6, seq=0, ack=0, flags=0, window=64_240, ttl=64, ipid=0, payload=0, inbound=False
        )
        merged = defaults | cols
        return cls(**{f.name: np.broadcast_to(merged[f.name], (n,)).copy() for f in fields(cls)})

    @classmethod
    def concat(cls, parts: list[Packets]) -> Packets:
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        )

    def take(self, idx: np.ndarray) -> Packets:
        return Packets(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def __len__(self) -> int:
        return len(self.ts)


def _times(rng: np.random.Generator, n: int, start_s: float, end_s: float) -> np.ndarray:
    return np.sort(rng.integers(int(start_s * 1e6), int(end_s * 1e6), n))


def syn_flood(rng: np.random.Generator) -> Packets:
    n = FLOOD_SYNS
    targets = np.array([_ip("10.20.0.10"), _ip("10.20.0.11"), _ip("10.20.0.12")])
    ports = np.array([80, 443, 25])
    which = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    syns = Packets.make(
        n,
        ts=_times(rng, n, 5, 55),
        src=rng.integers(_ip("1.0.0.0"), _ip("223.255.255.255"), n),
        dst=targets[which],
        sport=rng.integers(1024, 65536, n),
        dport=ports[which],
        seq=rng.integers(0, 2**32, n),
        flags=SYN,
        window=rng.choice(np.array([512, 1024, 5840, 14600, 29200, 65535]), n),
        ttl=rng.integers(40, 250, n),
        ipid=rng.integers(0, 65536, n),
        inbound=True,
    )
    answered = np.arange(0, n, 4)
    q = syns.take(answered)
    replies = Packets.make(
        len(q),
        ts=q.ts + rng.integers(30, 400, len(q)),
        src=q.dst,
        dst=q.src,
        sport=q.dport,
        dport=q.sport,
        seq=rng.integers(0, 2**32, len(q)),
        ack=(q.seq + 1) % 2**32,
        flags=SYN | ACK,
        window=65_160,
        ipid=0,
    )
    return Packets.concat([syns, replies])


def vertical_scan(rng: np.random.Generator) -> Packets:
    ports = rng.permutation(np.arange(1, 65536))
    n = len(ports)
    scanner, target, sport = _ip("10.20.9.66"), _ip("10.20.0.20"), 58_314
    probes = Packets.make(
        n,
        ts=_times(rng, n, 15, 25),
        src=scanner,
        dst=target,
        sport=sport,
        dport=ports,
        seq=rng.integers(0, 2**32, n),
        flags=SYN,
        window=1024,
        ttl=rng.integers(37, 60, n),
        ipid=rng.integers(0, 65536, n),
    )
    is_open = np.isin(ports, [22, 80, 443, 445, 3389, 5432, 8080])
    answers = Packets.make(
        n,
        ts=probes.ts + rng.integers(50, 300, n),
        src=target,
        dst=scanner,
        sport=ports,
        dport=sport,
        seq=np.where(is_open, rng.integers(0, 2**32, n), 0),
        ack=(probes.seq + 1) % 2**32,
        flags=np.where(is_open, SYN | ACK, RST | ACK),
        window=np.where(is_open, 65_160, 0),
    )
    o = np.flatnonzero(is_open)
    resets = Packets.make(
        len(o),
        ts=answers.ts[o] + 40,
        src=scanner,
        dst=target,
        sport=sport,
        dport=ports[o],
        seq=(probes.seq[o] + 1) % 2**32,
        flags=RST,
        window=0,
    )
    return Packets.concat([probes, answers, resets])


def horizontal_scan(rng: np.random.Generator) -> Packets:
    hosts = _ip("10.30.0.0") + rng.permutation(65536)
    n = len(hosts)
    probes = Packets.make(
        n,
        ts=_times(rng, n, 30, 40),
        src=_ip("10.20.9.67"),
        dst=hosts,
        sport=41_772,
        dport=445,
        seq=rng.integers(0, 2**32, n),
        flags=SYN,
        window=1024,
        ttl=rng.integers(37, 60, n),
        ipid=rng.integers(0, 65536, n),
    )
    alive = np.flatnonzero(rng.random(n) < 0.03)
    p = probes.take(alive)
    is_open = rng.random(len(alive)) < 0.3
    answers = Packets.make(
        len(p),
        ts=p.ts + rng.integers(80, 2000, len(p)),
        src=p.dst,
        dst=p.src,
        sport=445,
        dport=p.sport,
        seq=np.where(is_open, rng.integers(0, 2**32, len(p)), 0),
        ack=(p.seq + 1) % 2**32,
        flags=np.where(is_open, SYN | ACK, RST | ACK),
        window=np.where(is_open, 64_240, 0),
        ttl=128,
    )
    return Packets.concat([probes, answers])


# (from client, flags, payload, client seq advance before, server seq advance before, delay RTTs)
_CONVERSATION = (
    (True, SYN, 0, 0, 0, 0.0),
    (False, SYN | ACK, 0, 1, 0, 1.0),
    (True, ACK, 0, 1, 1, 1.5),
    (True, PSH | ACK, 6, 1, 1, 1.6),
    (False, ACK, 0, 7, 1, 2.6),
    (False, PSH | ACK, 6, 7, 1, 3.0),
    (True, ACK, 0, 7, 7, 3.5),
    (True, PSH | ACK, 6, 7, 7, 4.0),
    (False, PSH | ACK, 6, 13, 7, 5.0),
    (True, FIN | ACK, 0, 13, 13, 5.5),
    (False, FIN | ACK, 0, 14, 13, 6.5),
    (True, ACK, 0, 14, 14, 7.5),
)


def tcp_conversations(rng: np.random.Generator) -> Packets:
    n = TCP_CONVERSATIONS
    client = _ip("10.20.100.0") + rng.integers(0, 1024, n)
    servers = np.array([_ip(f"10.20.0.{h}") for h in range(30, 40)] + [_ip("93.184.216.34")])
    server = servers[rng.integers(0, len(servers), n)]
    sport = 32_768 + (np.arange(n) % 28_000)
    dport = rng.choice(np.array([22, 80, 443, 993, 8080, 5432]), n)
    start = rng.integers(0, DURATION_US - 2_000_000, n)
    rtt = rng.integers(200, 60_000, n)
    cisn, sisn = rng.integers(0, 2**32, n), rng.integers(0, 2**32, n)
    parts = []
    for from_client, flags, payload, c_adv, s_adv, delay in _CONVERSATION:
        c_seq, s_seq = (cisn + c_adv) % 2**32, (sisn + s_adv) % 2**32
        has_ack = bool(flags & ACK)
        parts.append(
            Packets.make(
                n,
                ts=start + (rtt * delay).astype(np.int64),
                src=client if from_client else server,
                dst=server if from_client else client,
                sport=sport if from_client else dport,
                dport=dport if from_client else sport,
                seq=c_seq if from_client else s_seq,
                ack=(s_seq if from_client else c_seq) if has_ack else 0,
                flags=flags,
                payload=payload,
                inbound=not from_client,
            )
        )
    return Packets.concat(parts)


def dns_exchanges(rng: np.random.Generator) -> Packets:
    n = DNS_EXCHANGES
    client = _ip("10.20.100.0") + rng.integers(0, 1024, n)
    resolver = _ip("10.20.0.53")
    sport = rng.integers(1024, 65536, n)
    txid = rng.integers(0, 65536, n)
    ts = _times(rng, n, 0, 59.9)
    queries = Packets.make(
        n, ts=ts, src=client, dst=resolver, sport=sport, dport=53, proto=17, payload=17, ipid=txid
    )
    answers = Packets.make(
        n,
        ts=ts + rng.integers(100, 5000, n),
        src=resolver,
        dst=client,
        sport=53,
        dport=sport,
        proto=17,
        payload=17,
        ipid=txid,
        inbound=True,
    )
    return Packets.concat([queries, answers])


def build(progress: Callable[[str], None] = print) -> Packets:
    rng = np.random.default_rng(SEED)
    parts = [
        syn_flood(rng),
        vertical_scan(rng),
        horizontal_scan(rng),
        tcp_conversations(rng),
        dns_exchanges(rng),
    ]
    names = ("syn flood", "vertical scan", "horizontal scan", "tcp conversations", "dns")
    progress(
        "flood: " + ", ".join(f"{name} {len(p):,}" for name, p in zip(names, parts, strict=True))
    )
    allp = Packets.concat(parts)
    return allp.take(np.argsort(allp.ts, kind="stable"))


def _put(frame: np.ndarray, at: int, values: np.ndarray, width: int) -> None:
    v = values.astype(np.int64)
    for i in range(width):
        frame[:, at + i] = (v >> (8 * (width - 1 - i))) & 0xFF


def _checksum(words_sum: np.ndarray) -> np.ndarray:
    x = words_sum
    for _ in range(3):
        x = (x & 0xFFFF) + (x >> 16)
    return 0xFFFF - x


def _words(frame: np.ndarray, lo: int, hi: int) -> np.ndarray:
    seg = frame[:, lo:hi].astype(np.int64)
    return ((seg[:, 0::2] << 8) | seg[:, 1::2]).sum(axis=1)


def frames(p: Packets) -> np.ndarray:
    """The (n, 60) frame bytes of `p`."""
    n = len(p)
    f = np.zeros((n, FRAME), dtype=np.uint8)
    inside, outside = np.frombuffer(MAC_INSIDE, np.uint8), np.frombuffer(MAC_OUTSIDE, np.uint8)
    f[:, 0:6] = np.where(p.inbound[:, None], inside, outside)
    f[:, 6:12] = np.where(p.inbound[:, None], outside, inside)
    f[:, 12], f[:, 13] = 0x08, 0x00
    tcp = p.proto == 6
    l4_len = np.where(tcp, 20, 8) + p.payload
    f[:, 14] = 0x45
    _put(f, 16, 20 + l4_len, 2)
    _put(f, 18, p.ipid, 2)
    f[:, 20] = 0x40  # DF
    f[:, 22] = p.ttl
    f[:, 23] = p.proto
    _put(f, 26, p.src, 4)
    _put(f, 30, p.dst, 4)
    _put(f, 24, _checksum(_words(f, 14, 34)), 2)
    _put(f, 34, p.sport, 2)
    _put(f, 36, p.dport, 2)
    # TCP
    _put(f, 38, np.where(tcp, p.seq, 0), 4)
    _put(f, 42, np.where(tcp, p.ack, 0), 4)
    f[:, 46] = np.where(tcp, 0x50, 0)
    f[:, 47] = np.where(tcp, p.flags, 0)
    _put(f, 48, np.where(tcp, p.window, 0), 2)
    data = np.where(tcp, 54, 42)
    cols = np.arange(FRAME)[None, :]
    in_payload = (cols >= data[:, None]) & (cols < (data + p.payload)[:, None])
    f[in_payload & tcp[:, None]] = ord("x")
    # UDP: a DNS query (or answer) for the root NS: id, flags, 1 question, ".", NS, IN
    udp = ~tcp
    _put(f, 38, np.where(udp, l4_len, f[:, 38].astype(np.int64) << 8 | f[:, 39]), 2)
    dns = np.zeros((n, 17), dtype=np.uint8)
    _put(dns, 0, p.ipid, 2)
    _put(dns, 2, np.where(p.inbound, 0x8180, 0x0100), 2)
    dns[:, 5] = 1
    dns[:, 13:17] = (0, 2, 0, 1)
    f[:, 42:59] = np.where(udp[:, None], dns, f[:, 42:59])
    # L4 checksum over the pseudo-header and the segment (padding is zero, so it adds nothing)
    pseudo = (p.src >> 16) + (p.src & 0xFFFF) + (p.dst >> 16) + (p.dst & 0xFFFF)
    total = pseudo.astype(np.int64) + p.proto + l4_len + _words(f, 34, FRAME)
    csum = _checksum(total)
    csum = np.where(udp & (csum == 0), 0xFFFF, csum)
    at_tcp, at_udp = f[:, 50:52].copy(), f[:, 40:42].copy()
    c = np.stack([csum >> 8, csum & 0xFF], axis=1).astype(np.uint8)
    f[:, 50:52] = np.where(tcp[:, None], c, at_tcp)
    f[:, 40:42] = np.where(udp[:, None], c, at_udp)
    return f


def write_flood(p: Packets, out: BinaryIO, progress: Callable[[int, int], None]) -> int:
    write_header(out)
    n = len(p)
    for lo in range(0, n, CHUNK_PACKETS):
        part = p.take(np.arange(lo, min(lo + CHUNK_PACKETS, n)))
        rec = np.zeros(len(part), dtype=RECORD)
        rec["sec"], rec["usec"] = np.divmod(T0_US + part.ts, 1_000_000)
        rec["caplen"] = rec["wirelen"] = FRAME
        rec["frame"] = frames(part)
        out.write(rec.tobytes())
        progress(lo + len(part), n)
    return n
