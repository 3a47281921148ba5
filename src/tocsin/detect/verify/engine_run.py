"""`run_plan`: one suricata-verify style test run through Tocsin's own pipeline.

The test's capture is analysed offline, as `tocsin analyze --rules` would, with the settings
of its `TestPlan` that Tocsin mirrors: rule variables, midstream pickup, app-layer parsers
switched off, the Community ID seed, VXLAN decoding. File hashing (`fileinfo` events) is on
when a check looks at `fileinfo` (Suricata logs files by default; Tocsin only on request).
A rule file that does not load at all, or a capture that cannot be read, is that test's
failure (`RunOutcome.error`); rules that are skipped are listed (`rule_errors`), which fails
the test in strict mode.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tocsin.applayer.base import AppLimits
from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.applayer.registry import builtin
from tocsin.capture import CaptureError
from tocsin.detect.engine import DetectConfig, DetectEngine
from tocsin.detect.model import RuleSet
from tocsin.detect.rules.address import RuleVars
from tocsin.detect.rules.loader import RuleFileError, load_rules
from tocsin.detect.thresholdfile import ThresholdFileError, read_threshold_config
from tocsin.detect.verify.runner import RunOutcome
from tocsin.detect.verify.testcase import TestPlan
from tocsin.output.sink import EveSinkError
from tocsin.runtime.analyze import analyze
from tocsin.runtime.applayer import AppConfig
from tocsin.runtime.pipeline import PipelineConfig

# Suricata's app-layer names (suricata.yaml app-layer.protocols) -> Tocsin's protocol words
_APP_WORDS = {
    "http": "http",
    "http1": "http",
    "tls": "tls",
    "dns": "dns",
    "smb": "smb",
    "dcerpc": "dcerpc",
    "dhcp": "dhcp",
    "ssh": "ssh",
    "rdp": "rdp",
    "ftp": "ftp",
    "krb5": "krb5",
}


def _wants_files(plan: TestPlan) -> bool:
    """Whether a check of the test looks at `fileinfo` events."""
    return any("fileinfo" in repr(c.spec) for c in plan.checks if c.skip is None)


def run_plan(plan: TestPlan, eve_path: Path) -> RunOutcome:
    s = plan.settings
    try:
        vars_ = RuleVars.from_yaml_dict(
            {"vars": {"address-groups": s.address_groups, "port-groups": s.port_groups}}
        )
    except (ValueError, TypeError) as exc:
        return RunOutcome(ran=False, error=f"rule variables: {exc}")
    site = None
    warnings: tuple[str, ...] = ()
    if s.threshold_file is not None:
        try:
            site = read_threshold_config(s.threshold_file, vars_)
        except ThresholdFileError as exc:
            return RunOutcome(ran=False, error=str(exc))
        warnings = tuple(site.problems + site.ignored)
    try:
        ruleset = load_rules(list(plan.rule_files), vars_) if plan.rule_files else RuleSet()
    except RuleFileError as exc:
        return RunOutcome(ran=False, error=str(exc))
    rule_errors = tuple(
        f"{Path(sk.file).name}:{sk.line}: {sk.keyword + ': ' if sk.keyword else ''}{sk.reason}"
        for sk in ruleset.skipped
    )
    engine = DetectEngine(ruleset.rules, DetectConfig(thresholds=site)) if ruleset.rules else None
    registry = builtin()
    off = {
        _APP_WORDS[p.split(".")[0]] for p in s.app_layer_disabled if p.split(".")[0] in _APP_WORDS
    }
    if off:
        registry = registry.only({n for n in ALPROTO_NAMES if n and n not in off})
    limits = AppLimits()
    bodies = [b for b in (s.http_request_body_limit, s.http_response_body_limit) if b]
    if bodies:  # libhtp's body limits: how much of a body the rules see
        limits = replace(limits, max_body=max(bodies))
    config = PipelineConfig(
        community_id_seed=s.community_id_seed,
        writer_thread=False,
        app=AppConfig(midstream=s.midstream, limits=limits, file_hashes=_wants_files(plan)),
    )
    if not s.vxlan:
        config = replace(config, vxlan_port=0)
    try:
        analyze([plan.pcap], eve_path, config, registry=registry, detect=engine)
    except (CaptureError, EveSinkError) as exc:
        return RunOutcome(ran=False, error=str(exc), rule_errors=rule_errors)
    return RunOutcome(ran=True, rule_errors=rule_errors, warnings=warnings)
