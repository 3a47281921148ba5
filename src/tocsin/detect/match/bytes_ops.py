"""Reading numbers out of a buffer and comparing them: the shared part of `byte_test`,
`byte_jump` and `byte_extract` (Suricata src/util-byte.c, src/detect-bytetest.c).

- `read_binary`: 1-8 bytes, big or little endian (`dce` rules: the parser's `big_endian`;
  the DCERPC header's byte order is not looked at here).
- `read_string`: the `string` form, C `strtoull` over the `nbytes` bytes as Suricata calls it
  (`ByteExtractStringUint64`, non-strict): leading white space, an optional sign (`-` negates
  modulo 2^64), `0x` skipped in base 16, base 0 ("string" without dec/hex/oct in byte_test and
  byte_jump) picks 16 / 8 / 10 from the prefix. Parsing stops at the first byte that is not a
  digit of the base (or a NUL); it returns the value and the number of bytes consumed, which
  byte_jump and byte_extract use to move on. No digit, or a value above 2^64-1: None.
  `nbytes` 0 means "to the end of the buffer" (Suricata: an unbounded string). The parser
  enforces Suricata's length limits (23 bytes for string, 8 for binary); they are not
  checked here.
- `bitmask`: `value & mask`, shifted right by the mask's trailing zero bits when non-zero.
- `compare`: the operators `<` `>` `=` `<=` `>=` `&` (any common bit) `^` (any differing bit),
  each optionally negated; `!` alone (and `!=`) is "not equal".
"""

from __future__ import annotations

MAX_U64 = (1 << 64) - 1

_SPACE = frozenset(b" \t\n\v\f\r")
_DIGIT_VALUE = {c: int(chr(c), 36) for c in b"0123456789abcdefABCDEF"}

# operator codes
OP_EQ, OP_LT, OP_GT, OP_LE, OP_GE, OP_AND, OP_XOR = range(7)
_OPS = {
    "=": (OP_EQ, False),
    "!": (OP_EQ, True),
    "!=": (OP_EQ, True),
    "<": (OP_LT, False),
    ">": (OP_GT, False),
    "<=": (OP_LE, False),
    ">=": (OP_GE, False),
    "&": (OP_AND, False),
    "^": (OP_XOR, False),
}


def parse_op(op: str, negated: bool = False) -> tuple[int, bool]:
    """`(code, negate)` for a byte_test operator; `!` / `!=` carry their own negation,
    combined with `negated` (so `negated` and `!` together mean equal). `ValueError` if
    unknown."""
    try:
        code, neg = _OPS[op]
    except KeyError:
        raise ValueError(f"byte_test: unknown operator {op!r}") from None
    return code, neg != negated


def compare(code: int, negate: bool, val: int, value: int) -> bool:
    """`val <op> value`, inverted when `negate`."""
    if code == OP_EQ:
        r = val == value
    elif code == OP_LT:
        r = val < value
    elif code == OP_GT:
        r = val > value
    elif code == OP_LE:
        r = val <= value
    elif code == OP_GE:
        r = val >= value
    elif code == OP_AND:
        r = (val & value) != 0
    else:
        r = (val ^ value) != 0
    return r != negate


def read_binary(buf: bytes, pos: int, nbytes: int, big_endian: bool) -> int:
    """The unsigned integer in `buf[pos:pos+nbytes]` (the caller checked the bounds)."""
    if nbytes == 1:
        return buf[pos]
    return int.from_bytes(buf[pos : pos + nbytes], "big" if big_endian else "little")


def read_string(buf: bytes, pos: int, nbytes: int, base: int) -> tuple[int, int] | None:
    """`(value, bytes consumed)` of the number written at `buf[pos:pos+nbytes]` in `base`
    (10, 16, 8, or 0 for C's automatic choice); None if there is none (see the module)."""
    end = len(buf) if nbytes == 0 else pos + nbytes
    s = buf[pos:end]
    nul = s.find(0)
    if nul >= 0:
        s = s[:nul]
    n = len(s)
    i = 0
    while i < n and s[i] in _SPACE:
        i += 1
    neg = False
    if i < n and s[i] in b"+-":
        neg = s[i] == 0x2D
        i += 1
    if (base in (0, 16)) and i + 1 < n and s[i] == 0x30 and s[i + 1] in b"xX":
        if i + 2 < n and s[i + 2] in _DIGIT_VALUE:
            base = 16
            i += 2
        else:
            return 0, i + 1  # glibc: "0x" without a hex digit reads the "0" and stops at x
    elif base == 0:
        base = 8 if i < n and s[i] == 0x30 else 10
    j = i
    while j < n:
        d = _DIGIT_VALUE.get(s[j])
        if d is None or d >= base:
            break
        j += 1
    if j == i:
        return None
    value = int(s[i:j], base)
    if value > MAX_U64:
        return None
    if neg:
        value = -value & MAX_U64
    return value, j


def trailing_zeros(mask: int) -> int:
    """How many low zero bits `mask` has (0 for a zero mask)."""
    return (mask & -mask).bit_length() - 1 if mask else 0


def bitmask(val: int, mask: int, shift: int) -> int:
    """Suricata's `bitmask`: keep the mask's bits, then shift out its trailing zeros."""
    val &= mask
    if val and shift:
        val >>= shift
    return val
