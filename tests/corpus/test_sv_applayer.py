"""suricata-verify's non-alert checks on `dns`, `http` and `tls` events, on Tocsin's output.

For every suricata-verify test (shared corpus, `suricata-verify/tests`) with a `filter` check
whose `match.event_type` is dns, http or tls: Tocsin analyses the test's pcap in-process (with
the app-layer registry of `golden.appmatch.judge_registry()`) and exactly those checks are
evaluated with the corpus's `tools/sv_check.py` semantics (`svjudge`: how a test is planned,
which Suricata settings are mirrored, and why a test is skipped). One pytest case per
suricata-verify test: skipped with its reason, or failing with every failing check.

KNOWN_FAILURES lists tests that fail for a reason Tocsin will not fix (a deliberate difference
from Suricata), with that reason; a listed test that passes fails the judge, so the entry goes.
Failures of missing or incomplete parsers are not listed: they are the work list.
A capture Tocsin refuses at open (a link type it does not read), or in which it decodes no
TCP/UDP flow at all (an encapsulation such as PPPoE), skips the test: a decoder matter, judged
by the decode tests. `test_sv_tallies` prints the tallies: tests passed /
failed / skipped, checks passed / failed / skipped per protocol, and the skip reasons.
"""

from __future__ import annotations

import os
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from golden.appmatch import read_eve, run_app
from tocsin.capture import CaptureError

from .svjudge import Check, Outcome, RunSpec, SvTest, discover, evaluate, load_sv_check, plan

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not (CORPUS / "suricata-verify" / "tests").is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

REFUSED = "Tocsin refuses the capture at open: "
NO_FLOWS = "Tocsin decodes no TCP/UDP flow in the capture (an encapsulation it does not decode)"
# suricata-verify test -> why Tocsin deliberately differs (never a missing parser feature)
_HTTP2 = "HTTP/2 is not parsed: this issue covers HTTP/1.0 and 1.1 (HTTP/2, DoH2: follow-up)"
_STARTTLS = "STARTTLS inside a protocol Tocsin does not parse (LDAP, PostgreSQL): no TLS hand-over"
KNOWN_FAILURES: dict[str, str] = {
    "http2-basic": _HTTP2,
    "http2-compression-bug": _HTTP2,
    "http2-continuation": _HTTP2,
    "http2-doh2-tx-log": _HTTP2,
    "http2-files": _HTTP2,
    "http2-files-6": _HTTP2,
    "http2-long-frame": _HTTP2,
    "http2-tx-log": _HTTP2,
    "http2-upgrade": _HTTP2,
    "dns-over-http2": _HTTP2,
    "dns-over-http2-post": _HTTP2,
    "ldap-starttls": _STARTTLS,
    "pgsql/pgsql-upgrade-tls": _STARTTLS,
    "bug-2430": "TLS inside an HTTP CONNECT tunnel: the HTTP parser ends at the tunnel, "
    "no hand-over to the TLS parser yet",
    "bug-130": "compares the whole http object: Tocsin logs a few harmless headers by default "
    "(request_headers/response_headers: Accept, Content-Type, Server...), Suricata none",
    "bug-814": "IPv6 addresses written compressed (RFC 5952, as Suricata 9 does: "
    "compress_ipv6-01); Suricata 8 writes them expanded",
    "community-id-ipv6": "IPv6 addresses written compressed (RFC 5952), Suricata 8 expanded",
    "alert-testmyids-midstream": "a flow picked up by its server's reply: Suricata turns it round "
    "and parses the response alone; Tocsin keeps the first sender as client and logs no http",
    "dns/dns-truncated-rname": "DNS over TCP on a non-DNS port whose question name is longer "
    "than the first 16 KB segment: the probe cannot see the name end (Suricata is told the port)",
}

