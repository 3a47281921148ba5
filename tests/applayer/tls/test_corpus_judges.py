"""Outside judges over the shared corpus (TOCSIN_CORPUS, default `<repo>/../shared/corpus`;
skipped when absent): every suricata-verify test with `event_type: tls` checks that a parser
can be judged on, and Zeek's ssl.log / x509.log baselines of the TLS-over-TCP traces.

Not judged here: checks on other event types or engine behaviour (exception policies,
firewall/IPS verdicts, ethernet or version headers), STARTTLS / HTTP CONNECT captures (the
dispatcher hands the TLS part over, with `from_proto`), QUIC, and `pcap_cnt` (the
dispatcher's; Suricata logs at the ACK after the data, one packet after ours). Two checks fail
by design, marked xfail: JA4 without signature algorithms (Suricata 8 hashes a trailing "_",
FoxIO's spec does not) and a ClientHello carried in a SYN (TCP Fast Open; the replay helper
ignores SYN payloads). Zeek differs by design on two points, not compared: `version` when no
ServerHello came (Zeek logs none, Suricata the version of the server's records) and
`resumed` in TLS 1.3.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import importlib.util
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from ._util import replay_tls

pytestmark = pytest.mark.corpus

REPO = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
SV = CORPUS / "suricata-verify" / "tests"
ZEEK = CORPUS / "zeek"
if not SV.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

_spec = importlib.util.spec_from_file_location("sv_check", CORPUS / "tools" / "sv_check.py")
assert _spec and _spec.loader
sv_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sv_check)

VERSION = "8.0.4"
# engine behaviour, or TLS handed over after another protocol (STARTTLS, HTTP CONNECT)
ENGINE_ONLY = ("exception-policy", "firewall", "ips/", "rule-hooks", "ethernet-eve",
               "eve-suricata-version", "verdict", "pgsql", "ldap-starttls", "bug-2430")  # fmt: skip
XFAIL = {
    "bug-5713-02-ja4": "JA4 per FoxIO: no trailing '_' without signature algorithms",
    "tcp-fastopen-10-syn-data-ignore": "ClientHello in a SYN: the replay helper drops it",
}


def _ip(a: tuple[int, int]) -> str:
    hi, lo = a
    if hi == 0 and lo >> 32 == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def _eve(pcap: Path) -> list[dict[str, Any]]:
    events, _errors = replay_tls(pcap, certificates=True)
    out = []
    for e in events:
        src, sport, dst, dport, _proto = e.flow
        out.append({
            "event_type": "tls", "proto": "TCP", "src_ip": _ip(src), "src_port": sport,
            "dest_ip": _ip(dst), "dest_port": dport, "tls": msgspec.to_builtins(e.body),
        })  # fmt: skip
    return out


def _sv_tests() -> list[Any]:
    params = []
    for path in sorted(SV.rglob("test.yaml")):
        name = str(path.parent.relative_to(SV))
        text = path.read_text()
        if "event_type: tls" not in text or any(x in name for x in ENGINE_ONLY):
            continue
        cfg = yaml.safe_load(text) or {}
        if not sv_check.version_ok(cfg.get("requires"), VERSION):
            continue
        marks = [pytest.mark.xfail(reason=XFAIL[name], strict=True)] if name in XFAIL else []
        params.append(pytest.param(name, cfg, id=name, marks=marks))
    return params


@pytest.mark.parametrize(("name", "cfg"), _sv_tests())
def test_suricata_verify_tls_checks(name: str, cfg: dict[str, Any]) -> None:
    d = SV / name
    if cfg.get("pcap"):
        pcap = (d / cfg["pcap"]).resolve()
    else:
        (pcap,) = [p for p in d.iterdir() if p.suffix in (".pcap", ".pcapng")]
    events = _eve(pcap)
    failures = []
    for check in cfg.get("checks") or []:
        ((kind, spec),) = check.items()
        match = dict((spec or {}).get("match") or {})
        if kind != "filter" or match.get("event_type") != "tls":
            continue
        if not sv_check.version_ok(spec.get("requires"), VERSION):
            continue
        for key in ("pcap_cnt", "community_id", "pkt_src"):
            match.pop(key, None)
        for key in ("src_ip", "dest_ip"):
            if key in match:
                match[key] = str(ipaddress.ip_address(match[key]))
        n = sum(1 for e in events if sv_check.event_matches(e, match))
        if n != spec["count"]:
            failures.append(f"want {spec['count']} got {n}: {match}")
    assert not failures, failures


# --- Zeek ----------------------------------------------------------------------------------

_ZVERSION = {"TLSv10": "TLSv1", "TLSv11": "TLS 1.1", "TLSv12": "TLS 1.2", "TLSv13": "TLS 1.3",
             "SSLv3": "SSLv3", "SSLv2": "SSLv2"}  # fmt: skip
# OpenSSL's short names (Zeek) for the attributes x509-parser (Suricata) names otherwise
_OPENSSL = {"Email": "emailAddress", "streetAddress": "street"}


def _zeek_log(path: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    fields: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def _rfc2253(dn: str) -> str:
    parts = []
    for rdn in reversed(dn.split(", ")):
        k, _, v = rdn.partition("=")
        parts.append(f"{_OPENSSL.get(k, k)}={v.replace(',', chr(92) + ',')}")
    return ",".join(parts)


def _epoch(s: str) -> float:
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.UTC).timestamp()


def _zeek_tests() -> list[Any]:
    if not (ZEEK / "INDEX.json").is_file():
        return []
    tests = json.loads((ZEEK / "INDEX.json").read_text())["tests"]
    return [
        pytest.param(t, id=t["test"])
        for t in tests
        if "ssl.log" in t["logs"] and ".quic." not in t["test"] and "starttls" not in t["test"]
        and "encrypted" not in t["test"]  # MySQL's SSL request first
    ]  # fmt: skip


@pytest.mark.parametrize("t", _zeek_tests())
def test_zeek_ssl_and_x509_logs(t: dict[str, Any]) -> None:
    base = ZEEK / "Baseline" / t["test"]
    x509 = (
        {r["fingerprint"]: r for r in _zeek_log(base / "x509.log")}
        if "x509.log" in t["logs"]
        else {}
    )
    events, _ = replay_tls(ZEEK / t["trace"], certificates=True)
    mine = {(_ip(e.flow[0]), e.flow[1], _ip(e.flow[2]), e.flow[3]): e.body for e in events}
    for row in _zeek_log(base / "ssl.log"):
        key = (row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"], int(row["id.resp_p"]))
        info = mine[key]
        want = _ZVERSION.get(row["version"], row["version"].removeprefix("unknown-"))
        if want != "-":  # no ServerHello: Zeek logs none, Suricata the server record's version
            assert info.version == want
        assert info.sni == (None if row["server_name"] == "-" else row["server_name"])
        if "1.3" not in info.version and want != "32257":  # Suricata: never "resumed" in 1.3
            assert bool(info.session_resumed) == (row["resumed"] == "T")
        fps = [] if row["cert_chain_fps"] in ("-", "(empty)") else row["cert_chain_fps"].split(",")
        chain = [hashlib.sha256(base64.b64decode(c)).hexdigest() for c in info.chain or []]
        assert chain == fps
        if fps and fps[0] in x509:
            x = x509[fps[0]]
            assert _rfc2253(info.subject) == x["certificate.subject"]
            assert _rfc2253(info.issuerdn) == x["certificate.issuer"]
            assert info.serial.replace(":", "").lstrip("0") == x["certificate.serial"].lstrip("0")
            assert _epoch(info.notbefore) == float(x["certificate.not_valid_before"])
            assert _epoch(info.notafter) == float(x["certificate.not_valid_after"])
            dns = [] if x["san.dns"] in ("-", "(empty)") else x["san.dns"].split(",")
            assert [s for s in info.subjectaltname or [] if s in dns] == dns
