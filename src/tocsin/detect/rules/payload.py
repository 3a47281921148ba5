"""Parsers for the payload keywords other than content: pcre, byte_test, byte_jump,
byte_extract and isdataat. Each turns a keyword's value into its `model` record and says
nothing about where it goes (the buffer is the builder's business, `builder.py`).

Formats and checks follow Suricata (detect-pcre.c, detect-bytetest.c, detect-bytejump.c,
detect-byte-extract.c, detect-isdataat.c): number sizes (8 bytes in binary, 23 as a string),
a base only with `string`, `dce` without string/endian/base, no `from_beginning` with
`from_end`, byte_extract's `align` 2 or 4. A number may be a byte_extract variable where
Suricata allows one (byte_test value and offset, byte_jump offset, isdataat offset).
A pcre must compile: it is compiled here, with the matcher's own compiler
(`detect.match.pcre`), and PCRE2's message is the reason when it does not.

`string` without a base: byte_test and byte_jump get base 0 (Suricata lets strtoull guess:
`0x` hex, a leading `0` octal, else decimal), byte_extract base 10 (Suricata's default).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from tocsin.detect.match.pcre import compile_pcre
from tocsin.detect.model import ByteExtract, ByteJump, ByteTest, IsDataAt, Pcre
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError
from tocsin.detect.rules.keywords import PCRE_BUFFERS, PCRE_FLAGS, Buffer
from tocsin.detect.rules.values import c_int, c_uint, is_var_name, num_or_var

_PCRE = re.compile(r'(?<!\\)/(.*(?<!(?<!\\)\\))/([^"]*)')
_CAPTURES = ("flow:", "pkt:", "alert:")
_ISDATAAT = re.compile(r"\s*(!?)([^\s,]+)\s*(,\s*relative)?\s*(,\s*rawbytes\s*)?\s*")
_BASES = {"dec": 10, "hex": 16, "oct": 8}
_BT_OPS = frozenset({"=", "<", ">", "&", "^", ">=", "<="})


def _has_upper(regex: str) -> bool:
    """Suricata's DetectPcreHasUpperCase: an upper-case letter outside an escape."""
    i, n = 0, len(regex)
    while i < n:
        ch = regex[i]
        if ch == "\\":
            i += 4 if regex[i + 1 : i + 2] == "x" else 2
            continue
        if ch.isupper():
            return True
        i += 1
    return False


def parse_pcre(value: str, negated: bool) -> tuple[Pcre, Buffer | None]:
    """A `pcre` value (quotes removed) and the buffer its modifiers select, if any. Capture
    targets after the flags (`/(.*)/, flow:name, pkt:name`) are accepted and not kept."""
    cut = min((i for i in (value.find(k) for k in _CAPTURES) if i >= 0), default=-1)
    if cut >= 0:
        value = value[:cut].rstrip(" \t,")
    m = _PCRE.search(value)
    if m is None:
        raise RuleError(f'pcre parse error: {value!r} (expected "/regex/flags")', "pcre")
    regex, letters = m.group(1), m.group(2).strip()
    kept: list[str] = []
    buffer: Buffer | None = None
    rawbytes = relative = False
    for c in letters:
        if c == "R":
            relative = True
        elif c == "B":
            if buffer is not None:
                raise RuleError("regex modifier 'B' inconsistent with the chosen buffer", "pcre")
            rawbytes = True
            kept.append(c)
        elif c in PCRE_BUFFERS:
            if rawbytes:
                raise RuleError(f"regex modifier {c!r} inconsistent with 'B'", "pcre")
            if buffer is not None:
                raise RuleError("only one pcre modifier may select a buffer", "pcre")
            buffer = PCRE_BUFFERS[c]
        elif c in PCRE_FLAGS:
            kept.append(c)
        else:
            raise RuleError(f"unknown regex modifier {c!r}", "pcre")
    flags = "".join(kept)
    if "W" in letters:
        if "i" in flags:
            flags = flags.replace("i", "")  # the host buffer is lower-cased: i is redundant
        elif _has_upper(regex):
            raise RuleError(
                "the http host buffer is lower-case: the pattern must not have upper-case "
                "characters (modifier W)",
                "pcre",
            )
    p = Pcre(regex, flags, negated, relative)
    try:
        compile_pcre(p)
    except ValueError as e:
        raise RuleError(str(e).removeprefix("pcre: "), "pcre") from None
    return p, buffer


