"""CSV indicator sources: a header naming the columns, or one of abuse.ch's CSV exports.

The header is the first non-comment line, or, as abuse.ch writes it, the last comment line
before the data (`# ja3_md5,Firstseen,Lastseen,Listingreason`). Columns, case-insensitive:

- the value: `value`, `indicator`, `ioc`, `observable`, or a column named after a kind
  (`ja3_md5`, `sha1`, `url`, `domain`, `ip`...: that column's kind is implied);
- `type` (optional; otherwise implied by the value column, or found by `classify`);
- the threat: `threat`, `malware`, `description`, `listingreason`, `family`, `tags`;
- `confidence` (0-100), `tlp`, expiry: `expires`, `expiry`, `valid_until`.

abuse.ch files (SSLBL JA3 `ja3_md5,...,Listingreason`, SSLBL certificates
`Listingdate,SHA1,Listingreason`, URLhaus `id,dateadded,url,url_status,...,threat,...`) are
read with that rule: their value column names the kind; source "abuse.ch", confidence 75.
A row without a usable value is skipped and counted with its line number.
"""

from __future__ import annotations

import csv
from pathlib import Path

from tocsin.detect.intel._load_text import read_text
from tocsin.detect.intel._model import (
    Indicator,
    IntelError,
    LoadStats,
    classify,
    kind_of,
    norm_tlp,
    normalise,
    parse_time_us,
)

_VALUE = ("value", "indicator", "ioc", "observable")
_THREAT = ("threat", "malware", "malware_family", "family", "description", "listingreason")
_EXPIRES = ("expires", "expiry", "valid_until", "expiration")


def _header(lines: list[str]) -> tuple[int, list[str]]:
    """(index of the first data line, header cells)."""
    last_comment = ""
    for i, line in enumerate(lines):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            last_comment = s.lstrip("#").strip()
            continue
        if "," in last_comment:
            return i, next(csv.reader([last_comment]))
        return i + 1, next(csv.reader([s]))
    return len(lines), []


def load_csv(path: Path, stats: LoadStats) -> list[Indicator]:
    lines = read_text(path).splitlines()
    start, header = _header(lines)
    cols = [h.strip().lower() for h in header]
    if not cols:
        return []
    value_col = next((i for i, c in enumerate(cols) if c in _VALUE), None)
    implied: str | None = None
    if value_col is None:
        value_col = next((i for i, c in enumerate(cols) if kind_of(c)), None)
        if value_col is None:
            raise IntelError(
                f"{path}:{start}: CSV header has no value column "
                f"(one of {', '.join(_VALUE)}, or a type name such as ip, domain, url, ja3_md5)"
            )
        implied = kind_of(cols[value_col])

    def col(names: tuple[str, ...]) -> int | None:
        return next((i for i, c in enumerate(cols) if c in names), None)

    type_col = col(("type", "ioc_type", "indicator_type", "kind"))
    threat_col, conf_col = col(_THREAT), col(("confidence", "confidence_level"))
    tlp_col, exp_col, tags_col = col(("tlp",)), col(_EXPIRES), col(("tags",))
    abuse = any(c in cols for c in ("listingreason", "urlhaus_link", "ja3_md5"))
    source = "abuse.ch" if abuse else path.name
    base_conf = 75 if abuse else 50
    out: list[Indicator] = []
    for n, row in enumerate(csv.reader(lines[start:]), start + 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        where = f"{path}:{n}"
        if value_col >= len(row):
            stats.problem(where, f"{len(row)} columns, the value is column {value_col + 1}")
            continue
        raw = row[value_col]
        kind = implied
        if type_col is not None and type_col < len(row) and row[type_col].strip():
            kind = kind_of(row[type_col])
            if kind is None:
                stats.problem(where, f"unknown indicator type {row[type_col].strip()!r}")
                continue
        got = normalise(kind, raw) if kind else classify(raw)
        if got is None:
            stats.problem(where, f"not a valid {kind or 'indicator'}: {raw.strip()[:60]!r}")
            continue

        def cell(i: int | None, row: list[str] = row) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        conf = base_conf
        if cell(conf_col):
            try:
                conf = max(0, min(100, int(float(cell(conf_col)))))
            except ValueError:
                stats.problem(where, f"confidence {cell(conf_col)!r} is not a number")
                continue
        expires = None
        if cell(exp_col):
            expires = parse_time_us(cell(exp_col))
            if expires is None:
                stats.problem(where, f"expiry {cell(exp_col)!r} is not a date")
                continue
        threat = cell(threat_col) or cell(tags_col) or path.stem
        out.append(
            Indicator(
                value=got[1],
                kind=got[0],
                source=source,
                threat=threat,
                confidence=conf,
                category="malware" if abuse else "",
                tlp=norm_tlp(cell(tlp_col)) or "clear",
                expires_us=expires,
                port=got[2],
                reference=f"{path.name}:{n}",
            )
        )
    return out
