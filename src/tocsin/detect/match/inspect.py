"""Payload keyword inspection of one buffer: Suricata's `DetectEngineContentInspection`.

`compile_buffer(matches)` lowers one buffer's keyword list (`Rule.buffers[name]`) once per
rule; `CompiledBuffer.inspect(buf, env)` says whether the list matches `buf`. `inspect(buf,
matches, env)` does both, for tests and one-off use.

What is reproduced (src/detect-engine-content-inspection.c and the keywords' setup code):

- Keywords run in rule order with a *relative position* (Suricata's `buffer_offset`), 0 at the
  start, moved by a content match (to its end), a pcre match (to its end), `byte_jump` (to the
  jump target) and `byte_extract` (past the bytes read). Negated keywords, `byte_test`,
  `isdataat` and `bsize` do not move it.
- content: the search window is `[offset, offset+depth)` for absolute contents
  (`startswith` = depth of the pattern's length at offset 0), and for relative ones starts at
  the previous position plus `distance` (clamped to 0 when a negative distance would go before
  the buffer) and ends at previous position + `distance` + `within` (an end below 0, from a
  negative distance, leaves the window open to the buffer end: Suricata's int32/uint32
  arithmetic). `endswith`: the match must
  end at the buffer end (a window that stops short of it cannot match). `nocase` compares
  ASCII letters case-insensitively.
- Backtracking: when the keywords after a content fail, the content is retried at its next
  occurrence (one byte after the previous match start) only if a later keyword depends on it:
  Suricata's `DETECT_CONTENT_WITHIN_NEXT`, set when a later keyword that refers to it is a
  content with `within`, a negated content with `distance`, a `/R` pcre, or a relative
  `byte_test` / `byte_jump` / `byte_extract` / `isdataat`. A content followed only by a
  non-negated `distance`-only content is not retried (a later occurrence cannot help).
  Relative keywords refer to the last content or pcre before them; in the packet payload
  (`pkt`, where Suricata looks through all payload keyword types) a relative byte keyword or
  `isdataat` whose predecessor is another byte keyword or isdataat marks nothing.
  A pcre is retried at its next match start + 1 whenever any relative keyword follows it.
- Failure modes ("no match" vs "no match, stop retrying"), as Suricata returns them: an
  absolute content not found, a negated single content found, an `isdataat` with a constant
  failing, a failed `bsize`/`urilen` stop every retry; a relative failure lets the previous
  content or pcre try its next occurrence. A recursion budget of 3000 keyword evaluations per
  inspection (Suricata's `inspection_recursion_limit`) ends pathological cases as no match.
- Negated content: no match inside its window; relative negated contents use the previous
  position. Negated `endswith` follows Suricata literally: the first occurrence in the window
  decides, and it is compared with the window length, so only a first occurrence ending at the
  window's length (the buffer end when the window starts at 0) fails the rule.
- pcre: absolute ones search the whole buffer; relative (`R`) ones search the buffer from the
  previous position *as a new subject* (so `^` and lookbehinds see it as the start). The
  match end becomes the relative position. A negated pcre matches when the regex does not.
- byte_test / byte_jump / byte_extract: see `bytes_ops`; offsets may be negative (relative),
  `byte_jump` clamps a target before the buffer start to 0 and fails past its end,
  `from_beginning` / `from_end` / `post_offset` / `multiplier` / `align` (4 bytes; 2 or 4 for
  byte_extract) as Suricata computes them (modulo 2^64, then signed). `string` jumps past the
  digits actually read, not past `nbytes`. A `bitmask` on byte_jump / byte_extract (the model
  allows one) is applied as byte_test applies it, right after reading.
- Variables: `byte_extract` stores into `env[name]`; any `Num` given as a name (offset, depth,
  distance, within, byte_test value and offset, byte_jump offset, isdataat) is looked up
  there. A name not yet assigned gives "no match" (Suricata would read a stale slot). An
  extracted `isdataat` value of 100,000,000 or more is "no data" (Suricata's cap).
- `BufferSize` (bsize / urilen): the whole buffer length, whatever the position.
- `isdataat:!1,relative` attached to a content (its predecessor, found as for the other
  relative byte keywords) becomes that content's `endswith` and is dropped, as
  DetectIsdataatSetup does (same outcome, fewer steps; the parser may do it first).

Not reproduced: streaming inspection of a buffer in chunks (`stream_start_offset`), DCERPC
byte order taken from the PDU, content `replace`, `rawbytes`. An empty keyword list matches.
"""

