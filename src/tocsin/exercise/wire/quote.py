"""The quoted packet an ICMP destination-unreachable message carries (RFC 792 / RFC 4443).

`unreachable_quote(src, sport, dst, dport, code, proto, payload)` returns `(type, code,
quote)`: the offending packet's IP header (IPv4 with a valid header checksum, or IPv6) and its
first 8 transport bytes: for UDP the whole header with the checksum over `payload`, for TCP
the ports and a sequence number of 0. The quoted IPv4 ID is 0 (the real one is assigned when
the trace is written). ICMPv4 codes are mapped to ICMPv6's between IPv6 hosts (0 no route,
1 host -> 3 address, 3 port -> 4 port, 13 prohibited -> 1); other codes raise `ValueError`.
"""

from __future__ import annotations

import struct

from tocsin.exercise.wire.hosts import Host

_V6_CODES = {0: 0, 1: 3, 3: 4, 13: 1}


def inet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    s: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def unreachable_quote(
    src: Host, sport: int, dst: Host, dport: int, code: int, proto: int, payload: bytes
) -> tuple[int, int, bytes]:
    """(ICMP type, code, quoted IP header + 8 bytes) for `src:sport -> dst:dport`."""
    if proto not in (6, 17):
        raise ValueError(f"quoted protocol {proto}: 6 (TCP) or 17 (UDP)")
    if src.version != dst.version:
        raise ValueError(f"{src.ip} -> {dst.ip}: IPv4 with IPv6")
    l4len = 8 + len(payload) if proto == 17 else 20 + len(payload)
    a, b = src.ip_packed, dst.ip_packed
    pseudo = a + b + struct.pack("!HH", proto, l4len)
    if proto == 17:
        head = struct.pack("!HHHH", sport, dport, l4len, 0)
        ck = inet_checksum(pseudo + head + payload) or 0xFFFF
        l4 = struct.pack("!HHHH", sport, dport, l4len, ck)
    else:
        l4 = struct.pack("!HHI", sport, dport, 0)
    if src.version == 4:
        if not 0 <= code <= 15:
            raise ValueError(f"ICMP unreachable code {code}")
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + l4len, 0, 0x4000, src.ttl, proto, 0, a, b)
        ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
        return 3, code, ip + l4
    c6 = _V6_CODES.get(code)
    if c6 is None:
        raise ValueError(f"ICMP unreachable code {code}: no ICMPv6 equivalent")
    ip = struct.pack("!IHBB16s16s", 0x60000000, l4len, proto, src.ttl, a, b)
    return 1, c6, ip + l4
