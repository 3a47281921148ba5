"""NTP (RFC 5905) client requests and server responses, UDP port 123, for generated traffic.

- `request(rng, now, windows=False)`: a client-mode (3) packet. By default as ntpd/chrony/
  systemd-timesyncd send it (NTPv4, poll 6, transmit timestamp = the client's clock);
  `windows=True` as w32time does (NTPv3, leap indicator 3 "unsynchronised", poll 17, root
  delay and dispersion of one second).
- `response(request, now, stratum, ref_id)`: the server-mode (4) answer: same version and
  poll, origin timestamp = the request's transmit timestamp, receive/transmit = `now` (and
  20 µs later), reference time 2 minutes before `now`. `ref_id` is the upstream server's
  IPv4 address (stratum >= 2) or a 4-letter source ("GPS", "PPS") for stratum 1.
- `exchange(rng, now)`: `[client(request), server(response)]`.

Times are Unix epoch seconds (float) and written as 64-bit NTP timestamps (era 0). The
only randomness is the low bits of the client's transmit fraction (clock noise) drawn from
`rng`. Errors: `ValueError` for a request shorter than 48 bytes or a bad `ref_id`.
"""

from __future__ import annotations

import random
import socket
import struct

from tocsin.exercise.wire.turns import Turn, client, server

NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01
_PACKET = struct.Struct("!BBbbII4s8s8s8s8s")
_ZERO_TS = bytes(8)


def timestamp(t: float) -> bytes:
    """A Unix time as a 64-bit NTP timestamp (32-bit seconds, 32-bit fraction)."""
    secs = int(t)
    frac = int((t - secs) * 4_294_967_296) & 0xFFFFFFFF
    return struct.pack("!II", (secs + NTP_EPOCH_OFFSET) & 0xFFFFFFFF, frac)


def _fixed16(seconds: float) -> int:
    """A short-format (16.16) duration."""
    return int(seconds * 65536) & 0xFFFFFFFF


def request(rng: random.Random, now: float, *, windows: bool = False) -> bytes:
    """A client request sent at `now` (see the module docstring)."""
    xmit = bytearray(timestamp(now))
    xmit[7] = rng.getrandbits(8)  # sub-nanosecond noise of the client clock
    if windows:  # w32time: LI 3, VN 3, mode 3
        return _PACKET.pack(
            0xDB, 0, 17, -23, _fixed16(1.0), _fixed16(1.0), b"\x00" * 4,
            _ZERO_TS, _ZERO_TS, _ZERO_TS, bytes(xmit),
        )  # fmt: skip
    return _PACKET.pack(
        0x23, 0, 6, -23, 0, 0, b"\x00" * 4, _ZERO_TS, _ZERO_TS, _ZERO_TS, bytes(xmit)
    )


def _ref_id(stratum: int, ref_id: str) -> bytes:
    if stratum <= 1:
        raw = ref_id.encode("ascii")
        if len(raw) > 4:
            raise ValueError(f"NTP stratum-1 reference id {ref_id!r} is longer than 4 letters")
        return raw.ljust(4, b"\x00")
    try:
        return socket.inet_aton(ref_id)
    except OSError as exc:
        raise ValueError(f"NTP reference id {ref_id!r} is not an IPv4 address") from exc


def response(
    request_bytes: bytes, now: float, *, stratum: int = 2, ref_id: str = "192.0.2.123"
) -> bytes:
    """The server's answer to `request_bytes`, received at `now`."""
    if len(request_bytes) < 48:
        raise ValueError(f"NTP request of {len(request_bytes)} bytes (48 expected)")
    version = (request_bytes[0] >> 3) & 7
    poll = struct.unpack_from("!b", request_bytes, 2)[0]
    return _PACKET.pack(
        (version << 3) | 4, stratum, poll, -24, _fixed16(0.0153), _fixed16(0.0221),
        _ref_id(stratum, ref_id), timestamp(now - 120.0), request_bytes[40:48],
        timestamp(now), timestamp(now + 0.00002),
    )  # fmt: skip


def exchange(
    rng: random.Random,
    now: float,
    *,
    windows: bool = False,
    stratum: int = 2,
    ref_id: str = "192.0.2.123",
    server_s: float = 0.0001,
) -> list[Turn]:
    """One time query at `now` and its answer (after `server_s`)."""
    req = request(rng, now, windows=windows)
    return [client(req), server(response(req, now, stratum=stratum, ref_id=ref_id), server_s)]
