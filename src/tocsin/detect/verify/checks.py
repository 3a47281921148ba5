"""suricata-verify's checks evaluated on EVE events: which pass, which fail and how.

Semantics (those of suricata-verify's run.py `FilterCheck` / `StatsCheck`, with the
comparison operators of its README; the shared corpus's reference checker agrees with them):

- `filter: {count: N, match: {...}}` passes iff exactly N events match. An event matches
  when **every** key of `match` matches:
  - a key is a dotted path into the event: `alert.signature_id`, `dns.queries[0].rrname`
    (`[i]` indexes a list or a string; a missing key, a wrong type on the way or an index
    out of range gives "absent", which equals nothing);
  - the value compares with `==` on the JSON values, types included (`1 != "1"`; Python's
    `1 == 1.0` and `True == 1` hold, as in suricata-verify);
  - a path ending in `.__len` compares the length of the value (-1 for a value without
    one: a number, null; an absent key stays absent and matches no length);
  - `has-key: path` / `not-has-key: path` (one path or a list): present means present and
    not JSON null;
  - suffixes compare differently: `__find` (substring of a string), `__contains` (member of
    a list, substring of a string, key of an object), `__startswith`, `__endswith` (strings
    only), `__gt`, `__gte`, `__lt`, `__lte` (numbers only, booleans are not numbers). A value
    of the wrong type does not match (suricata-verify would stop with an exception).
- `stats: {path: value, ...}` compares the `stats` object of the **last** `stats` event
  (paths relative to it, suffix comparisons allowed); it fails when there is no stats event.
- `shell`, `file-compare` and filters on other files than eve.json are Suricata-specific:
  skipped (the planner marks them, with checks whose own `requires` is unmet).

Options: `ignore_keys` drops match keys before matching (`pcap_cnt` for an engine that does
not number packets as Suricata does); `alerts_only` evaluates only the filters that look at
alerts (`event_type: alert`, or no event type and `alert.*` keys), the scoring the corpus
recommends for a detection engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tocsin.detect.verify.testcase import Check

CMP = ("__gt", "__gte", "__lt", "__lte")
SPECIAL = ("__contains", "__find", "__startswith", "__endswith", *CMP)
_INDEXED = re.compile(r"^(.*)\[(\d+)\]$")

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. `message` is one line (`check 3: alert sid 2: expected 1,
    got 0`, or the skip reason); `detail` says how the events differ, when it can."""

    check: Check
    status: Status
    message: str
    detail: str = ""
    got: int | None = None


class EveError(Exception):
    """An EVE file that is not JSON lines (the message names the line)."""


