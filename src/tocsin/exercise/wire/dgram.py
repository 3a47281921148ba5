"""UDP, ICMP and ARP packets of a `Trace` (the TCP conversations are in `trace`).

- `udp(t, src, sport, dst, dport, payload)`: one datagram.
- `udp_exchange(t0, cli, cport, srv, sport, turns, *, rtt_s=0.0008) -> end`: one datagram per
  `Turn`; an answer is seen `rtt_s / 2` after the datagram before it, a follow-up from the
  same side 1 µs after, plus the turn's `delay_s`.
- `icmp(t, src, dst, type, code, payload=b"", rest=0)`: any ICMP (ICMPv6 between IPv6 hosts)
  message; `rest` is the 32-bit word after the checksum.
- `icmp_echo(t, src, dst, ident, seq, payload=None, reply=True, *, rtt_s) -> end`: echo
  request and reply (types 8/0, or 128/129 over IPv6). Default payload: Windows' 32-letter
  pattern when the sender's TTL is 128, else Linux's 56 bytes starting with the send time.
- `icmp_unreachable(t, reporter, src, sport, dst, dport, *, code=3, proto=17, payload=b"")`:
  destination unreachable about `src`'s packet, quoting its IP header + 8 bytes (`quote`).
- `arp_request(t, src, target_ip)` (broadcast), `arp_reply(t, src, dst)` (unicast),
  `arp_gratuitous(t, host)` (a broadcast request for its own address). IPv4 hosts only.

A payload must fit one frame of a 1500-byte MTU (no IP fragmentation): `ValueError`
otherwise, as for a port outside 0-65535 or an ICMP type/code outside 0-255. ICMP errors
(types 3, 11, 12) go without the DF bit, everything else with it.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from tocsin.exercise.wire.hosts import Host
from tocsin.exercise.wire.pcapout import K_ARP, K_ICMP, K_UDP, NODF
from tocsin.exercise.wire.quote import unreachable_quote
from tocsin.exercise.wire.store import Store
from tocsin.exercise.wire.turns import CLIENT, Turn

_WIN_PING = b"abcdefghijklmnopqrstuvwabcdefghi"
_LINUX_PING_TAIL = bytes(range(0x10, 0x38))


def half_rtt(rtt_s: float) -> int:
    """Half a round trip in µs, at least 2 (an answer always comes after its question)."""
    return max(2, int(rtt_s * 5e5 + 0.5))


def port(p: int) -> int:
    if not 0 <= p <= 0xFFFF:
        raise ValueError(f"port {p} outside 0-65535")
    return p


def _fits(v6: int, header: int, n: int) -> None:
    room = (1460 if v6 else 1480) - header
    if n > room:
        raise ValueError(f"payload of {n} bytes over {room}: would need IP fragmentation")


class Datagrams(Store):
    """UDP, ICMP and ARP on top of the packet store."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._arp_targets: dict[str, Host] = {}

    def udp(self, t: float, src: Host, sport: int, dst: Host, dport: int, payload: bytes) -> None:
        """One UDP datagram."""
        h, _, v6, call = self._pair(src, dst)
        n = len(payload)
        _fits(v6, 8, n)
        pay = self._blob(payload) << 16 | n if n else 0
        pf = K_UDP << 56 | port(sport) << 16 | port(dport)
        self._rows.extend((self._at(t), h, pf, 0, 0, pay, call))

    def udp_exchange(
        self,
        t0: float,
        cli: Host,
        cport: int,
        srv: Host,
        sport: int,
        turns: Sequence[Turn],
        *,
        rtt_s: float = 0.0008,
    ) -> float:
        """One datagram per turn (a DNS query and its response...); returns the time of the
        last one."""
        hc, hs, v6, call = self._pair(cli, srv)
        if not (0 <= cport <= 0xFFFF and 0 <= sport <= 0xFFFF):
            raise ValueError(f"ports {cport}, {sport} outside 0-65535")
        pc = K_UDP << 56 | cport << 16 | sport
        ps = K_UDP << 56 | sport << 16 | cport
        half = max(2, int(rtt_s * 5e5 + 0.5))
        t = self._at(t0)
        room = 1452 if v6 else 1472
        last = -1
        ext = self._rows.extend
        blobs = self._blobs
        bpos = self._blob_pos
        paypos = self._paypos
        for turn in turns:
            data = turn.data
            n = len(data)
            if n > room:
                _fits(v6, 8, n)  # raises
            x = turn.side
            if last >= 0:
                t += 1 if x == last else half
            if turn.delay_s:
                if turn.delay_s < 0:
                    raise ValueError(f"negative delay {turn.delay_s}")
                t += int(turn.delay_s * 1e6 + 0.5)
            last = x
            if n:
                blobs.append(data)
                bpos.append(paypos)
                pay = paypos << 16 | n
                paypos += n
            else:
                pay = 0
            ext((t, hc, pc, 0, 0, pay, call) if x == CLIENT else (t, hs, ps, 0, 0, pay, call))
        self._paypos = paypos
        return t / 1e6

    def icmp(
        self,
        t: float,
        src: Host,
        dst: Host,
        type: int,
        code: int,
        payload: bytes = b"",
        rest: int = 0,
    ) -> None:
        """One ICMP message (ICMPv6 between IPv6 hosts)."""
        h, _, v6, call = self._pair(src, dst)
        self._icmp(self._at(t), h, v6, call, type, code, payload, rest)

    def _icmp(
        self, t: int, h: int, v6: int, call: int, type: int, code: int, payload: bytes, rest: int
    ) -> None:
        n = len(payload)
        _fits(v6, 8, n)
        if not (0 <= type <= 255 and 0 <= code <= 255 and 0 <= rest <= 0xFFFFFFFF):
            raise ValueError(f"ICMP type {type} code {code} rest {rest}")
        pay = self._blob(payload) << 16 | n if n else 0
        nodf = NODF if type in (3, 11, 12) and not v6 else 0
        self._rows.extend((t, h, K_ICMP << 56 | nodf | type << 16 | code, rest, 0, pay, call))

    def icmp_echo(
        self,
        t: float,
        src: Host,
        dst: Host,
        ident: int,
        seq: int,
        payload: bytes | None = None,
        reply: bool = True,
        *,
        rtt_s: float = 0.0008,
    ) -> float:
        """An echo request and, when `reply`, its reply `rtt_s / 2` later with the same
        payload. Returns the time of the last packet."""
        hq, hr, v6, call = self._pair(src, dst)
        tu = self._at(t)
        if payload is None:
            if src.ttl == 128:
                payload = _WIN_PING
            else:
                sec, usec = divmod(tu, 1_000_000)
                payload = struct.pack("<qq", sec, usec) + _LINUX_PING_TAIL
        n = len(payload)
        _fits(v6, 8, n)
        rest = (ident & 0xFFFF) << 16 | (seq & 0xFFFF)
        pay = self._blob(payload) << 16 | n if n else 0
        self._rows.extend((tu, hq, K_ICMP << 56 | (128 if v6 else 8) << 16, rest, 0, pay, call))
        if not reply:
            return tu / 1e6
        tu += half_rtt(rtt_s)
        self._rows.extend((tu, hr, K_ICMP << 56 | (129 if v6 else 0) << 16, rest, 0, pay, call))
        return tu / 1e6

    def icmp_unreachable(
        self,
        t: float,
        reporter: Host,
        src: Host,
        sport: int,
        dst: Host,
        dport: int,
        *,
        code: int = 3,
        proto: int = 17,
        payload: bytes = b"",
    ) -> None:
        """Destination unreachable from `reporter` to `src` about its packet `src:sport ->
        dst:dport` (`proto` 17 UDP carrying `payload`, or 6 TCP). `code` is ICMPv4's (3 port,
        1 host, 13 administratively prohibited...), mapped to ICMPv6's between IPv6 hosts."""
        typ, c, quote = unreachable_quote(src, port(sport), dst, port(dport), code, proto, payload)
        _, h, v6, call = self._pair(src, reporter)
        self._icmp(self._at(t), h, v6, call, typ, c, quote, 0)

    def arp_request(self, t: float, src: Host, target_ip: str) -> None:
        """`src` asks who has `target_ip` (broadcast)."""
        target = self._arp_targets.get(target_ip)
        if target is None:
            target = self._arp_targets[target_ip] = Host("arp-target", target_ip, bytes(6))
        self._arp(t, src, target, 1)

    def arp_reply(self, t: float, src: Host, dst: Host) -> None:
        """`src` tells `dst` its MAC (unicast)."""
        self._arp(t, src, dst, 2)

    def arp_gratuitous(self, t: float, host: Host) -> None:
        """`host` announces its own address (a broadcast request for itself)."""
        self._arp(t, host, host, 1)

    def _arp(self, t: float, src: Host, dst: Host, op: int) -> None:
        if src.version != 4 or dst.version != 4:
            raise ValueError(f"ARP between {src.ip} and {dst.ip}: IPv4 only")
        _, h, _, call = self._pair(dst, src)  # the sender's VLAN
        self._rows.extend((self._at(t), h, K_ARP << 56 | op, 0, 0, 0, call))
