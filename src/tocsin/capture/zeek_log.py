"""Zeek log files, read: which mapped log a file holds (`zeek_log_name`) and its records,
line by line (`ZeekLineReader`: Zeek TSV with its header lines, or Zeek JSON). Pure: bytes in,
dicts out, no I/O; never raises on a line (bad lines are counted). Mapping the records to EVE
is `capture.zeek`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import msgspec

MAPPED_LOGS = frozenset({"conn", "dns", "http", "ssl", "files", "notice", "weird"})

# -- file names ------------------------------------------------------------------------------


def zeek_log_name(path: str | PurePath) -> str | None:
    """The mapped log a file holds, from its name: ``conn.log``, ``conn.json``, ``dns.log.1``,
    ``conn.2026-11-30-10-00-00.log``, ``json_streaming_http.log`` -> "conn"/"dns"/"http"; None
    for other logs and for compressed files (``.gz``...), which cannot be followed."""
    parts = PurePath(path).name.split(".")
    name = parts[0].removeprefix("json_streaming_")
    rest = parts[1:]
    if name not in MAPPED_LOGS or not ({"log", "json"} & set(rest)):
        return None
    return None if rest[-1] in {"gz", "bz2", "xz", "zst"} else name


# -- reading lines ---------------------------------------------------------------------------

_ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2})")


def _unescape(raw: bytes) -> str:
    def one(m: re.Match[bytes]) -> bytes:
        e = m.group(1)
        return b"\\" if e == b"\\" else bytes([int(e[1:], 16)])

    if b"\\" in raw:
        raw = _ESCAPE.sub(one, raw)
    return raw.decode("utf-8", "backslashreplace")  # invalid UTF-8 as \xNN, as Zeek's JSON does


def _tsv_bool(raw: bytes) -> bool:
    if raw not in (b"T", b"F"):
        raise ValueError(raw)
    return raw == b"T"


# value parsers by Zeek type (ValueError when the text is not of the type); others are strings
_PARSE: dict[str, Callable[[bytes], Any]] = {
    **dict.fromkeys(("time", "interval", "double"), float),
    **dict.fromkeys(("count", "int", "port"), int),
    "bool": _tsv_bool,
}
_HEADER_ATTR = {b"set_separator": "set_sep", b"empty_field": "empty", b"unset_field": "unset"}


class ZeekLineReader:
    """Records from the lines of one Zeek log file (TSV with headers, or JSON), fed in order."""

    def __init__(self) -> None:
        self.sep = b"\t"
        self.set_sep = b","
        self.empty = b"(empty)"
        self.unset = b"-"
        self.path: str | None = None  # the log name from ``#path`` (TSV only)
        self.fields: list[str] = []
        self.types: list[str] = []
        self.records = 0
        self.errors = 0
        self.bad_values = 0

    def feed(self, line: bytes) -> dict[str, Any] | None:
        """The record on `line` (without its newline), or None (header, blank or bad line)."""
        line = line.rstrip(b"\r\n")
        if line.startswith(b"#"):
            self._header(line)
            return None
        if not line.strip():
            return None
        rec = self._tsv(line) if self.fields else self._json(line)
        if rec is None:
            self.errors += 1
        else:
            self.records += 1
        return rec

    def _header(self, line: bytes) -> None:
        """Keep what a header line sets; others (#open, #close, btest's marker) are ignored."""
        if line.startswith(b"#separator "):
            sep = _unescape(line[len(b"#separator ") :].strip()).encode("utf-8", "replace")
            self.sep = sep or b"\t"
            return
        key, _, value = line[1:].partition(self.sep)
        if key in _HEADER_ATTR:
            setattr(self, _HEADER_ATTR[key], value)
        elif key == b"path":
            self.path = _unescape(value)
        elif key in (b"fields", b"types"):
            setattr(self, key.decode(), [_unescape(p) for p in value.split(self.sep)])

    def _tsv(self, line: bytes) -> dict[str, Any] | None:
        values = line.split(self.sep)
        if len(values) != len(self.fields):
            return None
        types = self.types if len(self.types) == len(self.fields) else ["string"] * len(values)
        rec: dict[str, Any] = {}
        for name, typ, raw in zip(self.fields, types, values, strict=True):
            if raw == self.unset:
                continue
            container = typ.endswith("]") and "[" in typ
            if raw == self.empty:
                rec[name] = [] if container else ""
                continue
            try:
                if container:
                    parse = _PARSE.get(typ[typ.index("[") + 1 : -1], _unescape)
                    rec[name] = [parse(e) for e in raw.split(self.set_sep or b",")]
                else:
                    rec[name] = _PARSE.get(typ, _unescape)(raw)
            except ValueError:
                self.bad_values += 1
        return rec

    def _json(self, line: bytes) -> dict[str, Any] | None:
        try:
            rec = msgspec.json.decode(line)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return None
        return rec if isinstance(rec, dict) else None
