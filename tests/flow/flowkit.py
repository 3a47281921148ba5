"""Test helpers for the flow table: build packets, decode them, run a `FlowTable`, read EVE.

Packets are built by hand with `struct` (Ethernet, 802.1Q/QinQ, IPv4/IPv6, TCP/UDP/ICMP), decoded
by the real decode kernel exactly as `runtime.pipeline` does, then accounted by a `FlowTable`.
Ended flows are copied out of the table's reused buffer, and can be formatted by the real EVE
formatter (`FlowFormatter`) and parsed back as JSON.
"""

from __future__ import annotations

import ipaddress
import json
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import PacketBatch
from tocsin.decode.decoder import Decoder
from tocsin.flow.layout import FLOW_DTYPE
from tocsin.flow.table import FlowConfig, FlowTable
from tocsin.output.eve_flow import FlowFormatter

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SEC = 1_000_000
T0 = 1_700_000_000 * SEC  # a realistic epoch for packet time

Packet = tuple[int, bytes]  # (ts_us, frame bytes)


# ------------------------------------------------------------------------------- builders
def _eth(payload: bytes, ethertype: int, vlans: Sequence[int]) -> bytes:
    hdr = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    tpids = ([0x88A8] if len(vlans) > 1 else [0x8100])[: len(vlans)] + [0x8100] * (len(vlans) - 1)
    tags = b"".join(struct.pack("!HH", tpid, vid) for tpid, vid in zip(tpids, vlans, strict=True))
    return hdr + tags + struct.pack("!H", ethertype) + payload


def _l3(src: str, dst: str, proto: int, l4: bytes) -> tuple[bytes, int]:
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    if s.version == 4:
        hdr = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, s.packed, d.packed
        )
        return hdr + l4, 0x0800
    hdr = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, s.packed, d.packed)
    return hdr + l4, 0x86DD


def tcp(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    flags: int,
    payload: bytes = b"",
    *,
    seq: int = 1000,
    ack: int = 0,
    vlans: Sequence[int] = (),
) -> bytes:
    """An Ethernet frame holding a TCP segment (IPv4 or IPv6, from the address syntax)."""
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    ip, et = _l3(src, dst, 6, seg + payload)
    return _eth(ip, et, vlans)


def udp(
    src: str,
    sport: int,
    dst: str,
    dport: int,
    payload: bytes = b"",
    *,
    vlans: Sequence[int] = (),
) -> bytes:
    dgram = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip, et = _l3(src, dst, 17, dgram)
    return _eth(ip, et, vlans)


def icmp(
    src: str,
    dst: str,
    itype: int,
    code: int = 0,
    payload: bytes = b"\0" * 8,
    *,
    ident: int = 7,
    seq: int = 1,
    vlans: Sequence[int] = (),
) -> bytes:
    """ICMP (IPv4 addresses) or ICMPv6 (IPv6 addresses) message."""
    v6 = ipaddress.ip_address(src).version == 6
    msg = struct.pack("!BBHHH", itype, code, 0, ident, seq) + payload
    ip, et = _l3(src, dst, 58 if v6 else 1, msg)
    return _eth(ip, et, vlans)


def handshake(
    c: str,
    cp: int,
    s: str,
    sp: int,
    t: int,
    *,
    step: int = 1000,
    vlans: Sequence[int] = (),
    isn: int = 100,
) -> list[Packet]:
    """SYN (sequence number `isn`), SYN/ACK, ACK starting at `t`, `step` µs apart."""
    return [
        (t, tcp(c, cp, s, sp, SYN, seq=isn, vlans=vlans)),
        (t + step, tcp(s, sp, c, cp, SYN | ACK, seq=500, ack=isn + 1, vlans=vlans)),
        (t + 2 * step, tcp(c, cp, s, sp, ACK, seq=isn + 1, ack=501, vlans=vlans)),
    ]


# ------------------------------------------------------------------------------- running
def decode(packets: Sequence[Packet]) -> tuple[npt.NDArray[np.void], PacketBatch]:
    """Decode frames exactly as the pipeline does; returns (PKT_DTYPE records, batch)."""
    batch = PacketBatch.from_packets(list(packets))
    pk = Decoder().decode(batch)
    return pk, batch


@dataclass
class Run:
    table: FlowTable
    ended: list[npt.NDArray[np.void]] = field(default_factory=list)  # copies, per chunk
    at_flush: int = 0  # number of flows that ended before flush()

    @property
    def flows(self) -> npt.NDArray[np.void]:
        if not self.ended:
            return np.zeros(0, dtype=FLOW_DTYPE)
        return np.concatenate(self.ended)

    def eve_bytes(self) -> bytes:
        fmt = FlowFormatter()
        return b"".join(bytes(fmt.format(chunk)) for chunk in self.ended)

    def eve(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.eve_bytes().splitlines()]


def feed(table: FlowTable, packets: Sequence[Packet], run: Run | None = None) -> Run:
    """Decode and account `packets` as one batch; ended chunks are copied into `run`."""
    run = run if run is not None else Run(table)
    if not packets:
        return run
    pk, batch = decode(packets)
    for chunk in table.update(pk, batch.wirelen, batch.ts_us):
        run.ended.append(chunk.copy())
    return run


def run_flows(
    packets: Sequence[Packet],
    config: FlowConfig | None = None,
    *,
    batch: int | None = None,
    flush: bool = True,
) -> Run:
    """Packets in, ended flows out: feed in batches of `batch` packets (all at once by
    default), then flush the table (unless `flush` is false)."""
    table = FlowTable(config or FlowConfig(cap=4096, ended_buffer=1024))
    run = Run(table)
    step = batch or max(len(packets), 1)
    for k in range(0, len(packets), step):
        feed(table, packets[k : k + step], run)
    run.at_flush = sum(c.shape[0] for c in run.ended)
    if flush:
        for chunk in table.flush():
            run.ended.append(chunk.copy())
    return run


def one(eves: Iterable[dict[str, Any]]) -> dict[str, Any]:
    items = list(eves)
    assert len(items) == 1, items
    return items[0]
