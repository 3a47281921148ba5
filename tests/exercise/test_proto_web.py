"""Payload builders of exercise mode for DNS, HTTP and TLS, judged by Tocsin's own parsers.

Every message built here is fed to the parser the sensor would use (`applayer.replay.Feeder`,
fed like the dispatcher feeds it); the attack shapes (DNS tunnel names, NXDOMAIN storms) are
also fed, as the parser's events, to the detectors that must see them. Then one capture of
all of it, written with `wire.Trace`, is judged by tshark (nothing malformed, no expert
error or warning) and run through `tocsin analyze` (events and detector alerts).
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from typing import Any

import pytest

from applayer.replay import Feeder
from correlate_kit import feed, names
from exercise_kit import Capture, analysed, tshark
from tocsin.applayer.dns import DnsUdpParser
from tocsin.applayer.http.parser import HttpParser
from tocsin.applayer.tls.parser import TlsParser
from tocsin.applayer.tls.x509 import read_certificate
from tocsin.detect.behaviour.dga import Dga
from tocsin.detect.behaviour.dns_tunnel import DnsTunnel
from tocsin.exercise.proto import dns, http, tls, x509
from tocsin.exercise.wire.hosts import EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn
from tocsin.model.dns import DnsEvent, DnsInfo
from tocsin.model.ids import FlowId
from tocsin.output.timefmt import eve_timestamp

S = 1_000_000
T0 = 1_700_000_000 * S


def parsed(parser: type, turns: list[Turn]) -> list[object]:
    f = Feeder(parser)
    for t in turns:
        f.feed(t.side, t.data)
    f.parser.close(0)
    return f.bodies()


def dns_infos(turns: list[Turn]) -> list[DnsInfo]:
    f = Feeder(DnsUdpParser)
    for t in turns:
        f.feed(t.side, t.data)
    return f.bodies()


# -- DNS ------------------------------------------------------------------------------------


def test_dns_exchange_parses_with_compressed_cname_chain() -> None:
    name, edge = "www.chu-exemple.fr", "front.cdn.chu-exemple.fr"
    answers = [(name, "CNAME", 300, edge), (edge, "A", 60, "193.51.24.10")]
    turns = dns.exchange(random.Random(1), name, "A", answers, edns=1232)
    assert [t.side for t in turns] == [CLIENT, SERVER]
    req, resp = dns_infos(turns)
    assert req.type == "request" and req.rd and req.queries[0].rrname == name
    assert resp.type == "response" and resp.id == req.id and resp.rcode == "NOERROR"
    assert [(a.rrname, a.rrtype, a.rdata) for a in resp.answers] == [
        (name, "CNAME", edge),
        (edge, "A", "193.51.24.10"),
    ]
    body = turns[1].data
    assert b"\xc0\x0c" in body  # the answer's owner points at the question
    assert body.count(b"chu-exemple") == 1  # every later name is compressed against it
    assert len(body) <= 512  # fits a classic UDP response


def test_dns_record_types_parse() -> None:
    srv = dns.dc_srv_name("chu.local")
    assert srv == "_ldap._tcp.dc._msdcs.chu.local"
    rng = random.Random(2)
    _, resp = dns_infos(
        dns.exchange(
            rng, srv, "SRV", [(srv, "SRV", 600, (0, 100, 389, "dc01.chu.local"))],
            additional=[("dc01.chu.local", "A", 3600, "10.0.0.10")], aa=True,
        )
    )  # fmt: skip
    assert resp.aa and resp.answers[0].srv.port == 389
    assert resp.answers[0].srv.name == "dc01.chu.local"
    assert resp.additionals[0].rdata == "10.0.0.10"
    ptr = dns.reverse_name("10.1.2.3")
    assert ptr == "3.2.1.10.in-addr.arpa"
    _, resp = dns_infos(dns.exchange(rng, ptr, "PTR", [(ptr, "PTR", 3600, "pc-0001.chu.local")]))
    assert resp.answers[0].rdata == "pc-0001.chu.local"
    answers = [
        ("chu.fr", "MX", 3600, (10, "mx1.chu.fr")),
        ("chu.fr", "AAAA", 60, "2001:db8::1"),
        ("chu.fr", "NULL", 0, b"\x01\x02abc"),
        ("chu.fr", "TXT", 0, ["v=spf1 -all", "x" * 300]),
    ]
    _, resp = dns_infos(dns.exchange(rng, "chu.fr", "ANY", answers, edns=4096))
    got = [(a.rrtype, a.rdata) for a in resp.answers]
    assert got[:3] == [
        ("MX", "mx1.chu.fr"),
        ("AAAA", "2001:0db8:0000:0000:0000:0000:0000:0001"),
        ("NULL", "\x01\x02abc"),
    ]
    # a TXT string over 255 bytes is cut into character-strings of 255
    assert [r for t, r in got[3:]] == ["v=spf1 -all", "x" * 255, "x" * 45]


def test_dns_nxdomain_carries_the_zone_soa() -> None:
    _, resp = dns_infos(dns.exchange(random.Random(3), "qzkxvbwj.com", rcode=dns.NXDOMAIN))
    assert resp.rcode == "NXDOMAIN" and resp.answers is None
    assert resp.authorities[0].rrtype == "SOA" and resp.authorities[0].rrname == "qzkxvbwj.com"


def test_dns_same_seed_same_bytes_and_txid_from_rng() -> None:
    a = dns.exchange(random.Random(9), "intranet.chu.local", "A", [])
    b = dns.exchange(random.Random(9), "intranet.chu.local", "A", [])
    c = dns.exchange(random.Random(10), "intranet.chu.local", "A", [])
    assert a == b and a[0].data[:2] != c[0].data[:2]
    assert dns.query(0x1234, "a.b", "TXT")[:2] == b"\x12\x34"


@pytest.mark.parametrize("name", ["a" * 64 + ".example.com", ".".join(["abcdefghi"] * 26), "a..b"])
def test_dns_names_that_cannot_be_written_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        dns.query(1, name)


def test_dns_bad_rdata_and_type_are_refused() -> None:
    q = dns.query(1, "a.example")
    with pytest.raises(ValueError):
        dns.response(q, [("a.example", "A", 1, ("not", "an", "address"))])
    with pytest.raises(ValueError):
        dns.query(1, "a.example", "HINFO")


@pytest.mark.parametrize("encoding", ["base32", "hex"])
def test_tunnel_names_carry_the_data_within_dns_limits(encoding: str) -> None:
    data = random.Random(4).randbytes(1000)
    names = dns.tunnel_names(data, "t.exfil-cdn.net", encoding=encoding)
    assert len(names) > 1
    chunks = []
    for n in names:
        assert len(n) <= 253 and n.endswith(".t.exfil-cdn.net")
        labels = n.split(".")[:-3]
        assert all(0 < len(label) <= 63 for label in labels)
        chunks.append("".join(labels))
        dns.query(1, n)  # writable
    text = "".join(chunks)
    if encoding == "hex":
        assert bytes.fromhex(text) == data
    else:
        padded = text.upper() + "=" * (-len(text) % 8)
        assert base64.b32decode(padded) == data


def _events(turns: list[Turn], ts: int, n: int, client: str) -> list[DnsEvent]:
    """The parser's events of a UDP exchange, with the header the pipeline would add."""
    out = []
    for t, info in zip(turns, dns_infos(turns), strict=True):
        src, dst = (client, "10.0.0.53") if t.side == CLIENT else ("10.0.0.53", client)
        out.append(
            DnsEvent(
                timestamp=eve_timestamp(ts), flow_id=FlowId(n + 1), src_ip=src,
                src_port=50000 if t.side == CLIENT else 53, dest_ip=dst,
                dest_port=53 if t.side == CLIENT else 50000, proto="UDP", app_proto="dns",
                dns=info,
            )
        )  # fmt: skip
    return out


