"""`content` patterns and their modifiers, with Suricata's rules for combining them.

`decode_content` turns the quoted text into bytes: `|41 42|` hex (spaces and commas allowed
between digits), `\\"` `\\;` `\\:` `\\\\` escapes (any other escape is an error), an unescaped
`"` is an error, the rest is the rule's UTF-8.

The `set_*` functions apply one modifier to a `Content`, after Suricata's checks
(detect-depth.c, detect-offset.c, detect-distance.c, detect-within.c, detect-fast-pattern.c,
detect-nocase.c): absolute (`depth`, `offset`, `startswith`) and relative (`distance`,
`within`) positions do not mix on one content, each is given at most once, `depth` and
`within` may not be shorter than the pattern, a negated content that is the fast pattern
takes no position, a `fast_pattern:only` content takes none either (nor may the next content
be relative to it). A value is a number or a byte_extract variable. Errors are `RuleError`
naming the modifier.
"""

from __future__ import annotations

import re

from tocsin.detect.model import Content, Match, Pcre
from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.values import num_or_var

_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPABLE = frozenset(':;\\"')
_REL_MAX = 1 << 20  # Suricata's DETECT_CONTENT_VALUE_MAX for distance and within
_FP_CHOP = re.compile(r"\s*([0-9]+)\s*,\s*([0-9]+)\s*")

_MIXED = (
    "can't use a relative keyword like within/distance with an absolute keyword like "
    "depth/offset/startswith for the same content"
)


def decode_content(text: str, keyword: str = "content") -> bytes:
    """The bytes of a content string (without its quotes)."""
    if "|" not in text and "\\" not in text and '"' not in text:
        if not text:
            raise RuleError("empty pattern", keyword)
        return text.encode("utf-8", "surrogateescape")
    out = bytearray()
    binary = False
    escape = False
    pipes = 0
    digits = ""
    for ch in text:
        if ch == "|":
            pipes += 1
            if binary and digits:
                raise RuleError(f"incomplete hex code in {text!r}", keyword)
            binary = not binary
        elif not escape and ch == "\\":
            escape = True
        elif binary:
            if ch in _HEX:
                digits += ch
                if len(digits) == 2:
                    out.append(int(digits, 16))
                    digits = ""
            elif ch not in " ,":
                raise RuleError(f"invalid hex code {ch!r} in {text!r}", keyword)
        elif escape:
            if ch not in _ESCAPABLE:
                raise RuleError(f"'\\{ch}' is not a valid escape (only \\\" \\; \\: \\\\)", keyword)
            out += ch.encode()
            escape = False
        elif ch == '"':
            raise RuleError("unescaped double quote inside the pattern", keyword)
        else:
            out += ch.encode("utf-8", "surrogateescape")
    if pipes % 2:
        raise RuleError(f"unbalanced '|' in {text!r}", keyword)
    if not out:
        raise RuleError("empty pattern", keyword)
    return bytes(out)


def _has_absolute(c: Content) -> bool:
    return c.depth is not None or c.offset is not None or c.startswith


def _relative_ok(c: Content, kw: str) -> None:
    if c.negated and c.fast_pattern:
        raise RuleError("can't have a relative negated keyword set along with 'fast_pattern'", kw)
    if c.fast_pattern_only:
        raise RuleError("can't have a relative keyword set along with 'fast_pattern:only'", kw)


def _prev_not_fp_only(prev: Match | None, kw: str) -> None:
    if isinstance(prev, Content) and prev.fast_pattern_only:
        raise RuleError(
            "the previous content has fast_pattern:only: nothing can be relative to it", kw
        )


def set_depth(c: Content, value: str, variables: set[str]) -> None:
    if c.depth is not None or c.startswith:
        raise RuleError("can't use multiple depth/startswith for the same content", "depth")
    if c.relative:
        raise RuleError(_MIXED, "depth")
    _relative_ok(c, "depth")
    v = num_or_var(value, "depth", variables, 16, signed=False)
    if isinstance(v, int) and v < len(c.pattern):
        raise RuleError(f"depth:{v} smaller than the content of length {len(c.pattern)}", "depth")
    c.depth = v


