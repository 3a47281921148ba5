"""What a parsed Suricata rule is: the types shared by the rule parser, the matcher and the engine.

A `Rule` is the parser's output (`detect.rules`), read by the engine (`detect.engine`) and the
matcher (`detect.match`). Nothing here does I/O or matching.

Addresses live in one 128-bit space: an IPv4 address is its IPv4-mapped IPv6 form
(`::ffff:a.b.c.d`), as the packet records hold it (`src_hi << 64 | src_lo`). An `AddrSet` and a
`PortSet` are sorted, disjoint, inclusive intervals: negation, lists and variables are resolved
by the parser, so matching is a bisection.

Payload keywords are kept in rule order per **buffer** (`Rule.buffers`): the packet payload
(`PAYLOAD`), or a sticky buffer such as `http.uri` (the canonical dotted name is used for the
legacy forms too: `http_uri` and `uricontent` give `http.uri`). Relative keywords (distance,
within, `/R`, `relative`) refer to the previous match in the same buffer's list.
"""

from __future__ import annotations

import operator
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

PAYLOAD = "pkt"  # the packet (or stream) payload buffer

# EVE severity of an alert: classtype priority, or `priority:` (1 is highest)
DEFAULT_PRIORITY = 3

V4_BASE = 0xFFFF << 32  # ::ffff:0.0.0.0 — IPv4 addresses are IPv4-mapped
ADDR_MAX = (1 << 128) - 1


@dataclass(frozen=True, slots=True)
class AddrSet:
    """Sorted disjoint inclusive intervals of 128-bit addresses (IPv4 mapped)."""

    lo: tuple[int, ...]
    hi: tuple[int, ...]

    def contains(self, addr: int) -> bool:
        i = bisect_right(self.lo, addr) - 1
        return i >= 0 and addr <= self.hi[i]

    @property
    def is_any(self) -> bool:
        return self.lo == (0,) and self.hi == (ADDR_MAX,)


ANY_ADDR = AddrSet((0,), (ADDR_MAX,))


@dataclass(frozen=True, slots=True)
class PortSet:
    """Sorted disjoint inclusive port intervals."""

    lo: tuple[int, ...]
    hi: tuple[int, ...]

    def contains(self, port: int) -> bool:
        i = bisect_right(self.lo, port) - 1
        return i >= 0 and port <= self.hi[i]

    @property
    def is_any(self) -> bool:
        return self.lo == (0,) and self.hi == (65535,)


ANY_PORT = PortSet((0,), (65535,))

# integer comparison: dsize, urilen, bsize, ttl, itype, icode, stream_size...
CmpOp = Literal["=", "!=", "<", ">", "<=", ">=", "<>", "!<>"]


@dataclass(frozen=True, slots=True)
class IntCmp:
    """`op a` or, for ranges, `a<>b` (exclusive, Suricata's `min<>max`)."""

    op: CmpOp
    a: int
    b: int = 0

    def test(self, v: int) -> bool:
        compare = CMP_OPS.get(self.op)
        if compare is not None:
            return bool(compare(v, self.a))
        inside = self.a < v < self.b
        return inside if self.op == "<>" else not inside  # "!<>"


