"""TLS ClientHellos of known client families, for generated traffic (the client side of `tls`).

A `ClientFingerprint` lists what a TLS stack puts in its ClientHello, in its order: cipher
suites, extensions, supported groups, signature algorithms, EC point formats, ALPN,
supported_versions, key shares, and whether it sends GREASE (RFC 8701: `GREASE` marks the
slots, filled per connection with random GREASE values as BoringSSL does), permutes its
extensions per connection (Chrome since 110: GREASE and padding stay in place), pads its
hello to 512 bytes (BoringSSL's padding rule) and sends a 32-byte legacy session id. Two
fingerprints differing in any of these give different JA3 / JA4 values.

`CLIENTS` holds the families a hospital network shows: `edge` (a Chromium browser on
Windows), `schannel` (Windows system components and .NET/Office, TLS 1.2),  `mstsc` (the
Windows RDP client: schannel without ALPN), `java` (a Java 17 application), and typical
beacons of malware and scripts: `python` (requests/urllib3 on OpenSSL 3), `curl` (OpenSSL 3)
and `go` (Go's crypto/tls, as Sliver-like implants use).

`client_hello(rng, fp, sni)` returns the ClientHello record and an `Offer` (what the server
reads from it). `sni=None` leaves the server_name extension out (a client connecting to an
address). Per connection only the random, session id, key shares and GREASE values are
drawn; the extension bodies are cached per (fingerprint, SNI).
"""

from __future__ import annotations

import functools
import random
import struct
from dataclasses import dataclass, replace

GREASE = 0x0A0A  # a GREASE slot in a fingerprint's lists
_GREASE_VALUES = tuple(0x0A0A + 0x1010 * i for i in range(16))
_KEY_SIZES = {0x001D: 32, 0x0017: 65, 0x0018: 97}  # x25519, P-256, P-384 public keys


@dataclass(frozen=True, slots=True)
class ClientFingerprint:
    name: str
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    sig_algs: tuple[int, ...]
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()  # supported_versions; () for a TLS 1.2 client
    point_formats: tuple[int, ...] = (0,)
    key_shares: tuple[int, ...] = (0x001D,)
    session_id: bool = True
    shuffle: bool = False
    pad_to_512: bool = False
    record_version: int = 0x0301


@dataclass(frozen=True, slots=True)
class Offer:
    """What a server reads from a ClientHello to answer it."""

    ciphers: frozenset[int]
    extensions: frozenset[int]
    sig_algs: tuple[int, ...]
    alpn: tuple[str, ...]
    versions: tuple[int, ...]
    session_id: bytes


