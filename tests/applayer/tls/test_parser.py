"""TlsParser's state machine on real connections: chunking, skip/done, limits, errors, gaps."""

from __future__ import annotations

import random
from collections.abc import Callable

import msgspec
import pytest

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.tls import TlsParser
from tocsin.model.tls import TlsEvent, TlsInfo

from ._util import Chunk, bytewise, client_server, conversations, run

ALL = [
    "cert-issuer-resumed.pcap",
    "client-auth.pcap",
    "client-hello-frag.pcap",
    "conn-with-extensions.pcap",
    "handshake-failure.pcap",
    "hrr.pcap",
    "ja4-tls-quic.pcap",
    "sslv2.pcap",
    "sslv2-hello-tls-server.pcap",
    "tls13-draft28.pcap",
    "tls1_1.pcap",
]


def _record(msg: bytes) -> bytes:
    return b"\x16\x03\x01" + len(msg).to_bytes(2, "big") + msg


def _plain(info: TlsInfo) -> object:
    return msgspec.to_builtins(info)


def _random_cuts(seed: int) -> Callable[[bytes], list[bytes]]:
    rnd = random.Random(seed)

    def cut(data: bytes) -> list[bytes]:
        out, i = [], 0
        while i < len(data):
            n = rnd.randint(1, 700)
            out.append(data[i : i + n])
            i += n
        return out

    return cut


@pytest.mark.parametrize("name", ALL)
def test_same_event_whatever_the_chunking(name: str) -> None:
    for conn in conversations(name):
        whole = run(conn)
        assert whole.error is None
        for split in (bytewise, _random_cuts(1), _random_cuts(2)):
            again = run(conn, split=split)
            assert again.error is None
            assert [(_plain(i), d) for i, d, _ in again.events] == [
                (_plain(i), d) for i, d, _ in whole.events
            ]


def test_client_hello_fragmented_over_segments() -> None:
    # suricata-verify tls-client-hello-frag-01: MTU 300, the ClientHello spans TCP segments
    conn = conversations("client-hello-frag.pcap")[0]
    client, _ = client_server(conn)
    assert len(conn[0][1]) < 5 + int.from_bytes(client[3:5], "big")
    info = run(conn).info
    assert info.sni == "www.google.com"
    assert info.ja4 == "t12d8008h2_9cedc1f1428b_046e095b7c4a"
    assert info.subject == "CN=www.google.com"


def _reframe(stream: bytes, size: int) -> bytes:
    """The same handshake bytes re-cut into records of at most `size` bytes."""
    out, pos = [], 0
    while pos < len(stream):
        ctype, n = stream[pos], int.from_bytes(stream[pos + 3 : pos + 5], "big")
        body = stream[pos + 5 : pos + 5 + n]
        pieces = [body[i : i + size] for i in range(0, len(body), size)] if ctype == 22 else [body]
        for piece in pieces or [b""]:
            out.append(stream[pos : pos + 3] + len(piece).to_bytes(2, "big") + piece)
        pos += 5 + n
    return b"".join(out)


@pytest.mark.parametrize("size", [1, 7, 100, 300])
def test_handshake_messages_fragmented_over_records(size: int) -> None:
    # the real ClientHello and server flight, each handshake message split over many records
    # (several records per TCP chunk, records across chunks)
    conn = conversations("client-hello-frag.pcap")[0]
    client, server = client_server(conn)
    first_flight = 5 + int.from_bytes(client[3:5], "big")
    server_flight = run(conn).fed[1]
    reframed: list[Chunk] = [
        (TO_SERVER, _reframe(client[:first_flight], size)),
        (TO_CLIENT, _reframe(server[:server_flight], size)),
    ]
    assert run(reframed, split=_random_cuts(size)).info == run(conn).info


def test_tls12_event_at_server_hello_done_then_done_both_ways() -> None:
    conn = conversations("server-handshake.pcap")[0]
    r = run(conn)
    ((info, direction, ts),) = r.events
    assert direction == TO_CLIENT and ts == 2  # the server's first flight, 2nd chunk
    assert r.parser.done == [True, True]
    client, server = client_server(conn)
    assert r.fed[0] < len(client) and r.fed[1] == len(server[: r.fed[1]])
    assert info.server_handshake is not None and info.server_handshake.cipher == 49200


