"""Loading rule files into a `RuleSet`.

`load_rules(paths, vars, classification)` reads every file, parses every active rule and
keeps going whatever a rule holds: a rule that does not load becomes a `Skipped` (file, line,
keyword, reason, sid when one can be read), the others are in `RuleSet.rules` in file order.
Per file, `RuleSet.per_file[path]` is (active rules seen, rules loaded); commented-out rules
are not counted (Suricata ignores them), indented rules are (Suricata ignores them too, but
silently: here they are reported as skipped).

A rule that repeats an earlier rule's (gid, sid) is skipped ("duplicate sid"), in whichever
file it is. A rule that is not valid UTF-8 is skipped, as Suricata does. A file that cannot be
read raises `RuleFileError` naming it, before any rule is parsed; so does an unreadable
classification file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from tocsin.detect.model import RuleSet, Skipped
from tocsin.detect.rules.address import RuleVars
from tocsin.detect.rules.classification import load_classification
from tocsin.detect.rules.errors import RuleError, RuleFileError
from tocsin.detect.rules.lexer import scan_rules
from tocsin.detect.rules.parser import RuleParser, parse_rule

__all__ = ["RuleError", "RuleFileError", "load_rules", "parse_rule"]

_SID = re.compile(r"(?:^|[;(\s])sid\s*:\s*\"?\s*(\d+)")


def _sid_of(text: str) -> int | None:
    m = _SID.search(text)
    return int(m.group(1)) if m else None


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise RuleFileError(str(path), "is a directory, not a rule file") from None
    except FileNotFoundError:
        raise RuleFileError(str(path), "no such rule file") from None
    except OSError as e:
        raise RuleFileError(str(path), f"cannot read rule file: {e.strerror}") from None
    return data.decode("utf-8", "surrogateescape")


def load_rules(
    paths: Sequence[Path | str],
    vars: RuleVars | None = None,
    classification: Path | None = None,
) -> RuleSet:
    """Every rule of `paths` (see the module docstring)."""
    files = [Path(p) for p in paths]
    for f in files:
        if not f.exists():
            raise RuleFileError(str(f), "no such rule file")
        if f.is_dir():
            raise RuleFileError(str(f), "is a directory, not a rule file")
    parser = RuleParser(vars, load_classification(classification))
    rs = RuleSet()
    first: dict[tuple[int, int], tuple[str, int]] = {}
    for f in files:
        name = str(f)
        scan = scan_rules(_read(f))
        rs.files.append(name)
        for rl in scan.indented:
            rs.skipped.append(
                Skipped(
                    name,
                    rl.line,
                    "the line starts with white space: Suricata ignores it",
                    "",
                    _sid_of(rl.text),
                    rl.text,
                )
            )
        loaded = 0
        for rl in scan.rules:
            text = rl.text
            try:
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    raise RuleError("the rule is not valid UTF-8") from None
                rule = parser.parse(text, name, rl.line)
            except RuleError as e:
                rs.skipped.append(Skipped(name, rl.line, e.reason, e.keyword, _sid_of(text), text))
                continue
            where = first.get(rule.key)
            if where is not None:
                rs.skipped.append(
                    Skipped(
                        name,
                        rl.line,
                        f"duplicate sid {rule.sid} (gid {rule.gid}): first loaded at "
                        f"{where[0]}:{where[1]}",
                        "sid",
                        rule.sid,
                        text,
                    )
                )
                continue
            first[rule.key] = (name, rl.line)
            rs.rules.append(rule)
            loaded += 1
        rs.per_file[name] = (len(scan.rules) + len(scan.indented), loaded)
    return rs
