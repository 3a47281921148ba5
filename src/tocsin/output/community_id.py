"""Community ID v1 for EVE lines: SHA-1 and base64 written for numba, no allocation.

`put_community_id` writes the JSON string value `"1:<base64 of sha1>"` for a flow; the spec is
corelight's community-id-spec (seeded SHA-1 over the ordered endpoints, protocol and ports; ICMP
types paired by `model.icmp`). Checked in tests against the spec's vectors, pycommunityid and
Zeek's community-id baselines. The caller owns the scratch buffers (sizes below), so a kernel
allocates them once per batch.
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np

from tocsin.jit import kernel
from tocsin.model.icmp import icmp_counterpart
from tocsin.output.eve_format import IntLike, U8Array, U32Array, lit, put_lit

# Scratch sizes for put_community_id.
COMMUNITY_ID_MSG_BYTES = 40
SHA1_SCRATCH_WORDS = 80
SHA1_DIGEST_BYTES = 20

_B64 = lit("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_CID_PREFIX = lit('"1:')
_M32 = np.uint64(0xFFFFFFFF)
_U0 = np.uint64(0)


@kernel
def _rotl(x: np.uint64, n: int) -> np.uint64:
    # 32-bit rotate-left of a uint64 holding a 32-bit value.
    return ((x << np.uint64(n)) | (x >> np.uint64(32 - n))) & _M32


@kernel
def sha1(msg: U8Array, n: int, scratch: U32Array, digest_out: U8Array) -> None:
    """SHA-1 of ``msg[:n]`` into ``digest_out[0:20]``.

    ``scratch`` is a caller-owned ``np.uint32`` array of at least 80 words (message schedule).
    The padding is generated on the fly, so ``msg`` needs no spare room. Returns nothing.
    """
    total = ((n + 8) // 64 + 1) * 64
    bitlen = np.uint64(n) * np.uint64(8)
    h0 = np.uint64(0x67452301)
    h1 = np.uint64(0xEFCDAB89)
    h2 = np.uint64(0x98BADCFE)
    h3 = np.uint64(0x10325476)
    h4 = np.uint64(0xC3D2E1F0)
    for blk in range(0, total, 64):
        for t in range(16):
            i = blk + 4 * t
            if i + 4 <= n:  # word fully inside the message: plain big-endian load
                scratch[t] = (
                    (np.uint64(msg[i]) << np.uint64(24))
                    | (np.uint64(msg[i + 1]) << np.uint64(16))
                    | (np.uint64(msg[i + 2]) << np.uint64(8))
                    | np.uint64(msg[i + 3])
                )
            elif i > n and i + 4 <= total - 8:  # zero padding
                scratch[t] = 0
            else:  # message tail, 0x80 marker, 64-bit big-endian bit length
                w = _U0
                for k in range(4):
                    j = i + k
                    if j < n:
                        byte = np.uint64(msg[j])
                    elif j == n:
                        byte = np.uint64(0x80)
                    elif j >= total - 8:
                        byte = (bitlen >> np.uint64(8 * (total - 1 - j))) & np.uint64(0xFF)
                    else:
                        byte = _U0
                    w = (w << np.uint64(8)) | byte
                scratch[t] = w
        for t in range(16, 80):
            x = (
                np.uint64(scratch[t - 3])
                ^ np.uint64(scratch[t - 8])
                ^ np.uint64(scratch[t - 14])
                ^ np.uint64(scratch[t - 16])
            )
            scratch[t] = _rotl(x, 1)
        a = h0
        b = h1
        c = h2
        d = h3
        e = h4
        # Four 20-round loops instead of one branchy 80-round loop.
        for t in range(20):
            f = (b & c) | ((~b) & d & _M32)
            tmp = (_rotl(a, 5) + f + e + np.uint64(0x5A827999) + np.uint64(scratch[t])) & _M32
            e, d, c, b, a = d, c, _rotl(b, 30), a, tmp
        for t in range(20, 40):
            f = b ^ c ^ d
            tmp = (_rotl(a, 5) + f + e + np.uint64(0x6ED9EBA1) + np.uint64(scratch[t])) & _M32
            e, d, c, b, a = d, c, _rotl(b, 30), a, tmp
        for t in range(40, 60):
            f = (b & c) | (b & d) | (c & d)
            tmp = (_rotl(a, 5) + f + e + np.uint64(0x8F1BBCDC) + np.uint64(scratch[t])) & _M32
            e, d, c, b, a = d, c, _rotl(b, 30), a, tmp
        for t in range(60, 80):
            f = b ^ c ^ d
            tmp = (_rotl(a, 5) + f + e + np.uint64(0xCA62C1D6) + np.uint64(scratch[t])) & _M32
            e, d, c, b, a = d, c, _rotl(b, 30), a, tmp
        h0 = (h0 + a) & _M32
        h1 = (h1 + b) & _M32
        h2 = (h2 + c) & _M32
        h3 = (h3 + d) & _M32
        h4 = (h4 + e) & _M32
    for j in range(4):
        s = np.uint64(24 - 8 * j)
        digest_out[j] = (h0 >> s) & np.uint64(0xFF)
        digest_out[4 + j] = (h1 >> s) & np.uint64(0xFF)
        digest_out[8 + j] = (h2 >> s) & np.uint64(0xFF)
        digest_out[12 + j] = (h3 >> s) & np.uint64(0xFF)
        digest_out[16 + j] = (h4 >> s) & np.uint64(0xFF)


@kernel
def put_base64(out: U8Array, pos: int, src: U8Array, n: int) -> int:
    """Standard base64 (``+/`` alphabet, ``=`` padding) of ``src[:n]``; ``4 * ceil(n/3)`` bytes."""
    i = 0
    while i + 3 <= n:
        v = (np.int64(src[i]) << 16) | (np.int64(src[i + 1]) << 8) | np.int64(src[i + 2])
        out[pos] = _B64[(v >> 18) & 63]
        out[pos + 1] = _B64[(v >> 12) & 63]
        out[pos + 2] = _B64[(v >> 6) & 63]
        out[pos + 3] = _B64[v & 63]
        pos += 4
        i += 3
    rem = n - i
    if rem == 1:
        v = np.int64(src[i]) << 16
        out[pos] = _B64[(v >> 18) & 63]
        out[pos + 1] = _B64[(v >> 12) & 63]
        out[pos + 2] = 61  # '='
        out[pos + 3] = 61
        pos += 4
    elif rem == 2:
        v = (np.int64(src[i]) << 16) | (np.int64(src[i + 1]) << 8)
        out[pos] = _B64[(v >> 18) & 63]
        out[pos + 1] = _B64[(v >> 12) & 63]
        out[pos + 2] = _B64[(v >> 6) & 63]
        out[pos + 3] = 61
        pos += 4
    return pos


@kernel
def _put_addr_bytes(buf: U8Array, pos: int, ipver: int, hi: np.uint64, lo: np.uint64) -> int:
    # Network-order address bytes: 4 for IPv4, 16 for IPv6.
    if ipver == 4:
        for k in range(4):
            buf[pos + k] = (lo >> np.uint64(24 - 8 * k)) & np.uint64(0xFF)
        return pos + 4
    for k in range(8):
        buf[pos + k] = (hi >> np.uint64(56 - 8 * k)) & np.uint64(0xFF)
        buf[pos + 8 + k] = (lo >> np.uint64(56 - 8 * k)) & np.uint64(0xFF)
    return pos + 16


@kernel
def put_community_id(
    out: U8Array,
    pos: int,
    seed: IntLike,
    ipver: int,
    src_hi: IntLike,
    src_lo: IntLike,
    dst_hi: IntLike,
    dst_lo: IntLike,
    proto: IntLike,
    sport: IntLike,
    dport: IntLike,
    scratch_msg: U8Array,
    scratch_w: U32Array,
    digest: U8Array,
) -> int:
    """Community ID v1 as a JSON string value ``"1:<base64 sha1>"`` (always 32 bytes).

    Hash input: seed (2 bytes BE) . saddr . daddr . proto (1) . 0 (1) [. sport (2 BE) .
    dport (2 BE)], addresses 4 bytes (``ipver == 4``) or 16 bytes, endpoints ordered so the
    smaller (address bytes, port) comes first.

    * TCP (6), UDP (17), SCTP (132): ports as given, bidirectional ordering.
    * ICMP (1) / ICMPv6 (58): pass ``sport = type``, ``dport = code``. Types with a
      request/response counterpart hash as ports ``(type, counterpart)`` with normal ordering;
      all other types hash as ``(type, code)`` and are one-way: never reordered.
    * Any other protocol: ports are left out of the hash (16 or 40 -> 12 or 36 bytes) and the
      endpoints are ordered by address only.

    Scratch: ``scratch_msg`` uint8 >= 40 bytes, ``scratch_w`` uint32 >= 80, ``digest`` uint8
    >= 20 (all caller-owned; contents are overwritten).
    """
    src_hi = np.uint64(src_hi)
    src_lo = np.uint64(src_lo)
    dst_hi = np.uint64(dst_hi)
    dst_lo = np.uint64(dst_lo)
    proto = np.int64(proto)
    p1 = np.int64(sport)
    p2 = np.int64(dport)
    has_ports = proto == 6 or proto == 17 or proto == 132 or proto == 1 or proto == 58
    one_way = False
    if proto == 1 or proto == 58:
        cp = icmp_counterpart(proto, p1)
        if cp >= 0:
            p2 = np.int64(cp)
        else:
            one_way = True
    if ipver == 4:
        s_lo = src_lo & _M32
        d_lo = dst_lo & _M32
        s_hi = _U0
        d_hi = _U0
    else:
        s_lo = src_lo
        d_lo = dst_lo
        s_hi = src_hi
        d_hi = dst_hi
    addr_lt = s_hi < d_hi or (s_hi == d_hi and s_lo < d_lo)
    addr_eq = s_hi == d_hi and s_lo == d_lo
    if one_way:
        swap = False
    elif has_ports:
        swap = not (addr_lt or (addr_eq and p1 < p2))
    else:
        swap = not addr_lt
    seed = np.int64(seed)
    scratch_msg[0] = (seed >> 8) & 0xFF
    scratch_msg[1] = seed & 0xFF
    if swap:
        m = _put_addr_bytes(scratch_msg, 2, ipver, dst_hi, dst_lo)
        m = _put_addr_bytes(scratch_msg, m, ipver, src_hi, src_lo)
        a = p2
        b = p1
    else:
        m = _put_addr_bytes(scratch_msg, 2, ipver, src_hi, src_lo)
        m = _put_addr_bytes(scratch_msg, m, ipver, dst_hi, dst_lo)
        a = p1
        b = p2
    scratch_msg[m] = proto & 0xFF
    scratch_msg[m + 1] = 0
    m += 2
    if has_ports:
        scratch_msg[m] = (a >> 8) & 0xFF
        scratch_msg[m + 1] = a & 0xFF
        scratch_msg[m + 2] = (b >> 8) & 0xFF
        scratch_msg[m + 3] = b & 0xFF
        m += 4
    sha1(scratch_msg, m, scratch_w, digest)
    pos = put_lit(out, pos, _CID_PREFIX)
    pos = put_base64(out, pos, digest, 20)
    out[pos] = 34  # '"'
    return pos + 1


def community_id_text(
    seed: int, ipver: int, a: tuple[int, int, int], b: tuple[int, int, int], proto: int
) -> str:
    """Community ID v1 (`"1:<base64 sha1>"`) of a TCP/UDP/SCTP flow, in plain Python: for the
    cold path (app-layer events, once per flow). `a` and `b` are (hi, lo, port) endpoints;
    same result as `put_community_id` (tested)."""
    if ipver == 4:
        ab = (a[1] & 0xFFFFFFFF).to_bytes(4, "big")
        bb = (b[1] & 0xFFFFFFFF).to_bytes(4, "big")
    else:
        ab = a[0].to_bytes(8, "big") + a[1].to_bytes(8, "big")
        bb = b[0].to_bytes(8, "big") + b[1].to_bytes(8, "big")
    pa, pb = a[2], b[2]
    if not (ab < bb or (ab == bb and pa < pb)):
        ab, bb, pa, pb = bb, ab, pb, pa
    msg = b"".join(
        (
            (seed & 0xFFFF).to_bytes(2, "big"),
            ab,
            bb,
            bytes((proto & 0xFF, 0)),
            pa.to_bytes(2, "big"),
            pb.to_bytes(2, "big"),
        )
    )
    return "1:" + base64.b64encode(hashlib.sha1(msg, usedforsecurity=False).digest()).decode()