def test_tls13_stops_at_the_server_hello() -> None:
    conn = conversations("ja4-tls-quic.pcap")[0]
    _, server = client_server(conn)
    sh_len = 5 + int.from_bytes(server[3:5], "big")
    r = run(conn, split=bytewise)
    assert r.fed[1] == sh_len  # not a byte of the encrypted flight
    assert r.parser.done == [True, True]
    assert r.info.version == "TLS 1.3"


def test_encrypted_records_are_skipped_not_fed() -> None:
    # the resumed session: ServerHello, CCS, encrypted Finished, then the client's CCS
    conn = conversations("cert-issuer-resumed.pcap")[4]
    r = run(conn, split=bytewise)
    assert r.info.session_resumed is True
    assert r.skipped[1] > 0  # the server's encrypted Finished went through `skip`
    _client, server = client_server(conn)
    assert r.fed[1] + r.skipped[1] <= len(server)


def test_hello_retry_request_then_tls13() -> None:
    r = run(conversations("hrr.pcap")[0])
    info = r.info
    assert r.error is None
    assert info.version == "TLS 1.3"
    assert info.ja3s is not None and info.ja3s.string == "771,4866,43-51"  # of the HRR
    assert info.server_handshake is not None
    assert info.server_handshake.exts == [51, 43]  # of the real ServerHello
    assert info.session_resumed is None


def test_sslv2_hellos() -> None:
    pure = run(conversations("sslv2.pcap")[0]).info
    assert pure.version == "SSLv2"
    assert pure.subject is not None and pure.subject.endswith("CN=plesk, Email=info@plesk.com")
    upgraded = run(conversations("sslv2-hello-tls-server.pcap")[0]).info
    assert upgraded.version == "TLSv1"
    assert upgraded.ja3 is None and upgraded.ja4 is None  # no fingerprint of a v2 hello
    assert upgraded.fingerprint == "8c:90:bd:2a:b3:ae:e6:0b:d0:ea:b7:86:b0:1a:e4:b1:cc:57:ef:22"


def test_client_certificate_waits_for_the_client() -> None:
    r = run(conversations("client-auth.pcap")[0], certificates=True)
    ((info, direction, _),) = r.events
    assert direction == TO_SERVER  # emitted at the client's Certificate
    assert info.client is not None
    assert info.client.serial == "00:C7:D4:28:8B:80:E0:1E:27"
    assert info.client.subject == (
        "C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleClient, CN=SampleClientJane"
    )
    assert info.client.certificate is not None and info.client.chain is not None
    assert info.certificate is not None and info.chain and info.chain[0] == info.certificate


def test_certificates_only_on_request_and_from_proto() -> None:
    conn = conversations("server-handshake.pcap")[0]
    plain = run(conn).info
    assert plain.certificate is None and plain.chain is None and plain.from_proto is None
    rich = run(conn, certificates=True, from_proto="smtp").info
    assert rich.from_proto == "smtp"
    assert rich.chain is not None and len(rich.chain) >= 1


def test_limits_bound_the_certificate_message() -> None:
    conn = conversations("client-hello-frag.pcap")[0]
    full = run(conn).info
    # room for the leaf but not the chain: the leaf is still read, the surplus skipped
    leafy = run(conn, limits=AppLimits(max_message=2000))
    assert leafy.error is None
    assert leafy.info.subject == full.subject and leafy.info.fingerprint == full.fingerprint
    assert leafy.skipped[1] > 0
    # the same with the whole server flight in one chunk: the surplus is dropped in place
    client, server = client_server(conn)
    hello = client[: 5 + int.from_bytes(client[3:5], "big")]
    one = run([(TO_SERVER, hello), (TO_CLIENT, server)], limits=AppLimits(max_message=2000))
    assert one.info == leafy.info and one.skipped[1] == 0
    # and with the certificate message spread over many records, all in hand
    flight = server[: run(conn).fed[1]]
    many = run([(TO_SERVER, hello), (TO_CLIENT, _reframe(flight, 300))], limits=AppLimits(2000))
    assert many.info == leafy.info and many.skipped[1] == 0
    # not even the leaf: no certificate fields, no error, the rest intact
    tiny = run(conn, limits=AppLimits(max_message=600), split=bytewise)
    assert tiny.error is None
    assert tiny.info.subject is None and tiny.info.sni == "www.google.com"
    # SANs are bounded by max_items
    sans = run(conversations("glupteba-san.pcap")[0], limits=AppLimits(max_items=5)).info
    assert sans.subjectaltname is not None and len(sans.subjectaltname) == 5


