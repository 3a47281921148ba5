"""Test helper: a capture's DNS flows through `DnsUdpParser` / `DnsTcpParser`, like the
dispatcher would, with the header fields of each event.

`run(pcap)` reads the packets with `applayer.replay.packets` (Tocsin's own reader and
decoder), keys flows by 5-tuple (initiator = sender of the first packet, or of the SYN), feeds
UDP datagrams one by one and each TCP direction in sequence order. Unlike `replay`, it picks
the parser by transport, reports a TCP hole as a `gap` (a segment that starts past the next
expected byte: the captures used here are clean apart from deliberate losses), honours `skip`,
and carries on after a `ParseError` on UDP (as Suricata does; counted in `errors`), while a
TCP direction stops at its first `ParseError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from applayer.replay import packets
from tocsin.applayer.base import AppLimits, AppParser, ParseError
from tocsin.applayer.dns import DnsTcpParser, DnsUdpParser

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "dns"


@dataclass
class Event:
    body: Any  # DnsInfo
    direction: int
    ts_us: int
    tx_id: int | None
    header: dict[str, Any]  # src_ip, src_port, dest_ip, dest_port, proto (by packet)

    def eve(self) -> dict[str, Any]:
        """The event as a suricata-verify check sees it (no pcap_cnt, no timestamp)."""
        return {
            "event_type": "dns",
            **self.header,
            "tx_id": self.tx_id,
            "dns": msgspec.to_builtins(self.body),
        }


@dataclass
class Result:
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _ip(addr: tuple[int, int]) -> str:
    hi, lo = addr
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


@dataclass
class _Flow:
    key: tuple[Any, ...]
    parser: AppParser
    nxt: list[int | None] = field(default_factory=lambda: [None, None])


def run(pcap: Path | str, *, port: int | None = 53, limits: AppLimits | None = None) -> Result:
    """Every DNS message of the flows of `pcap` with `port` on either side (any if None)."""
    res = Result()
    flows: dict[tuple[Any, ...], _Flow] = {}
    lim = limits or AppLimits()
    for ts, key, tcp_flags, seq, _idx, payload in packets(pcap):
        src, sport, dst, dport, proto = key
        if proto not in (6, 17) or (port is not None and port not in (sport, dport)):
            continue
        rev = (dst, dport, src, sport, proto)
        if key in flows:
            fl, d = flows[key], 0
        elif rev in flows:
            fl, d = flows[rev], 1
        else:
            synack = proto == 6 and (tcp_flags & 0x12) == 0x12
            fkey = rev if synack else key
            fl = _Flow(fkey, _parser(res, fkey, lim))
            flows[fkey] = fl
            d = 1 if synack else 0
        parser = fl.parser
        if proto == 17:
            if payload:
                try:
                    parser.feed(d, payload, ts)
                except ParseError as exc:
                    res.errors.append(str(exc))
            continue
        if tcp_flags & 0x02:  # SYN: the stream starts after it
            fl.nxt[d] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload or parser.done[d]:
            continue
        nxt = fl.nxt[d]
        if nxt is None:
            nxt = seq
        rel = (seq - nxt) & 0xFFFFFFFF
        if rel >= 0x80000000:  # retransmission: keep the new part only
            cut = (nxt - seq) & 0xFFFFFFFF
            if cut >= len(payload):
                continue
            payload, seq = payload[cut:], nxt
        elif rel <= parser.skip[d]:  # the hole is in bytes the parser skips anyway
            parser.skip[d] -= rel
        else:  # bytes missing before this segment
            parser.skip[d] = 0
            parser.gap(d, ts)
            if parser.done[d]:
                continue
        fl.nxt[d] = (seq + len(payload)) & 0xFFFFFFFF
        take = min(parser.skip[d], len(payload))
        parser.skip[d] -= take
        if take < len(payload):
            try:
                parser.feed(d, payload[take:], ts)
            except ParseError as exc:
                res.errors.append(str(exc))
                parser.done[d] = True
    return res


def _parser(res: Result, fkey: tuple[Any, ...], lim: AppLimits) -> AppParser:
    src, sport, dst, dport, proto = fkey
    ends = ((_ip(src), sport), (_ip(dst), dport))
    name = "TCP" if proto == 6 else "UDP"

    def emit(
        event_cls: type[msgspec.Struct],
        body: Any,
        direction: int,
        ts_us: int,
        tx_id: int | None = None,
    ) -> None:
        (sip, sp), (dip, dp) = ends if direction == 0 else ends[::-1]
        header = {"src_ip": sip, "src_port": sp, "dest_ip": dip, "dest_port": dp, "proto": name}
        res.events.append(Event(body, direction, ts_us, tx_id, header))

    cls = DnsTcpParser if proto == 6 else DnsUdpParser
    return cls(emit, lim)


def payloads(pcap: Path | str) -> list[bytes]:
    """The UDP payloads of `pcap` (port 53), in order: real DNS messages for unit tests."""
    return [p for _, key, _, _, _, p in packets(pcap) if key[4] == 17 and 53 in key[1::2] and p]
