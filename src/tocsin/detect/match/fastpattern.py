"""Which content of a rule feeds the multi-pattern prefilter: Suricata's fast pattern choice.

`choose_fast_pattern(rule)` returns `(buffer name, content)` or None (no content at all: the
rule runs without prefilter). `fp_bytes(content)` is the part given to the prefilter
(`fast_pattern:offset,length` chops it); its case handling is the content's `nocase`.

Reproduced from src/detect-engine-mpm.c `RetrieveFPForSig` / `GetMpmForList` and
src/detect-fast-pattern.c (Suricata 7/8):

1. A content with an explicit `fast_pattern` wins (Suricata allows one per rule). Buffers are
   scanned packet payload first, then in the rule's order.
2. Otherwise, if the rule has any non-negated content, negated ones are ignored; if it has
   only negated contents, they are the candidates.
3. Among buffers holding candidates, only those of the best MPM priority count (lower
   number = better): application-layer and other sticky buffers 2, the packet payload and
   `http.stat_msg` 3, `http.method` and `http.stat_code` 4 (`mpm_priority`).
4. Among their candidates, the longest pattern (full length, before any chop), then the
   highest `PatternStrength` (each new byte value scores 3 for a letter, 4 for another
   printable byte or 0x00 / 0x01 / 0xFF, 6 otherwise; a repeated byte value scores 1).
5. Remaining ties: the first in buffer order, then rule order. (Suricata orders equal-priority
   buffers by their registration order inside the engine, which a rule set cannot see; the
   rule's own order is used instead.)
"""

from __future__ import annotations

from tocsin.detect.model import PAYLOAD, Content, Rule

DEFAULT_PRIORITY = 2
_PRIORITY = {
    PAYLOAD: 3,
    "http.stat_msg": 3,
    "http.method": 4,
    "http.stat_code": 4,
}


def mpm_priority(buffer: str) -> int:
    """The MPM priority of a buffer (lower is preferred)."""
    return _PRIORITY.get(buffer, DEFAULT_PRIORITY)


def pattern_strength(pattern: bytes) -> int:
    """Suricata's `PatternStrength`: byte diversity, favouring rare bytes."""
    seen: set[int] = set()
    s = 0
    for b in pattern:
        if b in seen:
            s += 1
            continue
        seen.add(b)
        if 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A:
            s += 3
        elif 0x20 <= b <= 0x7E or b in (0x00, 0x01, 0xFF):
            s += 4
        else:
            s += 6
    return s


def fp_bytes(c: Content) -> bytes:
    """The bytes the prefilter looks for: the pattern, or its `fast_pattern` chop."""
    if c.fp_chop is None:
        return c.pattern
    off, length = c.fp_chop
    return c.pattern[off : off + length]


def _ordered(rule: Rule) -> list[tuple[str, Content]]:
    """The rule's contents with their buffers, payload first, then in rule order."""
    names = sorted(rule.buffers, key=lambda name: name != PAYLOAD)  # stable
    return [(name, m) for name in names for m in rule.buffers[name] if isinstance(m, Content)]


def choose_fast_pattern(rule: Rule) -> tuple[str, Content] | None:
    """The content Suricata's MPM would use for `rule` (see the module docstring)."""
    contents = _ordered(rule)
    for name, c in contents:
        if c.fast_pattern:
            return name, c
    candidates = [(name, c) for name, c in contents if not c.negated]
    if not candidates:
        candidates = contents
    if not candidates:
        return None
    best_prio = min(mpm_priority(name) for name, _ in candidates)
    top = [(name, c) for name, c in candidates if mpm_priority(name) == best_prio]
    max_len = max(len(c.pattern) for _, c in top)
    chosen: tuple[str, Content] | None = None
    chosen_strength = -1
    for name, c in top:
        if len(c.pattern) != max_len:
            continue
        strength = pattern_strength(c.pattern)
        if strength > chosen_strength:
            chosen, chosen_strength = (name, c), strength
    return chosen
