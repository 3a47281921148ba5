"""Numbers as Suricata's keyword parsers read them.

- `c_uint` / `c_int`: `strtoull` / `strtoll` with base 0 (`0x1f` hex, `017` octal, decimal),
  strict (nothing may follow the number) or not (the leading number is taken);
- `uint_cmp`: the integer comparison shared by dsize, ttl, itype, icode, bsize, urilen...
  (Suricata's `detect_parse_uint`, rust/src/detect/uint.rs):

      N | =N | <N | >N | <=N | >=N | !N | !=N | N<>M | N-M | !N<>M      (M > N + 1)

  values in decimal or `0x` hex, optionally with a kb/mb/gb (kib...) unit. A bitmask test
  (`&0xf0=0x10`) is valid in Suricata but has no `IntCmp` form: `RuleError` NOT_SUPPORTED.
"""

from __future__ import annotations

import re
from typing import cast

from tocsin.detect.model import CmpOp, IntCmp, Num
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError

_C_INT = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")
_VALUE = r"(?:0x[0-9a-fA-F]+|[0-9]+(?:kib|kb|mib|mb|gib|gb)?)"
_UINT = re.compile(
    r" *(?:"
    rf"(?P<rneg>!)?(?P<lo>{_VALUE}) *(?:-|<>) *(?P<hi>{_VALUE})"
    rf"|=? *(?P<eq>{_VALUE})"
    rf"|(?P<op>>=|<=|>|<|!=|!|=) *(?P<val>{_VALUE})"
    r") *",
    re.IGNORECASE,
)
_BITMASK = re.compile(r" *& *")
_UNITS = {"kb": 1024, "kib": 1024, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30, "gib": 1 << 30}


def _c_number(text: str, strict: bool) -> int | None:
    m = _C_INT.match(text)
    if m is None:
        return None
    if strict and m.end() != len(text):
        return None
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        v = int(digits, 16)
    elif len(digits) > 1 and digits[0] == "0":
        v = int(digits, 8)
    else:
        v = int(digits)
    return -v if m.group(1) == "-" else v


def c_uint(text: str, bits: int, strict: bool = True) -> int | None:
    """`text` as an unsigned integer of `bits` bits (None if it is not one). Like C, a minus
    sign wraps around, which puts the value out of range."""
    v = _c_number(text, strict)
    if v is None:
        return None
    if v < 0:
        v += 1 << 64
    return v if v < (1 << bits) else None


def c_int(text: str, lo: int, hi: int, strict: bool = True) -> int | None:
    """`text` as a signed integer within [lo, hi] (None otherwise)."""
    v = _c_number(text, strict)
    if v is None or v < lo or v > hi:
        return None
    return v


def is_var_name(text: str) -> bool:
    """Suricata's test for a byte_extract variable where a number may stand."""
    return bool(text) and text[0] != "-" and text[0].isalpha()


def num_or_var(text: str, keyword: str, variables: set[str], bits: int, signed: bool) -> Num:
    """A number, or the name of a byte_extract variable defined earlier in the rule."""
    text = text.strip()
    if is_var_name(text):
        if text not in variables:
            raise RuleError(f"unknown byte_extract variable {text!r} in {keyword}", keyword)
        return text
    half = 1 << (bits - 1)
    v = c_int(text, -half, half - 1) if signed else c_uint(text, bits)
    if v is None:
        raise RuleError(f"invalid value for {keyword}: {text!r}", keyword)
    return v


def _uint_value(text: str) -> int:
    t = text.lower()
    if t.startswith("0x"):
        return int(t, 16)
    for unit in ("kib", "kb", "mib", "mb", "gib", "gb"):
        if t.endswith(unit):
            n = int(t[: -len(unit)])
            return n * _UNITS[unit] if n >= 1 else n
    return int(t)


def uint_cmp(text: str, keyword: str, bits: int) -> IntCmp:
    """An integer comparison for `keyword` on a `bits`-bit value (see the module docstring)."""
    if _BITMASK.match(text):
        raise RuleError(f"bitmask comparison: {NOT_SUPPORTED}", keyword)
    m = _UINT.fullmatch(text)
    if m is None:
        raise RuleError(f"invalid value for {keyword}: {text.strip()!r}", keyword)
    top = (1 << bits) - 1
    bad = RuleError(f"value out of range for {keyword}: {text.strip()!r}", keyword)
    if m.group("lo") is not None:
        lo, hi = _uint_value(m.group("lo")), _uint_value(m.group("hi"))
        if lo > top or hi > top:
            raise bad
        if hi <= lo + 1:
            raise RuleError(
                f"invalid range for {keyword}: {text.strip()!r} (the second value must exceed "
                "the first by at least 2)",
                keyword,
            )
        return IntCmp("!<>" if m.group("rneg") else "<>", lo, hi)
    if m.group("eq") is not None:
        v = _uint_value(m.group("eq"))
        if v > top:
            raise bad
        return IntCmp("=", v)
    op = m.group("op")
    v = _uint_value(m.group("val"))
    if v > top:
        raise bad
    if op in ("!", "!="):
        return IntCmp("!=", v)
    if (op == "<" and v == 0) or (op == ">=" and v == 0) or (op in (">", "<=") and v == top):
        raise RuleError(f"comparison for {keyword} can never be true: {text.strip()!r}", keyword)
    return IntCmp(cast(CmpOp, op), v)
