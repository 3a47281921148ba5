"""Transformed buffers end to end (real pipeline): ET Open's dotprefix rules on DNS, TLS and HTTP,
a fast pattern in a transformed buffer, a transformed packet payload, and the per-field
`http.request_header` buffer."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import dpkt
import msgspec
import pytest

from detect.engine.conftest import Run, alerts
from detect.engine.pcapkit import Capture, Conversation
from tocsin.detect.engine import DetectEngine
from tocsin.detect.model import PAYLOAD, Content
from tocsin.detect.rules.loader import load_rules
from tocsin.detect.rules.parser import parse_rule
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

ROOT = Path(__file__).resolve().parents[3]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
ET_OPEN = CORPUS / "rules" / "et-open"

# ET Open (emerging-attack_response.rules, BSD licence), sids 2034670 and 2034747
ET_DNS = (
    'alert dns $HOME_NET any -> any any (msg:"ET ATTACK_RESPONSE DNS Query for Observed '
    'CVE-2021-44228 Callback Domain (bingsearchlib .com)"; dns.query; dotprefix; '
    'content:".bingsearchlib.com"; nocase; endswith; classtype:domain-c2; sid:2034670; rev:1;)\n'
    'alert dns $HOME_NET any -> any any (msg:"ET ATTACK_RESPONSE DNS Query for Observed '
    'CVE-2021-44228 Callback Domain (rce .ee)"; dns.query; dotprefix; content:".rce.ee"; nocase; '
    "endswith; classtype:domain-c2; sid:2034747; rev:1;)\n"
)


def _query(cap: Capture, name: str, port: int) -> int:
    q = dpkt.dns.DNS(id=port & 0xFFFF, qd=[dpkt.dns.DNS.Q(name=name, type=1)])
    return cap.udp("10.0.0.5", port, "10.0.0.53", 53, bytes(q))


def _client_hello(sni: str) -> bytes:
    """A TLS 1.2 ClientHello record with one extension: server_name."""
    host = sni.encode()
    names = struct.pack("!BH", 0, len(host)) + host
    ext = struct.pack("!HHH", 0, len(names) + 2, len(names)) + names
    body = (
        b"\x03\x03" + bytes(32) + b"\x00"  # version, random, no session id
        + b"\x00\x02\xc0\x2f" + b"\x01\x00"  # one cipher suite, null compression
        + struct.pack("!H", len(ext)) + ext
    )  # fmt: skip
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def test_dotprefix_dns_query_matches_the_domain_and_its_subdomains_only(run: Run) -> None:
    cap = Capture()
    hits = {
        _query(cap, "a.b.rce.ee", 33001): 2034747,
        _query(cap, "RCE.EE", 33002): 2034747,  # the whole name: ".rce.ee", nocase
        _query(cap, "x.BingSearchLib.com", 33003): 2034670,
    }
    _query(cap, "force.ee", 33004)  # ".force.ee" does not hold ".rce.ee"
    _query(cap, "rce.ee.example.org", 33005)  # not at the end
    _query(cap, "notbingsearchlib.com", 33006)
    got = {a["pcap_cnt"]: a["alert"]["signature_id"] for a in alerts(run(ET_DNS, cap))}
    assert got == hits


@pytest.mark.skipif(not ET_OPEN.is_dir(), reason=f"ET Open not found at {ET_OPEN}")
def test_et_open_dotprefix_rules_load_and_match(run: Run) -> None:
    lines = [
        line
        for f in sorted(ET_OPEN.glob("*.rules"))
        for line in f.read_text().splitlines()
        if "dotprefix" in line and not line.lstrip().startswith("#")
    ]
    assert len(lines) >= 44
    cap = Capture()
    want: dict[int, int] = {}  # sid -> pcap_cnt of its packet
    for k, line in enumerate(lines):
        rule = parse_rule(line)
        key = next(n for n in rule.buffers if n.endswith("|dotprefix"))
        domain = (
            "www" + next(m.pattern for m in rule.buffers[key] if isinstance(m, Content)).decode()
        )
        if key == "dns.query|dotprefix":
            want[rule.sid] = _query(cap, domain, 20000 + k)
        elif key == "tls.sni|dotprefix":
            c = Conversation(cap, cport=20000 + k, sport=443)
            c.open()
            want[rule.sid] = c.send(0, _client_hello(domain))
            c.close()
        else:  # http.host: a terse "GET /" (no Referer, User-Agent, Accept)
            assert key == "http.host|dotprefix"
            c = Conversation(cap, cport=20000 + k)
            c.open()
            want[rule.sid] = c.send(0, f"GET / HTTP/1.1\r\nHost: {domain}\r\n\r\n".encode())
            c.send(1, b"HTTP/1.1 204 No Content\r\n\r\n")
            c.close()
    got = alerts(run("\n".join(lines) + "\n", cap))
    assert {a["alert"]["signature_id"] for a in got} == set(want)
    for a in got:
        if a["app_proto"] == "dns":  # one datagram per query: the alert is at it
            assert a["pcap_cnt"] == want[a["alert"]["signature_id"]]


def test_fast_pattern_in_a_transformed_buffer(run: Run) -> None:
    # suricata-verify from_base64-03: the pattern is only in the decoded URI, and it is the
    # rule's fast pattern: the transformed values feed the prefilter
    cap = Capture()
    c = Conversation(cap)
    c.open()
    req = c.send(0, b"GET /?arg=dGhpc2lzYXRlc3QK HTTP/1.1\r\nHost: h\r\n\r\n")
    c.send(1, b"HTTP/1.1 204 No Content\r\n\r\n")
    c.close()
    events = run(
        'alert http any any -> any any (msg:"b64"; http.uri; content:"/?arg="; '
        'from_base64: offset 6; content:"thisisatest"; fast_pattern; sid:1;)\n'
        'alert http any any -> any any (msg:"raw"; http.uri; content:"thisisatest"; sid:2;)\n'
        'alert http any any -> any any (msg:"chain"; http.uri; url_decode; from_base64: offset 6; '
        'to_uppercase; content:"THISISATEST|0a|"; endswith; sid:3;)\n',
        cap,
    )
    got = alerts(events)
    assert sorted(a["alert"]["signature_id"] for a in got) == [1, 3]
    assert all(a["pcap_cnt"] == req for a in got)


def test_http_request_header_inspects_each_field_on_its_own(run: Run) -> None:
    cap = Capture()
    c = Conversation(cap)
    c.open()
    c.send(0, b"GET / HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8\r\n\r\n")
    c.send(1, b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")
    c.close()
    events = run(
        'alert http any any -> any any (msg:"ua"; flow:to_server; http.request_header; '
        'content:"user-agent|3a 20|curl/8"; startswith; endswith; nocase; sid:1;)\n'
        'alert http any any -> any any (msg:"one field"; http.request_header; '
        'content:"Host|3a 20|"; content:"curl"; distance:0; sid:2;)\n'
        'alert http any any -> any any (msg:"server"; http.response_header; '
        'header_lowercase; content:"server|3a 20|nginx"; startswith; sid:3;)\n',
        cap,
    )
    got = alerts(events)
    assert sorted(a["alert"]["signature_id"] for a in got) == [1, 3]
    assert {a["direction"] for a in got if a["alert"]["signature_id"] == 3} == {"to_client"}


def test_transformed_packet_payload_rule(tmp_path: Path) -> None:
    # Suricata's parser takes transforms after sticky buffers only; the engine still runs a
    # rule whose packet payload is transformed, outside the raw-payload prefilter
    rule = parse_rule('alert tcp any any -> any 80 (msg:"t"; content:"get /admin"; sid:7;)')
    rule.buffers = {f"{PAYLOAD}|to_lowercase": rule.buffers.pop(PAYLOAD)}
    engine = DetectEngine([rule])
    assert engine.pkt_patterns.npatterns == 0 and [cr.rule.sid for cr in engine.pkt_nofp] == [7]
    cap = Capture()
    c = Conversation(cap)
    c.open()
    req = c.send(0, b"GET /Admin HTTP/1.0\r\n\r\n")
    c.send(0, b"GET /other HTTP/1.0\r\n\r\n")
    c.close()
    eve = tmp_path / "eve.json"
    config = PipelineConfig(writer_thread=False)
    analyze([cap.write(tmp_path / "c.pcap")], eve, config, detect=engine)
    events = [msgspec.json.decode(line) for line in eve.read_bytes().splitlines()]
    assert [a["pcap_cnt"] for a in alerts(events)] == [req]


def test_prefilter_keyword_changes_nothing(run: Run, tmp_path: Path) -> None:
    rules = 'alert tcp any any -> any 80 (msg:"p"; content:"admin"; prefilter; sid:8;)\n'
    (tmp_path / "p.rules").write_text(rules)
    assert not load_rules([tmp_path / "p.rules"]).skipped
    cap = Capture()
    c = Conversation(cap)
    c.open()
    req = c.send(0, b"GET /admin HTTP/1.0\r\n\r\n")
    c.close()
    assert [a["pcap_cnt"] for a in alerts(run(rules, cap))] == [req]
