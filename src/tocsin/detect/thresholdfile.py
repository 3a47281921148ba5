"""threshold.config: a site's alert thresholds and suppressions, kept apart from the rules.

Suricata's format (doc: "Global-Thresholds"), one directive per line, `#` comments:

    threshold gen_id 1, sig_id 2019401, type limit, track by_src, count 1, seconds 3600
    event_filter gen_id 1, sig_id 2019401, type both, track by_dst, count 10, seconds 60
    suppress gen_id 1, sig_id 2013028
    suppress gen_id 1, sig_id 2013028, track by_src, ip 10.1.0.0/16
    suppress gen_id 0, sig_id 0, track by_either, ip $PACS_SERVERS

- `threshold` / `event_filter` set a rule's threshold, replacing the one in the rule; with
  `sig_id 0` (and `gen_id 0` for every gid) they apply to every rule without a threshold of
  its own;
- `suppress` drops alerts of a rule (or of all, with 0), for every address or only when the
  source / destination / either address is in the given set (addresses, CIDRs, lists,
  variables, negation, as in rule headers). Suppressed rules still run: their flowbits are
  set;
- `rate_filter` changes a rule's action once it matched more than `count` times in
  `seconds`, for `timeout` seconds: with `new_action pass` its alerts stop meanwhile; other
  actions (drop, reject) change nothing here — Tocsin only watches — and are reported.

A line that cannot be read is reported with its number and left out; the others apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tocsin.detect.model import AddrSet, Threshold
from tocsin.detect.rules.address import RuleVars, parse_address
from tocsin.detect.rules.errors import RuleError

_KINDS = {"limit", "threshold", "both"}
_TRACKS = {"by_src", "by_dst", "by_rule", "by_both", "by_flow"}
_SUPPRESS_TRACKS = {"by_src", "by_dst", "by_either"}
_ACTIONS = {"alert", "pass", "drop", "reject", "rejectsrc", "rejectdst", "rejectboth"}
_LINE = re.compile(r"^(threshold|event_filter|suppress|rate_filter)\s+(.*)$")


class ThresholdFileError(Exception):
    """The file cannot be read (message names it)."""


@dataclass(frozen=True, slots=True)
class Suppress:
    gid: int  # 0: any
    sid: int  # 0: any
    track: str | None = None  # None: always; by_src, by_dst, by_either
    addrs: AddrSet | None = None

    def applies(self, gid: int, sid: int) -> bool:
        return (self.gid in (0, gid)) and (self.sid in (0, sid))


@dataclass(frozen=True, slots=True)
class RateFilter:
    """`rate_filter`: past `count` matches in `seconds` (per track), the rule's action becomes
    `new_action` for `timeout` seconds. Tocsin watches a copy of the traffic, so only `pass`
    changes anything: the alerts stop for the timeout."""

    track: str
    count: int
    seconds: int
    new_action: str
    timeout: int


@dataclass(slots=True)
class ThresholdConfig:
    """What a threshold.config says (see the module docstring)."""

    thresholds: dict[tuple[int, int], Threshold] = field(default_factory=dict)
    suppress: list[Suppress] = field(default_factory=list)
    rate_filters: dict[tuple[int, int], RateFilter] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # "file:line: why"
    ignored: list[str] = field(default_factory=list)  # lines that change nothing here

    def rate_filter_for(self, gid: int, sid: int) -> RateFilter | None:
        return (
            self.rate_filters.get((gid, sid))
            or self.rate_filters.get((gid, 0))
            or self.rate_filters.get((0, 0))
        )

    def threshold_for(self, gid: int, sid: int, own: Threshold | None) -> Threshold | None:
        """The threshold a rule runs with: its own entry here, else its own keyword, else a
        global entry (sig_id 0)."""
        exact = self.thresholds.get((gid, sid))
        if exact is not None:
            return exact
        if own is not None:
            return own
        return self.thresholds.get((gid, 0)) or self.thresholds.get((0, 0))

    def suppressed(self, gid: int, sid: int, src: int, dst: int) -> bool:
        for s in self.suppress:
            if not s.applies(gid, sid):
                continue
            if s.track is None or s.addrs is None:
                return True
            if s.track == "by_src" and s.addrs.contains(src):
                return True
            if s.track == "by_dst" and s.addrs.contains(dst):
                return True
            if s.track == "by_either" and (s.addrs.contains(src) or s.addrs.contains(dst)):
                return True
        return False


def _fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    depth = 0
    part = ""
    parts: list[str] = []
    for ch in text:  # commas inside [a,b] address lists do not split
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += ch
    parts.append(part)
    for p in parts:
        p = p.strip()
        if not p:
            continue
        key, _, value = p.partition(" ")
        if not value.strip():
            raise ValueError(f"'{key}' has no value")
        out[key.strip()] = value.strip()
    return out


def _int(f: dict[str, str], key: str) -> int:
    if key not in f:
        raise ValueError(f"missing {key}")
    try:
        return int(f[key])
    except ValueError:
        raise ValueError(f"{key} must be a number, not {f[key]!r}") from None


def _word(f: dict[str, str], key: str, allowed: set[str]) -> str:
    """`f[key]` when it is one of `allowed` (a missing key counts as "")."""
    value = f.get(key, "")
    if value not in allowed:
        raise ValueError(f"unknown {key} {value!r}")
    return value


def parse_threshold_config(
    text: str, vars: RuleVars | None = None, name: str = "threshold.config"
) -> ThresholdConfig:
    cfg = ThresholdConfig()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            cfg.problems.append(f"{name}:{n}: not a threshold, event_filter or suppress line")
            continue
        what, rest = m.groups()
        try:
            f = _fields(rest)
            gid, sid = _int(f, "gen_id"), _int(f, "sig_id")
            if what == "rate_filter":
                track = _word(f, "track", _TRACKS)
                action = _word(f, "new_action", _ACTIONS)
                if action != "pass":
                    cfg.ignored.append(
                        f"{name}:{n}: rate_filter new_action {action}: Tocsin only watches, "
                        "alerts go on"
                    )
                    continue
                cfg.rate_filters[gid, sid] = RateFilter(
                    track, _int(f, "count"), _int(f, "seconds"), action, _int(f, "timeout")
                )
            elif what == "suppress":
                by = _word(f, "track", _SUPPRESS_TRACKS) if "track" in f else None
                if (by is None) != ("ip" not in f):
                    raise ValueError("track and ip go together")
                addrs = parse_address(f["ip"], vars) if "ip" in f else None
                cfg.suppress.append(Suppress(gid, sid, by, addrs))
            else:
                kind = _word(f, "type", _KINDS)
                track = _word(f, "track", _TRACKS)
                cfg.thresholds[gid, sid] = Threshold(
                    kind,  # type: ignore[arg-type]
                    track,  # type: ignore[arg-type]
                    _int(f, "count"),
                    _int(f, "seconds"),
                )
        except (ValueError, RuleError) as exc:
            cfg.problems.append(f"{name}:{n}: {exc}")
    return cfg


def read_threshold_config(path: Path, vars: RuleVars | None = None) -> ThresholdConfig:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ThresholdFileError(f"{path}: cannot read threshold file: {exc.strerror}") from None
    return parse_threshold_config(text, vars, str(path))
