"""tshark as a peer: on every corpus capture that contains them, the DNS query names, HTTP hosts
and URIs and TLS SNIs of Tocsin's `dns`, `http` and `tls` events equal, as sets, what
`tshark -T fields` extracts from the same capture.

Expectations: `tests/fixtures/applayer/expectations/tshark_fields.json.gz`, written once by
`scripts/applayer_expectations.py` (selection: every corpus capture under 20 MB in which
tshark finds one of the fields; each record holds its exact tshark command and the capture's
sha256). tshark is never run here. Tocsin runs in-process (`golden.appmatch.run_app`, the
judges' registry, midstream on: tshark dissects connections whose start it did not see).

How a capture is judged (`golden.appmatch.compare_fields`): per field, over the connections
tshark dissected as the protocol, Tocsin's values equal tshark's, give or take the values of
frames tshark itself flags (malformed, cut short, quoted in an ICMP error, in an encapsulation
Tocsin does not decode). Left out and counted, never judged: Tocsin's values on connections
tshark does not dissect (tshark decodes HTTP and TLS by port, Tocsin by content), HTTP/TLS
over UDP (SSDP, QUIC: not Suricata's http/tls), values tshark prints escaped.

Excluded captures: those Tocsin refuses at open (a link type: the decode judges cover it) and
`EXCLUDED` below, each with its reason. The tallies (compared / equal / excluded, values
compared per field, values left out per reason) are printed.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from golden.appmatch import (
    CORPUS_EXPECTATIONS,
    FieldsResult,
    compare_fields,
    judge_registry,
    read_eve,
    run_app,
)
from tocsin.capture import CaptureError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

_SOCKS = (
    "{} inside a SOCKS proxy connection: tshark dissects past the SOCKS handshake; Suricata "
    "and Tocsin have no SOCKS parser, so the connection's first bytes are SOCKS, not {}"
)
_UPGRADE = (
    "TLS after {}'s own upgrade command: tshark follows the upgrade; Tocsin detects a "
    "connection's protocol from its first bytes and has no {} parser to hand it over to TLS"
)
# corpus-relative capture -> why tshark and Tocsin cannot be expected to agree on it
_DOH2 = "DNS over HTTP/2 (DoH): HTTP/2 is not parsed yet (this issue covers HTTP/1.x)"
_CONNECT = "TLS inside an HTTP CONNECT tunnel: no hand-over from the HTTP parser to TLS yet"
_SWAP = (
    "HTTP picked up from the server's reply: tshark and Suricata turn the flow round, Tocsin "
    "keeps the first sender as client and parses nothing"
)
_SMUGGLE = "request-smuggling test: {} (deliberate: Tocsin follows Suricata's libhtp)"
EXCLUDED: dict[str, str] = {
    "zeek/Traces/socks.pcap": _SOCKS.format("HTTP", "HTTP"),
    "zeek/Traces/tunnels/socks.pcap": _SOCKS.format("HTTP", "HTTP"),
    "zeek/Traces/socks-with-ssl.pcap": _SOCKS.format("TLS", "TLS"),
    "zeek/Traces/ftp/ftp-auth-tls.pcap": _UPGRADE.format("FTP (AUTH TLS)", "FTP"),
    "zeek/Traces/ldap/ldap-starttls.pcap": _UPGRADE.format("LDAP (StartTLS)", "LDAP"),
    "zeek/Traces/postgresql/psql-aws-ssl-preferred.pcap": _UPGRADE.format(
        "PostgreSQL (SSLRequest)", "PostgreSQL"
    ),
    "zeek/Traces/postgresql/psql-aws-ssl-require.pcap": _UPGRADE.format(
        "PostgreSQL (SSLRequest)", "PostgreSQL"
    ),
    "zeek/Traces/postgresql/psql-aws-ssl-require-15432.pcap": _UPGRADE.format(
        "PostgreSQL (SSLRequest)", "PostgreSQL"
    ),
    "suricata-verify/tests/app-layer-protocol-exact/input.pcap": _DOH2,
    "suricata-verify/tests/app-layer-protocol-legacy-equivalence/input.pcap": _DOH2,
    "suricata-verify/tests/dns-over-http2/dns_over_https.pcap": _DOH2,
    "suricata-verify/tests/dns-over-http2-post/dns_over_https_POST.pcap": _DOH2,
    "suricata-verify/tests/bug-2430/backwards.pcap": _CONNECT,
    "suricata-verify/tests/bug-2769/issue_no_icmp.pcap": _CONNECT,
    "zeek/Traces/http/connect-with-header.pcap": _CONNECT,
    "suricata-verify/tests/tcp-stream-after-swap/http-start-from-response.pcap": _SWAP,
    "zeek/Traces/dce-rpc/mapi.pcap": _SWAP,
    "suricata-verify/tests/http-multiple-cl/input.pcap": _SMUGGLE.format(
        "two Content-Length headers: libhtp (and Tocsin) take the first, tshark the last"
    ),
    "zeek/Traces/http/261/variant-02-cl_uint64max.pcap": _SMUGGLE.format(
        "Content-Length 2^64-1: libhtp (and Tocsin) reject it and lose the next request"
    ),
    "zeek/Traces/http/261/variant-09-te_obs_fold.pcap": _SMUGGLE.format(
        "Transfer-Encoding folded over two lines: libhtp (and Tocsin) unfold it, tshark does not"
    ),
    "zeek/Traces/tcp/payload-synack.pcap": "a request carried in a SYN/ACK's payload: tshark "
    "dissects it, Suricata and Tocsin take data only after the handshake",
}


def _expectations() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gzip.decompress(CORPUS_EXPECTATIONS.read_bytes()))
    return doc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_applayer_fields_equal_tshark(tmp_path: Path) -> None:
    doc = _expectations()
    registry = judge_registry()
    eve = tmp_path / "eve.json"
    results: dict[str, FieldsResult] = {}
    excluded: dict[str, str] = {}
    stale: list[str] = []
    t0 = time.monotonic()
    for record in doc["records"]:
        name = record["capture"]
        path = CORPUS / name
        if not path.is_file():
            stale.append(f"{name}: not in the corpus")
            continue
        if _sha256(path) != record["sha256"]:
            stale.append(f"{name}: changed since the expectations were written")
            continue
        if name in EXCLUDED:
            excluded[name] = EXCLUDED[name]
            continue
        try:
            run_app(path, eve, registry=registry)
        except CaptureError as exc:
            excluded[name] = f"Tocsin refuses it at open: {exc}"
            continue
        results[name] = compare_fields(record, read_eve(eve))
    wall = time.monotonic() - t0
    compared: Counter[str] = Counter()
    left_out: Counter[str] = Counter()
    for r in results.values():
        compared.update(r.compared)
        left_out.update(r.left_out)
    differ = {n: r.problems for n, r in results.items() if r.problems}
    lines = [
        f"tshark fields ({doc['tshark_version']}): {len(doc['records'])} captures listed, "
        f"{len(results)} compared, {len(results) - len(differ)} equal, {len(differ)} differ, "
        f"{len(excluded)} excluded, in {wall:.1f} s",
        "  tshark values compared: " + ", ".join(f"{k} {v}" for k, v in sorted(compared.items())),
        "  left out:",
        *(f"    {n:6d}  {why}" for why, n in left_out.most_common()),
        "  excluded:",
        *(f"    {n}: {why}" for n, why in sorted(excluded.items())),
    ]
    print("\n" + "\n".join(lines))
    assert not stale, "regenerate with scripts/applayer_expectations.py:\n" + "\n".join(stale)
    assert len(results) >= 0.9 * len(doc["records"]), "too many captures excluded"
    report = [f"  {n}: {'; '.join(p)[:400]}" for n, p in sorted(differ.items())]
    assert not differ, f"{len(differ)} captures differ from tshark:\n" + "\n".join(report)
