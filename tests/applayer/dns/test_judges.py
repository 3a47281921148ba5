"""Outside judges over the shared corpus: suricata-verify's DNS expectations (Suricata 8) and
Zeek's dns.log baselines, on the DNS parsers alone (`capture.run`, no pipeline).

The corpus is found like `tests/corpus`: TOCSIN_CORPUS, by default `<repo>/../shared/corpus`;
without it the module is skipped.

suricata-verify: every `filter` check on `event_type: dns` of the tests that apply to Suricata
8.0 (`requires`), evaluated with the corpus' `tools/sv_check.py` semantics, minus the keys the
parser does not own (checks on other stages' fields, `ether.*` or `suricata_version`, are left
out): `pcap_cnt` (in IDS mode Suricata logs a TCP message at the packet that
acknowledges it; the dispatcher numbers packets) and `pkt_src`. Left out, with the reason:
tests of the older EVE DNS v2 layout, DNS over HTTP/2, and tests whose expectations depend on a
logger setting (`SV_CONFIG`).

Zeek: for every response row of the `scripts.base.protocols.dns.*` baselines, the matching
Tocsin response (by DNS id) has the same rcode and, when no TXT/SPF record is involved (Zeek
joins a record's strings, Suricata splits them), the same answers (names compared without
case: Zeek lowercases, Suricata does not) and TTLs.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from applayer.dns.capture import run

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

SV = CORPUS / "suricata-verify" / "tests"
SV_CONFIG = {
    "cond-log-dns-dig": "DNS logged only with an alert (conditional logging)",
    "dns/dns-udp-eve-log-query-only": "logger set to requests only",
    "dns-eve-type-filtering": "logger filtering record types, EVE DNS v2",
    "dns/dns-eve-log-https-only": "logger filtering record types",
    "dns/dns-udp-eve-log-answer-only": "logger set to responses only",
    "dns/dns-udp-eve-log-aaaa-only": "logger filtering record types",
    "dns/dns-udp-eve-log-mx-only": "logger filtering record types",
    "dns/dns-eve-empty-format": "logger formats setting",
}
IGNORED_KEYS = {"pcap_cnt", "pkt_src"}
# keys a check may use; one with any other (ether.*, has-key suricata_version...) judges
# another stage
OWN_KEYS = {"event_type", "src_ip", "dest_ip", "src_port", "dest_port", "proto", "tx_id"}
ZEEK_SKIP = {
    "scripts.base.protocols.dns.dynamic-update": (
        "UPDATE: Zeek lists prerequisites and updates as answers"
    ),
}


def _sv_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sv_check", CORPUS / "tools" / "sv_check.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _sv_tests() -> list[tuple[str, Path, list[dict[str, Any]], int]]:
    chk = _sv_check()
    out = []
    for path in sorted(SV.rglob("test.yaml")):
        rel = str(path.parent.relative_to(SV))
        if "/v2/" in f"/{rel}/" or "http2" in rel or rel in SV_CONFIG:
            continue
        text = path.read_text()
        if "dns" not in text:
            continue
        cfg = yaml.safe_load(text) or {}
        req = {k: v for k, v in (cfg.get("requires") or {}).items() if "version" in k}
        if not chk.version_ok(req, "8.0.0"):
            continue
        checks = []
        for c in cfg.get("checks") or []:
            spec = c.get("filter") or {}
            match = spec.get("match") or {}
            if match.get("event_type") != "dns":
                continue
            if not chk.version_ok(spec.get("requires"), "8.0.0"):
                continue
            if match.get("dns.type") in ("query", "answer") or match.get("dns.version") == 2:
                continue  # v2 layout checks
            if any(not k.startswith("dns.") and k not in OWN_KEYS | IGNORED_KEYS for k in match):
                continue
            checks.append({"count": spec["count"], "match": match})
        if not checks:
            continue
        pcap = path.parent / cfg["pcap"] if cfg.get("pcap") else None
        if pcap is None:
            pcap = next(iter(sorted(path.parent.glob("*.pcap"))), None)
        if pcap is None or not pcap.exists():
            continue
        port = 1053 if "dp=1053" in str(cfg.get("args")) else 53
        out.append((rel, pcap, checks, port))
    return out


def test_suricata_verify_dns_checks() -> None:
    chk = _sv_check()
    tests = _sv_tests()
    assert len(tests) >= 30
    failed, total = [], 0
    for rel, pcap, checks, port in tests:
        events = [e.eve() for e in run(pcap, port=port).events]
        for c in checks:
            match = {k: v for k, v in c["match"].items() if k not in IGNORED_KEYS}
            got = sum(1 for e in events if chk.event_matches(e, match))
            total += 1
            if got != c["count"]:
                failed.append(f"{rel}: want {c['count']} got {got} for {match}")
    assert total >= 200
    assert failed == [], "\n".join(failed)


def _zeek_rows(path: Path) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def _zeek_text(rrtype: str, rdata: str | None) -> str | None:
    """An answer as Zeek writes it, for the types written alike; None for the others."""
    if rdata is None:
        return None
    if rrtype == "AAAA":
        return str(ipaddress.IPv6Address(rdata))
    return rdata.lower() if rrtype in ("A", "CNAME", "NS", "PTR", "MX") else None


def test_zeek_dns_baselines() -> None:
    index = json.loads((CORPUS / "zeek" / "INDEX.json").read_text())["tests"]
    compared, problems = 0, []
    for t in index:
        name = t["test"]
        if not name.startswith("scripts.base.protocols.dns.") or name in ZEEK_SKIP:
            continue
        log = next(lg for lg in t["logs"] if lg.endswith("dns.log"))
        responses: dict[int, list[Any]] = {}
        for e in run(CORPUS / "zeek" / t["trace"], port=None).events:
            if e.body.type == "response":
                responses.setdefault(e.body.id, []).append(e.body)
        for row in _zeek_rows(CORPUS / "zeek" / "Baseline" / name / log):
            if row["rcode"] == "-":
                continue  # a request Zeek saw no answer to
            ours = responses.get(int(row["trans_id"])) or []
            if not ours:
                problems.append(f"{name}: no response {row['trans_id']}")
                continue
            body = ours.pop(0)
            compared += 1
            answers = body.answers or []
            if body.rcode != row["rcode_name"]:
                problems.append(f"{name}: rcode {body.rcode} != {row['rcode_name']}")
            if any(a.rrtype in ("TXT", "SPF") for a in answers):
                continue
            zans = [] if row["answers"] == "-" else row["answers"].split(",")
            zttl = [] if row["TTLs"] == "-" else [int(float(x)) for x in row["TTLs"].split(",")]
            if len(answers) != len(zans):
                problems.append(f"{name}: {len(answers)} answers != {len(zans)}")
                continue
            for a, za, zt in zip(answers, zans, zttl, strict=True):
                mine = _zeek_text(a.rrtype, a.rdata)
                if (mine is not None and mine != za.lower()) or a.ttl != zt:
                    problems.append(f"{name}: {a.rrtype} {mine} ttl {a.ttl} != {za} {zt}")
    assert compared >= 15
    assert problems == [], "\n".join(problems)