def test_dns_tunnel_detector_sees_a_txt_tunnel_built_here() -> None:
    rng = random.Random(5)
    names = dns.tunnel_names(rng.randbytes(6000), "c2.exfil-cdn.net")
    items: list[DnsEvent] = []
    for i, n in enumerate(names):
        turns = dns.exchange(rng, n, "TXT", [(n, "TXT", 0, rng.randbytes(40).hex())])
        items += _events(turns, T0 + i * S, i, "10.1.2.3")
    alerts = feed(DnsTunnel(), items)
    assert any(a.alert.signature_id == 8_000_110 for a in alerts), alerts


def test_dga_detector_sees_nxdomain_storm_built_here() -> None:
    rng = random.Random(6)
    items: list[DnsEvent] = []
    for i in range(60):
        label = "".join(rng.choice("bcdfghjklmnpqrstvwxz0123456789") for _ in range(14))
        turns = dns.exchange(rng, f"{label}.{rng.choice(['com', 'net', 'info'])}", rcode=3)
        items += _events(turns, T0 + i * S, i, "10.1.2.4")
    assert feed(Dga(), items), "no DGA alert on 60 random NXDOMAINs"


# -- HTTP -----------------------------------------------------------------------------------


def test_http_keepalive_exchange_parses_transaction_by_transaction() -> None:
    rng = random.Random(7)
    page = http.filler(rng, 30_000, text=True)
    pairs = [
        (http.request("GET", "dpi.chu.local", "/portail/"), http.response(200, page, date=1.7e9)),
        (
            http.request("POST", "dpi.chu.local", "/api/rdv", body=b'{"id":1}',
                         content_type="application/json", chunked=True),
            http.response(201, b"{}", content_type="application/json", chunked=True),
        ),
        (http.request("HEAD", "dpi.chu.local", "/x"), http.response(200, b"a" * 99, head=True)),
        (http.request("GET", "dpi.chu.local", "/logo.png"), http.response(304)),
        (
            http.request("GET", "dpi.chu.local", "/admin", auth=("jdupont", "S3cret!"),
                         user_agent=http.USER_AGENTS["python"]),
            http.unauthorized("Basic", "Admin"),
        ),
    ]  # fmt: skip
    turns = http.exchange(rng, pairs)
    assert all(0.05 <= t.delay_s <= 1.5 for t in turns[2::2])
    got = [(b.http_method, b.url, b.status, b.length) for b in parsed(HttpParser, turns)]
    assert got[1][:3] == ("POST", "/api/rdv", 201) and got[1][3] > 0  # chunked: wire length
    del got[1]
    assert got == [
        ("GET", "/portail/", 200, 30_000),
        ("HEAD", "/x", 200, 0),
        ("GET", "/logo.png", 304, 0),
        ("GET", "/admin", 401, len(pairs[4][1].split(b"\r\n\r\n", 1)[1])),
    ]
    last = parsed(HttpParser, turns)[-1]
    assert last.hostname == "dpi.chu.local" and last.http_user_agent.startswith("python-requests")
    auth = pairs[4][0].split(b"Authorization: Basic ")[1].split(b"\r\n")[0]
    assert base64.b64decode(auth) == b"jdupont:S3cret!"
    assert b'WWW-Authenticate: Basic realm="Admin"' in pairs[4][1]


