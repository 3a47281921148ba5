"""The `pcre` keyword's regular expression, compiled with PCRE2 as Suricata compiles it.

`compile_pcre(p)` turns a parsed `Pcre` into a `CompiledPcre` whose `search(buf, pos)` returns
the `(start, end)` of the first match at or after `pos`, or None. Negation and the relative
(`R`) position are the matcher's business (`detect.match.inspect`), not this module's.

Suricata (src/detect-pcre.c `DetectPcreParse`) calls `pcre2_compile` on the rule's bytes with
only the options its modifiers ask for, and never `PCRE2_UTF`: patterns match bytes, `\\w`,
`.` and `i` work on single bytes with ASCII case folding. The modifiers map as follows:

    i CASELESS   s DOTALL   m MULTILINE   x EXTENDED   E DOLLAR_ENDONLY   G UNGREEDY
    A ANCHORED (at the search start: the match is tried there only)
    O (match-limit override), B (rawbytes), R (relative, see `Pcre.relative`): no effect here
    U I P H D M C S Y V W Z Q (buffer selection): the parser's business, ignored here

Three differences between the `pcre2` Python binding and a plain `pcre2_compile` are undone:

- the binding always sets `PCRE2_ALT_BSUX`, under which `\\x{41}` is the text `x{41}`, `\\x4`
  is `x4` and `\\u` / `\\U` are letters. PCRE2's default (Suricata's) reads `\\x{hh..}` as a
  byte, `\\x` followed by zero, one or two hex digits as that byte, and rejects `\\u` / `\\U`.
  The pattern is rewritten to the two-digit form `\\xhh` that means the same under both, and
  `\\u` / `\\U` are rejected with PCRE2's own message;
- the binding sets `PCRE2_NEVER_BACKSLASH_C`; outside UTF mode `\\C` is exactly one byte, so it
  is rewritten `[\\x00-\\xff]`;
- the binding cannot pass `PCRE2_ANCHORED` at compile time (it drops option bits above 2^20):
  `A` is applied at match time instead, which PCRE2 defines as the same constraint.

The rewriting skips `\\Q...\\E` quotes, `(?#...)` comments and, under `x`, `#` comments; it does
not follow inline `(?x)`, so a `\\u` inside a `#` comment that only an inline `(?x)` makes a
comment is reported as an error. Anything else PCRE2 rejects is what Suricata rejects too (it
uses the same library), so no fallback to Python's `re` is needed or attempted.

The pattern `str` is encoded UTF-8 with `surrogateescape` (the rule file's own bytes, when the
parser decoded it that way). Errors: `ValueError` with PCRE2's message and the offset (in
the rewritten pattern, which differs from the rule's only after a rewritten escape).

Not reproduced: Suricata's match limits (`pcre.match-limit`, 3500 by default, and the
recursion limit); a match that would exceed them is an error, hence no match, in Suricata
and may match here. A match-time PCRE2 error counts as no match, as in Suricata.
"""

from __future__ import annotations

from typing import Any

import pcre2

from tocsin.detect.model import Pcre

# PCRE2 compile options (pcre2.h); all below 2^20, which the binding passes through
_CASELESS = 0x00000008
_DOLLAR_ENDONLY = 0x00000010
_DOTALL = 0x00000020
_EXTENDED = 0x00000080
_MULTILINE = 0x00000400
_UNGREEDY = 0x00040000

_OPTION_OF = {
    "i": _CASELESS,
    "s": _DOTALL,
    "m": _MULTILINE,
    "x": _EXTENDED,
    "E": _DOLLAR_ENDONLY,
    "G": _UNGREEDY,
}
_NO_EFFECT = frozenset("AORB")  # A handled at match time; O, R, B: see the module docstring
_BUFFER_LETTERS = frozenset("UIPHDMCSYVWZQ")

_HEX = frozenset("0123456789abcdefABCDEF")


class CompiledPcre:
    """A compiled `pcre` pattern; `search` is the only hot-path method."""

    __slots__ = ("_anchored", "_rx", "flags", "pattern")

    def __init__(self, rx: Any, anchored: bool, pattern: str, flags: str) -> None:
        self._rx = rx
        self._anchored = anchored
        self.pattern = pattern
        self.flags = flags

    def search(self, buf: bytes, pos: int = 0) -> tuple[int, int] | None:
        """First match starting at or after `pos` (PCRE2's start offset: lookbehinds see the
        bytes before `pos`, `^` does not match at `pos` > 0 without `m`); None if none, or if
        `pos` is past the end (PCRE2_ERROR_BADOFFSET in Suricata, a no-match)."""
        if pos > len(buf):
            return None
        try:
            m = self._rx.match(buf, pos) if self._anchored else self._rx.search(buf, pos)
        except pcre2.LibraryError:
            return None
        if m is None:
            return None
        span: tuple[int, int] = m.span()
        return span

    def __repr__(self) -> str:
        return f"CompiledPcre(/{self.pattern}/{self.flags})"


