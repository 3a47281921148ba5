"""Parsers for the descriptive keywords: msg, sid, rev, gid, priority, classtype, reference,
metadata, target (after Suricata's detect-msg.c, detect-sid.c, detect-reference.c,
detect-metadata.c, detect-classtype.c, detect-target.c). Each returns a plain value or raises
`RuleError` naming the keyword.
"""

from __future__ import annotations

import re
from typing import Literal

from tocsin.detect.rules.errors import RuleError

_CLASSTYPE = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*")
_REFERENCE = re.compile(r'\s*([A-Za-z0-9]+)\s*,"?\s*"?\s*([a-zA-Z0-9\-_./?=]+)')
_ESCAPED = re.compile(r"\\(.)")


def parse_msg(value: str) -> str:
    """The message with its backslash escapes removed (`\\"` is `"`)."""
    return _ESCAPED.sub(r"\1", value) if "\\" in value else value


def parse_u32(value: str, keyword: str, least: int = 0) -> int:
    """A decimal unsigned 32-bit number and nothing else (sid, rev, gid)."""
    t = value.strip()
    if not t.isdigit() or not least <= int(t) < 1 << 32:
        raise RuleError(f"invalid {keyword} value {t!r}", keyword)
    return int(t)


def parse_priority(value: str) -> int:
    t = value.strip()
    if not t.isdigit() or not 1 <= int(t) < 1 << 31:
        raise RuleError(f"invalid priority {t!r}", "priority")
    return int(t)


def parse_classtype_name(value: str) -> str:
    m = _CLASSTYPE.fullmatch(value)
    if m is None:
        raise RuleError(f"invalid classtype {value.strip()!r}", "classtype")
    return m.group(1).lower()


def parse_reference(value: str) -> str:
    """`type,value`, kept as written (trimmed)."""
    if _REFERENCE.match(value) is None:
        raise RuleError(f"invalid reference {value.strip()!r} (expected type,value)", "reference")
    kind, _, rest = value.partition(",")
    return f"{kind.strip()},{rest.strip()}"


def parse_metadata(value: str, into: dict[str, list[str]]) -> None:
    """`key value, key value...` added to `into`; an entry without a value is ignored."""
    for entry in value.split(","):
        key, _, val = entry.strip().partition(" ")
        val = val.strip()
        if key and val:
            into.setdefault(key, []).append(val)


def parse_target(value: str) -> Literal["src_ip", "dest_ip"]:
    t = value.strip()
    if t == "src_ip":
        return "src_ip"
    if t == "dest_ip":
        return "dest_ip"
    raise RuleError(f"invalid target {t!r} (src_ip or dest_ip)", "target")