G = GREASE
_OPENSSL_GROUPS = (0x001D, 0x0017, 0x001E, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104)
_OPENSSL_SIGS = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x081A, 0x081B, 0x081C, 0x0809, 0x080A, 0x080B,
    0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502,
    0x0602,
)  # fmt: skip
_SCHANNEL = ClientFingerprint(
    name="schannel",
    ciphers=(
        0xC02C, 0xC02B, 0xC030, 0xC02F, 0xC024, 0xC023, 0xC028, 0xC027, 0xC00A, 0xC009,
        0xC014, 0xC013, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x000A,
    ),
    extensions=(0, 5, 10, 11, 13, 35, 16, 23, 65281),
    groups=(0x001D, 0x0017, 0x0018),
    sig_algs=(
        0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503, 0x0203, 0x0202,
        0x0601, 0x0603,
    ),
    alpn=("h2", "http/1.1"),
    record_version=0x0303,
)  # fmt: skip
CLIENTS: dict[str, ClientFingerprint] = {
    "edge": ClientFingerprint(
        name="edge",
        ciphers=(
            G, 0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
            0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
        ),
        extensions=(G, 0, 23, 65281, 10, 11, 35, 16, 5, 13, 18, 51, 45, 43, 27, 17513, G, 21),
        groups=(G, 0x001D, 0x0017, 0x0018),
        sig_algs=(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
        alpn=("h2", "http/1.1"),
        versions=(G, 0x0304, 0x0303),
        key_shares=(G, 0x001D),
        shuffle=True,
        pad_to_512=True,
    ),
    "schannel": _SCHANNEL,
    "mstsc": replace(
        _SCHANNEL, name="mstsc", alpn=(), extensions=(0, 5, 10, 11, 13, 35, 23, 65281)
    ),
    "java": ClientFingerprint(
        name="java",
        ciphers=(
            0x1302, 0x1301, 0x1303, 0xC02C, 0xC02B, 0xCCA9, 0xC030, 0xCCA8, 0xC02F, 0x009F,
            0xCCAA, 0x00A3, 0x009E, 0x00A2, 0xC024, 0xC028, 0xC023, 0xC027, 0x006B, 0x006A,
            0x0067, 0x0040, 0xC02E, 0xC032, 0xC02D, 0xC031, 0xC026, 0xC02A, 0xC025, 0xC029,
            0xC00A, 0xC014, 0xC009, 0xC013, 0x0039, 0x0038, 0x0033, 0x0032, 0xC005, 0xC00F,
            0xC004, 0xC00E, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F, 0x00FF,
        ),
        extensions=(0, 5, 10, 11, 13, 50, 17, 23, 35, 43, 45, 51),
        groups=(*_OPENSSL_GROUPS[:2], 0x0018, 0x0019, 0x001E, *_OPENSSL_GROUPS[5:]),
        sig_algs=(
            0x0403, 0x0503, 0x0603, 0x0804, 0x0805, 0x0806, 0x0809, 0x080A, 0x080B, 0x0401,
            0x0501, 0x0601, 0x0402, 0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202,
        ),
        versions=(0x0304, 0x0303),
        key_shares=(0x001D, 0x0017),
        record_version=0x0303,
    ),
    "python": ClientFingerprint(
        name="python",
        ciphers=(
            0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0x009F,
            0x009E, 0xCCAA, 0x00FF,
        ),
        extensions=(0, 11, 10, 35, 16, 22, 23, 49, 13, 43, 45, 51),
        groups=_OPENSSL_GROUPS,
        sig_algs=_OPENSSL_SIGS,
        alpn=("http/1.1",),
        versions=(0x0304, 0x0303),
        point_formats=(0, 1, 2),
    ),
    "curl": ClientFingerprint(
        name="curl",
        ciphers=(
            0x1302, 0x1303, 0x1301, 0xC02C, 0xC030, 0x009F, 0xCCA9, 0xCCA8, 0xCCAA, 0xC02B,
            0xC02F, 0x009E, 0xC024, 0xC028, 0x006B, 0xC023, 0xC027, 0x0067, 0xC00A, 0xC014,
            0x0039, 0xC009, 0xC013, 0x0033, 0x009D, 0x009C, 0x003D, 0x003C, 0x0035, 0x002F,
            0x00FF,
        ),
        extensions=(0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51),
        groups=_OPENSSL_GROUPS,
        sig_algs=_OPENSSL_SIGS,
        alpn=("h2", "http/1.1"),
        versions=(0x0304, 0x0303),
        point_formats=(0, 1, 2),
    ),
    "go": ClientFingerprint(
        name="go",
        ciphers=(
            0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014,
            0x009C, 0x009D, 0x002F, 0x0035, 0xC012, 0x000A, 0x1301, 0x1302, 0x1303,
        ),
        extensions=(0, 5, 10, 11, 35, 13, 50, 65281, 16, 18, 43, 51, 45, 23),
        groups=(0x001D, 0x0017, 0x0018, 0x0019),
        sig_algs=(
            0x0804, 0x0403, 0x0807, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503, 0x0603,
            0x0201, 0x0203,
        ),
        alpn=("h2", "http/1.1"),
        versions=(0x0304, 0x0303),
    ),
}  # fmt: skip


def record(ctype: int, version: int, body: bytes) -> bytes:
    """One TLS record: content type, version, 16-bit length, body (at most 2^14 + 2048)."""
    return struct.pack("!BHH", ctype, version, len(body)) + body


def _u16s(values: tuple[int, ...]) -> bytes:
    return struct.pack(f"!{len(values)}H", *values)


def _ext(etype: int, body: bytes) -> bytes:
    return struct.pack("!HH", etype, len(body)) + body


@functools.lru_cache(maxsize=8192)
def _static(fp: ClientFingerprint, sni: str | None) -> dict[int, bytes]:
    """Encoded extensions that do not change between connections (GREASE-free ones)."""
    out: dict[int, bytes] = {}
    for etype in fp.extensions:
        if etype == 0 and sni is not None:
            name = sni.encode("idna")
            out[0] = _ext(0, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name)
        elif etype == 5:
            out[5] = _ext(5, b"\x01\x00\x00\x00\x00")
        elif etype == 10 and GREASE not in fp.groups:
            out[10] = _ext(10, struct.pack("!H", 2 * len(fp.groups)) + _u16s(fp.groups))
        elif etype == 11:
            out[11] = _ext(11, bytes((len(fp.point_formats), *fp.point_formats)))
        elif etype in (13, 50):
            out[etype] = _ext(etype, struct.pack("!H", 2 * len(fp.sig_algs)) + _u16s(fp.sig_algs))
        elif etype == 16 and fp.alpn:
            protos = b"".join(bytes((len(p),)) + p.encode("ascii") for p in fp.alpn)
            out[16] = _ext(16, struct.pack("!H", len(protos)) + protos)
        elif etype == 17:
            out[17] = _ext(17, b"\x00\x07\x02\x00\x04\x00\x00\x00\x00")  # ocsp_multi, empty
        elif etype in (18, 22, 23, 35, 49):
            out[etype] = _ext(etype, b"")
        elif etype == 27:
            out[27] = _ext(27, b"\x02\x00\x02")  # brotli
        elif etype == 43 and GREASE not in fp.versions:
            out[43] = _ext(43, bytes((2 * len(fp.versions),)) + _u16s(fp.versions))
        elif etype == 45:
            out[45] = _ext(45, b"\x01\x01")  # psk_dhe_ke
        elif etype == 17513:
            out[17513] = _ext(17513, b"\x00\x03\x02h2")  # ALPS for h2
        elif etype == 65281:
            out[65281] = _ext(65281, b"\x00")
    return out


def _key_share(rng: random.Random, groups: tuple[int, ...], grease: int) -> bytes:
    entries = []
    for g in groups:
        if g == GREASE:
            entries.append(struct.pack("!HHB", grease, 1, 0))
        else:
            size = _KEY_SIZES[g]
            key = rng.randbytes(size)
            if size != 32:
                key = b"\x04" + key[1:]  # uncompressed EC point
            entries.append(struct.pack("!HH", g, size) + key)
    body = b"".join(entries)
    return _ext(51, struct.pack("!H", len(body)) + body)


def client_hello(rng: random.Random, fp: ClientFingerprint, sni: str | None) -> tuple[bytes, Offer]:
    """The ClientHello record of `fp` for `sni`, and the `Offer` it makes."""
    static = _static(fp, sni)
    g_cipher, g_group, g_version, g_ext1, g_ext2 = _GREASE_VALUES[0:5]
    if GREASE in fp.extensions or GREASE in fp.ciphers:
        bits = rng.getrandbits(20)  # five 4-bit draws; the two extensions' values differ
        g_cipher, g_group, g_version = (_GREASE_VALUES[(bits >> k) & 15] for k in (0, 4, 8))
        first = (bits >> 12) & 15
        g_ext1 = _GREASE_VALUES[first]
        g_ext2 = _GREASE_VALUES[(first + 1 + ((bits >> 16) & 15) % 15) % 16]

    def sub(values: tuple[int, ...], grease: int) -> tuple[int, ...]:
        return tuple(grease if v == GREASE else v for v in values)

    order = list(fp.extensions)
    if fp.shuffle:
        movable = [i for i, e in enumerate(order) if e not in (GREASE, 21)]
        picked = [order[i] for i in movable]
        rng.shuffle(picked)
        for i, e in zip(movable, picked, strict=True):
            order[i] = e
    parts: list[bytes] = []
    seen_grease = 0
    for etype in order:
        body = static.get(etype)
        if body is not None:
            parts.append(body)
        elif etype == GREASE:
            parts.append(_ext(g_ext2, b"\x00") if seen_grease else _ext(g_ext1, b""))
            seen_grease += 1
        elif etype == 10:
            groups = sub(fp.groups, g_group)
            parts.append(_ext(10, struct.pack("!H", 2 * len(groups)) + _u16s(groups)))
        elif etype == 43:
            versions = sub(fp.versions, g_version)
            parts.append(_ext(43, bytes((2 * len(versions),)) + _u16s(versions)))
        elif etype == 51:
            parts.append(_key_share(rng, fp.key_shares, g_group))
    sid = rng.randbytes(32) if fp.session_id else b""
    ciphers = _u16s(sub(fp.ciphers, g_cipher))
    head = b"".join(
        (
            b"\x03\x03",
            rng.randbytes(32),
            bytes((len(sid),)),
            sid,
            struct.pack("!H", len(ciphers)),
            ciphers,
            b"\x01\x00",
        )
    )
    exts = b"".join(parts)
    if fp.pad_to_512 and 21 in order:
        size = 4 + len(head) + 2 + len(exts)  # BoringSSL: pad hellos of 256..511 bytes to 512
        if 0xFF < size < 0x200:
            pad = 0x200 - size
            pad = pad - 4 if pad >= 5 else 1
            exts += _ext(21, bytes(pad))
    body = head + struct.pack("!H", len(exts)) + exts
    hello = record(22, fp.record_version, struct.pack("!I", 0x01000000 | len(body)) + body)
    alpn = fp.alpn if 16 in order else ()
    offer = Offer(frozenset(fp.ciphers), frozenset(order), fp.sig_algs, alpn, fp.versions, sid)
    return hello, offer