def compile_pcre(p: Pcre) -> CompiledPcre:
    """Compile `p.pattern` with `p.flags` (see the module docstring); `ValueError` if PCRE2
    (hence Suricata) rejects it or a modifier is unknown."""
    options = 0
    anchored = False
    for c in p.flags:
        opt = _OPTION_OF.get(c)
        if opt is not None:
            options |= opt
        elif c == "A":
            anchored = True
        elif c not in _NO_EFFECT and c not in _BUFFER_LETTERS:
            raise ValueError(f"pcre: unknown modifier {c!r} in /{p.pattern}/{p.flags}")
    source = rewrite_escapes(p.pattern, extended=bool(options & _EXTENDED))
    try:
        rx = pcre2.compile(source.encode("utf-8", "surrogateescape"), options)
    except pcre2.LibraryError as e:
        raise ValueError(f"pcre: /{p.pattern}/{p.flags}: {e}") from None
    return CompiledPcre(rx, anchored, p.pattern, p.flags)


def rewrite_escapes(pattern: str, extended: bool = False) -> str:
    """`pattern` with `\\x` escapes in the two-digit form and `\\C` as a byte class, so that the
    binding's `PCRE2_ALT_BSUX` / `PCRE2_NEVER_BACKSLASH_C` give PCRE2's default meaning.
    `ValueError` for `\\u`, `\\U` and malformed or too large `\\x{...}`, as PCRE2 reports them."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    in_class = False
    class_body = -1  # index where a `]` is still a literal (right after `[` or `[^`)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                out.append(ch)  # trailing backslash: PCRE2 reports it
                break
            nx = pattern[i + 1]
            if nx == "Q":  # quoted until \E (or the end): copied as is
                j = pattern.find("\\E", i + 2)
                j = n if j < 0 else j + 2
                out.append(pattern[i:j])
                i = j
            elif nx == "x":
                esc, i = _hex_escape(pattern, i)
                out.append(esc)
            elif nx in "uU":
                raise ValueError(
                    f"pcre: PCRE2 does not support \\F, \\L, \\l, \\N{{name}}, \\U, or \\u "
                    f"(at offset {i + 2})"
                )
            elif nx == "C" and not in_class:
                out.append("[\\x00-\\xff]")
                i += 2
            elif nx == "c" and i + 2 < n:  # \cX: X is taken literally
                out.append(pattern[i : i + 3])
                i += 3
            else:
                out.append(pattern[i : i + 2])
                i += 2
            continue
        if in_class:
            if ch == "[" and pattern.startswith("[:", i):  # POSIX class [:alpha:]
                j = pattern.find(":]", i + 2)
                if j >= 0:
                    out.append(pattern[i : j + 2])
                    i = j + 2
                    continue
            if ch == "]" and i != class_body:
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            class_body = i
            continue
        if ch == "(" and pattern.startswith("(?#", i):
            j = pattern.find(")", i)
            j = n if j < 0 else j + 1
            out.append(pattern[i:j])
            i = j
            continue
        if extended and ch == "#":
            j = pattern.find("\n", i)
            j = n if j < 0 else j + 1
            out.append(pattern[i:j])
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _hex_escape(pattern: str, i: int) -> tuple[str, int]:
    """The `\\x...` escape at `i` as `\\xhh`, and the index after it."""
    n = len(pattern)
    j = i + 2
    if j < n and pattern[j] == "{":
        close = pattern.find("}", j + 1)
        digits = pattern[j + 1 : close].strip(" \t") if close >= 0 else ""
        if close < 0 or not digits or any(c not in _HEX for c in digits):
            raise ValueError(f"pcre: non-hex character in \\x{{}} (closing brace missing?) at {i}")
        value = int(digits, 16)
        if value > 0xFF:
            raise ValueError(
                f"pcre: character code point value in \\x{{}} or \\o{{}} is too large at {i}"
            )
        return f"\\x{value:02x}", close + 1
    k = j
    while k < n and k < j + 2 and pattern[k] in _HEX:
        k += 1
    value = int(pattern[j:k], 16) if k > j else 0
    return f"\\x{value:02x}", k