def _nbytes(text: str, kw: str, variables: set[str] | None = None) -> int:
    t = text.strip()
    if variables is not None and is_var_name(t):
        if t not in variables:
            raise RuleError(f"unknown byte_extract variable {t!r} in {kw}", kw)
        raise RuleError(f"a variable as the number of bytes: {NOT_SUPPORTED}", kw)
    n = int(t) if t.isdigit() else None
    if n is None or n >= 1 << 32:
        raise RuleError(f"invalid number of bytes {text.strip()!r}", kw)
    return n


def _check_sizes(kw: str, n: int, string: bool, base: int | None) -> None:
    if string:
        if n > 23:
            raise RuleError(f"can't read more than 23 bytes as a string (got {n})", kw)
    else:
        if n > 8:
            raise RuleError(f"can't read more than 8 bytes without 'string' (got {n})", kw)
        if base is not None:
            raise RuleError("a base (dec, hex, oct) needs 'string'", kw)


def _split(value: str, kw: str, least: int) -> list[str]:
    parts = [p.strip() for p in value.split(",")]
    if len(parts) < least or any(not p for p in parts):
        raise RuleError(f"invalid value {value.strip()!r}", kw)
    return parts


def parse_byte_test(value: str, variables: set[str]) -> ByteTest:
    kw = "byte_test"
    parts = _split(value, kw, 4)
    n = _nbytes(parts[0], kw, variables)
    op = parts[1]
    negated = op.startswith("!")
    if negated:
        op = op[1:].strip()
        if not op:
            op = "="
    if op not in _BT_OPS:
        raise RuleError(f"invalid operator {parts[1]!r}", kw)
    val_s = parts[2]
    val: int | str
    if val_s[0] != "-" and val_s[0].isalpha():
        val = num_or_var(val_s, kw, variables, 64, signed=False)
    else:
        v = c_uint(val_s, 64, strict=False)
        if v is None:
            raise RuleError(f"invalid value {val_s!r}", kw)
        val = v
    offset = _offset(parts[3], kw, variables)
    t = ByteTest(n, op, val, offset, negated=negated)
    _read_options(kw, t, n, parts[4:], _byte_test_option)
    return t


def _byte_test_option(t: ByteTest, opt: str, low: str) -> bool:
    if opt == "relative":  # case-sensitive, as Suricata's strcmp
        t.relative = True
        return True
    return False


_R = TypeVar("_R", ByteTest, ByteJump)


def _read_options(
    kw: str, r: _R, n: int, opts: list[str], own: Callable[[_R, str, str], bool]
) -> None:
    """Apply the options after byte_test's or byte_jump's positional values: those both take
    (string, dec/hex/oct, big/little, dce, bitmask) here, the keyword's own through
    `own(r, option, lower-cased option)` (False: not one of them), in rule order, then check
    them together as Suricata does."""
    string = little = False
    for opt in opts:
        low = opt.lower()
        if low == "string":
            string = True
        elif low in _BASES:
            r.base = _BASES[low]
        elif low in ("big", "little"):
            little = low == "little"
        elif low == "dce":
            r.dce = True
        elif low.startswith("bitmask"):
            r.bitmask = _bitmask(opt, kw)
        elif not own(r, opt, low):
            raise RuleError(f"unknown option {opt!r}", kw)
    if isinstance(r, ByteJump) and r.from_beginning and r.from_end:
        raise RuleError("from_beginning and from_end can't be used together", kw)
    endian = any(p.lower() in ("big", "little") for p in opts)
    if r.dce and (string or endian or r.base is not None):
        raise RuleError("dce can't be combined with string, big, little or a base", kw)
    _check_sizes(kw, n, string, r.base)
    if string and r.base is None:
        r.base = 0  # strtoull's guess from the prefix, as Suricata does
    r.big_endian = not little


