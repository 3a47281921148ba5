"""Planning suricata-verify tests (`discover`, `TestCase.plan`): pcap, rules, settings and skip
reasons, on real test.yaml files (tests/fixtures/sv, with provenance) and small made-up ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tocsin.detect.verify import NotPlanned, TestCase, TestPlan, discover
from tocsin.detect.verify.mirror import read_settings
from tocsin.detect.verify.settings import (
    DEFAULT_ADDRESS_GROUPS,
    Args,
    Refused,
    parse_args,
    parse_size,
)

from .svkit import make_test, tiny_pcap

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sv"
# the pcap each fixture's folder held in suricata-verify (left out of the fixtures)
PCAPS = {
    "detect-http-uri/UriTestSig01": "test.fpc.pcap",
    "uricontent/detect-uricontent-03": "input.pcap",
    "alert-distance-within-1": "input.pcap",
    "community-id-ipv6": "input.pcap",
    "http-not09": "input.pcap",
    "lua/lua-tlslib-02": "input.pcap",
    "smtp-no-helo-quit": "input.pcap",
    "bug-1449-01": "suricata_stackoverflow.pcap",
    "dns/dns-query/dns-detect-query-03": "input.pcap",
    "smtp-bug-5989": "input.pcap",
    "ips-state-1": "input.pcap",
    "lua-output-stats": "test.pcap",
}


@pytest.fixture(scope="module")
def sv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture tests copied, with tiny stand-ins for the pcaps they use."""
    root = tmp_path_factory.mktemp("sv") / "tests"
    shutil.copytree(FIXTURES, root)
    for case in discover([root]):
        pcap = case.config.get("pcap")
        if isinstance(pcap, str):
            tiny_pcap(case.folder / pcap)
        elif case.name in PCAPS:
            tiny_pcap(case.folder / PCAPS[case.name])
    return root


def plan(sv: Path, name: str, version: str = "8.0.0") -> TestPlan:
    p = TestCase.load(sv / name, name).plan(version=version)
    assert isinstance(p, TestPlan), p
    return p


def skipped(sv: Path, name: str) -> NotPlanned:
    p = TestCase.load(sv / name, name).plan()
    assert isinstance(p, NotPlanned), f"{name} planned to run"
    return p


def test_discover_sorted_and_stops_at_a_test(sv: Path, tmp_path: Path) -> None:
    cases = discover([sv])
    names = [c.name for c in cases]
    assert names == sorted(names) and len(names) == 23
    assert "dns/dns-query/dns-detect-query-03" in names
    # a test folder inside a test folder is not a test (as run.py), a test given is named
    make_test(tmp_path, "outer", "checks: []\n")
    make_test(tmp_path, "outer/inner", "checks: []\n")
    assert [c.name for c in discover([tmp_path])] == ["outer"]
    assert [c.name for c in discover([tmp_path / "outer" / "inner"])] == ["inner"]
    assert [c.name for c in discover([tmp_path, tmp_path / "outer"])] == ["outer"]  # once
    with pytest.raises(FileNotFoundError):
        discover([tmp_path / "absent"])


def test_checksum_inline_and_version(sv: Path) -> None:
    p = plan(sv, "detect-http-uri/UriTestSig01")
    assert p.pcap.name == "test.fpc.pcap"
    assert [f.name for f in p.rule_files] == ["test.rules"]
    s = p.settings
    assert s.checksum == "none" and s.inline and not s.midstream and not s.ips
    assert s.address_groups == DEFAULT_ADDRESS_GROUPS and s.eve_types is None
    assert [c.index for c in p.checks] == [1, 2] and not p.expect_failure


def test_midstream_and_inline_args(sv: Path) -> None:
    s = plan(sv, "dns/dns-query/dns-detect-query-03").settings
    assert s.midstream and s.inline and s.checksum == "none"
    assert plan(sv, "uricontent/detect-uricontent-03").settings.midstream


def test_suricata_yaml_eve_types(sv: Path) -> None:
    p = plan(sv, "alert-distance-within-1")
    assert p.settings.eve_types == {"alert", "http"}
    assert p.settings.checksum == "none"
    p = plan(sv, "detect-http-uri/UriTestSig01")
    assert p.settings.eve_types is None  # no suricata.yaml: Suricata's default output