def test_fatal_alert_ends_the_handshake() -> None:
    r = run(conversations("handshake-failure.pcap")[0], close=False)
    ((info, direction, _),) = r.events
    assert direction == TO_CLIENT
    assert info.version == "TLS 1.2"  # the version of the server's alert record
    assert r.parser.done == [True, True]


def test_client_hello_only_reported_at_close() -> None:
    # suricata-verify bug-5713-01: only a ClientHello; Suricata >= 8.0.3 logs its version
    conn = conversations("client-hello-only.pcap")[0]
    assert run(conn, close=False).events == []
    info = run(conn).info
    assert info.version == "TLSv1"
    # FoxIO JA4 (no signature_algorithms: no trailing "_" hashed; Suricata 8 prints
    # t10i070600_c50f5591e341_ce66f3b797c1)
    assert info.ja4 == "t10i070600_c50f5591e341_c39ab67fec8e"


def test_gaps() -> None:
    client_hello = conversations("server-handshake.pcap")[0][0]
    assert client_hello[0] == TO_SERVER
    events: list[TlsInfo] = []

    def emit(cls: object, body: TlsInfo, d: int, ts: int, tx_id: int | None = None) -> None:
        assert cls is TlsEvent
        events.append(body)

    p = TlsParser(emit, AppLimits())
    p.feed(TO_SERVER, client_hello[1], 1)
    p.gap(TO_CLIENT, 2)  # the server side is lost: the client side goes on
    assert p.done == [False, True] and events == []
    p.gap(TO_SERVER, 3)  # nothing more can come: report now
    assert p.done == [True, True]
    assert [e.sni for e in events] == ["dogfish"]
    p.close(4)
    assert len(events) == 1


def test_nothing_to_report() -> None:
    r = run([])
    assert r.events == []
    enc: list[Chunk] = [(0, bytes.fromhex("1703030005") + bytes(5)), (1, bytes.fromhex("170303"))]
    r = run(enc)  # application data only (picked up midstream): no event
    assert r.events == [] and r.error is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "not a TLS record"),
        (bytes.fromhex("1602010005") + bytes(5), "not a TLS record"),  # version 2.1
        (bytes.fromhex("1603014801") + bytes(5), "exceeds"),  # 18433-byte record
        # a ClientHello whose cipher suites run past its end
        (_record(b"\x01\x00\x00\x27\x03\x03" + bytes(32) + b"\x00\x00\x40\x00\x00"), "overrun"),
        # an SSLv2-framed CLIENT-HELLO without ciphers or challenge
        (b"\x80\x0b\x01\x00\x02" + bytes(8), "SSLv2"),
    ],
)
def test_not_tls(data: bytes, why: str) -> None:
    r = run([(TO_SERVER, data)])
    assert isinstance(r.error, ParseError)
    assert why in str(r.error)
    assert r.parser.done == [True, True]


def test_sslv2_record_bounded_by_max_message() -> None:
    r = run([(TO_SERVER, b"\xff\xff\x01" + bytes(40000))], limits=AppLimits(max_message=1000))
    assert isinstance(r.error, ParseError) and "limit" in str(r.error)


def test_what_was_learnt_is_reported_before_the_error() -> None:
    # Zeek's tls1.2-protocol-violation: the certificate list length is wrong
    r = run(conversations("protocol-violation.pcap")[0])
    assert isinstance(r.error, ParseError)
    assert len(r.events) == 1
    info = r.events[0][0]
    assert info.ja3 is not None and info.version == "TLS 1.2"


def test_feed_after_done_is_ignored() -> None:
    conn = conversations("ja4-tls-quic.pcap")[0]
    r = run(conn)
    r.parser.feed(TO_SERVER, b"\xff" * 10, 99)  # would be a ParseError if parsed
    r.parser.close(100)
    assert len(r.events) == 1