TESTS: list[SvTest] = discover(CORPUS)
SV = load_sv_check(CORPUS / "tools" / "sv_check.py")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every planned test run and judged once (runs with the same `RunSpec` are shared)."""
    from golden.appmatch import judge_registry
    from tocsin.applayer.protos import ALPROTO_NAMES

    tmp = tmp_path_factory.mktemp("sv_applayer")
    registry = judge_registry()
    no_dns = registry.only({n for n in ALPROTO_NAMES if n and n != "dns"})
    runs: dict[RunSpec, list[dict[str, Any]] | str] = {}
    out: dict[str, Outcome] = {}
    t0 = time.monotonic()
    for test in TESTS:
        o = out[test.name] = Outcome(test)
        if test.skip is not None or test.run is None:
            continue
        spec = test.run
        if spec not in runs:
            eve = tmp / f"{len(runs)}.json"
            try:
                run_app(
                    spec.pcap,
                    eve,
                    midstream=spec.midstream,
                    registry=registry if spec.dns else no_dns,
                    community_id_seed=spec.community_id_seed,
                    vxlan_port=None if spec.vxlan else 0,
                )
                runs[spec] = read_eve(eve)
            except CaptureError as exc:
                runs[spec] = f"{REFUSED}{exc}"
            except Exception:  # the judge reports any escape as that test's failure
                runs[spec] = "Tocsin crashed:\n" + traceback.format_exc(limit=4)
        events = runs[spec]
        if isinstance(events, str):
            o.error = events
            continue
        if not any(e["event_type"] == "flow" and "src_port" in e for e in events):
            o.error = NO_FLOWS
            continue
        o.results = evaluate(test, events, SV)
    print(f"\nsuricata-verify app-layer judge: {len(runs)} runs in {time.monotonic() - t0:.1f} s")
    return out


def test_enough_tests() -> None:
    assert len(TESTS) > 200, f"only {len(TESTS)} suricata-verify tests with dns/http/tls checks"
    assert sum(t.skip is None for t in TESTS) > 100, "the plan skips nearly everything"


@pytest.mark.parametrize("name", [t.name for t in TESTS])
def test_sv_checks(name: str, outcomes: dict[str, Outcome]) -> None:
    o = outcomes[name]
    if o.test.skip is not None:
        pytest.skip(o.test.skip)
    if o.error is not None and o.error.startswith((REFUSED, NO_FLOWS)):
        pytest.skip(f"{o.error} (a decoder matter, judged by the decode tests)")
    if o.error is not None:
        pytest.fail(f"{o.test.run}: {o.error}", pytrace=False)
    if all(r.status == "skip" for r in o.results):
        pytest.skip("every selected check: " + "; ".join(r.why for r in o.results))
    failing = o.failing
    if name in KNOWN_FAILURES:
        if not failing:
            pytest.fail(f"passes now: remove it from KNOWN_FAILURES ({KNOWN_FAILURES[name]})")
        return
    if failing:
        report = "\n".join("  " + r.describe() for r in failing)
        pytest.fail(f"{name}: {len(failing)} of {len(o.results)} checks fail\n{report}", False)


def test_sv_tallies(outcomes: dict[str, Outcome]) -> None:
    tests: Counter[str] = Counter()
    checks: Counter[tuple[str, str]] = Counter()
    skips: Counter[str] = Counter()
    for o in outcomes.values():
        if o.test.skip is not None:
            tests["skipped"] += 1
            skips[_reason_class(o.test.skip)] += 1
            continue
        if o.error is not None:
            kind = {REFUSED[:10]: "refused at open", NO_FLOWS[:10]: "no flow decoded"}
            tests[kind.get(o.error[:10], "crashed")] += 1
            continue
        if all(r.status == "skip" for r in o.results):
            tests["every check skipped"] += 1
        else:
            tests["failed" if o.failing else "passed"] += 1
        for r in o.results:
            checks[(r.check.event_type, r.status)] += 1
    lines = [f"suricata-verify tests: {dict(tests)}"]
    for proto in ("dns", "http", "tls"):
        lines.append(
            f"  {proto} checks: passed {checks[(proto, 'pass')]}, failed "
            f"{checks[(proto, 'fail')]}, skipped {checks[(proto, 'skip')]}"
        )
    lines.append("  skipped tests by reason:")
    lines += [f"    {n:4d}  {why}" for why, n in skips.most_common()]
    print("\n" + "\n".join(lines))
    assert tests["crashed"] == 0


def _reason_class(why: str) -> str:
    """A skip reason without its test-specific list of fields (for the tally)."""
    return why.split(" [", 1)[0]


def test_plan_and_evaluate_can_fail(tmp_path: Path) -> None:
    """The planner mirrors or refuses settings, and the evaluator passes, fails and skips."""
    (tmp_path / "input.pcap").write_bytes(b"")
    http = Check(1, {"count": 1, "match": {"event_type": "http", "http.url": "/"}})

    def planned(cfg: dict[str, Any], yaml_text: str = "", rules: str = "") -> SvTest:
        (tmp_path / "suricata.yaml").write_text(yaml_text)
        (tmp_path / "test.rules").write_text(rules)
        return plan(tmp_path, "t", cfg, [http], SV)

    t = planned({"args": ["-k none --set stream.midstream=true"]})
    assert t.skip is None and t.run is not None and t.run.midstream
    assert planned({}).run == RunSpec(pcap=tmp_path / "input.pcap")
    assert planned({"requires": {"min-version": 9}}).skip
    assert planned({"requires": {"features": ["HAVE_LUA"]}}).skip
    assert planned({"env": {"SURICATA_EVE_DNS_VERSION": 2}}).skip
    assert planned({"args": ["--set stream.async-oneside=true"]}).skip
    assert planned(
        {}, "outputs:\n  - eve-log:\n      types:\n        - dns:\n            version: 2\n"
    ).skip
    assert planned({"args": ["--simulate-ips"]}, rules="drop http any any -> any any (sid:1;)").skip
    assert planned({}, rules="alert http any any -> any any (sid:1;)").skip is None
    plain = planned({}, "outputs:\n  - eve-log:\n      types:\n        - http\n")
    assert plain.skip is None and plain.plain == {"http"}

    events = [{"event_type": "http", "http": {"url": "/"}}]
    checks = [
        http,
        Check(2, {"count": 2, "match": {"event_type": "http"}}),
        Check(3, {"count": 1, "match": {"event_type": "http"}, "requires": {"lt-version": 8}}),
        Check(4, {"count": 1, "match": {"event_type": "http", "http": {"url": "/"}}}),
    ]
    test = SvTest("t", tmp_path, checks, plain=plain.plain)
    assert [r.status for r in evaluate(test, events, SV)] == ["pass", "fail", "skip", "skip"]
    test.plain = set()
    assert [r.status for r in evaluate(test, events, SV)][3] == "pass"