def _offset(text: str, kw: str, variables: set[str]) -> int | str:
    if text[0] != "-" and text[0].isalpha():
        return num_or_var(text, kw, variables, 32, signed=True)
    v = c_int(text, -65535, 65535)
    if v is None:
        raise RuleError(f"invalid offset {text!r} (-65535..65535)", kw)
    return v


def _bitmask(opt: str, kw: str) -> int:
    v = c_uint(opt[7:].strip(), 32, strict=False)
    if v is None or v == 0:
        raise RuleError(f"invalid bitmask {opt!r}", kw)
    return v


def _option_number(opt: str, name: str, kw: str, lo: int, hi: int) -> int:
    v = c_int(opt[len(name) :].strip(), lo, hi)
    if v is None:
        raise RuleError(f"invalid {name} value {opt!r} ({lo}..{hi})", kw)
    return v


def parse_byte_jump(value: str, variables: set[str]) -> ByteJump:
    kw = "byte_jump"
    parts = _split(value, kw, 2)
    n = _nbytes(parts[0], kw, variables)
    j = ByteJump(n, _offset(parts[1], kw, variables))
    _read_options(kw, j, n, parts[2:], _byte_jump_option)
    return j


def _byte_jump_option(j: ByteJump, opt: str, low: str) -> bool:
    kw = "byte_jump"
    if low in ("relative", "align", "from_beginning", "from_end"):
        setattr(j, low, True)
    elif low.startswith("multiplier"):
        j.multiplier = _option_number(opt, "multiplier", kw, 1, 65535)
    elif low.startswith("post_offset"):
        j.post_offset = _option_number(opt, "post_offset", kw, -(1 << 31), (1 << 31) - 1)
    else:
        return False
    return True


def parse_byte_extract(value: str) -> ByteExtract:
    kw = "byte_extract"
    parts = _split(value, kw, 3)
    n = _nbytes(parts[0], kw)
    offset = c_int(parts[1], -65535, 65535)
    if offset is None:
        raise RuleError(f"invalid offset {parts[1]!r}", kw)
    name = parts[2]
    if any(c.isspace() for c in name):
        raise RuleError(f"invalid variable name {name!r}", kw)
    e = ByteExtract(n, offset, name)
    seen: set[str] = set()
    string = False
    endian: str | None = None
    for opt in parts[3:]:
        low = opt.lower()
        key = low.split()[0]
        key = "endian" if key in ("big", "little") else "base" if key in _BASES else key
        if key in seen:
            raise RuleError(f"{key} given twice", kw)
        seen.add(key)
        if low == "relative":
            e.relative = True
        elif low == "string":
            string = True
        elif low in _BASES:
            e.base = _BASES[low]
        elif low in ("big", "little"):
            endian = low
        elif low == "dce":
            e.dce = True
        elif key == "multiplier":
            e.multiplier = _option_number(opt, "multiplier", kw, 1, 65535)
        elif key == "align":
            e.align = _option_number(opt, "align", kw, 0, 65535)
            if e.align not in (2, 4):
                raise RuleError(f"invalid align value {opt!r} (2 or 4)", kw)
        else:
            raise RuleError(f"unknown option {opt!r}", kw)
    if e.dce and (string or endian or e.base is not None):
        raise RuleError("dce can't be combined with string, big, little or a base", kw)
    if string and endian:
        raise RuleError("big/little can't be used with string", kw)
    _check_sizes(kw, n, string, e.base)
    if string and e.base is None:
        e.base = 10
    e.big_endian = endian != "little"
    return e


def parse_isdataat(value: str, variables: set[str]) -> IsDataAt:
    kw = "isdataat"
    m = _ISDATAAT.fullmatch(value)
    if m is None:
        raise RuleError(f"invalid value {value.strip()!r}", kw)
    off_s = m.group(2)
    offset: int | str
    if off_s[0] != "-" and off_s[0].isalpha():
        offset = num_or_var(off_s, kw, variables, 16, signed=False)
    else:
        v = int(off_s) if off_s.isdigit() else None
        if v is None or v > 65535:
            raise RuleError(f"invalid offset {off_s!r} (0..65535)", kw)
        offset = v
    return IsDataAt(offset, bool(m.group(3)), bool(m.group(1)), bool(m.group(4)))
