"""suricata-verify style test folders: found (`discover`) and planned (`TestCase.plan`).

A test is a folder holding a `test.yaml` (suricata-verify's format), a pcap and usually a
`*.rules` file. `discover(dirs)` finds every folder with a `test.yaml` below `dirs`, sorted by
name, without looking inside a test folder (as suricata-verify's run.py). A test's name is its
path relative to the directory it was found under (`dns/dns-query/dns-detect-query-01`); a
directory given that is itself a test is named by its folder name.

`TestCase.plan()` reads the test as suricata-verify's run.py runs it, and returns either a
`TestPlan` (what to run: pcap, rule files, `RunSettings`, the checks) or `NotPlanned` with a
reason naming exactly what Tocsin does not do, and a category for the summaries:

- pcap: `pcap:` (relative to the folder), else `-r` in `args`, else the single `*.pcap` /
  `*.pcapng` of the folder; `pcap: false` or `requires: pcap: false` without one -> skipped;
  a named pcap that is absent -> skipped ("pcap-missing": the shared corpus leaves out big
  files); several pcaps and no `pcap:` -> broken (run.py fails such a test too);
- rules: `-S` in args (replaces), else test.yaml `rules:`, else the folder's `*.rules`: none ->
  detection off; one -> it (`firewall.rules` -> firewall mode, skipped; `minX.rules` -> only
  when Tocsin's judged version is at least X); `firewall.rules` + `td.rules` -> skipped;
  more -> broken. `-s` adds a file;
- settings: see `settings` and `mirror` (a refused setting skips the test);
- skipped: a `command:` of its own, unmet `requires` (see `requires`: version judged as
  Suricata 8.0.0, features Tocsin lacks), a `skip:` entry that applies, `env:`, `setup:` or
  `pre-check:` scripts, Lua (rules using `lua`/`luajit`), IPS runs whose rules or rate filters
  drop or reject (the verdict changes the traffic; Tocsin is passive), and tests all of whose
  checks are skipped (shell, file-compare, filters on Suricata's other files, checks whose own
  `requires` is unmet);
- broken (counted as failed): an unreadable test.yaml or suricata.yaml, a missing rules file.

A test with `exit-code` other than 0 expects Suricata to refuse to start: with rules, a rule
that must not load (its plan has `expect_failure`); without, a configuration Suricata refuses
(skipped). Filters on Suricata's own log messages (`engine` events) are skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tocsin.detect.verify.family import family_of
from tocsin.detect.verify.mirror import read_settings
from tocsin.detect.verify.requires import (
    FEATURES,
    SURICATA_VERSION,
    VERSION_KEYS,
    check_requires,
    skip_listed,
    unmet,
    version_satisfied,
)
from tocsin.detect.verify.settings import (
    Args,
    Refused,
    RunSettings,
    load_yaml_text,
    parse_args,
    substitute,
)

__all__ = ["Check", "NotPlanned", "RunSettings", "TestCase", "TestPlan", "discover"]

_DROP_ACTIONS = frozenset({"drop", "reject", "rejectsrc", "rejectdst", "rejectboth"})
_LUA = re.compile(r"[(;]\s*(lua|luajit)\s*:")


@dataclass(frozen=True)
class Check:
    """One entry of test.yaml's `checks`: its 1-based position, kind (`filter`, `stats`,
    `shell`, `file-compare`...) and body; `skip` says why it is not evaluated."""

    index: int
    kind: str
    spec: dict[str, Any]
    skip: str | None = None


@dataclass(frozen=True)
class TestPlan:
    """Everything needed to run one test: analyse `pcap` with `rule_files` (none: detection
    off) under `settings`, writing EVE JSON; then evaluate `checks` on it."""

    __test__ = False  # not a pytest class

    name: str
    folder: Path
    pcap: Path
    rule_files: tuple[Path, ...]
    settings: RunSettings
    checks: tuple[Check, ...]
    expect_failure: bool = False  # `exit-code` not 0: the rules (or pcap) must be refused


@dataclass(frozen=True)
class NotPlanned:
    """Why a test is not run: `broken` tests count as failed, the others as skipped."""

    reason: str
    category: str
    broken: bool = False


@dataclass(frozen=True)
class TestCase:
    """A test folder and its parsed test.yaml (`error`: why it could not be read)."""

    __test__ = False

    name: str
    folder: Path
    config: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def load(cls, folder: Path, name: str) -> TestCase:
        try:
            cfg = load_yaml_text((folder / "test.yaml").read_text(errors="replace"))
        except (OSError, yaml.YAMLError) as exc:
            return cls(name, folder, {}, f"test.yaml unreadable: {exc}")
        if cfg is None:
            cfg = {}
        if not isinstance(cfg, dict):
            return cls(name, folder, {}, "test.yaml is not a mapping")
        return cls(name, folder, cfg)

    @property
    def family(self) -> str:
        """The test's family for the reports (see `family.family_of`)."""
        return family_of(self.name, _rules_text(sorted(self.folder.glob("*.rules"))))

    def plan(
        self,
        *,
        version: str = SURICATA_VERSION,
        features: frozenset[str] = FEATURES,
        test_versions: bool = True,
    ) -> TestPlan | NotPlanned:
        """What to run for this test, or why it is not run (see the module docstring).

        `version`, `features`: what Tocsin is judged as. `test_versions=False` ignores the
        version range of the test's own `requires` (its checks' still apply): the corpus's
        reference checker scores that way, running a test written for Suricata 9 against
        8.x check expectations.
        """
        if self.error is not None:
            return NotPlanned(self.error, "broken", broken=True)
        try:
            return _plan(self, version, features, test_versions)
        except Refused as exc:
            return NotPlanned(exc.reason, exc.category, broken=exc.category == "broken")
        except (OSError, yaml.YAMLError, ValueError, TypeError) as exc:
            return NotPlanned(f"cannot read the test: {exc}", "broken", broken=True)


