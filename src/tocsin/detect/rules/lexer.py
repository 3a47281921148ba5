"""Reading rule files into rules, and a rule into its header and options, as Suricata does.

File level (`scan_rules`, after Suricata's `DetectLoadSigFile`):

- a line whose first character is `#`, a space, a tab or a line end is not a rule. A comment
  that holds a rule (`# alert tcp ... (...)`) is counted as *disabled*; an indented rule is
  ignored by Suricata, so it is reported (`RuleScan.indented`) rather than silently dropped;
- a line ending in `\\` (trailing white space allowed) continues on the next line: the
  backslash is removed and the next line appended as it is. The rule's line number is its
  first line.

Rule level (`split_rule`, after `SigParseBasics` / `SigParseOptions`):

- the header is seven white-space separated fields (`action proto src sport dir dst dport`);
  a field may be a bracketed list holding spaces;
- the options follow in parentheses (mandatory here), each ending with `;`. A `;` preceded
  by a backslash does not end an option. As in Suricata, quotes do **not** protect a `;`:
  `msg:"a;b";` ends at the first `;` and fails later as a badly quoted value; write `\\;`;
- an option is `name[:value]`; the name is case-insensitive, blanks around it and at the end
  of the value are dropped.

Nothing here knows keywords; errors are `RuleError` with keyword "" (syntax).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tocsin.detect.rules.errors import RuleError

_DISABLED = re.compile(
    r"#+\s*(?:alert|pass|drop|reject|rejectsrc|rejectdst|rejectboth)\s+\S+\s+\S+\s+\S+\s+.*\(",
    re.IGNORECASE,
)
_INDENTED = re.compile(
    r"\s+(?:alert|pass|drop|reject|rejectsrc|rejectdst|rejectboth)\s+\S+\s+.*\(", re.IGNORECASE
)
_OPT_END = re.compile(r"(?<!\\);")


@dataclass(frozen=True, slots=True)
class RuleLine:
    """A rule's text (continuations joined) and the 1-based line it starts on."""

    line: int
    text: str


@dataclass(slots=True)
class RuleScan:
    """What a rule file holds: active rules, how many commented-out rules, and rules that
    Suricata would silently ignore because the line starts with white space."""

    rules: list[RuleLine] = field(default_factory=list)
    disabled: int = 0
    indented: list[RuleLine] = field(default_factory=list)


def scan_rules(text: str) -> RuleScan:
    """Split a rule file's text into rules (see the module docstring)."""
    scan = RuleScan()
    pending: list[str] = []
    start = 0
    for lineno, raw in enumerate(text.split("\n"), 1):
        if pending:
            body = raw
        else:
            if not raw or raw[0] in "#\r":
                if raw.startswith("#") and _DISABLED.match(raw):
                    scan.disabled += 1
                continue
            if raw[0] in " \t":
                if _INDENTED.match(raw):
                    scan.indented.append(RuleLine(lineno, raw.strip()))
                continue
            body = raw
            start = lineno
        stripped = body.rstrip()
        if stripped.endswith("\\"):
            pending.append(stripped[:-1])
            continue
        pending.append(body.rstrip("\r\n"))
        scan.rules.append(RuleLine(start, "".join(pending)))
        pending = []
    if pending:  # a continuation at the end of the file: Suricata drops it, we report it
        scan.rules.append(RuleLine(start, "".join(pending)))
    return scan


def _header_fields(header: str) -> list[str]:
    """White-space separated fields; a `[...]` list may hold spaces."""
    if "[" not in header:
        return header.split()
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in header:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch in " \t\r\n\v\f" and depth <= 0:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


def split_rule(text: str) -> tuple[list[str], str]:
    """The seven header fields of a rule, and what follows its opening parenthesis (see
    `split_body`)."""
    paren = text.find("(")
    if paren < 0:
        raise RuleError("no rule options: they must follow the header in parentheses")
    fields = _header_fields(text[:paren])
    if len(fields) != 7:
        raise RuleError(
            f"invalid rule header {text[:paren].strip()!r}: expected "
            "'action protocol source source-port direction destination destination-port'"
        )
    return fields, text[paren + 1 :]


def split_body(body: str) -> list[tuple[str, str | None]]:
    """The options `(name, value or None)` of a rule's body (after its `(`), which must end
    with `)`."""
    body = body.rstrip()
    if not body.endswith(")"):
        raise RuleError("rule options must end with ')'")
    return split_options(body.rstrip(" \t\r\n)").lstrip(" \t("))


def split_options(body: str) -> list[tuple[str, str | None]]:
    """`name[:value];` options in order. Names are lower-cased; a value keeps its leading
    blanks (the keyword decides) and loses its trailing ones."""
    if not body.strip():
        return []
    pieces = _OPT_END.split(body)
    if pieces[-1].strip(" \t"):
        raise RuleError('no terminating ";" found (last option: ' + repr(pieces[-1].strip()) + ")")
    out: list[tuple[str, str | None]] = []
    for piece in pieces[:-1]:
        name, sep, value = piece.partition(":")
        out.append((name.strip(" \t").lower(), value.rstrip(" \t") if sep else None))
    return out
