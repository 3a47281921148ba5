"""suricata-verify's `filter` checks on `dns`, `http` and `tls` events, as judges of Tocsin.

`discover(corpus)` finds every test folder under `suricata-verify/tests` whose `test.yaml` has a
`filter` check with `match.event_type` in {dns, http, tls} and plans how to run it (`SvTest`):
its capture, the midstream setting, the Tocsin options that mirror the test's Suricata
settings, or why Tocsin cannot be judged by it (`skip`). `evaluate(test, events)` then judges
exactly those filter checks with the corpus's own evaluator, `tools/sv_check.py`, loaded by
path (its `event_matches`: one semantics for every engine judged with it).

Versions: checks carrying `requires: {min-version | lt-version | version}` are evaluated or
skipped as sv_check does, with `SURICATA_VERSION` (8.0.0) and the version comparison of
`tocsin rules test` (`tocsin.detect.verify.requires`, the same as sv_check's `version_ok`);
the test-level `requires` is judged with the same version (sv_check does not enforce it: a
test written for Suricata 9, or for 8.0.4 and later, expects behaviour Tocsin is not judged
by; one for "lt-version: 8" describes Suricata 7). Features: Tocsin's output has what
`FEATURES` names (JA3 and JA4 are always computed); any other required feature (HAVE_LUA,
QA_SIMULATION...) skips the test or check.

Run settings: `--no-midstream` (Suricata's default, stream.midstream=false) unless `args` or
the test's suricata.yaml set `stream.midstream` true; `community-id-seed` and
`decoder.vxlan.enabled=false` are mirrored; DNS disabled in suricata.yaml runs Tocsin without
its DNS parser. Everything else that changes what Suricata logs, and that Tocsin cannot
mirror, skips the test with the setting named (see `_why_not_*`): a `command:` of its own, the
DNS v2 log format (env or eve-log option), DNS log filters (`requests`/`responses`/`types`/
`formats`), HTTP `dump-all-headers`/`custom`, TLS `custom` field lists, EVE
options Tocsin lacks (`ethernet`, `pcap-file`), exception policies, the Suricata 8 firewall,
QA simulation options, IPS runs whose rules drop or reject (the verdict cuts the flow; Tocsin
has no signature engine), rules that change logging (`config:` keyword, lua, `bypass`).
One check, not the test, is skipped when the test logs http or tls without `extended` (a bare
`- http` in its suricata.yaml: Suricata then writes fewer fields, Tocsin always writes them
all) and the check compares that whole object or asserts one of its fields is absent.
Settings known not to change the dns/http/tls events (detection-only settings, stats, rule
files, checksum mode, detection ports: Tocsin finds DNS/TLS by content) are listed in
`_HARMLESS_SET` and `_HARMLESS_TOP` with why.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

# shared with `tocsin rules test`: what Tocsin is judged as, YAML and argument reading
from tocsin.detect.verify.requires import FEATURES, SURICATA_VERSION, version_satisfied
from tocsin.detect.verify.settings import is_true as _true
from tocsin.detect.verify.settings import load_yaml_text, split_args

EVENT_TYPES = frozenset({"dns", "http", "tls"})
_SELECT = re.compile(r"event_type:\s*['\"]?(dns|http|tls)['\"]?\s*$", re.M)

# `--set key=value` settings that do not change the dns/http/tls events (key prefix -> why)
_HARMLESS_SET = {
    "threshold-file": "alert thresholds",
    "reputation-": "IP reputation for rules",
    "stats.": "stats events",
    "mpm-algo": "pattern matcher choice",
    "spm-algo": "pattern matcher choice",
    "detect.": "detection engine",
    "app-layer.protocols.tls.ja4-fingerprints": "Tocsin always computes JA4",
    "app-layer.protocols.dns.detection-ports": "Tocsin finds DNS by content on any port",
    "app-layer.protocols.dns.tcp.detection-ports": "Tocsin finds DNS by content on any port",
    "app-layer.protocols.http.libhtp.default-config.response-body-limit": "body inspection",
    "app-layer.protocols.http2.enabled": "HTTP/2 (not parsed by Tocsin either way)",
}
# top-level suricata.yaml sections that do not change the dns/http/tls events
_HARMLESS_TOP = frozenset(
    {"vars", "logging", "action-order", "default-log-dir", "stats", "detect", "outputs"}
)
_HARMLESS_APP = (
    "detection-ports",  # Tocsin detects by content
    "ja3-fingerprints",  # Tocsin always computes JA3
    "ja4-fingerprints",
    "encrypt-handling",  # what happens after the handshake, not the tls event
    "libhtp",  # body limits, URI normalisation for detection; `url` is logged raw
    "enabled",  # handled separately for dns
)
_DROP_ACTIONS = frozenset({"drop", "reject", "rejectsrc", "rejectdst", "rejectboth"})


def load_sv_check(path: Path) -> ModuleType:
    """The corpus's `tools/sv_check.py`, imported by path (never copied)."""
    name = "sv_check"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Check:
    index: int  # 1-based position in test.yaml's `checks`
    spec: dict[str, Any]  # the `filter` body

    @property
    def event_type(self) -> str:
        return str(self.spec["match"]["event_type"])


