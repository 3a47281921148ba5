"""Allocation-free numba primitives that format EVE JSON fields into a byte buffer.

Why numba
---------
The sensor must write one Suricata-style EVE JSON line per flow at more than 1 million
flow records per second (a spoofed SYN flood creates one flow per packet). Formatting each
record in Python (``json.dumps``, f-strings, ``datetime``) costs microseconds per record, so
records are formatted inside ``@njit`` kernels that write straight into a preallocated
``np.uint8`` output buffer. This module holds the building blocks those kernels call.

Contract
--------
* Every ``put_*`` primitive is a ``tocsin.jit.kernel``, takes ``(out, pos, ...)`` where ``out`` is
  a 1-D ``np.uint8`` array and ``pos`` the write offset, writes its bytes at
  ``out[pos:new_pos]`` and returns ``new_pos``.
* No bounds checks: the caller guarantees that ``out`` has room for the maximum number of
  bytes a primitive can write (listed below). Size the buffer per batch from these bounds.
* No allocation inside the per-record primitives. SHA-1, base64 and the Community ID
  (`community_id.py`, same contract) take caller-owned scratch arrays, so a kernel can
  allocate them once per batch.
* Output is plain ASCII (valid UTF-8) and valid JSON where a JSON value is produced.

Maximum bytes written
---------------------
=========================  =============================================================
``put_lit(arr)``           ``len(arr)``
``put_uint``               20 (``18446744073709551615``)
``put_int``                20 (``-9223372036854775808``; 19 digits + sign)
``put_hex2``               2
``put_bool``               5 (``false``)
``put_ip``                 15 for IPv4, 39 for IPv6 (so 39 in general)
``put_timestamp``          31 (``2016-07-13T22:42:07.573103+0000``)
``put_json_str``           ``6 * length + 2`` (every byte as ``\\u00XX`` plus quotes)
``put_base64``             ``4 * ceil(n / 3)``
``put_community_id``       32 (``"1:`` + 28 base64 chars + ``"``)
=========================  =============================================================

Numeric typing notes: numba turns mixed ``uint64``/``int64`` arithmetic into ``float64``, so all
address/SHA-1 arithmetic is done on explicitly cast ``np.uint64`` values with ``np.uint64``
constants, and SHA-1 words are kept in ``uint64`` and masked to 32 bits.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from tocsin.jit import kernel

U8Array: TypeAlias = npt.NDArray[np.uint8]
U32Array: TypeAlias = npt.NDArray[np.uint32]
IntLike: TypeAlias = int | np.integer[Any]

__all__ = [
    "lit",
    "put_bool",
    "put_hex2",
    "put_int",
    "put_ip",
    "put_json_str",
    "put_lit",
    "put_timestamp",
    "put_uint",
]

# Maximum bytes written by each primitive (see the module docstring).
MAX_UINT = 20
MAX_INT = 20
MAX_HEX2 = 2
MAX_BOOL = 5
MAX_IP = 39
MAX_TIMESTAMP = 31
MAX_COMMUNITY_ID = 32

# put_timestamp's supported input range: 0001-01-01T00:00:00 .. 9999-12-31T23:59:59.999999 UTC.
TS_MIN_US = -62135596800 * 1_000_000
TS_MAX_US = 253402300800 * 1_000_000 - 1


def lit(s: str) -> np.ndarray:
    """ASCII string -> new ``np.uint8`` array, for module-level literal constants."""
    return np.frombuffer(s.encode("ascii"), dtype=np.uint8).copy()


_HEX = lit("0123456789abcdef")
_TRUE = lit("true")
_FALSE = lit("false")
_TZ = lit("+0000")

_M32 = np.uint64(0xFFFFFFFF)
_M16 = np.uint64(0xFFFF)
_U0 = np.uint64(0)
_U10 = np.uint64(10)


@kernel
def put_lit(out: U8Array, pos: int, arr: U8Array) -> int:
    """Copy the literal ``arr`` (from :func:`lit`). Writes ``len(arr)`` bytes."""
    n = len(arr)
    for i in range(n):
        out[pos + i] = arr[i]
    return pos + n


@kernel
def _put_u64(out: U8Array, pos: int, x: np.uint64) -> int:
    # x: uint64. Count digits, then write them backwards.
    n = 1
    t = x
    while t >= _U10:
        t = t // _U10
        n += 1
    i = pos + n - 1
    while True:
        out[i] = np.uint8(48 + np.int64(x % _U10))
        x = x // _U10
        i -= 1
        if x == _U0:
            break
    return pos + n


@kernel
def put_uint(out: U8Array, pos: int, v: IntLike) -> int:
    """Decimal of a non-negative integer (int64 >= 0 or uint64). At most 20 bytes."""
    return _put_u64(out, pos, np.uint64(v))


@kernel
def put_int(out: U8Array, pos: int, v: IntLike) -> int:
    """Decimal of a signed int64, with a leading ``-`` when negative. At most 20 bytes."""
    v = np.int64(v)
    if v < 0:
        out[pos] = 45  # '-'
        # -(v + 1) cannot overflow, even for INT64_MIN.
        mag = np.uint64(-(v + 1)) + np.uint64(1)
        return _put_u64(out, pos + 1, mag)
    return _put_u64(out, pos, np.uint64(v))


@kernel
def put_hex2(out: U8Array, pos: int, b: IntLike) -> int:
    """Two lowercase hex digits of the low byte of ``b`` (e.g. tcp_flags ``1b``). 2 bytes."""
    b = np.int64(b) & 0xFF
    out[pos] = _HEX[b >> 4]
    out[pos + 1] = _HEX[b & 0xF]
    return pos + 2


@kernel
def put_bool(out: U8Array, pos: int, flag: bool) -> int:
    """``true`` or ``false``. At most 5 bytes."""
    if flag:
        return put_lit(out, pos, _TRUE)
    return put_lit(out, pos, _FALSE)


@kernel
def _put_dotted_quad(out: U8Array, pos: int, v4: np.uint64) -> int:
    # v4: uint64 holding a big-endian IPv4 address in its low 32 bits. At most 15 bytes.
    for k in range(4):
        if k:
            out[pos] = 46  # '.'
            pos += 1
        octet = (v4 >> np.uint64(24 - 8 * k)) & np.uint64(0xFF)
        pos = _put_u64(out, pos, octet)
    return pos


@kernel
def _group(hi: np.uint64, lo: np.uint64, i: int) -> np.int64:
    # 16-bit group i (0..7) of the IPv6 address held as (hi, lo) uint64.
    if i < 4:
        return np.int64((hi >> np.uint64(48 - 16 * i)) & _M16)
    return np.int64((lo >> np.uint64(48 - 16 * (i - 4))) & _M16)


@kernel
def _put_hex_group(out: U8Array, pos: int, g: np.int64) -> int:
    # Lowercase hex of a 16-bit group without leading zeros (1..4 bytes).
    started = False
    for shift in (12, 8, 4):
        d = (g >> shift) & 0xF
        if d or started:
            out[pos] = _HEX[d]
            pos += 1
            started = True
    out[pos] = _HEX[g & 0xF]
    return pos + 1


@kernel
def put_ip(out: U8Array, pos: int, ipver: int, hi: IntLike, lo: IntLike) -> int:
    """Text form of an address held as two uint64 (``hi`` = bytes 0..7, ``lo`` = bytes 8..15).

    ``ipver == 4``: dotted quad of the low 32 bits of ``lo`` (IPv4 addresses are stored
    IPv4-mapped: ``hi = 0``, ``lo = 0x0000FFFF_00000000 | v4``); at most 15 bytes.

    Otherwise IPv6 in RFC 5952 form: lowercase, no leading zeros, the longest run of two or
    more zero groups compressed to ``::`` (the first run on ties). IPv4-mapped addresses
    (``::ffff:0:0/96``) are written in the RFC 5952 section 5 mixed form ``::ffff:1.2.3.4``,
    which is what ``str(ipaddress.IPv6Address(...))`` gives on Python >= 3.13 (and Zeek);
    Python <= 3.12 would give ``::ffff:102:304``. At most 39 bytes.
    """
    hi = np.uint64(hi)
    lo = np.uint64(lo)
    if ipver == 4:
        return _put_dotted_quad(out, pos, lo & _M32)
    if hi == _U0 and (lo >> np.uint64(32)) == _M16:
        for c in (58, 58, 102, 102, 102, 102, 58):  # "::ffff:"
            out[pos] = c
            pos += 1
        return _put_dotted_quad(out, pos, lo & _M32)
    # Longest run of zero groups (length >= 2), first on ties.
    best_start = -1
    best_len = 0
    run_start = -1
    run_len = 0
    for i in range(8):
        if _group(hi, lo, i) == 0:
            if run_len == 0:
                run_start = i
            run_len += 1
            if run_len > best_len:
                best_len = run_len
                best_start = run_start
        else:
            run_len = 0
    if best_len < 2:
        best_start = -1
        best_len = 0
    i = 0
    while i < 8:
        if i == best_start:
            out[pos] = 58  # ':'
            out[pos + 1] = 58
            pos += 2
            i += best_len
            continue
        if i != 0 and i != best_start + best_len:  # no ':' right after '::'
            out[pos] = 58
            pos += 1
        pos = _put_hex_group(out, pos, _group(hi, lo, i))
        i += 1
    return pos


@kernel
def _put_dec_fixed(out: U8Array, pos: int, v: IntLike, width: int) -> int:
    # Zero-padded decimal of a non-negative int64 in exactly ``width`` bytes.
    for i in range(width - 1, -1, -1):
        out[pos + i] = np.uint8(48 + v % 10)
        v //= 10
    return pos + width


@kernel
def put_timestamp(out: U8Array, pos: int, ts_us: IntLike) -> int:
    """Suricata EVE timestamp of int64 microseconds since the Unix epoch, in UTC.

    Writes ``YYYY-MM-DDTHH:MM:SS.uuuuuu+0000`` (always 6 fractional digits, always ``+0000``),
    exactly 31 bytes. Valid for ``TS_MIN_US <= ts_us <= TS_MAX_US`` (years 0001..9999,
    negative values = before 1970); outside that range the year is written modulo 10000.
    Dates use Howard Hinnant's civil_from_days (proleptic Gregorian calendar).
    """
    ts_us = np.int64(ts_us)
    secs = ts_us // 1_000_000  # floor division: correct for negative values too
    us = ts_us - secs * 1_000_000
    days = secs // 86400
    sod = secs - days * 86400
    # civil_from_days
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    pos = _put_dec_fixed(out, pos, y % 10000, 4)
    out[pos] = 45  # '-'
    pos = _put_dec_fixed(out, pos + 1, m, 2)
    out[pos] = 45
    pos = _put_dec_fixed(out, pos + 1, d, 2)
    out[pos] = 84  # 'T'
    pos = _put_dec_fixed(out, pos + 1, sod // 3600, 2)
    out[pos] = 58  # ':'
    pos = _put_dec_fixed(out, pos + 1, (sod // 60) % 60, 2)
    out[pos] = 58
    pos = _put_dec_fixed(out, pos + 1, sod % 60, 2)
    out[pos] = 46  # '.'
    pos = _put_dec_fixed(out, pos + 1, us, 6)
    return put_lit(out, pos, _TZ)


@kernel
def put_json_str(out: U8Array, pos: int, src: U8Array, start: int, length: int) -> int:
    """JSON string literal (with quotes) of the bytes ``src[start:start + length]``.

    Escapes ``"`` and ``\\`` with a backslash, ``\\n`` ``\\r`` ``\\t`` in short form, other
    control bytes (< 0x20) and every non-ASCII byte (>= 0x80) as ``\\u00XX`` (lowercase hex)
    of the byte value, i.e. the bytes are read as Latin-1 and the output is pure ASCII.
    Worst case ``6 * length + 2`` bytes.
    """
    out[pos] = 34  # '"'
    pos += 1
    for i in range(start, start + length):
        c = np.int64(src[i])
        if c >= 0x20 and c < 0x80 and c != 0x22 and c != 0x5C:
            out[pos] = c
            pos += 1
        elif c == 0x22 or c == 0x5C:
            out[pos] = 92
            out[pos + 1] = c
            pos += 2
        elif c == 0x0A:
            out[pos] = 92
            out[pos + 1] = 110  # n
            pos += 2
        elif c == 0x0D:
            out[pos] = 92
            out[pos + 1] = 114  # r
            pos += 2
        elif c == 0x09:
            out[pos] = 92
            out[pos + 1] = 116  # t
            pos += 2
        else:
            out[pos] = 92
            out[pos + 1] = 117  # u
            out[pos + 2] = 48
            out[pos + 3] = 48
            out[pos + 4] = _HEX[c >> 4]
            out[pos + 5] = _HEX[c & 0xF]
            pos += 6
    out[pos] = 34
    return pos + 1