def test_threshold_file_and_named_pcap(sv: Path) -> None:
    p = plan(sv, "threshold-config-byrule")
    assert p.settings.threshold_file == (sv / "threshold-config-byrule/threshold.config")
    assert [f.name for f in p.rule_files] == ["input.rules"]
    assert p.pcap == (sv / "http-all-headers/input.pcap").resolve()


def test_community_id_and_disabled_parser(sv: Path) -> None:
    s = plan(sv, "community-id-ipv6").settings
    assert s.community_id and s.community_id_seed == 7 and s.eve_types == {"tls", "flow"}
    s = plan(sv, "snmp-disabled").settings
    assert s.app_layer == {"snmp": "no"} and s.app_layer_disabled == {"snmp"}
    assert plan(sv, "snmp-disabled").rule_files == ()  # no rules: detection off


def test_version_gated_rule_file(sv: Path) -> None:
    assert [f.name for f in plan(sv, "http-not09").rule_files] == ["min8.rules"]
    assert plan(sv, "http-not09", version="7.0.10").rule_files == ()


def test_check_level_requires(sv: Path) -> None:
    p = plan(sv, "bug-1449-01")
    assert [c.skip is None for c in p.checks] == [True, False, True]
    p9 = plan(sv, "bug-1449-01", version="9.0.0")
    assert [c.skip is None for c in p9.checks] == [True, False, True]
    p7 = plan(sv, "bug-1449-01", version="7.0.0")
    assert [c.skip is None for c in p7.checks] == [True, True, False]


def test_ips_without_drops_runs_inline(sv: Path) -> None:
    s = plan(sv, "smtp-bug-5989").settings
    assert s.ips and s.inline  # stream.inline is `auto` by default: inline under IPS


@pytest.mark.parametrize(
    ("name", "category", "reason"),
    [
        ("lua/lua-tlslib-02", "lua", "rules use Lua (lua keyword)"),
        ("ut-complete", "command", "runs its own Suricata command line (`command:`)"),
        ("lua-output-stats", "checks", "every check is skipped (shell)"),
        ("lua-scpackettuple-pre8", "feature", "requires Suricata features Tocsin lacks: HAVE_LUA"),
        (
            "smtp-no-helo-quit",
            "version",
            "requires min-version 8.0.7 (Tocsin is judged as Suricata 8.0.0)",
        ),
        (
            "firewall/ruletype-firewall-62-icmp-icode",
            "firewall",
            "Suricata 8 firewall mode (firewall.rules)",
        ),
        (
            "bug-6278-1",
            "engine-analysis",
            "--engine-analysis: a Suricata start-up/analysis run, no traffic analysed",
        ),
        ("exception-policy-midstream-07", "exception-policy", "stream.midstream-policy=bypass"),
        ("dcerpc/dcerpc-dce-stub-data-06", "no-pcap", "no pcap (pcap: false)"),
        (
            "http2-host",
            "ips/live",
            "IPS run whose rules drop or reject (the verdict changes the traffic)",
        ),
        (
            "ips-state-1",
            "ips/live",  # IPS from the test's name alone, as run.py
            "IPS run whose rules drop or reject (the verdict changes the traffic)",
        ),
        ("bpf-command-line", "setting", "BPF filter `port 22`"),
        (
            "config-includes",
            "engine-analysis",
            "--dump-config: a Suricata start-up/analysis run, no traffic analysed",
        ),
    ],
)
def test_skip_reasons(sv: Path, name: str, category: str, reason: str) -> None:
    p = skipped(sv, name)
    assert (p.category, p.reason, p.broken) == (category, reason, False)


def test_include_overrides_what_precedes_it(sv: Path) -> None:
    s = read_settings(sv / "config-includes", Args())
    assert s.address_groups["HOME_NET"] == "10.10.10.10/32"  # overrides.yaml, included after
    assert s.port_groups["FTP_PORTS"] == "[21,2121]"
    assert s.port_groups["DEV_SERVER_PORTS"] == "[3000,4200]"
    assert s.port_groups["HTTP_PORTS"] == "80"