@dataclass(frozen=True)
class RunSpec:
    """What Tocsin is run with (tests with equal specs share one run)."""

    pcap: Path
    midstream: bool = False
    community_id_seed: int = 0
    vxlan: bool = True
    dns: bool = True


@dataclass
class SvTest:
    name: str  # folder relative to suricata-verify/tests
    folder: Path
    checks: list[Check]
    run: RunSpec | None = None
    skip: str | None = None
    plain: set[str] = field(default_factory=set)  # types logged without `extended`


@dataclass
class CheckResult:
    check: Check
    status: str  # "pass", "fail", "skip"
    got: int | None = None
    why: str = ""  # skip: why; fail: how the nearest event of the type differs

    def describe(self) -> str:
        m = self.check.spec.get("match")
        if self.status == "skip":
            return f"[{self.check.index}] skipped ({self.why}): {m}"
        text = f"[{self.check.index}] want {self.check.spec.get('count')} got {self.got}: {m}"
        return text + (f"\n      {self.why}" if self.why else "")


@dataclass
class Outcome:
    test: SvTest
    results: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    @property
    def failing(self) -> list[CheckResult]:
        return [r for r in self.results if r.status == "fail"]


# ------------------------------------------------------------------------------- discovery


def discover(corpus: Path) -> list[SvTest]:
    root = corpus / "suricata-verify" / "tests"
    sv = load_sv_check(corpus / "tools" / "sv_check.py")
    tests = []
    for ty in sorted(root.rglob("test.yaml")):
        text = ty.read_text(errors="replace")
        if not _SELECT.search(text):
            continue
        cfg = load_yaml_text(text) or {}
        checks = [
            Check(k, c["filter"])
            for k, c in enumerate(cfg.get("checks") or [], 1)
            if isinstance(c, dict)
            and isinstance(c.get("filter"), dict)
            and (c["filter"].get("match") or {}).get("event_type") in EVENT_TYPES
        ]
        if checks:
            tests.append(plan(ty.parent, ty.parent.relative_to(root).as_posix(), cfg, checks, sv))
    return tests


def plan(folder: Path, name: str, cfg: dict[str, Any], checks: list[Check], sv: Any) -> SvTest:
    test = SvTest(name, folder, checks)
    try:
        opts: dict[str, Any] = {}
        why = (
            _why_not_test_yaml(cfg, sv)
            or _why_not_args(name, cfg, opts)
            or _why_not_suricata_yaml(folder, opts, test.plain)
            or _why_not_rules(folder, name, cfg)
        )
        pcap, why_pcap = _pcap(folder, cfg)
    except (yaml.YAMLError, OSError, ValueError) as exc:
        test.skip = f"cannot read the test's files: {exc}"
        return test
    test.skip = why or why_pcap
    if test.skip is None and pcap is not None:
        test.run = RunSpec(pcap=pcap, **opts)
    return test


