"""`classification.config`: classtype short names, their description and priority.

Each line `config classification: shortname,short description,priority` defines one class;
`#` comments and blank lines are skipped, and so is a malformed line (as Suricata does, which
logs it). Names are case-insensitive. Without a file, Suricata's default list is used (a copy
in `tocsin/data/classification.config`, provenance in its header).

A rule's `classtype` sets `Rule.classtype`, `Rule.category` (the description, EVE's
`alert.category`) and `Rule.priority` (EVE's `alert.severity`) unless `priority:` is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tocsin.detect.rules.errors import RuleFileError

_LINE = re.compile(
    r"\s*config\s*classification\s*:\s*([a-zA-Z0-9_-]+)\s*,\s*(.+?)\s*,\s*(\d+)\s*", re.I
)


@dataclass(frozen=True, slots=True)
class ClassType:
    name: str
    description: str
    priority: int


Classifications = dict[str, ClassType]


def parse_classification(text: str) -> Classifications:
    """Classes by lower-cased name; later definitions replace earlier ones."""
    out: Classifications = {}
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _LINE.fullmatch(s)
        if m is None:
            continue
        name = m.group(1).lower()
        out[name] = ClassType(name, m.group(2), int(m.group(3)))
    return out


def default_classification() -> Classifications:
    """Suricata's default classes."""
    text = resources.files("tocsin").joinpath("data/classification.config").read_text("utf-8")
    return parse_classification(text)


def load_classification(path: Path | str | None = None) -> Classifications:
    """The classes in `path`, or Suricata's defaults when `path` is None.
    `RuleFileError` if the file cannot be read."""
    if path is None:
        return default_classification()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise RuleFileError(str(path), f"cannot read classification file: {e.strerror}") from None
    return parse_classification(text)