# ------------------------------------------------------------------- made-up test folders

VARS_YAML = """%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[10.1.0.0/16]"
  port-groups:
    HTTP_PORTS: [80, 8080]
app-layer:
  protocols:
    dns:
      tcp:
        enabled: no
    http:
      enabled: detection-only
      libhtp:
        default-config:
          request-body-limit: 2mb
          response-body-limit: 0
stream:
  reassembly:
    depth: 1mb
pcap-file:
  checksum-checks: no
action-order: [drop, pass, reject, alert]
packet-alert-max: 3
"""


def test_suricata_yaml_settings(tmp_path: Path) -> None:
    args = "args:\n  - --set stream.async-oneside=true --set decoder.vxlan.enabled=false\n"
    make_test(
        tmp_path,
        "t",
        args + "checks: []\n",
        rules="alert ip any any -> any any (sid:1;)\n",
        files={"suricata.yaml": VARS_YAML},
    )
    p = TestCase.load(tmp_path / "t", "t").plan()
    assert isinstance(p, TestPlan)
    s = p.settings
    assert s.address_groups["HOME_NET"] == "[10.1.0.0/16]"
    assert s.address_groups["EXTERNAL_NET"] == "!$HOME_NET"  # Suricata's default kept
    assert s.port_groups["HTTP_PORTS"] == "[80,8080]"
    assert s.app_layer == {"dns.tcp": "no", "http": "detection-only"}
    assert s.http_request_body_limit == 2 << 20 and s.http_response_body_limit == 0
    assert s.reassembly_depth == 1 << 20 and s.async_oneside and not s.vxlan
    assert s.checksum == "none" and s.packet_alert_max == 3
    assert s.action_order == ("drop", "pass", "reject", "alert")
    assert s.config["app-layer.protocols.http.libhtp.default-config.request-body-limit"] == "2mb"


@pytest.mark.parametrize(
    ("args", "yaml_text", "reason"),
    [
        ("--simulate-packet-flow-memcap=6", "", "QA simulation option"),
        ("-q 0", "", "live or inline capture mode"),
        ("--set stream.reassembly.urgent.policy=oob", "", "TCP urgent data policy"),
        ("--set exception-policy=drop-flow", "", "exception-policy=drop-flow"),
        ("--set app-layer.protocols.tls.ja4-fingerprints=no", "", "ja4-fingerprints=no"),
        ("--set threshold-file=${SRCDIR}/threshold.config", "", "Suricata's source tree"),
        ("", "host-os-policy:\n  windows: [0.0.0.0/0]\n", "host OS stream reassembly"),
        ("", "include: /etc/suricata/suricata.yaml\n", "outside the test"),
        ("", "frobnicate:\n  level: 3\n", "frobnicate.level=3 (not mirrored by Tocsin)"),
        ("", "outputs:\n  - lua:\n      scripts: [a.lua]\n", "Lua output script"),
        ("", "stream:\n  bypass: yes\n", "stream.bypass=yes"),
    ],
)
def test_refused_settings(tmp_path: Path, args: str, yaml_text: str, reason: str) -> None:
    files = {"suricata.yaml": yaml_text} if yaml_text else {}
    test_yaml = (f"args:\n  - {args}\n" if args else "") + "checks: []\n"
    make_test(tmp_path, "t", test_yaml, files=files)
    p = TestCase.load(tmp_path / "t", "t").plan()
    assert isinstance(p, NotPlanned) and not p.broken
    assert reason in p.reason


