"""The expectations file: which alerts each labelled capture must raise, and why.

Format (YAML; `eval/expectations.yaml` is the committed one, `eval/README.md` explains it)::

    targets: {recall: 1.0, fp_per_capture: 1.0}   # optional, these are the defaults
    intel: [rules/maltrail/malware/emotet.txt]     # optional: indicator sources for every capture
    captures:
      - capture: pcaps/zeek/Traces/ftp/bruteforce.pcap   # relative to the corpus root;
                                                         # "repo:samples/x.pcap" = the repository
        about: FTP password guessing                     # optional, one line
        attack: true                  # optional; default: true when `expected` is not empty
        home_net: [147.32.0.0/16]     # optional: the site's networks for this capture
        intel: [...]                  # optional: more indicator sources for this capture
        thresholds:                   # optional: detector thresholds for this capture, when
          behaviour.brute_force:      # the truth was produced under them (a baseline run
            ssh_min_failures: 10      # with a lowered limit); merged over --detect-config
        expected:
          - detector: behaviour.brute_force   # a detector name or a family prefix ("medical"),
                                              # or a list of them (any one will do)
            src: 192.168.56.1                 # optional: the alert's source host (attacker)
            dest: 192.168.56.101              # optional: the alert's target host
            host: 10.0.0.1                    # optional: either side
            min_count: 1                      # optional: alerts needed (default 1)
            why: 20 failed FTP logins from one client in 37 s
            truth: pcaps/zeek/Baseline/scripts.policy.protocols.ftp.bruteforce/notice.log:10
        explained:                            # correct alerts that are not the labelled attack
          - detector: behaviour.port_scan
            src: 192.168.56.1
            why: the brute forcer first probes the port range

An alert's source host is `alert.source.ip` (the side the detector blames), else `src_ip`; its
target is `alert.target.ip`, else `dest_ip`. `truth` says where the ground truth comes from
(a baseline log and line, a dataset description, nDPI's expected output); it is required for
every expectation, as `why` is for every explained alert.

`load(path)` returns an `Expectations`; anything malformed is an `ExpectationsError` naming the
file and the entry (`captures[3] (pcaps/x.pcap): expected[0]: missing 'why'`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RECALL = 1.0
DEFAULT_FP_PER_CAPTURE = 1.0


class ExpectationsError(Exception):
    """An expectations file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """Which alerts an expectation (or an explanation) covers."""

    detectors: tuple[str, ...]  # names or family prefixes; any one matches
    src: str | None = None
    dest: str | None = None
    host: str | None = None
    min_count: int = 1
    why: str = ""
    truth: str = ""

    @property
    def label(self) -> str:
        """The detector column of the report: the name (or names, joined by '|')."""
        return "|".join(self.detectors)

    def describe(self) -> str:
        hosts = []
        if self.src:
            hosts.append(f"src {self.src}")
        if self.dest:
            hosts.append(f"dest {self.dest}")
        if self.host:
            hosts.append(f"host {self.host}")
        n = f" x{self.min_count}" if self.min_count > 1 else ""
        return self.label + (f" ({', '.join(hosts)})" if hosts else "") + n

    def matches(self, detector: str, src: str | None, dest: str | None) -> bool:
        if not any(
            detector == d or detector.startswith(d.rstrip(".") + ".") for d in self.detectors
        ):
            return False
        if self.src is not None and src != self.src:
            return False
        if self.dest is not None and dest != self.dest:
            return False
        return self.host is None or self.host in (src, dest)


@dataclass(frozen=True, slots=True)
class CaptureSpec:
    capture: str  # as written: corpus-relative, or "repo:" + repository-relative
    about: str = ""
    attack: bool = False
    home_net: tuple[str, ...] | None = None
    intel: tuple[str, ...] = ()
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected: tuple[AlertSpec, ...] = ()
    explained: tuple[AlertSpec, ...] = ()

    def path(self, corpus: Path, repo: Path) -> Path:
        if self.capture.startswith("repo:"):
            return repo / self.capture[len("repo:") :]
        return corpus / self.capture


@dataclass(frozen=True, slots=True)
class Expectations:
    source: str
    captures: tuple[CaptureSpec, ...]
    intel: tuple[str, ...] = ()
    recall_target: float = DEFAULT_RECALL
    fp_target: float = DEFAULT_FP_PER_CAPTURE


_CAPTURE_KEYS = {
    "capture",
    "about",
    "attack",
    "home_net",
    "intel",
    "thresholds",
    "expected",
    "explained",
}
_NEEDS = {
    "why": "what the alert is about",
    "truth": "where the ground truth comes from",
}
_ALERT_KEYS = {"detector", "src", "dest", "host", "min_count", "why", "truth"}


