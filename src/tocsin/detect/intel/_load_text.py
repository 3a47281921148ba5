"""Line-oriented indicator sources: plain lists, maltrail trail files, urlhaus-filter lists.

- **Plain list**: one value per line, its kind found by `classify` (IP, IP:port, CIDR,
  domain, URL, path, JA3/hash by length, JA4); `#` starts a comment (whole line or after the
  value). Source and threat are the file's name.
- **Maltrail trail file** (a file whose header names the Maltrail developers, or that lies in
  a `malware/`, `malicious/` or `suspicious/` folder, or is `mass_scanner*.txt`): the same
  syntax; the file's name is the threat (`emotet`), the folder its category (malware and
  malicious: confidence 80; suspicious: 40; mass scanners: 30, category `scanner`).
  `# Reference:` / `# Aliases:` lines are comments.
- **urlhaus-filter** lists (`!` comments, adblock rules `||host/path^$all`): confidence 75,
  threat "urlhaus".

A line whose value cannot be typed is skipped and counted with its file and line; the file
goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from tocsin.detect.intel._model import Indicator, IntelError, LoadStats, classify

_COMMENT = re.compile(r"\s#")
_MALTRAIL_DIRS = {"malware": 80, "malicious": 80, "suspicious": 40}


def read_text(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise IntelError(f"{path}: cannot read: {e.strerror or e}") from e


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, value) of each line that is not blank or a comment; inline `#` cut."""
    for n, raw in enumerate(read_text(path).splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!;":
            continue
        if "#" in line:
            line = _COMMENT.split(line, 1)[0].rstrip()
        yield n, line


def maltrail_category(path: Path, head: str) -> tuple[str, int] | None:
    """(category, confidence) when `path` is a maltrail trail file, else None."""
    if path.name.startswith("mass_scanner"):
        return "scanner", 30
    parent = path.parent.name
    if parent in _MALTRAIL_DIRS:
        return parent, _MALTRAIL_DIRS[parent]
    if "maltrail" in head.lower():
        return "malware", 80
    return None


def load_lines(path: Path, stats: LoadStats) -> list[Indicator]:
    """Indicators of a plain list, a maltrail trail file or an urlhaus-filter list."""
    text = read_text(path)
    head = text[:400]
    mt = maltrail_category(path, head)
    urlhaus = head.startswith("! Title:") or "urlhaus" in head.lower()
    if mt is not None:
        category, conf = mt
        source, threat = "maltrail", path.stem
    elif urlhaus:
        category, conf, source, threat = "malware", 75, "urlhaus", "urlhaus"
    else:
        category, conf, source, threat = "", 50, path.name, path.stem
    out: list[Indicator] = []
    where = str(path)
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#!;":
            continue
        if "#" in line:
            line = _COMMENT.split(line, 1)[0].rstrip()
        if line.startswith("||"):  # adblock: ||host/path^$options
            line = line[2:].split("^", 1)[0]
        t = classify(line)
        if t is None:
            stats.problem(f"{where}:{n}", f"not an indicator: {line[:60]!r}")
            continue
        kind, value, port = t
        out.append(
            Indicator(
                value=value,
                kind=kind,
                source=source,
                threat=threat,
                confidence=conf,
                category=category,
                port=port,
                reference=f"{path.name}:{n}",
            )
        )
    return out
