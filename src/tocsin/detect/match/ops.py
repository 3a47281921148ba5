"""Payload keywords lowered for `inspect`: one small record per keyword with its constants
resolved (lowered nocase patterns, compiled pcre, operator codes, constant-or-variable
numbers), the links Suricata's keyword Setup functions make between keywords (which content
or pcre a relative keyword depends on), and the byte keywords' evaluation.

Results follow Suricata's `DetectEngineContentInspection`: `MATCH`, `NOMATCH` (the previous
content or pcre may retry) and `STOP` (no match, no retry). See `inspect` for the semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tocsin.detect.match.bytes_ops import (
    bitmask,
    compare,
    parse_op,
    read_binary,
    read_string,
    trailing_zeros,
)
from tocsin.detect.match.pcre import CompiledPcre, compile_pcre
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

ISDATAAT_VAR_CAP = 100_000_000  # an extracted isdataat value this big is "no data"
_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63

# results of one keyword, as Suricata's: match, no match, no match and stop retrying
MATCH, NOMATCH, STOP = 1, 0, -1

Env = dict[str, int]


def _split(v: Num | None) -> tuple[int, str | None]:
    """A constant or a variable name."""
    if v is None:
        return 0, None
    if isinstance(v, str):
        return 0, v
    return v, None


class ContentOp:
    __slots__ = (
        "depth",
        "depth_var",
        "distance",
        "distance_var",
        "endswith",
        "has_depth",
        "has_distance",
        "has_within",
        "last",
        "negated",
        "nocase",
        "offset",
        "offset_var",
        "pattern",
        "plen",
        "relative",
        "single",
        "within",
        "within_next",
        "within_var",
    )

    def __init__(self, c: Content) -> None:
        self.pattern = c.pattern.lower() if c.nocase else c.pattern
        self.plen = len(c.pattern)
        self.nocase = c.nocase
        self.negated = c.negated
        self.endswith = c.endswith
        self.has_distance = c.distance is not None
        self.has_within = c.within is not None
        self.relative = self.has_distance or self.has_within
        self.distance, self.distance_var = _split(c.distance)
        self.within, self.within_var = _split(c.within)
        self.offset, self.offset_var = _split(c.offset)
        depth: Num | None = c.depth
        if depth is None and c.startswith:
            depth = self.plen
        # Suricata's cd->depth: constant depths are stored as offset + depth (0: none)
        self.depth, self.depth_var = _split(depth)
        if self.depth_var is None and self.offset_var is None and self.depth:
            self.depth += self.offset
        self.has_depth = self.depth_var is not None or self.depth != 0
        has_offset = c.offset is not None
        # DETECT_CONTENT_IS_SINGLE without RELATIVE_NEXT (added by compile_buffer)
        self.single = not (self.relative or depth is not None or has_offset)
        self.within_next = False
        self.last = False


class PcreOp:
    __slots__ = ("last", "negated", "relative", "relative_next", "rx")

    def __init__(self, p: Pcre) -> None:
        self.rx: CompiledPcre = compile_pcre(p)
        self.negated = p.negated
        self.relative = p.relative or "R" in p.flags
        self.relative_next = False
        self.last = False


class ByteRead:
    """How byte_test, byte_jump and byte_extract read their number (`_read`): `nbytes` bytes,
    binary or a string in `base`, then `bitmask`, `multiplier` and `align` (round up to a
    multiple; 0: none). One class for the three keywords, so that `_read` stays monomorphic."""

    __slots__ = ("align", "base", "big_endian", "mask", "multiplier", "nbytes", "scaled", "shift")

    def __init__(self, r: ByteTest | ByteJump | ByteExtract, multiplier: int, align: int) -> None:
        self.nbytes = r.nbytes
        self.base = r.base
        self.big_endian = r.big_endian
        self.mask = r.bitmask
        self.shift = trailing_zeros(r.bitmask) if r.bitmask is not None else 0
        self.multiplier = multiplier
        self.align = align
        self.scaled = multiplier != 1 or align != 0


class _AtOffset:
    """What the byte keywords and isdataat share: an offset (a constant, or a variable in
    `offset_var`) from the buffer start or, `relative`, from the previous match."""

    __slots__ = ("last", "offset", "offset_var", "relative")

    def __init__(self, r: ByteTest | ByteJump | ByteExtract | IsDataAt) -> None:
        self.offset, self.offset_var = _split(r.offset)
        self.relative = r.relative
        self.last = False


class TestOp(_AtOffset):
    __slots__ = ("code", "negate", "num", "value", "value_var")

    def __init__(self, t: ByteTest) -> None:
        super().__init__(t)
        self.num = ByteRead(t, 1, 0)
        self.code, self.negate = parse_op(t.op, t.negated)
        self.value, self.value_var = _split(t.value)


class JumpOp(_AtOffset):
    __slots__ = ("from_beginning", "from_end", "num", "post_offset")

    def __init__(self, j: ByteJump) -> None:
        super().__init__(j)
        self.num = ByteRead(j, j.multiplier, 4 if j.align else 0)
        self.from_beginning = j.from_beginning
        self.from_end = j.from_end
        self.post_offset = j.post_offset


class ExtractOp(_AtOffset):
    """byte_extract: its offset is a constant (`offset_var` is None)."""

    __slots__ = ("name", "num")

    def __init__(self, e: ByteExtract) -> None:
        super().__init__(e)
        self.num = ByteRead(e, e.multiplier, e.align)
        self.name = e.name


class DataAtOp(_AtOffset):
    __slots__ = ("negated",)

    def __init__(self, d: IsDataAt) -> None:
        super().__init__(d)
        self.negated = d.negated


class SizeOp:
    __slots__ = ("cmp", "last")

    def __init__(self, b: BufferSize) -> None:
        self.cmp: IntCmp = b.cmp
        self.last = False


Op = ContentOp | PcreOp | TestOp | JumpOp | ExtractOp | DataAtOp | SizeOp


def lower(matches: Sequence[Match], broad: bool) -> tuple[Op, ...]:
    """The keyword list as ops, linked as Suricata's Setup functions link keywords;
    `broad`: relative byte keywords attach to the last payload keyword of any kind
    (the packet payload), else to the last content or pcre (sticky buffers)."""
    kept: list[Match] = []
    ops: list[Op] = []
    for m in matches:
        if isinstance(m, IsDataAt) and m.relative and m.negated and m.offset == 1:
            # `isdataat:!1,relative` right after a content is that content's `endswith`
            # (DetectIsdataatSetup): the keyword itself is dropped
            j = _last_relative_base(kept, broad)
            base = ops[j] if j >= 0 else None
            if isinstance(base, ContentOp):
                base.endswith = True
                continue
        kept.append(m)
        ops.append(_lower_one(m))
    _link(kept, ops, broad)
    if ops:
        ops[-1].last = True
    return tuple(ops)


def _lower_one(m: Match) -> Op:
    make = _OP_OF.get(type(m))
    if make is None:  # pragma: no cover - closed union
        raise TypeError(f"not a payload keyword: {m!r}")
    return make(m)


_OP_OF: dict[type, Callable[[Any], Op]] = {
    Content: ContentOp,
    Pcre: PcreOp,
    ByteTest: TestOp,
    ByteJump: JumpOp,
    ByteExtract: ExtractOp,
    IsDataAt: DataAtOp,
    BufferSize: SizeOp,
}


def _last_relative_base(kept: Sequence[Match], broad: bool) -> int:
    """Index of the keyword a relative byte keyword / isdataat attaches to: the last content or
    pcre, or (`broad`) the last of those, byte_* and isdataat; -1 if none."""
    kinds = _BROAD if broad else _NARROW
    for j in range(len(kept) - 1, -1, -1):
        if isinstance(kept[j], kinds):
            return j
    return -1


_NARROW = (Content, Pcre)
_BROAD = (Content, Pcre, ByteTest, ByteJump, ByteExtract, IsDataAt)


def _link(matches: Sequence[Match], ops: list[Op], broad: bool) -> None:
    """Set the "a relative keyword depends on me" flags, as the keywords' Setup functions set
    DETECT_CONTENT_WITHIN_NEXT / _DISTANCE_NEXT and DETECT_PCRE_RELATIVE_NEXT."""
    last_pm = -1  # last content or pcre
    last_any = -1  # last content, pcre, byte_* or isdataat
    for k, m in enumerate(matches):
        target = -1
        within = False  # the dependency asks for retries (WITHIN_NEXT or RELATIVE_NEXT)
        if isinstance(m, Content) and (m.distance is not None or m.within is not None):
            target = last_pm
            within = m.within is not None or m.negated
        elif isinstance(m, Pcre) and (m.relative or "R" in m.flags):
            target, within = last_pm, True
        elif isinstance(m, ByteTest | ByteJump | ByteExtract | IsDataAt) and m.relative:
            target, within = (last_any if broad else last_pm), True
        if target >= 0:
            op = ops[target]
            if isinstance(op, ContentOp):
                op.single = False  # any RELATIVE_NEXT flag
                if within:
                    op.within_next = True
            elif isinstance(op, PcreOp):
                op.relative_next = True
        if isinstance(m, Content | Pcre):
            last_pm = k
            last_any = k
        elif isinstance(m, ByteTest | ByteJump | ByteExtract | IsDataAt):
            last_any = k


def value_of(const: int, var: str | None, env: Env) -> int | None:
    return const if var is None else env.get(var)


def _read(num: ByteRead, buf: bytes, p: int) -> tuple[int, int] | None:
    """`(value, bytes consumed)` of the number at `p` (the caller checked the bounds), masked,
    multiplied and aligned modulo 2^64; None for a string without digits. byte_test, which
    needs neither the count nor the scaling, reads inline: the call costs it ~15%."""
    if num.base is None:
        val, used = read_binary(buf, p, num.nbytes, num.big_endian), num.nbytes
    else:
        got = read_string(buf, p, num.nbytes, num.base)
        if got is None:
            return None
        val, used = got
    if num.mask is not None:
        val = bitmask(val, num.mask, num.shift)
    if num.scaled:
        val = (val * num.multiplier) & _MASK64
        align = num.align
        if align and val % align:
            val = (val + align - val % align) & _MASK64
    return val, used


def byte_test(op: TestOp, buf: bytes, n: int, pos: int, env: Env) -> bool:
    if n == 0:
        return False
    offset = value_of(op.offset, op.offset_var, env)
    value = value_of(op.value, op.value_var, env)
    if offset is None or value is None:
        return False
    p = pos + offset if op.relative else offset
    num = op.num
    if p < 0 or num.nbytes > n - p or (op.relative and n - p <= 0):
        return False
    if num.base is None:
        val = read_binary(buf, p, num.nbytes, num.big_endian)
    else:
        got = read_string(buf, p, num.nbytes, num.base)
        if got is None:
            return False
        val = got[0]
    if num.mask is not None:
        val = bitmask(val, num.mask, num.shift)
    return compare(op.code, op.negate, val, value)


def byte_jump(op: JumpOp, buf: bytes, n: int, pos: int, env: Env) -> int:
    """The new relative position, or -1 for no match."""
    if n == 0:
        return -1
    offset = value_of(op.offset, op.offset_var, env)
    if offset is None:
        return -1
    num = op.num
    nbytes = num.nbytes
    p = offset + pos if op.relative else offset
    if (op.relative and nbytes and n - p <= 0) or p < 0 or nbytes > n - p:
        return -1
    got = _read(num, buf, p)
    if got is None:
        return -1
    val = (got[0] + op.post_offset) & _MASK64
    jump = val - (1 << 64) if val & _SIGN64 else val
    if op.from_beginning:
        target = jump
    elif op.from_end:
        target = n + jump
    else:
        target = p + jump + got[1]
    if target < 0:
        return 0
    if target > n:
        return -1
    return target


def byte_extract(op: ExtractOp, buf: bytes, n: int, pos: int, env: Env) -> int:
    """Store the variable; the new relative position, or -1 for no match."""
    if n == 0:
        return -1
    p = pos + op.offset if op.relative else op.offset
    num = op.num
    if (op.relative and n - p <= 0) or p < 0 or num.nbytes > n - p:
        return -1
    got = _read(num, buf, p)
    if got is None:
        return -1
    env[op.name] = got[0]
    return p + got[1]


def isdataat(op: DataAtOp, n: int, pos: int, env: Env) -> int:
    var = op.offset_var is not None
    if op.offset_var is not None:
        v = env.get(op.offset_var)
        if v is None:
            return NOMATCH
        if v >= ISDATAAT_VAR_CAP:
            return MATCH if op.negated else NOMATCH
        at = v
    else:
        at = op.offset
    fail = NOMATCH if var else STOP
    if op.relative:
        if pos + at > n:
            return MATCH if op.negated else fail
        return NOMATCH if op.negated else MATCH
    if at < n:
        return fail if op.negated else MATCH
    return MATCH if op.negated else fail