def read_eve(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of an EVE file, one per non-empty line; raises `EveError`."""
    events: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                raise EveError(f"{path.name} line {n} is not JSON: {exc}") from None
            if not isinstance(event, dict):
                raise EveError(f"{path.name} line {n} is not a JSON object")
            events.append(event)
    return events


def find_value(path: str, obj: Any) -> Any:
    """The value at dotted `path` in `obj` (None: absent); see the module docstring."""
    for part in path.split("."):
        if part == "__len":
            try:
                return len(obj)
            except TypeError:
                return -1
        if part in SPECIAL:
            break
        m = _INDEXED.match(part)
        key, index = (m.group(1), int(m.group(2))) if m else (part, None)
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
        if index is not None:
            try:
                obj = obj[index]
            except (IndexError, KeyError, TypeError):
                return None
    return obj


def _compare(value: Any, expected: Any, op: str) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return False
    if not isinstance(value, int | float) or not isinstance(expected, int | float):
        return False
    if op == "__gt":
        return value > expected
    if op == "__gte":
        return value >= expected
    if op == "__lt":
        return value < expected
    return value <= expected


def key_matches(event: Mapping[str, Any], key: str, expected: Any) -> bool:
    """Whether one `match` entry holds for `event`."""
    if key in ("has-key", "not-has-key"):
        paths = expected if isinstance(expected, list) else [expected]
        return all((find_value(str(p), event) is not None) == (key == "has-key") for p in paths)
    value = find_value(key, event)
    suffix = key.rsplit(".", 1)[-1]
    if suffix in ("__find", "__startswith", "__endswith"):
        if not isinstance(value, str) or not isinstance(expected, str):
            return False
        if suffix == "__find":
            return expected in value
        return value.startswith(expected) if suffix == "__startswith" else value.endswith(expected)
    if suffix == "__contains":
        try:
            return value is not None and expected in value
        except TypeError:
            return False
    if suffix in CMP:
        return _compare(value, expected, suffix)
    return bool(value == expected)


def event_matches(event: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    """Whether every entry of `match` holds for `event`."""
    return all(key_matches(event, str(k), v) for k, v in match.items())


def is_alert_check(match: Mapping[str, Any]) -> bool:
    et = match.get("event_type")
    return et == "alert" or (et is None and any(str(k).startswith("alert.") for k in match))


def evaluate(
    checks: Sequence[Check],
    events: Sequence[Mapping[str, Any]],
    *,
    ignore_keys: Collection[str] = (),
    alerts_only: bool = False,
) -> list[CheckResult]:
    """Every check of a test on its EVE events (see the module docstring)."""
    results = []
    for check in checks:
        if check.skip is not None:
            results.append(CheckResult(check, "skip", f"check {check.index}: {check.skip}"))
        elif check.kind == "stats":
            if alerts_only:
                results.append(_skip_not_alert(check))
            else:
                results.append(_stats(check, events))
        elif alerts_only and not is_alert_check(check.spec.get("match") or {}):
            results.append(_skip_not_alert(check))
        else:
            results.append(_filter(check, events, ignore_keys))
    return results


def _skip_not_alert(check: Check) -> CheckResult:
    return CheckResult(check, "skip", f"check {check.index}: not an alert check (alerts only)")


def _filter(
    check: Check, events: Sequence[Mapping[str, Any]], ignore_keys: Collection[str]
) -> CheckResult:
    spec = check.spec
    raw = spec.get("match") or {}
    match = {str(k): v for k, v in raw.items() if k not in ignore_keys}
    head = f"check {check.index}" + (f" ({spec['comment']})" if spec.get("comment") else "")
    want = spec.get("count")
    if isinstance(want, bool) or not isinstance(want, int):
        return CheckResult(check, "fail", f"{head}: filter without an integer `count`")
    hits = [e for e in events if event_matches(e, match)]
    text = f"{head}: {describe_match(match)}: expected {want}, got {len(hits)}"
    if len(hits) == want:
        return CheckResult(check, "pass", text, got=len(hits))
    detail = _extra(hits) if len(hits) > want else nearest(events, match)
    return CheckResult(check, "fail", text, detail, got=len(hits))


def _stats(check: Check, events: Sequence[Mapping[str, Any]]) -> CheckResult:
    stats = [e for e in events if e.get("event_type") == "stats"]
    if not stats:
        return CheckResult(check, "fail", f"check {check.index}: stats: no stats event")
    last = stats[-1].get("stats") or {}
    off = []
    for key, want in check.spec.items():
        got = find_value(str(key), last)
        suffix = str(key).rsplit(".", 1)[-1]
        ok = _compare(got, want, suffix) if suffix in CMP else got == want
        if not ok:
            off.append(f"{key} expected {want!r}, got {got!r}")
    if off:
        return CheckResult(check, "fail", f"check {check.index}: stats: " + "; ".join(off))
    return CheckResult(check, "pass", f"check {check.index}: stats: {len(check.spec)} values")


def describe_match(match: Mapping[str, Any]) -> str:
    """A match, short: `alert sid 2`, `dns [dns.rrname=example.com]`, `any [has-key=x]`."""
    text = str(match.get("event_type", "any"))
    if "alert.signature_id" in match:
        text += f" sid {match['alert.signature_id']}"
    rest = [
        f"{k}={_short(v, 40, quote=False)}"
        for k, v in match.items()
        if k not in ("event_type", "alert.signature_id")
    ]
    if rest:
        text += " [" + _short(", ".join(rest), 160, quote=False) + "]"
    return text


def nearest(events: Sequence[Mapping[str, Any]], match: Mapping[str, Any]) -> str:
    """How the event of the check's type that matches most keys differs from the check."""
    et = match.get("event_type")
    same = [e for e in events if et is None or e.get("event_type") == et]
    if not same:
        return f"no {et} event" if et else "no event"
    best: list[str] = []
    best_event = same[0]
    for e in same:
        off = [str(k) for k, v in match.items() if not key_matches(e, str(k), v)]
        if not best or len(off) < len(best):
            best, best_event = off, e
    parts = []
    for k in best[:3]:
        if k in ("has-key", "not-has-key"):
            parts.append(f"{k}: {_short(match[k])}")
        else:
            got = find_value(
                k.rsplit(".", 1)[0] if k.rsplit(".", 1)[-1] in SPECIAL else k, best_event
            )
            parts.append(f"{k}: want {_short(match[k])}, got {_short(got)}")
    kind = f"{et} events" if et else "events"
    return f"nearest of {len(same)} {kind} differs in " + "; ".join(parts)


def _extra(hits: Sequence[Mapping[str, Any]]) -> str:
    """Where the matching events are (for a count exceeded)."""
    where = []
    for e in hits[:3]:
        pkt = f"pcap_cnt {e['pcap_cnt']} " if "pcap_cnt" in e else ""
        where.append(
            f"{pkt}{e.get('src_ip', '?')}:{e.get('src_port', '')} -> "
            f"{e.get('dest_ip', '?')}:{e.get('dest_port', '')}"
        )
    more = f" (+{len(hits) - 3} more)" if len(hits) > 3 else ""
    return "matched at " + "; ".join(where) + more


def _short(value: Any, n: int = 80, quote: bool = True) -> str:
    text = repr(value) if quote and not isinstance(value, int | float) else str(value)
    return text if len(text) <= n else text[: n - 3] + "..."
