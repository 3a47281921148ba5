"""Read Zeek's TSV logs (btest baselines) as rows of text values.

Format (see the corpus's `zeek/INDEX.md`): an optional btest marker line, `#` header lines
(`#separator`, `#set_separator`, `#empty_field`, `#unset_field`, `#fields`...), then one row
per line, fields separated by a tab. Logs reduced by `zeek-cut -m` have no `#` headers: their
first line holds the field names. A value is `-` when unset (read as None), `(empty)` when an
empty string / set; inside values bytes are escaped `\\xNN` and a backslash is doubled
(`unescape` turns them back into text, or None when the bytes are not UTF-8 and so cannot be
compared with EVE's text).
Gzip-compressed logs (`.gz`) are read transparently.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

UNSET = "-"
EMPTY = "(empty)"
_ESCAPE = re.compile(rb"\\(?:x([0-9a-fA-F]{2})|\\)")


@dataclass
class ZeekLog:
    fields: list[str]
    rows: list[dict[str, str | None]]  # None = unset
    set_separator: str = ","

    def has(self, *names: str) -> bool:
        return all(n in self.fields for n in names)


def read_log(path: Path) -> ZeekLog:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    lines = raw.decode("utf-8", errors="surrogateescape").splitlines()
    if lines and lines[0].startswith("### BTest"):
        lines = lines[1:]
    fields: list[str] = []
    set_sep = ","
    rows: list[dict[str, str | None]] = []
    for line in lines:
        if line.startswith("#"):
            key, _, value = line.partition("\t")
            if key == "#fields":
                fields = value.split("\t")
            elif key == "#set_separator":
                set_sep = value
            continue
        if not fields:  # zeek-cut -m: the first line names the fields
            fields = line.split("\t")
            continue
        cols = line.split("\t")
        if len(cols) != len(fields):
            continue
        rows.append({f: (None if c == UNSET else c) for f, c in zip(fields, cols, strict=True)})
    return ZeekLog(fields, rows, set_sep)


def unescape(value: str | None) -> str | None:
    """A Zeek string as text: `\\xNN` back to bytes, "(empty)" to ""; None if not UTF-8."""
    if value is None:
        return None
    if value == EMPTY:
        return ""
    data = _ESCAPE.sub(
        lambda m: bytes([int(m.group(1), 16)]) if m.group(1) else b"\\",
        value.encode("utf-8", errors="surrogateescape"),
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def elements(value: str | None, sep: str = ",") -> list[str | None]:
    """The elements of a set or vector value (each unescaped; a `\\x2c` is a comma inside)."""
    if value is None or value == EMPTY:
        return []
    return [unescape(v) for v in value.split(sep)]