def set_offset(c: Content, value: str, variables: set[str]) -> None:
    if c.startswith:
        raise RuleError("can't use offset with startswith", "offset")
    if c.offset is not None:
        raise RuleError("can't use multiple offsets for the same content", "offset")
    if c.relative:
        raise RuleError(_MIXED, "offset")
    _relative_ok(c, "offset")
    c.offset = num_or_var(value, "offset", variables, 16, signed=False)


def _relative_value(value: str, kw: str, variables: set[str]) -> int | str:
    v = num_or_var(value, kw, variables, 32, signed=True)
    if isinstance(v, int) and not -_REL_MAX <= v <= _REL_MAX:
        raise RuleError(f"invalid value for {kw}: {v} (-{_REL_MAX}..{_REL_MAX})", kw)
    return v


def set_distance(c: Content, value: str, variables: set[str], prev: Match | None) -> None:
    if c.distance is not None:
        raise RuleError("can't use multiple distances for the same content", "distance")
    if _has_absolute(c):
        raise RuleError(_MIXED, "distance")
    _relative_ok(c, "distance")
    c.distance = _relative_value(value, "distance", variables)
    _prev_not_fp_only(prev, "distance")


def set_within(c: Content, value: str, variables: set[str], prev: Match | None) -> None:
    if c.within is not None:
        raise RuleError("can't use multiple withins for the same content", "within")
    if _has_absolute(c):
        raise RuleError(_MIXED, "within")
    _relative_ok(c, "within")
    v = _relative_value(value, "within", variables)
    if isinstance(v, int) and v < len(c.pattern):
        raise RuleError(
            f"within:{v} is less than the content length {len(c.pattern)}: it can never match",
            "within",
        )
    c.within = v
    _prev_not_fp_only(prev, "within")


def set_startswith(c: Content) -> None:
    if c.depth is not None or c.startswith:
        raise RuleError("can't use multiple depth/startswith for the same content", "startswith")
    if c.relative:
        raise RuleError(_MIXED, "startswith")
    _relative_ok(c, "startswith")
    if c.offset is not None:
        raise RuleError("can't mix offset with startswith", "startswith")
    c.startswith = True


def set_nocase(c: Content) -> None:
    if c.nocase:
        raise RuleError("can't use multiple nocase modifiers for the same content", "nocase")
    c.nocase = True


def set_fast_pattern(c: Content, value: str | None, rule_has_fp: bool) -> None:
    kw = "fast_pattern"
    if c.negated and (c.relative or _has_absolute(c)):
        raise RuleError("cannot be used on a negated content with position modifiers", kw)
    arg = (value or "").strip()
    if not arg:
        if c.fast_pattern:
            raise RuleError("can't use multiple fast_pattern options for the same content", kw)
        if rule_has_fp:
            raise RuleError("fast_pattern can be used on only one content in a rule", kw)
    elif arg == "only":
        if c.negated or c.relative or _has_absolute(c):
            raise RuleError(
                "fast_pattern:only cannot be used with a negated content or with any of "
                "distance, within, offset, depth",
                kw,
            )
        c.fast_pattern_only = True
    else:
        m = _FP_CHOP.fullmatch(arg)
        if m is None:
            raise RuleError(f"invalid value {arg!r} (only, or offset,length)", kw)
        off, length = int(m.group(1)), int(m.group(2))
        if off > 65535 or length > 65535 or off + length > 65535:
            raise RuleError(f"invalid fast pattern offset/length {arg!r}", kw)
        if off + length > len(c.pattern):
            raise RuleError("fast pattern (offset + length) exceeds the content length", kw)
        c.fp_chop = (off, length)
    c.fast_pattern = True


def previous_match(items: list[Match], item: Match) -> Content | Pcre | None:
    """The content or pcre before `item` in its buffer's list (what `item` is relative to)."""
    for i in range(len(items) - 1, -1, -1):
        if items[i] is item:
            for j in range(i - 1, -1, -1):
                m = items[j]
                if isinstance(m, (Content, Pcre)):
                    return m
            return None
    return None
