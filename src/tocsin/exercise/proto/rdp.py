"""RDP connections ([MS-RDPBCGR], [MS-CSSP]) for generated traffic, TCP port 3389.

- `connection_request(cookie, requested)`: TPKT + X.224 Connection Request with the
  `Cookie: mstshash=NAME` line (when `cookie` is given) and an RDP_NEG_REQ asking for
  `requested` (default PROTOCOL_SSL | PROTOCOL_HYBRID: TLS with NLA/CredSSP).
- `connection_confirm(selected)`: TPKT + X.224 Connection Confirm with the RDP_NEG_RSP.
- `session(rng, user, success)`: one connection as turns. After the request/confirm the
  conversation is TLS (`tls.conversation`, the `mstsc` client fingerprint, the server's
  self-signed certificate) carrying CredSSP: NTLM NEGOTIATE, CHALLENGE, AUTHENTICATE.

  A failed login (`success=False`) is what a password-guessing tool leaves: the server
  answers the AUTHENTICATE with a TSRequest carrying STATUS_LOGON_FAILURE and closes; the
  whole connection lasts about a second and the server sends a few kilobytes (its
  certificate and the NTLM challenge). That is what `behaviour.brute_force` counts as a
  failure (an `rdp` flow shorter than 30 s in which the server sent at most 30 000 bytes).
  Without NLA (`requested=PROTOCOL_SSL`) a failed guess is typed into the logon screen: the
  connection sequence, the screen, the guess and the refusal, about 20 kB from the server in
  a few seconds, still a failure by that measure.

  A successful login goes on with the CredSSP credentials, the MCS/GCC connection sequence
  and capability exchange, then an interactive desktop for `duration_s` (default 5 min):
  small client input PDUs and server graphics updates (log-normal sizes, about 1 MB over 5
  minutes), so it is long and heavy, never a brute-force failure.

Tocsin's RDP parser logs the cookie from the request (`initial_request`), the confirm
(`initial_response`) and the switch to TLS (`tls_handshake`); the rest is encrypted.
Message sizes inside TLS follow real NTLM/CredSSP and RDP exchanges, with some jitter.

Dissectors that read port 3389 as TPKT without following the switch to TLS (tshark 4.0)
take a TCP segment whose first byte is 3 for a new TPKT (the next byte is not checked),
one whose first byte has its two low bits clear for an RDP fast-path PDU when the next
byte happens to match the segment's length, and one starting with 0x30 for a CredSSP
TSRequest (a BER SEQUENCE whose random length overruns the segment): in a long session
some segments of random-looking ciphertext start so, and tshark reports them malformed.
Turns longer than a segment are patched so that no segment boundary (every 1460 or 1440
bytes from the turn's start, where the trace cuts it) inside an application-data record's
body holds such a byte (`_tpkt_free`); records stay well-formed, and their headers (16 kB
apart) never fall on such a boundary.
"""

from __future__ import annotations

import random
import struct

from tocsin.exercise.proto import tls
from tocsin.exercise.proto.x509 import chain_for
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn, client, server

PROTOCOL_RDP, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_RDSTLS, PROTOCOL_HYBRID_EX = 0, 1, 2, 4, 8
_NEG_RSP_FLAGS = 0x1F  # extended client data, GFX, reserved, restricted admin, redirected auth

# (side, plaintext bytes) of the connection sequence after CredSSP succeeds: MCS Connect
# Initial/Response, Erect Domain, Attach User, channel joins, Client Info, licence, Demand
# / Confirm Active, synchronise, control, font list / map.
_CONNECT_SEQUENCE = (
    (CLIENT, 435), (SERVER, 340), (CLIENT, 12), (CLIENT, 8), (SERVER, 11),
    (CLIENT, 12), (SERVER, 15), (CLIENT, 12), (SERVER, 15), (CLIENT, 12), (SERVER, 15),
    (CLIENT, 12), (SERVER, 15), (CLIENT, 12), (SERVER, 15), (CLIENT, 360), (SERVER, 20),
    (SERVER, 455), (CLIENT, 510), (CLIENT, 36), (CLIENT, 40), (CLIENT, 40), (CLIENT, 42),
    (SERVER, 36), (SERVER, 40), (SERVER, 40), (SERVER, 1120),
)  # fmt: skip


_SEGMENT_SIZES = (1460, 1440)  # the MSS a trace cuts turns at, over IPv4 and IPv6


def _misleading(first: int) -> bool:
    """A segment's first byte tshark takes for a TPKT (3), or for a fast-path PDU (action
    bits 0: a random length byte then sometimes fits, and CredSSP's 0x30 is one of them)."""
    return first == 3 or first & 3 == 0