def _pcap(folder: Path, cfg: dict[str, Any]) -> tuple[Path | None, str | None]:
    if "pcap" in cfg:
        if not cfg["pcap"]:
            return None, "no pcap (pcap: false)"
        p = (folder / str(cfg["pcap"])).resolve()
        if not p.is_file():
            return None, f"pcap {cfg['pcap']} not in the corpus (files of 4 MiB or more left out)"
        return p, None
    found = sorted(folder.glob("*.pcap"))
    if not found:
        return None, "no pcap in the folder (the corpus left out files of 4 MiB or more)"
    if len(found) > 1:
        return None, f"{len(found)} pcaps in the folder and no `pcap:` to choose"
    return found[0], None


def _why_not_test_yaml(cfg: dict[str, Any], sv: Any) -> str | None:
    if cfg.get("command"):
        return "runs its own Suricata command line (`command:`)"
    req = cfg.get("requires") or {}
    missing = [f for f in req.get("features") or [] if f not in FEATURES]
    if missing:
        return f"requires Suricata features Tocsin lacks: {', '.join(missing)}"
    versions = {k: req[k] for k in ("min-version", "lt-version", "version") if k in req}
    if not _versions_ok(versions):
        return f"test requires {versions}; judged as Suricata {SURICATA_VERSION}"
    for k in ("script", "lambda"):
        if req.get(k):
            return f"requires a `{k}` Tocsin cannot evaluate"
    if "pcap" in req and not req["pcap"]:
        return "no pcap (requires: pcap: false)"
    for s in cfg.get("skip") or []:
        if isinstance(s, dict) and s.get("feature") in FEATURES:
            return f"skipped when {s['feature']} is present: {s.get('msg', '')}"
    env = cfg.get("env") or {}
    if str(env.get("SURICATA_EVE_DNS_VERSION", "")) == "2":
        return "DNS log format v2 (env SURICATA_EVE_DNS_VERSION=2); Tocsin writes v3"
    if env:
        return f"environment {env}"
    return None


def _why_not_args(name: str, cfg: dict[str, Any], opts: dict[str, Any]) -> str | None:
    words = split_args(cfg.get("args"))
    k = 0
    while k < len(words):
        w = words[k]
        k += 1
        if w == "-k":
            k += 1  # checksum mode: Tocsin never drops packets for bad checksums
            continue
        if w in ("--simulate-ips", "--no-random") or w.startswith("--runmode"):
            continue
        if w.startswith("--simulate-"):
            return f"QA simulation option {w}"
        if w != "--set" or k >= len(words):
            return f"Suricata option {w}"
        key, _, value = words[k].partition("=")
        k += 1
        if key == "stream.midstream":
            opts["midstream"] = _true(value)
        elif key == "decoder.vxlan.enabled":
            opts["vxlan"] = _true(value)
        elif not any(key.startswith(p) for p in _HARMLESS_SET):
            return f"Suricata setting {key}={value}"
    return None


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def _versions_ok(versions: dict[str, Any]) -> bool:
    return all(version_satisfied(k, v, SURICATA_VERSION) for k, v in versions.items())


def _why_not_suricata_yaml(folder: Path, opts: dict[str, Any], plain: set[str]) -> str | None:
    path = folder / "suricata.yaml"
    if not path.exists():
        return None
    y = load_yaml_text(path.read_text(errors="replace")) or {}
    if "include" in y:
        return f"suricata.yaml includes {y['include']}"
    if "firewall" in y:
        return "Suricata 8 firewall mode"
    for top in y:
        if top in _HARMLESS_TOP or top in ("app-layer", "stream", "exception-policy"):
            continue
        return f"suricata.yaml section `{top}`"
    policy = y.get("exception-policy")
    if policy is not None and str(policy) not in ("auto", "ignore"):
        return f"exception-policy: {policy}"
    stream = y.get("stream") or {}
    for k, v in stream.items():
        if k == "midstream":
            opts["midstream"] = _true(v)
        else:
            return f"stream.{k}: {v}"
    why = _why_not_app_layer(y.get("app-layer") or {}, opts)
    if why:
        return why
    for out in y.get("outputs") or []:
        for kind, conf in (out or {}).items():
            if kind == "eve-log" and isinstance(conf, dict):
                why = _why_not_eve(conf, opts, plain)
                if why:
                    return why
    return None


