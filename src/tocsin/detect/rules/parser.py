"""One rule's text to a `Rule`: the header, then the options in order (`builder`).

Header (Suricata's `SigParseBasics`): the action (alert, pass, drop, reject, rejectsrc,
rejectdst, rejectboth; `config` and others are reported as not supported), the protocol
(transport words, or an app-layer word that sets `Rule.app_proto`, `http1` read as `http`;
a protocol Suricata knows without a Tocsin parser is "protocol not supported"), the
direction (`->` or `<>`; Suricata 8's `=>` is not supported), then addresses and ports
(`address.HeaderResolver`).

`RuleParser` keeps the variables' and header fields' caches for a whole rule set;
`parse_rule` is the one-off form. Errors are `RuleError(reason, keyword)`.
"""

from __future__ import annotations

from tocsin.detect.model import Rule
from tocsin.detect.rules.address import HeaderResolver, RuleVars
from tocsin.detect.rules.builder import RuleBuilder
from tocsin.detect.rules.classification import Classifications, default_classification
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError
from tocsin.detect.rules.keywords import (
    ACTIONS,
    APP_PROTOS,
    OTHER_ACTIONS,
    OTHER_PROTOS,
    TRANSPORT_PROTOS,
)
from tocsin.detect.rules.lexer import split_body, split_rule
from tocsin.detect.rules.options import apply_option


class RuleParser:
    """Parses rules with one set of variables and classes (see the module docstring)."""

    def __init__(self, vars: RuleVars | None = None, classes: Classifications | None = None):
        self.resolver = HeaderResolver(vars)
        self.classes = classes if classes is not None else default_classification()

    def parse(self, text: str, file: str = "", line: int = 0) -> Rule:
        fields, body = split_rule(text)
        action, proto, src, sport, direction, dst, dport = fields
        action = action.lower()
        if action not in ACTIONS:
            if action in OTHER_ACTIONS or ":" in action:
                raise RuleError(f"action not supported: {action}", "action")
            raise RuleError(f"invalid action {action!r}", "action")
        proto = proto.lower()
        alproto = APP_PROTOS.get(proto)
        if alproto is not None:
            proto = alproto
        elif proto not in TRANSPORT_PROTOS:
            if proto in OTHER_PROTOS or proto.split(":")[0] in APP_PROTOS:
                raise RuleError(f"protocol not supported: {proto}", "protocol")
            raise RuleError(f"protocol {proto!r} cannot be used in a rule", "protocol")
        if direction == "=>":
            raise RuleError(f"transactional rules ('=>'): {NOT_SUPPORTED}", "direction")
        if direction not in ("->", "<>"):
            raise RuleError(f"invalid direction {direction!r} ('->' or '<>')", "direction")
        r = self.resolver
        src_set, dst_set = r.address(src), r.address(dst)
        sport_set, dport_set = r.port(sport), r.port(dport)
        options = split_body(body)
        b = RuleBuilder(self.classes, alproto, proto == "tcp-pkt", proto == "tcp-stream")
        for name, value in options:
            apply_option(b, name, value)
        rule = b.build(action, proto, src_set, sport_set, dst_set, dport_set, direction == "<>")
        rule.file = file
        rule.line = line
        rule.text = text
        return rule


def parse_rule(
    text: str,
    vars: RuleVars | None = None,
    classes: Classifications | None = None,
    file: str = "",
    line: int = 0,
) -> Rule:
    """One rule (`RuleError` if it cannot be loaded). For many rules use `RuleParser`."""
    return RuleParser(vars, classes).parse(text, file, line)