def _tpkt_free(data: bytes) -> bytes:
    """`data` (TLS records) with no misleading first byte at a segment boundary inside a
    record body (see the module docstring)."""
    n = len(data)
    hits = [p for mss in _SEGMENT_SIZES for p in range(mss, n, mss) if _misleading(data[p])]
    if not hits:
        return data
    fixed: set[int] = set()  # what must not change: headers, and records not encrypted
    pos = 0
    while pos + 5 <= n:
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        fixed.update(range(pos, pos + 5 if data[pos] == 23 else end))
        pos = end
    buf = bytearray(data)
    for p in hits:
        if p not in fixed:
            buf[p] = 0x43 if data[p] == 3 else data[p] | 1
    return bytes(buf)


def _tpkt(tpdu: bytes) -> bytes:
    return struct.pack("!BBH", 3, 0, len(tpdu) + 4) + tpdu


def connection_request(
    cookie: str | None, requested: int = PROTOCOL_SSL | PROTOCOL_HYBRID
) -> bytes:
    """The client's first PDU (see the module docstring)."""
    var = f"Cookie: mstshash={cookie}\r\n".encode() if cookie is not None else b""
    var += struct.pack("<BBHI", 1, 0, 8, requested)  # RDP_NEG_REQ
    return _tpkt(bytes((6 + len(var), 0xE0)) + b"\x00\x00\x00\x00\x00" + var)


def connection_confirm(selected: int = PROTOCOL_HYBRID) -> bytes:
    """The server's answer selecting `selected`."""
    neg = struct.pack("<BBHI", 2, _NEG_RSP_FLAGS, 8, selected)  # RDP_NEG_RSP
    return _tpkt(bytes((6 + len(neg), 0xD0)) + b"\x00\x00\x12\x34\x00" + neg)


def _jitter(rng: random.Random, size: int, spread: float = 0.1) -> int:
    return max(1, int(size * rng.uniform(1 - spread, 1 + spread)))


def session(
    rng: random.Random,
    user: str,
    success: bool,
    *,
    server_name: str = "srv-ts01.chu.local",
    sni: str | None = None,
    cookie: bool = True,
    requested: int = PROTOCOL_SSL | PROTOCOL_HYBRID,
    duration_s: float = 300.0,
) -> list[Turn]:
    """One RDP connection of `user` to `server_name` (see the module docstring). `sni` is
    the target as the client was given it (mstsc sends even an address there; None leaves
    the extension out); `cookie=False` leaves the mstshash line out."""
    selected = PROTOCOL_HYBRID if requested & PROTOCOL_HYBRID else PROTOCOL_SSL
    head = [
        client(connection_request(user if cookie else None, requested)),
        server(connection_confirm(selected), rng.uniform(0.001, 0.01)),
    ]
    chain = chain_for(server_name, None, days=180)
    msgs: list[tuple[int, int, float]] = []
    if selected == PROTOCOL_HYBRID:
        msgs += [
            (CLIENT, 58, 0.0),  # TSRequest: NTLM NEGOTIATE
            (SERVER, _jitter(rng, 270), rng.uniform(0.002, 0.02)),  # NTLM CHALLENGE
            (CLIENT, _jitter(rng, 620), rng.uniform(0.005, 0.05)),  # AUTHENTICATE + pubKeyAuth
        ]
        if not success:
            msgs.append((SERVER, 23, rng.uniform(0.05, 0.3)))  # errorCode LOGON_FAILURE
            return head + _patched(
                tls.conversation(rng, sni, "mstsc", msgs, chain=chain, close=False)
            )
        msgs += [
            (SERVER, _jitter(rng, 60), rng.uniform(0.01, 0.1)),  # pubKeyAuth
            (CLIENT, _jitter(rng, 330), 0.001),  # authInfo: TSCredentials
        ]
    msgs += [(side, size, rng.uniform(0.0, 0.01)) for side, size in _CONNECT_SEQUENCE]
    if not success:  # TLS without NLA: the logon screen is drawn, the guess fails in it
        msgs.append((SERVER, _jitter(rng, 12_000), 0.2))
        msgs.append((CLIENT, _jitter(rng, 400), rng.uniform(0.5, 2.0)))  # typed credentials
        msgs.append((SERVER, _jitter(rng, 3_000), 0.3))  # "the password is incorrect"
    else:
        elapsed = 0.0
        while elapsed < duration_s:
            gap = rng.uniform(0.2, 2.0)
            elapsed += gap
            msgs.append((CLIENT, rng.choice((17, 21, 29, 46, 120)), gap))  # input events
            msgs.append((SERVER, min(int(rng.lognormvariate(7.5, 1.2)), 60_000), 0.01))
    return head + _patched(tls.conversation(rng, sni, "mstsc", msgs, chain=chain))


def _patched(turns: list[Turn]) -> list[Turn]:
    return [Turn(t.side, _tpkt_free(t.data), t.delay_s) if len(t.data) > 1440 else t for t in turns]