def _why_not_app_layer(app: dict[str, Any], opts: dict[str, Any]) -> str | None:
    protos = app.get("protocols") or {}
    for proto, conf in protos.items():
        if not isinstance(conf, dict):
            continue
        if proto == "dns":
            off = conf.get("enabled") is False or (
                (conf.get("tcp") or {}).get("enabled") is False
                and (conf.get("udp") or {}).get("enabled") is False
            )
            if off:
                opts["dns"] = False
            elif any((conf.get(t) or {}).get("enabled") is False for t in ("tcp", "udp")):
                return "DNS disabled over one transport only (Tocsin cannot mirror it)"
            continue
        if conf.get("enabled") is False and proto in EVENT_TYPES:
            return f"Suricata's {proto} parser disabled"
        for k in conf:
            if k not in _HARMLESS_APP:
                return f"app-layer.protocols.{proto}.{k}"
    for k in app:
        if k not in ("protocols",):
            return f"app-layer.{k}"
    return None


def _why_not_eve(conf: dict[str, Any], opts: dict[str, Any], plain: set[str]) -> str | None:
    if _true(conf.get("ethernet")):
        return "EVE option ethernet (Tocsin logs no MAC addresses)"
    for opt in ("pcap-file", "suricata-version"):
        if _true(conf.get(opt)):
            return f"EVE option {opt} (a field Tocsin does not write)"
    if "community-id-seed" in conf:
        opts["community_id_seed"] = int(conf["community-id-seed"])
    for t in conf.get("types") or []:
        if isinstance(t, str):
            t = {t: None}
        if not isinstance(t, dict):
            continue
        for kind, tconf in t.items():
            tconf = tconf or {}
            if kind in ("http", "tls") and not _true(tconf.get("extended")):
                plain.add(kind)
            if kind == "dns":
                if str(tconf.get("version", "3")) == "2":
                    return "DNS log format v2 (eve-log dns version: 2); Tocsin writes v3"
                for k in ("requests", "responses", "types", "formats"):
                    if k in tconf:
                        return f"eve-log dns `{k}` filter (Tocsin logs every message)"
            elif kind == "http":
                if "dump-all-headers" in tconf or "custom" in tconf:
                    return "eve-log http dump-all-headers / custom header fields"
            elif kind == "tls" and "custom" in tconf:
                return f"eve-log tls custom fields {tconf['custom']}"
    return None


def _why_not_rules(folder: Path, name: str, cfg: dict[str, Any]) -> str | None:
    rules_file = cfg.get("rules")
    files = [folder / str(rules_file)] if rules_file else sorted(folder.glob("*.rules"))
    text = "\n".join(f.read_text(errors="replace") for f in files if f.is_file())
    text = re.sub(r"\\\n", " ", text)  # a rule continued over several lines
    rules = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    ips = "--simulate-ips" in " ".join(str(a) for a in cfg.get("args") or []) or bool(
        re.search(r"(^|[-_])ips($|[-_])", name.rsplit("/", 1)[-1])
    )
    if ips and re.search(r"new_action\s+(drop|reject)", _read(folder / "threshold.config")):
        return "IPS run whose threshold.config rate filter drops/rejects"
    for rule in rules:
        action = rule.split(None, 1)[0]
        if re.fullmatch(r"[a-z]+:[a-z]+", action):
            return f"Suricata 8 firewall rules ({action})"
        if ips and action in _DROP_ACTIONS:
            return "IPS run whose rules drop/reject (the verdict ends the flow)"
        for kw, what in (("config:", "config keyword"), ("lua", "lua"), ("bypass;", "bypass")):
            if kw in rule:
                return f"rules use {what} (changes what Suricata logs)"
    return None