# the single-value comparisons of IntCmp (also applied to numpy arrays by the engine)
CMP_OPS: dict[str, Callable[[Any, int], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


# a value in a byte_* / isdataat / offset option: a number or a byte_extract variable name
Num = int | str


@dataclass(slots=True)
class Content:
    """`content` and its modifiers. `pattern` is the decoded bytes (hex `|..|` resolved)."""

    pattern: bytes
    negated: bool = False
    nocase: bool = False
    offset: Num | None = None
    depth: Num | None = None
    distance: Num | None = None
    within: Num | None = None
    startswith: bool = False
    endswith: bool = False
    fast_pattern: bool = False  # chosen explicitly with `fast_pattern`
    fast_pattern_only: bool = False
    fp_chop: tuple[int, int] | None = None  # fast_pattern:offset,length
    rawbytes: bool = False

    @property
    def relative(self) -> bool:
        return self.distance is not None or self.within is not None


@dataclass(slots=True)
class Pcre:
    """`pcre:"/re/flags"`. `flags` are the letters after the last slash minus the buffer
    letters (`UIPHDMCSYVBQ`), which the parser turns into the buffer; `relative` is `R`."""

    pattern: str
    flags: str = ""
    negated: bool = False
    relative: bool = False


@dataclass(slots=True)
class ByteTest:
    nbytes: int
    op: str  # <, >, =, !, <=, >=, &, ^ (negation in `negated`)
    value: Num
    offset: Num
    relative: bool = False
    negated: bool = False
    big_endian: bool = True
    base: int | None = None  # 10/16/8 for `string,dec|hex|oct`, None for binary
    dce: bool = False
    bitmask: int | None = None


@dataclass(slots=True)
class ByteJump:
    nbytes: int
    offset: Num
    relative: bool = False
    multiplier: int = 1
    big_endian: bool = True
    base: int | None = None
    align: bool = False
    from_beginning: bool = False
    from_end: bool = False
    post_offset: int = 0
    dce: bool = False
    bitmask: int | None = None


@dataclass(slots=True)
class ByteExtract:
    nbytes: int
    offset: int
    name: str
    relative: bool = False
    multiplier: int = 1
    big_endian: bool = True
    base: int | None = None
    align: int = 0
    dce: bool = False
    bitmask: int | None = None


@dataclass(slots=True)
class IsDataAt:
    offset: Num
    relative: bool = False
    negated: bool = False
    rawbytes: bool = False


@dataclass(slots=True)
class BufferSize:
    """`bsize` (length of the sticky buffer it follows) or `urilen` (the URI's)."""

    cmp: IntCmp


Match = Content | Pcre | ByteTest | ByteJump | ByteExtract | IsDataAt | BufferSize


@dataclass(frozen=True, slots=True)
class FlowOpts:
    """`flow:` options (None: not constrained)."""

    to_server: bool | None = None  # True: to_server/from_client; False: to_client/from_server
    established: bool | None = None  # True: established; False: not_established
    stateless: bool = False
    only_stream: bool = False
    no_stream: bool = False
    only_frag: bool = False
    no_frag: bool = False


@dataclass(frozen=True, slots=True)
class Flowbit:
    """`flowbits:cmd[,name]`; `names` holds several for `a|b` (any) or `a&b` (all)."""

    cmd: Literal["set", "unset", "toggle", "isset", "isnotset", "noalert"]
    names: tuple[str, ...] = ()
    any_of: bool = True  # `|` (True) or `&` (False) between names


# Suricata's default `expire` for xbits (DETECT_XBITS_EXPIRE_DEFAULT), in seconds
XBITS_EXPIRE_DEFAULT = 30


@dataclass(frozen=True, slots=True)
class Xbit:
    """`xbits:cmd,name,track ip_src|ip_dst|ip_pair[,expire N]`: a bit kept per host (the
    packet's source or destination address) or per unordered address pair, not per flow.
    `expire` (seconds of packet time) matters to the actions that set a bit."""

    cmd: Literal["set", "unset", "toggle", "isset", "isnotset"]
    name: str
    track: Literal["ip_src", "ip_dst", "ip_pair"]
    expire: int = XBITS_EXPIRE_DEFAULT


@dataclass(frozen=True, slots=True)
class Threshold:
    """`threshold:` or `detection_filter:` (kind "detection_filter")."""

    kind: Literal["limit", "threshold", "both", "backoff", "detection_filter"]
    track: Literal["by_src", "by_dst", "by_rule", "by_both", "by_flow"]
    count: int
    seconds: int = 0
    multiplier: int = 0  # backoff


@dataclass(frozen=True, slots=True)
class TcpFlags:
    """`flags:[modifier]flags[,mask]`: `required` bits set, mask ignores bits; modifier
    '' (exactly these, ignoring masked), '+' (at least these), '*' (any of these), '!' (not)."""

    flags: int
    modifier: str = ""
    mask: int = 0  # bits to ignore


@dataclass(slots=True)
class Rule:
    """One parsed rule (see the module docstring)."""

    action: str  # alert, pass, drop, reject, rejectsrc, rejectdst, rejectboth
    proto: str  # tcp, udp, icmp, ip, pkthdr, tcp-pkt, tcp-stream, http, dns, tls...
    src: AddrSet
    sport: PortSet
    dst: AddrSet
    dport: PortSet
    bidirectional: bool  # `<>`
    sid: int
    rev: int = 0
    gid: int = 1
    msg: str = ""
    classtype: str | None = None
    category: str = ""  # classtype's description (EVE alert.category)
    priority: int = DEFAULT_PRIORITY  # EVE alert.severity
    references: list[str] = field(default_factory=list)
    metadata: dict[str, list[str]] = field(default_factory=dict)
    target: Literal["src_ip", "dest_ip"] | None = None
    # payload keywords, in rule order, per buffer ("pkt" or a sticky buffer's dotted name)
    buffers: dict[str, list[Match]] = field(default_factory=dict)
    flow: FlowOpts = field(default_factory=FlowOpts)
    flowbits: list[Flowbit] = field(default_factory=list)
    xbits: list[Xbit] = field(default_factory=list)
    threshold: Threshold | None = None
    detection_filter: Threshold | None = None
    # packet header checks
    dsize: IntCmp | None = None
    ttl: IntCmp | None = None
    itype: IntCmp | None = None
    icode: IntCmp | None = None
    ip_proto: IntCmp | None = None
    flags: TcpFlags | None = None
    app_proto: str | None = None  # app-layer-protocol keyword, or the rule's app protocol
    app_proto_negated: bool = False
    noalert: bool = False
    # other keywords the engine understands, by name (stream_size, ...): parsed values
    extra: dict[str, Any] = field(default_factory=dict)
    file: str = ""
    line: int = 0  # line number where the rule starts (1-based)
    text: str = ""  # the rule as written (continuations joined)

    @property
    def key(self) -> tuple[int, int]:
        return (self.gid, self.sid)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A rule that did not load: where, which keyword (or "" for syntax), and why."""

    file: str
    line: int
    reason: str
    keyword: str = ""
    sid: int | None = None
    text: str = ""


@dataclass(slots=True)
class RuleSet:
    """Rules loaded from files, and the ones that were not, with reasons."""

    rules: list[Rule] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # per file: (active rules seen, loaded); commented-out rules are not counted
    per_file: dict[str, tuple[int, int]] = field(default_factory=dict)
