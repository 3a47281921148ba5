"""Rules made ready for matching: what each rule inspects, and in which order rules run.

`prepare(rules)` sorts the rules as Suricata does (action, then flowbits and xbits: rules
that only set bits before rules that set and read, before rules that only read, before the
rest; then priority; then load order), and classifies each:

- **tx rules** inspect an application-layer buffer (`http.uri`, `dns.query`, `tls.sni`...):
  they run on transactions and protocol events, once per transaction;
- **IP-only rules** have addresses and nothing else to look at (no payload, no port, no flow
  or header keyword, no flowbits read): like Suricata, they are evaluated on the first packet
  of each direction of a flow (and on every packet that has no flow). xbits, set or read, are
  IP-only compatible, as in Suricata (`SIGMATCH_IPONLY_COMPAT`);
- **packet rules** are the rest: header keywords and the packet payload.

Each keeps its payload keywords compiled per buffer (`detect.match`) lazily, on the first
candidate: rule sets of tens of thousands of rules load fast and pay only for what traffic
reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.applayer.protos import ALPROTO_CODE
from tocsin.detect.buffers.registry import spec
from tocsin.detect.match.inspect import CompiledBuffer, compile_buffer
from tocsin.detect.model import PAYLOAD, AddrSet, Match, PortSet, Rule
from tocsin.detect.transforms import split_key

# buffer name prefix -> the app-layer event that carries it
_BUFFER_PROTO = (
    ("http.", "http"),
    ("file.data", "http"),
    ("dns.", "dns"),
    ("tls.", "tls"),
    ("ja3.", "tls"),
    ("ja3s.", "tls"),
    ("ja4.", "tls"),
    ("ssh.", "ssh"),
    ("smb.", "smb"),
)

# rule protocol -> IP protocol numbers it covers (None: every protocol)
_IP_PROTOS: dict[str, frozenset[int] | None] = {
    "ip": None,
    "pkthdr": None,
    "tcp": frozenset({6}),
    "tcp-pkt": frozenset({6}),
    "tcp-stream": frozenset({6}),
    "udp": frozenset({17}),
    "icmp": frozenset({1, 58}),
    "icmpv4": frozenset({1}),
    "icmpv6": frozenset({58}),
}

_ACTION_RANK = {"pass": 0, "drop": 1, "reject": 2, "rejectsrc": 2, "rejectdst": 2, "rejectboth": 2}


def buffer_proto(name: str) -> str | None:
    """The app-layer protocol word a buffer (or a transformed buffer's key, `detect.transforms`)
    belongs to (None for the packet payload)."""
    name = split_key(name)[0]
    for prefix, proto in _BUFFER_PROTO:
        if name.startswith(prefix):
            return proto
    return None


def _flowbits_rank(rule: Rule) -> int:
    """Flowbits and xbits alike: setters, then setters that read, then readers, then the rest."""
    cmds = [fb.cmd for fb in rule.flowbits] + [xb.cmd for xb in rule.xbits]
    sets = any(c in ("set", "unset", "toggle") for c in cmds)
    reads = any(c in ("isset", "isnotset") for c in cmds)
    if sets and not reads:
        return 0
    if sets and reads:
        return 1
    if reads:
        return 2
    return 3


@dataclass(slots=True)
class CompiledRule:
    """A rule with what the engine needs at hand (see the module docstring)."""

    rule: Rule
    order: int  # position in evaluation order
    kind: str  # "tx", "iponly", "packet"
    ip_protos: frozenset[int] | None
    app_code: int | None  # required flow app_proto code (ALPROTO_*), None: any
    app_word: str | None  # tx rules: the protocol of their buffers
    src: AddrSet
    dst: AddrSet
    sport: PortSet
    dport: PortSet
    any_addr: bool
    any_port: bool
    # tx rules: the direction each app buffer is inspected in, and the rule's own direction
    # (to_client when it reads any response-side buffer)
    tx_dirs: dict[str, int | None] = field(default_factory=dict)  # None: either way
    tx_dir: int = 0
    _compiled: dict[str, CompiledBuffer] | None = field(default=None)

    def buffers(self) -> dict[str, CompiledBuffer]:
        """The rule's payload keywords per buffer, compiled on first use."""
        if self._compiled is None:
            self._compiled = {
                name: compile_buffer(matches, buffer=name)
                for name, matches in self.rule.buffers.items()
            }
        return self._compiled

    def match_addrs(self, src: int, sport: int, dst: int, dport: int, ports: bool) -> bool:
        """Header addresses and ports, in the rule's direction(s)."""
        if self._one_way(src, sport, dst, dport, ports):
            return True
        return self.rule.bidirectional and self._one_way(dst, dport, src, sport, ports)

    def _one_way(self, src: int, sport: int, dst: int, dport: int, ports: bool) -> bool:
        if not self.any_addr and not (self.src.contains(src) and self.dst.contains(dst)):
            return False
        if ports and not self.any_port:
            return self.sport.contains(sport) and self.dport.contains(dport)
        return True


def _is_iponly(rule: Rule) -> bool:
    return (
        not rule.buffers
        and rule.sport.is_any
        and rule.dport.is_any
        and rule.flow == type(rule.flow)()
        and not any(fb.cmd in ("isset", "isnotset") for fb in rule.flowbits)
        and rule.dsize is None
        and rule.ttl is None
        and rule.itype is None
        and rule.icode is None
        and rule.ip_proto is None
        and rule.flags is None
        and rule.app_proto is None
        and not rule.extra
        and rule.proto in ("ip", "tcp", "udp", "icmp", "icmpv4", "icmpv6")
    )


def classify(rule: Rule, order: int) -> CompiledRule:
    app_word: str | None = None
    for name in rule.buffers:
        if split_key(name)[0] == PAYLOAD:
            continue
        word = buffer_proto(name)
        if word is not None:
            app_word = word
            break
    if app_word is not None:
        kind = "tx"
    elif _is_iponly(rule):
        kind = "iponly"
    else:
        kind = "packet"
    tx_dirs: dict[str, int | None] = {}
    if app_word is not None:
        fo = rule.flow.to_server
        default = None if fo is None else (0 if fo else 1)
        for name in rule.buffers:
            base = split_key(name)[0]
            if base == PAYLOAD:
                continue
            try:
                own = spec(base).direction
            except KeyError:
                own = None
            tx_dirs[name] = default if own is None else own
    app_code: int | None = None
    if rule.app_proto is not None and not rule.app_proto_negated:
        app_code = ALPROTO_CODE.get(rule.app_proto)
    return CompiledRule(
        rule=rule,
        order=order,
        kind=kind,
        ip_protos=_IP_PROTOS.get(rule.proto),
        app_code=app_code,
        app_word=app_word,
        src=rule.src,
        dst=rule.dst,
        sport=rule.sport,
        dport=rule.dport,
        any_addr=rule.src.is_any and rule.dst.is_any,
        any_port=rule.sport.is_any and rule.dport.is_any,
        tx_dirs=tx_dirs,
        tx_dir=max((d for d in tx_dirs.values() if d is not None), default=0),
    )


def prepare(rules: list[Rule]) -> list[CompiledRule]:
    """Rules in evaluation order, classified (see the module docstring)."""
    ranked = sorted(
        enumerate(rules),
        key=lambda ir: (
            _ACTION_RANK.get(ir[1].action, 3),
            _flowbits_rank(ir[1]),
            ir[1].priority,
            ir[0],
        ),
    )
    return [classify(rule, k) for k, (_, rule) in enumerate(ranked)]


def payload_matches(rule: Rule) -> list[Match]:
    return rule.buffers.get(PAYLOAD, [])