@pytest.mark.parametrize(
    ("test_yaml", "files", "pcaps", "reason", "broken"),
    [
        ("checks: []\n", {}, [], "no pcap in the folder", False),
        ("pcap: gone.pcap\n", {}, [], "pcap gone.pcap not found", False),
        ("requires:\n  pcap: false\n", {}, [], "no pcap (requires: pcap: false)", False),
        ("checks: []\n", {}, ["a.pcap", "b.pcapng"], "several pcaps (a.pcap, b.pcapng)", True),
        ("checks: []\n", {"a.rules": "", "b.rules": ""}, ["in.pcap"], "several rules files", True),
        ("rules: other.rules\n", {}, ["in.pcap"], "rules file other.rules not found", True),
        ("checks: [\n", {}, ["in.pcap"], "test.yaml unreadable", True),
        ("- a list\n", {}, ["in.pcap"], "test.yaml is not a mapping", True),
        ("requires:\n  script: ['true']\n", {}, ["in.pcap"], "requires a `script`", False),
        ("skip: true\n", {}, ["in.pcap"], "skip: skipped by the test", False),
        ("skip:\n  - feature: HAVE_JA3\n    msg: JA3 on\n", {}, ["in.pcap"], "skip: JA3 on", False),
        ("env:\n  SURICATA_EVE_DNS_VERSION: 2\n", {}, ["in.pcap"], "environment variables", False),
        ("exit-code: 1\n", {}, ["in.pcap"], "expects Suricata to refuse its configuration", False),
    ],
)
def test_folder_problems(
    tmp_path: Path,
    test_yaml: str,
    files: dict[str, str],
    pcaps: list[str],
    reason: str,
    broken: bool,
) -> None:
    make_test(tmp_path, "t", test_yaml, pcap=None, files=files)
    for name in pcaps:
        tiny_pcap(tmp_path / "t" / name)
    p = TestCase.load(tmp_path / "t", "t").plan()
    assert isinstance(p, NotPlanned)
    assert reason in p.reason and p.broken is broken


def test_rules_options(tmp_path: Path) -> None:
    folder = make_test(
        tmp_path,
        "t",
        "args:\n  - -S ${TEST_DIR}/main.rules -s extra.rules\nexit-code: 1\n",
        files={
            "main.rules": "alert ip any any -> any any (sid:1;)\n",
            "extra.rules": "alert ip any any -> any any (sid:2;)\n",
            "test.rules": "alert ip any any -> any any (sid:3;)\n",
        },
    )
    p = TestCase.load(folder, "t").plan()
    assert isinstance(p, TestPlan)
    assert [f.name for f in p.rule_files] == ["main.rules", "extra.rules"]  # -S replaces
    assert p.expect_failure
    make_test(tmp_path, "u", "rules: ../t/main.rules\n")
    p = TestCase.load(tmp_path / "u", "u").plan()
    assert isinstance(p, TestPlan) and p.rule_files == ((folder / "main.rules").resolve(),)
    make_test(
        tmp_path,
        "v",
        "args: [--disable-detection]\n",
        rules="alert ip any any -> any any (sid:1;)\n",
    )
    p = TestCase.load(tmp_path / "v", "v").plan()
    assert isinstance(p, TestPlan) and p.rule_files == ()


def test_lua_in_continued_rule_and_commented_drop(tmp_path: Path) -> None:
    rules = 'alert tcp any any -> any any (msg:"x"; \\\n    lua:check.lua; sid:1;)\n'
    make_test(tmp_path, "a", "checks: []\n", rules=rules)
    assert TestCase.load(tmp_path / "a", "a").plan() == NotPlanned(
        "rules use Lua (lua keyword)", "lua"
    )
    make_test(
        tmp_path,
        "b-ips",
        "checks: []\n",
        rules="# drop tcp any any -> any any (sid:2;)\nalert tcp any any -> any any (sid:1;)\n",
    )
    p = TestCase.load(tmp_path / "b-ips", "b-ips").plan()
    assert isinstance(p, TestPlan) and p.settings.ips  # a commented-out drop does not count


def test_parse_args_and_sizes() -> None:
    a = parse_args(
        [
            "-k none --set stream.midstream=true",
            "--runmode=single -vvv",
            "--set 'threshold-file=${TEST_DIR}/t.config'",
            "--data-dir=${OUTPUT_DIR}",
        ]
    )
    assert a.checksum == "none"
    assert a.sets == [("stream.midstream", "true"), ("threshold-file", "${TEST_DIR}/t.config")]
    with pytest.raises(Refused, match="checksum mode"):
        parse_args(["-k sometimes"])
    assert parse_size("4096") == 4096 and parse_size("4kb") == 4096
    assert parse_size("1 MiB") == 1 << 20 and parse_size("1gb") == 1 << 30
