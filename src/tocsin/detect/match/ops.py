"""Payload keywords lowered for `inspect`: one small record per keyword with its constants
resolved (lowered nocase patterns, compiled pcre, operator codes, constant-or-variable
numbers), the links Suricata's keyword Setup functions make between keywords (which content
or pcre a relative keyword depends on), and the byte keywords' evaluation.

Results follow Suricata's `DetectEngineContentInspection`: `MATCH`, `NOMATCH` (the previous
content or pcre may retry) and `STOP` (no match, no retry). See `inspect` for the semantics.
"""

from __future__ import annotations

from collections.abc import Sequence

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


class TestOp:
    __slots__ = (
        "base",
        "big_endian",
        "code",
        "last",
        "mask",
        "nbytes",
        "negate",
        "offset",
        "offset_var",
        "relative",
        "shift",
        "value",
        "value_var",
    )

    def __init__(self, t: ByteTest) -> None:
        self.nbytes = t.nbytes
        self.code, self.negate = parse_op(t.op, t.negated)
        self.value, self.value_var = _split(t.value)
        self.offset, self.offset_var = _split(t.offset)
        self.relative = t.relative
        self.big_endian = t.big_endian
        self.base = t.base
        self.mask = t.bitmask
        self.shift = trailing_zeros(t.bitmask) if t.bitmask is not None else 0
        self.last = False


class JumpOp:
    __slots__ = (
        "align",
        "base",
        "big_endian",
        "from_beginning",
        "from_end",
        "last",
        "mask",
        "multiplier",
        "nbytes",
        "offset",
        "offset_var",
        "post_offset",
        "relative",
        "shift",
    )

    def __init__(self, j: ByteJump) -> None:
        self.nbytes = j.nbytes
        self.offset, self.offset_var = _split(j.offset)
        self.relative = j.relative
        self.multiplier = j.multiplier
        self.big_endian = j.big_endian
        self.base = j.base
        self.align = j.align
        self.from_beginning = j.from_beginning
        self.from_end = j.from_end
        self.post_offset = j.post_offset
        self.mask = j.bitmask
        self.shift = trailing_zeros(j.bitmask) if j.bitmask is not None else 0
        self.last = False


class ExtractOp:
    __slots__ = (
        "align",
        "base",
        "big_endian",
        "last",
        "mask",
        "multiplier",
        "name",
        "nbytes",
        "offset",
        "relative",
        "shift",
    )

    def __init__(self, e: ByteExtract) -> None:
        self.nbytes = e.nbytes
        self.offset = e.offset
        self.name = e.name
        self.relative = e.relative
        self.multiplier = e.multiplier
        self.big_endian = e.big_endian
        self.base = e.base
        self.align = e.align
        self.mask = e.bitmask
        self.shift = trailing_zeros(e.bitmask) if e.bitmask is not None else 0
        self.last = False


class DataAtOp:
    __slots__ = ("last", "negated", "offset", "offset_var", "relative")

    def __init__(self, d: IsDataAt) -> None:
        self.offset, self.offset_var = _split(d.offset)
        self.relative = d.relative
        self.negated = d.negated
        self.last = False


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
    if isinstance(m, Content):
        return ContentOp(m)
    if isinstance(m, Pcre):
        return PcreOp(m)
    if isinstance(m, ByteTest):
        return TestOp(m)
    if isinstance(m, ByteJump):
        return JumpOp(m)
    if isinstance(m, ByteExtract):
        return ExtractOp(m)
    if isinstance(m, IsDataAt):
        return DataAtOp(m)
    if isinstance(m, BufferSize):
        return SizeOp(m)
    raise TypeError(f"not a payload keyword: {m!r}")  # pragma: no cover - closed union


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


def _read(
    buf: bytes, p: int, nbytes: int, base: int | None, big_endian: bool
) -> tuple[int, int] | None:
    """`(value, bytes consumed)` at `p`, binary or string."""
    if base is None:
        return read_binary(buf, p, nbytes, big_endian), nbytes
    return read_string(buf, p, nbytes, base)


def byte_test(op: TestOp, buf: bytes, n: int, pos: int, env: Env) -> bool:
    if n == 0:
        return False
    offset = value_of(op.offset, op.offset_var, env)
    value = value_of(op.value, op.value_var, env)
    if offset is None or value is None:
        return False
    p = pos + offset if op.relative else offset
    if p < 0 or op.nbytes > n - p or (op.relative and n - p <= 0):
        return False
    got = _read(buf, p, op.nbytes, op.base, op.big_endian)
    if got is None:
        return False
    val = got[0]
    if op.mask is not None:
        val = bitmask(val, op.mask, op.shift)
    return compare(op.code, op.negate, val, value)


def byte_jump(op: JumpOp, buf: bytes, n: int, pos: int, env: Env) -> int:
    """The new relative position, or -1 for no match."""
    if n == 0:
        return -1
    offset = value_of(op.offset, op.offset_var, env)
    if offset is None:
        return -1
    nbytes = op.nbytes
    p = offset + pos if op.relative else offset
    if (op.relative and nbytes and n - p <= 0) or p < 0 or nbytes > n - p:
        return -1
    got = _read(buf, p, nbytes, op.base, op.big_endian)
    if got is None:
        return -1
    val, used = got
    if op.mask is not None:
        val = bitmask(val, op.mask, op.shift)
    val = (val * op.multiplier) & _MASK64
    if op.align and val % 4:
        val = (val + 4 - val % 4) & _MASK64
    val = (val + op.post_offset) & _MASK64
    jump = val - (1 << 64) if val & _SIGN64 else val
    if op.from_beginning:
        target = jump
    elif op.from_end:
        target = n + jump
    else:
        target = p + jump + used
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
    if (op.relative and n - p <= 0) or p < 0 or op.nbytes > n - p:
        return -1
    got = _read(buf, p, op.nbytes, op.base, op.big_endian)
    if got is None:
        return -1
    val, used = got
    if op.mask is not None:
        val = bitmask(val, op.mask, op.shift)
    val = (val * op.multiplier) & _MASK64
    if op.align and val % op.align:
        val = (val + op.align - val % op.align) & _MASK64
    env[op.name] = val
    return p + used


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