def discover(dirs: Sequence[Path]) -> list[TestCase]:
    """Every test folder (one with a `test.yaml`) below `dirs`, in the order of `dirs`, then
    sorted by name; a folder reached twice is listed once. Raises `FileNotFoundError` for a
    directory that does not exist."""
    cases: list[TestCase] = []
    seen: set[Path] = set()
    for top in dirs:
        top = Path(top)
        if not top.is_dir():
            raise FileNotFoundError(f"not a directory: {top}")
        found: list[tuple[str, Path]] = []
        if (top / "test.yaml").is_file():
            found.append((top.resolve().name, top))
        else:
            for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
                dirnames.sort()
                if "test.yaml" in filenames:
                    dirnames.clear()
                    found.append((Path(dirpath).relative_to(top).as_posix(), Path(dirpath)))
        for name, folder in sorted(found):
            real = folder.resolve()
            if real not in seen:
                seen.add(real)
                cases.append(TestCase.load(folder, name))
    return cases


# ---------------------------------------------------------------------------------- planning


def _plan(
    case: TestCase, version: str, features: frozenset[str], test_versions: bool
) -> TestPlan | NotPlanned:
    cfg = case.config
    folder = case.folder
    if cfg.get("command"):
        return NotPlanned("runs its own Suricata command line (`command:`)", "command")
    requires = cfg.get("requires") or {}
    if not isinstance(requires, dict):
        raise Refused(f"`requires:` is not a mapping: {requires!r}", "broken")
    if not test_versions:
        requires = {k: v for k, v in requires.items() if k not in VERSION_KEYS}
    why = unmet(requires, version=version, features=features)
    if why:
        return NotPlanned(why, _requires_category(why))
    why = skip_listed(cfg.get("skip"), features=features)
    if why:
        return NotPlanned(f"skip: {why}", "skip")
    for key, what in (
        ("env", "environment variables for Suricata"),
        ("setup", "a setup script"),
        ("pre-check", "a pre-check script"),
    ):
        if cfg.get(key):
            return NotPlanned(f"needs {what} (`{key}:`)", "script")
    args = parse_args(cfg.get("args"))
    checks = plan_checks(cfg.get("checks"), version=version, features=features)
    if checks and all(c.skip is not None for c in checks):
        kinds = sorted({c.kind if c.kind != "filter" else str(c.skip) for c in checks})
        return NotPlanned(f"every check is skipped ({'; '.join(kinds)})", "checks")
    settings = read_settings(folder, args, case.name)
    rule_files = _rule_files(folder, cfg, args, version)
    text = _rules_text(rule_files)
    if _LUA.search(text):
        return NotPlanned("rules use Lua (lua keyword)", "lua")
    why = _why_not_ips(settings, text, folder)
    if why:
        return NotPlanned(why, "ips/live")
    if cfg.get("exit-code") and not rule_files:
        return NotPlanned(
            f"expects Suricata to refuse its configuration (exit-code {cfg['exit-code']})",
            "exit-code",
        )
    pcap = _pcap(folder, cfg, args, requires)
    if isinstance(pcap, NotPlanned):
        return pcap
    return TestPlan(
        name=case.name,
        folder=folder,
        pcap=pcap,
        rule_files=rule_files,
        settings=settings,
        checks=checks,
        expect_failure=bool(cfg.get("exit-code")),
    )


def plan_checks(
    checks: Any, *, version: str = SURICATA_VERSION, features: frozenset[str] = FEATURES
) -> tuple[Check, ...]:
    """test.yaml's `checks`, each with why it is skipped (or None: evaluated)."""
    out: list[Check] = []
    for index, entry in enumerate(checks if isinstance(checks, list) else [], 1):
        if not isinstance(entry, dict):
            out.append(Check(index, "invalid", {}, skip=f"not a check: {entry!r}"))
            continue
        for kind, spec in entry.items():
            spec = spec if isinstance(spec, dict) else {}
            out.append(
                Check(index, str(kind), spec, _why_skip_check(str(kind), spec, version, features))
            )
    return tuple(out)