def test_http_ntlm_401_offers_negotiate_and_ntlm() -> None:
    head = http.unauthorized("NTLM").split(b"\r\n\r\n")[0]
    assert b"WWW-Authenticate: Negotiate\r\n" in head and head.endswith(b"WWW-Authenticate: NTLM")


@pytest.mark.parametrize(
    "call",
    [
        lambda: http.request("GET", "h", "/a b"),
        lambda: http.request("GET", "h", "/", headers=[("X-Evil", "a\r\nInjected: 1")]),
        lambda: http.request("GE T", "h", "/"),
        lambda: http.response(200, reason="OK\r\nX: y"),
    ],
)
def test_http_refuses_what_would_break_framing(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_http_filler_is_deterministic_and_sized() -> None:
    assert http.filler(random.Random(1), 700_000) == http.filler(random.Random(1), 700_000)
    assert len(http.filler(random.Random(1), 3_000_000)) == 3_000_000
    assert http.filler(random.Random(1), 0) == b""
    assert http.filler(random.Random(1), 500, text=True).isascii()


# -- TLS ------------------------------------------------------------------------------------

SNI = "portail.chu-exemple.fr"
CASES = [
    (n, v) for n, fp in tls.CLIENTS.items() for v in ("1.2", "1.3") if v == "1.2" or fp.versions
]


def records(data: bytes) -> list[tuple[int, int]]:
    """(content type, length) of every record; the bytes must be whole records."""
    out, pos = [], 0
    while pos < len(data):
        ctype, version, length = struct.unpack_from("!BHH", data, pos)
        assert ctype in (20, 21, 22, 23) and version in (0x0301, 0x0303) and length <= 18_432
        out.append((ctype, length))
        pos += 5 + length
    assert pos == len(data)
    return out


@pytest.mark.parametrize(("client", "version"), CASES)
def test_tls_session_parses_with_sni_version_and_fingerprints(client: str, version: str) -> None:
    turns = tls.session(random.Random(11), SNI, client, [600, 900], [25_000, 400], version)
    (info,) = parsed(TlsParser, turns)
    assert info.sni == SNI and info.version == f"TLS {version}"
    fp = tls.CLIENTS[client]
    assert info.ja3 is not None and info.ja4.startswith("t13d" if fp.versions else "t12d")
    assert info.ja3s is not None
    assert info.client_alpns == (list(fp.alpn) or None)
    if version == "1.2":
        leaf = x509.chain_for(SNI)[0]
        assert info.subject == f"CN={SNI}" and info.issuerdn == "C=US, O=Let's Encrypt, CN=R3"
        assert info.fingerprint == hashlib.sha1(leaf).digest().hex(":")
        assert info.subjectaltname == [SNI]
    else:
        assert info.subject is None  # certificates travel encrypted in TLS 1.3
    for t in turns:
        records(t.data)
    app = [sum(n for c, n in records(t.data) if c == 23) for t in turns]
    assert sum(app) > 26_000  # the 4 messages' plaintext plus sealing


def test_tls_fingerprints_differ_between_families_and_chrome_permutes() -> None:
    rng = random.Random(12)
    ja4s = {}
    for name in tls.CLIENTS:
        a, b = (parsed(TlsParser, tls.session(rng, SNI, name, [1], [1]))[0] for _ in "ab")
        assert a.ja4 == b.ja4
        ja4s[name] = a.ja4
        # Chrome permutes its extensions per connection: JA3 changes, JA4 (sorted) does not
        assert (a.ja3.hash != b.ja3.hash) == tls.CLIENTS[name].shuffle
    assert len(set(ja4s.values())) == len(ja4s)


def test_tls_schannel_is_the_known_windows_10_ja3_and_edge_pads_to_512() -> None:
    turns = tls.session(random.Random(13), SNI, "schannel", [1], [1])
    assert parsed(TlsParser, turns)[0].ja3.hash == "28a2c9bd18a11de089ef85a160da29e4"
    hello = tls.session(random.Random(13), SNI, "edge", [1], [1])[0].data
    assert len(hello) == 5 + 512


def test_tls_without_sni_and_with_a_self_signed_chain() -> None:
    chain = x509.chain_for("c2.invalid-update.net", None)
    turns = tls.session(random.Random(14), None, "go", [200], [90], chain=chain)
    (info,) = parsed(TlsParser, turns)
    assert info.sni is None and info.ja4.startswith("t13i")
    assert info.subject == info.issuerdn == "CN=c2.invalid-update.net"


def test_tls_13_needs_a_client_that_offers_it() -> None:
    with pytest.raises(ValueError):
        tls.session(random.Random(1), SNI, "schannel", [1], [1], "1.3")


def test_tls_same_seed_same_bytes() -> None:
    a = tls.session(random.Random(15), SNI, "edge", [300, 20], [5000], "1.3")
    b = tls.session(random.Random(15), SNI, "edge", [300, 20], [5000], "1.3")
    assert a == b


def test_x509_fields_and_chain_determinism() -> None:
    rng = random.Random(16)
    state = rng.getstate()
    leaf, inter = x509.chain_for("pacs.chu.local", x509.INTERNAL_CA, san=("pacs",),
                                 ip_san=("10.0.5.20",))  # fmt: skip
    assert rng.getstate() == state  # chains never draw from the caller's stream
    info = read_certificate(leaf)
    assert info.subject == "CN=pacs.chu.local"
    assert info.issuerdn == "C=FR, O=Centre Hospitalier, CN=AC Serveurs"
    assert info.subjectaltname == ["pacs.chu.local", "pacs", "10.0.5.20"]
    assert read_certificate(inter).subject == info.issuerdn
    assert x509.chain_for.__wrapped__("pacs.chu.local", x509.INTERNAL_CA, san=("pacs",),
                                      ip_san=("10.0.5.20",)) == (leaf, inter)  # fmt: skip
    own = x509.certificate(rng, "a", "b", key_bits=4096, days=10)
    assert read_certificate(own).notafter is not None and x509.key_bytes(own) == 512
    flight = tls.session(rng, "a", "curl", [1], [1], chain=(own,))[1].data
    at = flight.index(b"\x16\x03\x03\x02\x2c\x0c")  # the ServerKeyExchange record
    assert flight[at + 5 + 42 : at + 5 + 44] == b"\x02\x00"  # signed with the 4096-bit key


# -- a capture: tshark's judgement, then the whole pipeline --------------------------------

PC = Host.make("pc-urg-0042", "10.20.1.57", ttl=128)
DNS_SERVER = Host.make("dc01", "10.0.0.10", ttl=128)
WEB = Host.make("dpi", "10.0.5.80", ttl=128)
CDN = Host.make("cdn", "93.184.216.34")
C2 = Host.make("c2", "203.0.113.50")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """DNS, HTTP and TLS of every shape built here, and four attack shapes: a DNS tunnel, an
    NXDOMAIN storm, an HTTP Basic brute force and a TLS beacon, written with `wire.Trace`."""
    rng = random.Random(20)
    tr = Trace(seed=20)
    ports = EphemeralPorts(rng)
    t = 1_710_495_000.0
    name, edge = "www.chu-exemple.fr", "front.cdn.chu-exemple.fr"
    srv = dns.dc_srv_name("chu.local")
    ptr = dns.reverse_name("10.0.5.80")
    looks = [
        dns.exchange(rng, name, "A", [(name, "CNAME", 300, edge), (edge, "A", 60, CDN.ip)]),
        dns.exchange(rng, srv, "SRV", [(srv, "SRV", 600, (0, 100, 389, "dc01.chu.local"))],
                     additional=[("dc01.chu.local", "A", 3600, DNS_SERVER.ip)], aa=True),
        dns.exchange(rng, ptr, "PTR", [(ptr, "PTR", 3600, "dpi.chu.local")], aa=True),
        dns.exchange(rng, "chu.fr", "MX", [("chu.fr", "MX", 3600, (10, "mx1.chu.fr"))]),
        dns.exchange(rng, "ipv6.chu.fr", "AAAA", [("ipv6.chu.fr", "AAAA", 60, "2001:db8::5")],
                     edns=1232),
        dns.exchange(rng, "n.chu.fr", "NULL", [("n.chu.fr", "NULL", 0, bytes(range(64)))]),
    ]  # fmt: skip
    for i in range(60):  # a DGA's failed look-ups
        label = "".join(rng.choice("bcdfghjklmnpqrstvwxz0123456789") for _ in range(14))
        looks.append(dns.exchange(rng, f"{label}.{('com', 'net', 'info')[i % 3]}", rcode=3))
    for n in dns.tunnel_names(rng.randbytes(9000), "c2.exfil-cdn.net"):
        looks.append(dns.exchange(rng, n, "TXT", [(n, "TXT", 0, rng.randbytes(60).hex())],
                                  edns=4096))  # fmt: skip
    for turns in looks:
        t = tr.udp_exchange(t + 0.5, PC, ports.take(PC), DNS_SERVER, 53, turns)
    pairs = [
        (http.request("GET", "dpi.chu.local", "/portail/"),
         http.response(200, http.filler(rng, 40_000, text=True), date=t)),
        (http.request("POST", "dpi.chu.local", "/api/rdv", body=b'{"id":7}',
                      content_type="application/json", chunked=True),
         http.response(201, b"{}", content_type="application/json", chunked=True)),
        (http.request("GET", "dpi.chu.local", "/logo.png"), http.response(304)),
    ] + [
        (http.request("GET", "dpi.chu.local", "/admin/", auth=(f"user{i}", "Password1"),
                      user_agent=http.USER_AGENTS["python"]), http.unauthorized("Basic", "Admin"))
        for i in range(32)
    ]  # fmt: skip
    t = tr.tcp(t + 1, PC, ports.take(PC), WEB, 80, http.exchange(rng, pairs, think_s=(0.2, 0.5)))
    for client, version in CASES:
        turns = tls.session(
            rng, "portail.chu-exemple.fr", client, [700, 300], [30_000, 500], version
        )
        t = tr.tcp(t + 1, PC, ports.take(PC), CDN, 443, turns)
    for i in range(24):  # a beacon (min_conns 20): every minute, same sizes, same server
        turns = tls.session(rng, "cdn-update.net", "python", [310], [120],
                            chain=x509.chain_for("cdn-update.net", None))  # fmt: skip
        tr.tcp(t + 60.0 * i + rng.uniform(0, 0.5), PC, ports.take(PC), C2, 443, turns)
    root = tmp_path_factory.mktemp("proto_web")
    only = ("behaviour.dns_tunnel", "behaviour.dga", "behaviour.brute_force", "behaviour.beacon")
    return analysed(tr, root, "web.pcap", only)


def test_tshark_finds_nothing_malformed_nor_sloppy(capture: Capture) -> None:
    assert tshark(capture.pcap, "-Y", "_ws.malformed") == ""
    for level in ("error", "warn"):
        report = tshark(capture.pcap, "-q", "-z", f"expert,{level}")
        assert "Frequency" not in report, report
    names = tshark(capture.pcap, "-Y", "tls.handshake.type == 1", "-T", "fields", "-e",
                    "tls.handshake.extensions_server_name")  # fmt: skip
    assert names.split().count("portail.chu-exemple.fr") == len(CASES)


def test_pipeline_logs_every_message(capture: Capture) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for ev in capture.events:
        by_type.setdefault(ev["event_type"], []).append(ev)
    assert not by_type.get("anomaly"), by_type.get("anomaly")
    dns_events = by_type["dns"]
    assert sum(e["dns"]["type"] == "response" for e in dns_events) == len(dns_events) // 2
    assert {e["dns"]["rcode"] for e in dns_events} == {"NOERROR", "NXDOMAIN"}
    http_events = by_type["http"]
    assert len(http_events) == 35 and sum(e["http"]["status"] == 401 for e in http_events) == 32
    tls_events = [e["tls"] for e in by_type["tls"]]
    portal = [e for e in tls_events if e.get("sni") == "portail.chu-exemple.fr"]
    assert sorted(e["version"] for e in portal) == sorted(f"TLS {v}" for _, v in CASES)
    assert all(e["subject"] == "CN=portail.chu-exemple.fr" for e in portal if "1.2" in e["version"])


def test_attack_shapes_reach_their_detectors(capture: Capture) -> None:
    found = {a["alert"]["signature_id"] for a in capture.alerts}
    assert 8_000_110 in found  # DNS tunnel
    assert 8_000_205 in found  # HTTP Basic brute force
    assert any(names(capture.alerts).count(d) for d in ("behaviour.dga",)), found
    assert "behaviour.beacon" in names(capture.alerts), found