def load(path: str | Path) -> Expectations:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise ExpectationsError(f"{p}: cannot read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(p)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ExpectationsError(f"{where}: not valid YAML: {problem}") from e
    return parse(doc, str(p))


def parse(doc: Any, source: str) -> Expectations:
    """Check and type a parsed expectations document (`source` names it in errors)."""
    if not isinstance(doc, dict):
        raise ExpectationsError(f"{source}: expected a mapping with a 'captures' list")
    unknown = set(doc) - {"targets", "intel", "captures"}
    if unknown:
        raise ExpectationsError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    caps = doc.get("captures")
    if not isinstance(caps, list) or not caps:
        raise ExpectationsError(f"{source}: 'captures' must be a non-empty list")
    targets = doc.get("targets") or {}
    if not isinstance(targets, dict) or set(targets) - {"recall", "fp_per_capture"}:
        raise ExpectationsError(f"{source}: targets: expected {{recall, fp_per_capture}}")
    recall = _number(targets.get("recall", DEFAULT_RECALL), f"{source}: targets.recall")
    fp = _number(
        targets.get("fp_per_capture", DEFAULT_FP_PER_CAPTURE), f"{source}: targets.fp_per_capture"
    )
    out = []
    seen: set[str] = set()
    for i, entry in enumerate(caps):
        spec = _capture(entry, f"{source}: captures[{i}]")
        if spec.capture in seen:
            raise ExpectationsError(f"{source}: captures[{i}]: {spec.capture} listed twice")
        seen.add(spec.capture)
        out.append(spec)
    return Expectations(
        source=source,
        captures=tuple(out),
        intel=_strings(doc.get("intel"), f"{source}: intel"),
        recall_target=recall,
        fp_target=fp,
    )


def _capture(entry: Any, where: str) -> CaptureSpec:
    if not isinstance(entry, dict):
        raise ExpectationsError(f"{where}: expected a mapping")
    cap = entry.get("capture")
    if not isinstance(cap, str) or not cap:
        raise ExpectationsError(f"{where}: missing 'capture' (the capture's path)")
    where = f"{where} ({cap})"
    unknown = set(entry) - _CAPTURE_KEYS
    if unknown:
        known = ", ".join(sorted(_CAPTURE_KEYS))
        raise ExpectationsError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {known})")
    if "expected" not in entry:
        raise ExpectationsError(f"{where}: missing 'expected' (use [] for no labelled attack)")
    expected = _alerts(entry.get("expected"), f"{where}: expected", need="truth")
    explained = _alerts(entry.get("explained"), f"{where}: explained", need="why")
    attack = entry.get("attack", bool(expected))
    if not isinstance(attack, bool):
        raise ExpectationsError(f"{where}: attack: expected true or false")
    home = entry.get("home_net")
    home_net = None
    if home is not None:
        home_net = _strings(home, f"{where}: home_net")
        for net in home_net:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ExpectationsError(f"{where}: home_net: {net!r} is not a network") from None
    thresholds = entry.get("thresholds") or {}
    if not isinstance(thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in thresholds.items()
    ):
        raise ExpectationsError(f"{where}: thresholds: expected a mapping of detector to values")
    about = entry.get("about", "")
    if not isinstance(about, str):
        raise ExpectationsError(f"{where}: about: expected text")
    return CaptureSpec(
        capture=cap,
        about=about,
        attack=attack,
        home_net=home_net,
        intel=_strings(entry.get("intel"), f"{where}: intel"),
        thresholds={k: dict(v) for k, v in thresholds.items()},
        expected=expected,
        explained=explained,
    )


def _alerts(items: Any, where: str, *, need: str) -> tuple[AlertSpec, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ExpectationsError(f"{where}: expected a list")
    out = []
    for j, item in enumerate(items):
        w = f"{where}[{j}]"
        if not isinstance(item, dict):
            raise ExpectationsError(f"{w}: expected a mapping with 'detector'")
        unknown = set(item) - _ALERT_KEYS
        if unknown:
            raise ExpectationsError(
                f"{w}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_ALERT_KEYS))})"
            )
        det = item.get("detector")
        dets = (det,) if isinstance(det, str) else det
        if (
            not isinstance(dets, list | tuple)
            or not dets
            or not all(isinstance(d, str) and d for d in dets)
        ):
            raise ExpectationsError(f"{w}: 'detector' must be a name, a family or a list of them")
        for key in ("why", need):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise ExpectationsError(f"{w}: missing {key!r} ({_NEEDS[key]})")
        hosts: dict[str, str | None] = {}
        for key in ("src", "dest", "host"):
            v = item.get(key)
            if v is not None:
                try:
                    v = str(ipaddress.ip_address(str(v)))
                except ValueError:
                    raise ExpectationsError(f"{w}: {key}: {v!r} is not an IP address") from None
            hosts[key] = v
        n = item.get("min_count", 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ExpectationsError(f"{w}: min_count: expected a positive integer")
        out.append(
            AlertSpec(
                detectors=tuple(dets),
                src=hosts["src"],
                dest=hosts["dest"],
                host=hosts["host"],
                min_count=n,
                why=item["why"].strip(),
                truth=str(item.get("truth") or "").strip(),
            )
        )
    return tuple(out)


def _strings(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ExpectationsError(f"{where}: expected a list of text")
    return tuple(v)


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
        raise ExpectationsError(f"{where}: expected a non-negative number")
    return float(v)