# ------------------------------------------------------------------------------ evaluation


APP_EVENT_TYPES = frozenset(("dns", "http", "tls"))


def evaluate(test: SvTest, events: list[dict[str, Any]], sv: Any) -> list[CheckResult]:
    """Each selected check of `test` on Tocsin's events, with sv_check's semantics."""
    results = []
    for chk in test.checks:
        spec = chk.spec
        req = spec.get("requires") or {}
        missing = [f for f in req.get("features") or [] if f not in FEATURES]
        versions = {k: req[k] for k in ("min-version", "lt-version", "version") if k in req}
        if missing:
            results.append(CheckResult(chk, "skip", why=f"requires {', '.join(missing)}"))
        elif not _versions_ok(versions):
            results.append(CheckResult(chk, "skip", why=f"requires {versions}"))
        elif spec.get("filename"):
            results.append(CheckResult(chk, "skip", why=f"other file {spec['filename']}"))
        elif _whole_object(spec.get("match") or {}, test.plain):
            why = "compares a whole object Suricata logs without `extended` (Tocsin always does)"
            results.append(CheckResult(chk, "skip", why=why))
        else:
            match = spec.get("match") or {}
            if match.get("event_type") in APP_EVENT_TYPES:
                # sv_check's `--ignore-key pcap_cnt`: Suricata (IDS mode) logs a TCP
                # transaction at the packet that acknowledges its data, Tocsin at the packet
                # that completed it, one or two packets earlier
                match = {k: v for k, v in match.items() if k != "pcap_cnt"}
            n = sum(1 for e in events if sv.event_matches(e, match))
            if n == spec.get("count"):
                results.append(CheckResult(chk, "pass", n))
            else:
                results.append(CheckResult(chk, "fail", n, nearest(events, match, sv)))
    return results


def _whole_object(match: dict[str, Any], plain: set[str]) -> bool:
    """The check compares the complete `http` / `tls` object, or asserts a field is absent, of
    a type the test logs without `extended` (Suricata then writes fewer fields)."""
    absent = match.get("not-has-key", [])
    absent = absent if isinstance(absent, list) else [absent]
    return any(isinstance(match.get(t), dict) for t in plain) or any(
        str(k).split(".", 1)[0] in plain for k in absent
    )


def nearest(events: list[dict[str, Any]], match: dict[str, Any], sv: Any) -> str:
    """How the event of the check's type that matches most keys differs from the check."""
    same = [e for e in events if e.get("event_type") == match.get("event_type")]
    if not same:
        return f"Tocsin wrote no {match.get('event_type')} event"
    best: list[str] = []
    best_event = same[0]
    for e in same:
        off = [k for k, v in match.items() if not sv.event_matches(e, {k: v})]
        if not best or len(off) < len(best):
            best, best_event = off, e
    if not best:
        return f"{len(same)} {match.get('event_type')} events match every key"
    parts = []
    for k in best[:4]:
        want = f"{k}: want {_short(match[k])}"
        if k in ("has-key", "not-has-key"):
            parts.append(want)
            continue
        got = sv.find_value(k.rsplit(".__", 1)[0] if ".__" in k else k, best_event)
        if isinstance(got, dict) and isinstance(match[k], dict):
            parts.append(f"{k}: {_dict_diff(match[k], got)}")
        else:
            parts.append(f"{want}, got {_short(got)}")
    return f"nearest of {len(same)} {match.get('event_type')} events differs in " + "; ".join(parts)


def _dict_diff(want: dict[str, Any], got: dict[str, Any]) -> str:
    """What keeps two objects from being equal (a check may compare a whole object)."""
    out = [f"lacks {k}={_short(v, 60)}" for k, v in want.items() if k not in got]
    out += [
        f"{k}: want {_short(v, 60)} got {_short(got[k], 60)}"
        for k, v in want.items()
        if k in got and got[k] != v
    ]
    out += [f"extra {k}" for k in got if k not in want]
    return ", ".join(out)


def _short(value: Any, n: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= n else text[: n - 3] + "..."
