"""TLS 1.2 and 1.3 sessions (RFC 5246, RFC 8446) for generated traffic, handshake to close.

`session(rng, sni, client_fp, request_sizes, response_sizes, version)` gives the turns of one
TCP connection: the client's ClientHello (from a `tls_hello.ClientFingerprint`: its cipher
list, extension order, groups, signature algorithms, ALPN and GREASE make its JA3/JA4), then

- TLS 1.2: ServerHello, Certificate (the `chain`, by default `x509.chain_for(sni)`),
  ServerKeyExchange (ECDHE suites), ServerHelloDone; ClientKeyExchange, ChangeCipherSpec,
  encrypted Finished; NewSessionTicket (when the client offered tickets), ChangeCipherSpec,
  Finished. Tocsin's parser logs the SNI, version, JA3/JA4/JA3S and the leaf certificate.
- TLS 1.3: ServerHello (supported_versions, key_share), a compatibility ChangeCipherSpec and
  one encrypted flight (EncryptedExtensions, Certificate, CertificateVerify, Finished, sized
  from the chain); the client's ChangeCipherSpec and Finished, then two NewSessionTickets
  when the client offered PSK modes. Certificates travel encrypted: only SNI, version and
  fingerprints are visible.

then application data: request i (client) followed by response i (server), each a run of
records of at most 2^14 plaintext bytes sealed as the chosen suite seals them (AES-GCM
explicit nonce and tag, ChaCha20 tag, CBC IV + MAC + padding, TLS 1.3 inner type + tag),
and a close_notify alert from the client (`close`). Record bodies are slices of a fixed
random pool (`http.filler`): encrypted bytes cost a copy, not a random draw per byte.

`conversation(...)` is the same with an explicit list of `(side, size, delay_s)` messages,
for protocols that run inside TLS (RDP's CredSSP, LDAPS...).

The server picks its suite from its own preference among the client's (ECDHE-RSA first,
RSA key exchange for clients offering nothing else), the client's first ALPN protocol, and
x25519. `version="1.3"` needs a client that offers TLS 1.3 (`ValueError` otherwise).
Deterministic for the `rng` passed in; no I/O, no state outside the caches of pure values.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

from tocsin.exercise.proto.http import filler
from tocsin.exercise.proto.tls_hello import (
    CLIENTS,
    ClientFingerprint,
    Offer,
    client_hello,
    record,
)
from tocsin.exercise.proto.x509 import chain_for, key_bytes
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn, client, server

__all__ = ["CLIENTS", "ClientFingerprint", "conversation", "session"]

_MAX_PLAIN = 16_384
_GCM = frozenset((0xC02F, 0xC030, 0xC02B, 0xC02C, 0x009C, 0x009D, 0x009E, 0x009F))
_CHACHA = frozenset((0xCCA8, 0xCCA9, 0xCCAA))
_SHA256_MAC = frozenset((0xC027, 0xC023, 0x003C, 0x003D, 0x0067, 0x006B))
_SERVER_12 = (
    0xC030, 0xC02F, 0xCCA8, 0xC028, 0xC027, 0xC014, 0xC013,
    0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A,
)  # fmt: skip
_SERVER_13 = (0x1301, 0x1302, 0x1303)
_CCS = b"\x14\x03\x03\x00\x01\x01"
_DONE = b"\x0e\x00\x00\x00"  # ServerHelloDone


def _hs(mtype: int, body: bytes) -> bytes:
    """A handshake message: type, 24-bit length, body."""
    return struct.pack("!I", (mtype << 24) | len(body)) + body


def _sealed(cipher: int, tls13: bool, n: int) -> int:
    """Length of the record body that carries `n` plaintext bytes under `cipher`."""
    if tls13:
        return n + 17  # inner content type + 16-byte tag
    if cipher in _GCM:
        return n + 24  # 8-byte explicit nonce + tag
    if cipher in _CHACHA:
        return n + 16
    mac = 48 if cipher == 0xC028 else 32 if cipher in _SHA256_MAC else 20
    return 16 + ((n + mac) // 16 + 1) * 16  # IV + data, MAC and padding in 16-byte blocks


def _encrypted(rng: random.Random, ctype: int, cipher: int, tls13: bool, n: int) -> bytes:
    """Records carrying `n` plaintext bytes of content type `ctype` (23 for TLS 1.3)."""
    out = []
    while True:
        take = min(n, _MAX_PLAIN)
        out.append(record(ctype, 0x0303, filler(rng, _sealed(cipher, tls13, take))))
        n -= take
        if n <= 0:
            return b"".join(out)


def _choose(offer: Offer, tls13: bool) -> int:
    prefs = _SERVER_13 if tls13 else _SERVER_12
    for c in prefs:
        if c in offer.ciphers:
            return c
    raise ValueError(f"no cipher suite in common with the client ({'1.3' if tls13 else '1.2'})")


def _alpn_ext(offer: Offer) -> bytes:
    if not offer.alpn:
        return b""
    proto = offer.alpn[0].encode("ascii")
    body = struct.pack("!HB", len(proto) + 1, len(proto)) + proto
    return struct.pack("!HH", 16, len(body)) + body


def _server_hello(rng: random.Random, offer: Offer, cipher: int, tls13: bool, ecdhe: bool) -> bytes:
    if tls13:
        exts = b"\x00\x2b\x00\x02\x03\x04" + b"\x00\x33\x00\x24\x00\x1d\x00\x20" + rng.randbytes(32)
        sid = offer.session_id
    else:
        parts = []
        if 65281 in offer.extensions or 0x00FF in offer.ciphers:
            parts.append(b"\xff\x01\x00\x01\x00")
        if ecdhe and 11 in offer.extensions:
            parts.append(b"\x00\x0b\x00\x02\x01\x00")
        if 35 in offer.extensions:
            parts.append(b"\x00\x23\x00\x00")
        parts.append(_alpn_ext(offer))
        if 23 in offer.extensions:
            parts.append(b"\x00\x17\x00\x00")
        exts = b"".join(parts)
        sid = rng.randbytes(32)
    body = b"".join(
        (
            b"\x03\x03",
            rng.randbytes(32),
            bytes((len(sid),)),
            sid,
            struct.pack("!HB", cipher, 0),
            struct.pack("!H", len(exts)),
            exts,
        )
    )
    return _hs(2, body)


def _certificate_12(chain: Sequence[bytes]) -> bytes:
    certs = b"".join(struct.pack("!I", len(c))[1:] + c for c in chain)
    return _hs(11, struct.pack("!I", len(certs))[1:] + certs)


def _sig_scheme(offer: Offer) -> int:
    for scheme in (0x0804, 0x0401):
        if scheme in offer.sig_algs:
            return scheme
    return 0x0401


def _flights_12(
    rng: random.Random, offer: Offer, chain: Sequence[bytes], server_s: float
) -> tuple[list[Turn], int]:
    cipher = _choose(offer, tls13=False)
    ecdhe = cipher >> 8 in (0xC0, 0xCC)
    sig_len = key_bytes(chain[0])
    msgs = [record(22, 0x0303, _server_hello(rng, offer, cipher, False, ecdhe))]
    msgs.append(_fragmented(_certificate_12(chain)))
    if ecdhe:
        params = b"\x03\x00\x1d\x20" + rng.randbytes(32)
        sig = struct.pack("!HH", _sig_scheme(offer), sig_len) + rng.randbytes(sig_len)
        msgs.append(record(22, 0x0303, _hs(12, params + sig)))
    msgs.append(record(22, 0x0303, _DONE))
    if ecdhe:
        cke = _hs(16, b"\x20" + rng.randbytes(32))
    else:
        cke = _hs(16, struct.pack("!H", sig_len) + rng.randbytes(sig_len))
    finished = _encrypted(rng, 22, cipher, False, 16)
    client_flight = record(22, 0x0303, cke) + _CCS + finished
    server_end = []
    if 35 in offer.extensions:
        ticket = _hs(4, struct.pack("!IH", 7200, 192) + rng.randbytes(192))
        server_end.append(record(22, 0x0303, ticket))
    server_end += [_CCS, _encrypted(rng, 22, cipher, False, 16)]
    turns = [
        server(b"".join(msgs), server_s),
        client(client_flight),
        server(b"".join(server_end), server_s),
    ]
    return turns, cipher


def _fragmented(msg: bytes) -> bytes:
    """A handshake message in as many records as it needs."""
    return b"".join(
        record(22, 0x0303, msg[i : i + _MAX_PLAIN]) for i in range(0, len(msg), _MAX_PLAIN)
    )


def _flights_13(
    rng: random.Random, offer: Offer, chain: Sequence[bytes], server_s: float
) -> tuple[list[Turn], int]:
    if 0x0304 not in offer.versions:
        raise ValueError("TLS 1.3 asked of a client that does not offer it")
    cipher = _choose(offer, tls13=True)
    hash_len = 48 if cipher == 0x1302 else 32
    alpn = _alpn_ext(offer)
    plain = 6 + len(alpn)  # EncryptedExtensions
    plain += 4 + 1 + 3 + sum(3 + len(c) + 2 for c in chain)  # Certificate
    plain += 4 + 4 + key_bytes(chain[0])  # CertificateVerify
    plain += 4 + hash_len  # Finished
    hello = record(22, 0x0303, _server_hello(rng, offer, cipher, True, True))
    flight = hello + _CCS + _encrypted(rng, 23, cipher, True, plain)
    turns = [
        server(flight, server_s),
        client(_CCS + _encrypted(rng, 23, cipher, True, 4 + hash_len)),
    ]
    if 45 in offer.extensions:
        tickets = _encrypted(rng, 23, cipher, True, 217) + _encrypted(rng, 23, cipher, True, 217)
        turns.append(server(tickets))
    return turns, cipher


def conversation(
    rng: random.Random,
    sni: str | None,
    client_fp: ClientFingerprint | str,
    messages: Sequence[tuple[int, int, float]],
    version: str = "1.2",
    *,
    chain: Sequence[bytes] | None = None,
    close: bool = True,
    server_s: float = 0.002,
) -> list[Turn]:
    """One TLS connection carrying `messages`, `(side, plaintext size, delay_s)` each in
    order (see the module docstring); `server_s` is the server's time before each of its
    handshake flights."""
    fp = CLIENTS[client_fp] if isinstance(client_fp, str) else client_fp
    if version not in ("1.2", "1.3"):
        raise ValueError(f"TLS version {version!r} is not '1.2' or '1.3'")
    tls13 = version == "1.3"
    hello, offer = client_hello(rng, fp, sni)
    certs = chain if chain is not None else chain_for(sni or "localhost")
    if not certs:
        raise ValueError("a TLS server sends at least one certificate")
    flights = _flights_13 if tls13 else _flights_12
    handshake, cipher = flights(rng, offer, certs, server_s)
    turns = [client(hello), *handshake]
    for side, size, delay in messages:
        if size > 0:
            data = _encrypted(rng, 23, cipher, tls13, size)
            turns.append(Turn(side, data, delay))
    if close:
        turns.append(client(_encrypted(rng, 23 if tls13 else 21, cipher, tls13, 2)))
    return turns


def session(
    rng: random.Random,
    sni: str | None,
    client_fp: ClientFingerprint | str,
    request_sizes: Sequence[int],
    response_sizes: Sequence[int],
    version: str = "1.2",
    *,
    chain: Sequence[bytes] | None = None,
    think_s: tuple[float, float] = (0.05, 1.0),
    server_s: tuple[float, float] = (0.002, 0.05),
    close: bool = True,
) -> list[Turn]:
    """A TLS connection: request i then response i for every i (sizes in plaintext
    bytes); the client's think time before each request after the first and the server's
    time before each response are drawn uniformly from `think_s` / `server_s`."""
    messages: list[tuple[int, int, float]] = []
    for i in range(max(len(request_sizes), len(response_sizes))):
        if i < len(request_sizes):
            messages.append((CLIENT, request_sizes[i], rng.uniform(*think_s) if i else 0.0))
        if i < len(response_sizes):
            messages.append((SERVER, response_sizes[i], rng.uniform(*server_s)))
    return conversation(
        rng, sni, client_fp, messages, version, chain=chain, close=close, server_s=server_s[0]
    )
