"""Zeek as a peer: on the Zeek test traces of the corpus, Tocsin's dns, http, tls and smb events
agree with Zeek's baseline logs wherever both log the same thing.

Tests: every Zeek test of `zeek/INDEX.json` whose baseline holds a dns.log, http.log, ssl.log,
smb_mapping.log or smb_files.log (x509.log is read with ssl.log). Tocsin analyses the trace
in-process (`golden.appmatch.run_app`, midstream on: Zeek also analyses connections whose
start it did not see). Records are matched on the connection (the direction-free 5-tuple of
Zeek's `id.*` columns and of the EVE event); a log reduced by zeek-cut to columns without
`id.*` is compared as one multiset over the whole trace. Zeek's unset values (`-`) are not
compared; values Zeek escaped to bytes that are not UTF-8 are not compared.

Field mapping (Zeek column -> EVE field) and known semantic differences:

- dns.log (one row per query/response pair) -> the `dns` events (one per message) of the same
  connection and DNS transaction id: `query` -> `queries[].rrname` (case-insensitive: Zeek
  lower-cases some names), `qtype_name` -> `queries[].rrtype`, `rcode_name` -> a response's
  `rcode`, `answers` -> a response's `answers[].rdata` as a set, for the record types whose
  text both write the same way (addresses and names: A, AAAA, CNAME, PTR, NS, MX; IPv6
  compared as addresses, names case-insensitively: Zeek lower-cases them). Zeek writes TXT,
  SPF, RRSIG... as "TYPE len text": not compared. Zeek's "*" is Suricata's "ANY". UPDATE
  messages (opcode 5) are left out: Zeek logs the updated name and "add:/del:/pre:" records
  as query and answers, Suricata the zone and the raw sections.
  Tocsin's messages on connections where Zeek logged no DNS are tallied, not judged (Zeek runs
  its DNS analyser by port, Tocsin detects by content).
- http.log -> `http` events, paired per connection by `trans_depth` = EVE `tx_id` + 1 (or as
  a multiset without it): `method` -> `http_method`, `host` -> `hostname` (Zeek strips the
  port, Suricata also lower-cases: compared lower-cased), `uri` -> `url` (Zeek decodes %XX
  escapes, Suricata logs the raw URI: Tocsin's is decoded before comparing), `user_agent` ->
  `http_user_agent`, `status_code` -> `status` (Zeek's 0, an HTTP/0.9 reply without status
  line, is Suricata's absent status). Not compared: `version` (Zeek overwrites the request's
  version with the reply's, Suricata's `protocol` is the request's), `request_body_len`
  (Suricata's http event has no request length), `response_body_len` vs `length` (Zeek counts
  the decoded entity, Suricata/libhtp the message body as sent: they differ for chunked and
  compressed responses, and the event does not say which applied). Left out: the rows of a
  connection where Zeek logged a request-line weird (bad_HTTP_request, missing_HTTP_uri...) or
  an HTTP protocol violation (analyzer.log): Zeek and libhtp recover from a malformed request
  line differently, and Zeek stops parsing at a violation where libhtp goes on.
- ssl.log -> `tls` events per connection: `server_name` -> `sni`, `version` -> `version`
  (TLSv10 -> TLSv1, TLSv12 -> "TLS 1.2"...; Zeek's "unknown-N" is not compared), `resumed`
  T -> `session_resumed` true (up to TLS 1.2: Zeek also counts a TLS 1.3 PSK as a resumption,
  Suricata only an echoed session id); the leaf certificate (`cert_chain_fps[0]`, looked up
  in x509.log by its SHA-256 `fingerprint`):
  `certificate.subject` / `certificate.issuer` -> `subject` / `issuerdn` (Zeek writes RFC 2253
  order, last RDN first, ","-joined, "street"; Suricata the certificate's order, ", "-joined,
  "streetAddress": Zeek's text is reversed and renamed before comparing). Not compared:
  `cipher`, `curve` (not in Suricata's tls event).
- smb_mapping.log -> `smb` TREE_CONNECT events: `path` -> `share` or `named_pipe`,
  `share_type` -> `share_type` (DISK -> FILE), as sets per connection.
- smb_files.log -> `smb` events' `filename`, as sets per connection ("<share_root>", Zeek's
  word for the empty name that opens a share's root, is compared as ""); names opened on a
  pipe tree (IPC$) are left out: Suricata logs a named pipe's CREATE as `filename`, Zeek's
  smb_files.log has no pipes.

Any Zeek row on a connection for which Tocsin writes no flow at all is left out: that is an
encapsulation Tocsin's decoder does not handle (AYIYA, GRE, GTP...), judged by the decode
tests, not an app-layer difference.

Excluded tests, with reasons: `EXCLUDED` and `EXCLUDED_PROTOCOLS` below (QUIC, STARTTLS
after a protocol Tocsin does not parse, HTTP inside a WebSocket tunnel), and any trace Tocsin
refuses at open (a link type; the decode judges cover that). `KNOWN_DIFFERENCES` would list
deliberate differences (none). A test whose rows are all left out is skipped with the
reasons. `test_zeek_tallies` prints what was compared.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from golden.appmatch import read_eve, run_app
from tocsin.capture import CaptureError

from .zeekjudge import Judge, judge
from .zeeklog import ZeekLog, read_log

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
ZEEK = CORPUS / "zeek"
if not (ZEEK / "INDEX.json").is_file():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

LOGS = ("dns", "http", "ssl", "smb_mapping", "smb_files")
READ = (*LOGS, "x509", "weird", "analyzer")
_STARTTLS = (
    "STARTTLS: TLS begins inside a {} session; Tocsin (like Suricata) detects a connection's "
    "protocol from its first bytes and has no {} parser to hand the connection over to TLS"
)
# Zeek test (INDEX.json `test`) -> why it cannot judge Tocsin
EXCLUDED: dict[str, str] = {
    "scripts.base.protocols.irc.starttls": _STARTTLS.format("IRC", "IRC"),
    "scripts.base.protocols.ldap.starttls": _STARTTLS.format("LDAP", "LDAP"),
    "scripts.base.protocols.mysql.encrypted": _STARTTLS.format("MySQL", "MySQL"),
    "scripts.base.protocols.pop3.starttls": _STARTTLS.format("POP3", "POP3"),
    "scripts.base.protocols.xmpp.starttls": _STARTTLS.format("XMPP", "XMPP"),
    "scripts.base.protocols.websocket.wstunnel-http": (
        "HTTP tunnelled in a WebSocket (wstunnel): Zeek parses the HTTP inside the WebSocket "
        "frames and merges it into the upgrade's row (status 301 is the tunnelled reply's), "
        "Suricata logs the upgrade (101) and then websocket frames"
    ),
}
# Zeek test -> why Tocsin deliberately differs from Zeek there (never a parser gap: those are
# the work list); a listed test that agrees fails, so that the entry goes
_LIBHTP = (
    "request-smuggling trace: Tocsin follows Suricata's libhtp, not Zeek, on a malformed "
    "length ({}); Zeek sees the smuggled GET, libhtp does not"
)
KNOWN_DIFFERENCES: dict[str, str] = {
    "scripts.base.protocols.http.261.cl-negative": _LIBHTP.format(
        "Content-Length -1 read as 1: the body takes the G of the next GET"
    ),
    "scripts.base.protocols.http.261.cl-uint64max": _LIBHTP.format(
        "Content-Length 2^64-1 rejected: the rest of the stream is not parsed"
    ),
    "scripts.base.protocols.http.261.chunk-2pow64-overflow": _LIBHTP.format(
        "chunk size 2^64 rejected: the rest of the stream is not parsed"
    ),
}
# Zeek test family (INDEX.json `protocols`) -> why its tests cannot judge Tocsin
EXCLUDED_PROTOCOLS = {
    "quic": "QUIC's TLS handshake: Suricata logs it as a `quic` event, Tocsin does not parse QUIC",
}


def _tests() -> list[dict[str, Any]]:
    index = json.loads((ZEEK / "INDEX.json").read_text())
    return [t for t in index["tests"] if any(log.split(".")[0] in LOGS for log in t["logs"])]


TESTS = _tests()


def _why_excluded(test: Mapping[str, Any]) -> str | None:
    if test["test"] in EXCLUDED:
        return EXCLUDED[test["test"]]
    for proto, why in EXCLUDED_PROTOCOLS.items():
        if proto in test["protocols"]:
            return why
    return None


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Judge | str]:
    """Every Zeek test judged once: its `Judge`, or why it was not judged."""
    tmp = tmp_path_factory.mktemp("zeek_applayer")
    out: dict[str, Judge | str] = {}
    for k, test in enumerate(TESTS):
        why = _why_excluded(test)
        if why is not None:
            out[test["test"]] = why
            continue
        eve = tmp / f"{k}.json"
        try:
            run_app(ZEEK / test["trace"], eve)
        except CaptureError as exc:
            out[test["test"]] = f"Tocsin refuses the trace at open: {exc}"
            continue
        base = ZEEK / "Baseline" / test["test"]
        logs = {
            name.split(".")[0]: read_log(base / name)
            for name in test["logs"]
            if name.split(".")[0] in READ
        }
        out[test["test"]] = judge(logs, read_eve(eve))
    return out


def test_enough_zeek_tests() -> None:
    assert len(TESTS) >= 60, f"only {len(TESTS)} Zeek tests with dns/http/ssl/smb logs"


@pytest.mark.parametrize("name", [t["test"] for t in TESTS])
def test_zeek_logs_agree(name: str, judged: dict[str, Judge | str]) -> None:
    j = judged[name]
    if isinstance(j, str):
        pytest.skip(j)
    if not j.compared:
        pytest.skip("nothing comparable: " + "; ".join(j.left_out) if j.left_out else "no rows")
    if name in KNOWN_DIFFERENCES:
        if not j.problems:
            pytest.fail(f"agrees now: remove it from KNOWN_DIFFERENCES ({KNOWN_DIFFERENCES[name]})")
        return
    if j.problems:
        pytest.fail(f"{len(j.problems)} differences:\n  " + "\n  ".join(j.problems[:15]), False)


def test_zeek_tallies(judged: dict[str, Judge | str]) -> None:
    compared: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    outcome: Counter[str] = Counter()
    for j in judged.values():
        if isinstance(j, str):
            outcome["excluded"] += 1
            continue
        outcome["differ" if j.problems else "agree" if j.compared else "nothing compared"] += 1
        compared.update(j.compared)
        left_out.update(j.left_out)
    lines = [f"Zeek tests: {dict(outcome)}", "  values compared:"]
    lines += [f"    {n:5d}  {what}" for what, n in sorted(compared.items())]
    lines += ["  left out:"] + [f"    {n:5d}  {why}" for why, n in left_out.most_common()]
    print("\n" + "\n".join(lines))
    assert outcome["agree"] + outcome["differ"] > 0


def test_judge_can_fail() -> None:
    """The comparison itself: an agreeing row, a differing value, a missing transaction."""
    row: dict[str, str | None] = {
        "id.orig_h": "10.0.0.1",
        "id.orig_p": "1000",
        "id.resp_h": "10.0.0.2",
        "id.resp_p": "80",
        "trans_depth": "1",
        "method": "GET",
        "host": "Example.com",
        "uri": "/a b",
        "status_code": "200",
        "uid": "C1",
    }
    log = ZeekLog(list(row), [row])
    ends = {"src_ip": "10.0.0.1", "src_port": 1000, "dest_ip": "10.0.0.2", "dest_port": 80}
    flow = {"event_type": "flow", "proto": "TCP", **ends}
    http = {"hostname": "example.com", "url": "/a%20b", "http_method": "GET", "status": 200}
    event = {"event_type": "http", "proto": "TCP", "tx_id": 0, **ends, "http": http}
    assert judge({"http": log}, [flow, event]).problems == []
    wrong = {**event, "http": {**http, "status": 404}}
    assert judge({"http": log}, [flow, wrong]).problems
    assert judge({"http": log}, [flow]).problems
    # no flow for the connection: left out (a decoder matter), not a difference
    assert judge({"http": log}, []).problems == []