from __future__ import annotations

from collections.abc import Sequence

from tocsin.detect.match.ops import (
    MATCH,
    NOMATCH,
    STOP,
    ContentOp,
    DataAtOp,
    Env,
    ExtractOp,
    JumpOp,
    Op,
    PcreOp,
    TestOp,
    byte_extract,
    byte_jump,
    byte_test,
    isdataat,
    lower,
    value_of,
)
from tocsin.detect.model import PAYLOAD, Match

RECURSION_LIMIT = 3000  # Suricata's default detect.inspection-recursion-limit


class CompiledBuffer:
    """One buffer's keyword list, ready to inspect buffers (immutable, shareable)."""

    __slots__ = ("_lower", "_ops", "matches")

    def __init__(self, matches: Sequence[Match], ops: tuple[Op, ...]) -> None:
        self.matches = tuple(matches)
        self._ops = ops
        self._lower = any(isinstance(op, ContentOp) and op.nocase for op in ops)

    def inspect(self, buf: bytes, env: Env | None = None) -> bool:
        """True iff the keyword list matches `buf`. `env` holds the rule's byte_extract
        variables across its buffers (read and written); None: a fresh one."""
        ops = self._ops
        if not ops:
            return True
        lbuf = buf.lower() if self._lower else buf
        r = _run(ops, 0, buf, lbuf, len(buf), 0, {} if env is None else env, [0])
        return r == MATCH

    def inspect_steps(self, buf: bytes, env: Env | None = None) -> tuple[bool, int]:
        """`inspect`, and how many keyword evaluations it took (Suricata's recursion counter,
        which its unit tests check)."""
        if not self._ops:
            return True, 0
        steps = [0]
        lbuf = buf.lower() if self._lower else buf
        r = _run(self._ops, 0, buf, lbuf, len(buf), 0, {} if env is None else env, steps)
        return r == MATCH, steps[0]

    def __repr__(self) -> str:
        return f"CompiledBuffer({len(self._ops)} keywords)"


def compile_buffer(matches: Sequence[Match], *, buffer: str = PAYLOAD) -> CompiledBuffer:
    """Compile one buffer's keyword list. `buffer` is its name: in the packet payload (`pkt`)
    a relative byte keyword's predecessor is looked for among all payload keywords, as
    Suricata does without a sticky buffer (see the module docstring). `ValueError` for a pcre
    PCRE2 rejects or an unknown byte_test operator."""
    return CompiledBuffer(matches, lower(matches, broad=buffer == PAYLOAD))


def inspect(buf: bytes, matches: Sequence[Match], env: Env | None = None) -> bool:
    """True iff `matches` (one buffer's payload keywords, in rule order) match `buf`; see the
    module docstring. Compiles the list on every call: the engine keeps `compile_buffer`'s
    result instead."""
    return compile_buffer(matches).inspect(buf, env)