def _why_skip_check(
    kind: str, spec: Mapping[str, Any], version: str, features: frozenset[str]
) -> str | None:
    if kind == "shell":
        return "shell check (a command run on Suricata's output)"
    if kind == "file-compare":
        return "file-compare check (a file Suricata writes)"
    if kind not in ("filter", "stats"):
        return f"unknown check type `{kind}`"
    if kind == "filter":
        why = unmet(check_requires(spec), version=version, features=features)
        if why:
            return why
        filename = str(spec.get("filename") or "eve.json")
        if Path(filename).name != "eve.json":
            return f"filter on Suricata's {filename}"
        match = spec.get("match") or {}
        if match.get("event_type") == "engine" or any(str(k).startswith("engine.") for k in match):
            return "filter on Suricata's own log messages (engine events)"
    return None


def _requires_category(why: str) -> str:
    if re.match(r"requires (min-|lt-|gt-)?version", why):
        return "version"
    if why.startswith("requires Suricata features"):
        return "feature"
    return "requires"


def _rule_files(folder: Path, cfg: Mapping[str, Any], args: Args, version: str) -> tuple[Path, ...]:
    if args.disable_detection:
        return ()
    if args.rules_exclusive:
        files = [folder / substitute(r, folder) for r in args.rules_exclusive]
    elif cfg.get("rules"):
        named = cfg["rules"] if isinstance(cfg["rules"], list) else [cfg["rules"]]
        files = [folder / substitute(str(r), folder) for r in named]
    else:
        files = _folder_rules(folder, version)
    files += [folder / substitute(r, folder) for r in args.rules_extra]
    for f in files:
        if not f.is_file():
            raise Refused(f"rules file {f.name} not found", "broken")
    return tuple(f.resolve() for f in files)


def _folder_rules(folder: Path, version: str) -> list[Path]:
    found = sorted(folder.glob("*.rules"))
    names = [f.name for f in found]
    if len(found) == 1:
        if names[0].endswith("firewall.rules"):
            raise Refused("Suricata 8 firewall mode (firewall.rules)", "firewall")
        if names[0].startswith("min") and not version_satisfied(
            "min-version", names[0][3:-6], version
        ):
            return []  # run.py loads minX.rules only for Suricata X and later
        return found
    if len(found) == 2 and names[0].endswith("firewall.rules") and names[1].endswith("td.rules"):
        raise Refused("Suricata 8 firewall mode (firewall.rules + td.rules)", "firewall")
    if found:
        raise Refused(f"several rules files ({', '.join(names)}) and no `rules:`", "broken")
    return []


def _rules_text(files: Sequence[Path]) -> str:
    """The active rules of `files`, one per line (continuations joined, comments dropped)."""
    lines = []
    for f in files:
        try:
            text = f.read_text(errors="replace")
        except OSError:
            continue
        text = re.sub(r"\\\r?\n", " ", text)
        lines += [ln.strip() for ln in text.splitlines() if ln.strip()[:1] not in ("", "#")]
    return "\n".join(lines)


def _why_not_ips(settings: RunSettings, rules: str, folder: Path) -> str | None:
    if not settings.ips:
        return None
    actions = {line.split(None, 1)[0] for line in rules.splitlines()}
    if actions & _DROP_ACTIONS:
        return "IPS run whose rules drop or reject (the verdict changes the traffic)"
    threshold = settings.threshold_file or folder / "threshold.config"
    if threshold.is_file() and re.search(
        r"new_action\s+(drop|reject)", threshold.read_text(errors="replace")
    ):
        return "IPS run whose rate filter drops or rejects"
    return None


def _pcap(
    folder: Path, cfg: Mapping[str, Any], args: Args, requires: Mapping[str, Any]
) -> Path | NotPlanned:
    if args.pcap:
        path = folder / substitute(args.pcap, folder)
    elif "pcap" in cfg:
        if not cfg["pcap"]:
            return NotPlanned("no pcap (pcap: false)", "no-pcap")
        path = folder / str(cfg["pcap"])
    else:
        found = sorted([*folder.glob("*.pcap"), *folder.glob("*.pcapng")])
        if not found:
            if "pcap" in requires and not requires["pcap"]:
                return NotPlanned("no pcap (requires: pcap: false)", "no-pcap")
            return NotPlanned("no pcap in the folder", "pcap-missing")
        if len(found) > 1:
            names = ", ".join(f.name for f in found)
            return NotPlanned(f"several pcaps ({names}) and no `pcap:`", "broken", broken=True)
        path = found[0]
    if path.is_dir():
        return NotPlanned(f"a directory of pcaps ({path.name})", "setting")
    if not path.is_file():
        return NotPlanned(f"pcap {path.name} not found", "pcap-missing")
    return path.resolve()
