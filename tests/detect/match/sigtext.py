"""A test-only reader for the payload options of a Suricata rule (`content:"a"; within:3; ...`),
so that Suricata's unit tests can be ported as written. Just enough for these tests: the real
rule parser is `tocsin.detect.rules`."""

from __future__ import annotations

from typing import TypeVar

from tocsin.detect.model import (
    BufferSize,
    ByteExtract,
    ByteJump,
    ByteTest,
    Content,
    IntCmp,
    IsDataAt,
    Match,
    Num,
    Pcre,
)

_BASES = {"dec": 10, "hex": 16, "oct": 8}


def _split_options(text: str) -> list[tuple[str, str]]:
    opts: list[tuple[str, str]] = []
    cur: list[str] = []
    quoted = False
    escaped = False
    for ch in text:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch == ";" and not quoted:
            item = "".join(cur).strip()
            if item:
                name, _, value = item.partition(":")
                opts.append((name.strip(), value.strip()))
            cur = []
        else:
            cur.append(ch)
    item = "".join(cur).strip()
    if item:
        name, _, value = item.partition(":")
        opts.append((name.strip(), value.strip()))
    return opts


def _num(s: str) -> Num:
    s = s.strip()
    try:
        return int(s, 0)
    except ValueError:
        return s


def _content_bytes(s: str) -> bytes:
    out = bytearray()
    parts = s.split("|")
    for k, part in enumerate(parts):
        if k % 2:
            out += bytes.fromhex(part)
        else:
            out += part.replace('\\"', '"').replace("\\;", ";").replace("\\\\", "\\").encode()
    return bytes(out)


def _unquote(v: str) -> tuple[bool, str]:
    neg = v.startswith("!")
    if neg:
        v = v[1:].strip()
    if v.startswith('"') and v.endswith('"'):
        v = v[1:-1]
    return neg, v


def _cmp(v: str) -> IntCmp:
    v = v.replace(" ", "")
    if "<>" in v:
        a, b = v.split("<>")
        return IntCmp("<>", int(a), int(b))
    for op in ("<=", ">=", "!=", "<", ">", "="):
        if v.startswith(op):
            return IntCmp(op, int(v[len(op) :]))
    return IntCmp("=", int(v))


_B = TypeVar("_B", ByteTest, ByteJump, ByteExtract)


def _byte_options(kw: _B, args: list[str], string_base: int) -> _B:
    """The options after a byte keyword's positional values: `string` (base `string_base`
    unless dec/hex/oct says otherwise), dec/hex/oct, `little`, `name number` (bitmask,
    multiplier, post_offset, byte_extract's align) and flags (relative, align,
    from_beginning, from_end). Returns `kw`."""
    for a in args:
        option, _, number = a.partition(" ")
        if a == "string":
            kw.base = kw.base or string_base
        elif a in _BASES:
            kw.base = _BASES[a]
        elif a == "little":
            kw.big_endian = False
        elif number:
            setattr(kw, option, int(number, 0))
        else:
            setattr(kw, a, True)
    return kw


def parse(text: str) -> list[Match]:
    """The payload keywords of `text`, in order (one buffer)."""
    out: list[Match] = []
    last: Content | None = None
    for name, value in _split_options(text):
        if name == "content":
            neg, v = _unquote(value)
            last = Content(_content_bytes(v), negated=neg)
            out.append(last)
        elif name in ("nocase", "startswith", "endswith", "fast_pattern", "rawbytes"):
            assert last is not None
            if name == "fast_pattern" and value:
                if value == "only":
                    last.fast_pattern_only = True
                else:
                    o, n = value.split(",")
                    last.fp_chop = (int(o), int(n))
            setattr(last, name, True)
        elif name in ("depth", "offset", "distance", "within"):
            assert last is not None
            setattr(last, name, _num(value))
        elif name == "pcre":
            neg, v = _unquote(value)
            body, _, flags = v.rpartition("/")
            out.append(Pcre(body[1:], flags.replace("R", ""), negated=neg, relative="R" in flags))
        elif name == "isdataat":
            args = [a.strip() for a in value.split(",")]
            neg = args[0].startswith("!")
            out.append(
                IsDataAt(_num(args[0].lstrip("!")), relative="relative" in args[1:], negated=neg)
            )
        elif name == "byte_test":
            args = [a.strip() for a in value.split(",")]
            op = args[1].replace(" ", "")
            neg = op.startswith("!") and op not in ("!", "!=")
            if neg:
                op = op[1:]
            bt = ByteTest(int(args[0]), op, _num(args[2]), _num(args[3]), negated=neg)
            out.append(_byte_options(bt, args[4:], string_base=0))
        elif name == "byte_jump":
            args = [a.strip() for a in value.split(",")]
            bj = ByteJump(int(args[0]), _num(args[1]))
            out.append(_byte_options(bj, args[2:], string_base=0))
        elif name == "byte_extract":
            args = [a.strip() for a in value.split(",")]
            be = ByteExtract(int(args[0]), int(args[1]), args[2])
            out.append(_byte_options(be, args[3:], string_base=10))
        elif name in ("bsize", "urilen"):
            out.append(BufferSize(_cmp(value)))
        else:
            raise ValueError(f"sigtext: unsupported option {name}")
    return out