def _run(
    ops: tuple[Op, ...],
    i: int,
    buf: bytes,
    lbuf: bytes,
    n: int,
    pos: int,
    env: Env,
    steps: list[int],
) -> int:
    """Evaluate keyword `i` (and, through it, the rest) at relative position `pos`: MATCH,
    NOMATCH or STOP. A keyword that held goes on with the next (Suricata's `match:` label) as
    `MATCH if op.last else _run(ops, i + 1, ...)`, written out where it happens. The arguments
    are passed one by one on purpose: an object holding them costs more per `inspect` call
    (about 80 ns) than it saves."""
    steps[0] += 1
    if steps[0] >= RECURSION_LIMIT:
        return STOP
    op = ops[i]
    if isinstance(op, ContentOp):
        return _content(ops, i, op, buf, lbuf, n, pos, env, steps)
    if isinstance(op, PcreOp):
        return _pcre(ops, i, op, buf, lbuf, n, pos, env, steps)
    if isinstance(op, TestOp):
        if not byte_test(op, buf, n, pos, env):
            return NOMATCH
    elif isinstance(op, JumpOp):
        pos = byte_jump(op, buf, n, pos, env)
        if pos < 0:
            return NOMATCH
    elif isinstance(op, ExtractOp):
        pos = byte_extract(op, buf, n, pos, env)
        if pos < 0:
            return NOMATCH
    elif isinstance(op, DataAtOp):
        r = isdataat(op, n, pos, env)
        if r != MATCH:
            return r
    elif not op.cmp.test(n):
        return STOP
    return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, pos, env, steps)


def _content(
    ops: tuple[Op, ...],
    i: int,
    op: ContentOp,
    buf: bytes,
    lbuf: bytes,
    n: int,
    pos: int,
    env: Env,
    steps: list[int],
) -> int:
    hay = lbuf if op.nocase else buf
    plen = op.plen
    prev_offset = 0  # next search start once a match was tried
    while True:
        # the window [offset, depth), computed again on every try: a keyword after this one
        # (byte_extract) may have changed a variable it uses
        offset = value_of(op.offset, op.offset_var, env)
        if offset is None:
            return NOMATCH
        depth = n
        if op.has_depth:
            d = value_of(op.depth, op.depth_var, env)
            if d is None:
                return NOMATCH
            depth = pos + d if op.relative else d
        if op.relative:
            distance = op.distance if op.distance_var is None else env.get(op.distance_var)
            if distance is None:
                return NOMATCH
            start = pos + distance
            if start < 0:  # a distance reaching before the buffer start starts at 0
                start = 0
            if start > offset:
                offset = start
            if op.has_within:
                within = op.within if op.within_var is None else env.get(op.within_var)
                if within is None:
                    return NOMATCH
                # (int32) compare in C: a negative end leaves the whole buffer
                end = pos + within + distance
                if 0 <= end < depth:
                    depth = end
        if op.offset_var is not None or op.depth_var is not None:
            depth += offset
        if prev_offset:
            offset = prev_offset
        if depth > n:
            depth = n
        if offset > depth or depth == 0:
            if op.negated:
                return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, pos, env, steps)
            return NOMATCH
        window = depth - offset
        if (op.endswith and depth < n) or plen > window:
            found = -1
        else:
            found = hay.find(op.pattern, offset, depth)
        if found < 0:
            if op.negated:
                return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, pos, env, steps)
            return NOMATCH if op.relative else STOP
        match_end = found + plen
        if op.negated:
            if op.endswith and window != match_end:
                return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, pos, env, steps)
            return STOP if op.single else NOMATCH
        if not op.endswith or match_end == n:
            if op.last:
                return MATCH
            r = _run(ops, i + 1, buf, lbuf, n, match_end, env, steps)
            if r != NOMATCH:
                return r
            if not op.within_next:
                return STOP
        prev_offset = match_end - (plen - 1)


def _pcre(
    ops: tuple[Op, ...],
    i: int,
    op: PcreOp,
    buf: bytes,
    lbuf: bytes,
    n: int,
    pos: int,
    env: Env,
    steps: list[int],
) -> int:
    base = pos if op.relative else 0
    subject = buf[base:] if base else buf
    if op.negated:
        if op.rx.search(subject, 0) is not None:
            return NOMATCH
        return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, pos, env, steps)
    start = 0  # search start within the subject
    while True:
        span = op.rx.search(subject, start)
        if span is None:
            return NOMATCH
        end = base + span[1]
        if not op.relative_next:
            return MATCH if op.last else _run(ops, i + 1, buf, lbuf, n, end, env, steps)
        r = _run(ops, i + 1, buf, lbuf, n, end, env, steps)
        if r != NOMATCH:
            return r
        start = span[0] + 1
