"""HTTP sticky buffers from transactions made by the real HTTP parser.

Each expectation names where it comes from: a suricata-verify test (its rule and alert count;
captures in fixtures/, see PROVENANCE.md), a Suricata 8 source file (`src/detect-http-*.c`),
libhtp (`rust/htp/src/`), or the HTTP rule documentation (doc/userguide/rules/http-keywords.rst).
"""

from __future__ import annotations

import gzip

import pytest

from applayer.http.flows import Flow
from tocsin.applayer.base import TO_CLIENT, TO_SERVER
from tocsin.detect.buffers import HttpBuffers, Stage, http_stage, reached, stage_of

from ._util import APP, FIX, exchange, http_txs

GET = (
    b"GET /a/../b%2fc?x=%41+y HTTP/1.1\r\n"
    b"Host: WWW.Example.ORG:8080\r\n"
    b"Cookie: c=1\r\n"
    b"Accept: text/html\r\n"
    b"User-Agent: one\r\n"
    b"cookie: c=2\r\n"
    b"accept: */*\r\n"
    b"X-Cookie: no\r\n"
    b"Referer: http://r.example/\r\n"
    b"Accept-Encoding: gzip\r\n"
    b"Accept-Language: fr\r\n"
    b"Connection: keep-alive\r\n"
    b"\r\n"
)
OK = (
    b"HTTP/1.1 302 Found it\r\n"
    b"Server:   nginx/1.2  \r\n"
    b"Set-Cookie: s=1\r\n"
    b"Location: /next\r\n"
    b"set-cookie: s=2\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: 5\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"hello"
)


@pytest.fixture
def buffers() -> HttpBuffers:
    return HttpBuffers(exchange(GET, OK))


def test_request_line_buffers(buffers: HttpBuffers) -> None:
    # detect-http-method.c, detect-http-protocol.c, detect-http-request-line.c,
    # detect-http-raw-uri.c: the words and the line as sent (no line end)
    assert buffers.get("http.method") == b"GET"
    assert buffers.get("http.protocol", TO_SERVER) == b"HTTP/1.1"
    assert buffers.get("http.request_line") == b"GET /a/../b%2fc?x=%41+y HTTP/1.1"
    assert buffers.get("http.uri.raw") == b"/a/../b%2fc?x=%41+y"
    # libhtp partial normalized URI: path decoded and compacted, query decoded, "+" kept
    assert buffers.get("http.uri") == b"/b/c?x=A+y"


def test_header_buffer_skips_cookie_and_merges_repeats(buffers: HttpBuffers) -> None:
    # detect-http-header.c GetBufferForTX: "Name: value\r\n" per libhtp field (repeats
    # merged with ", " in the first one's place), Cookie skipped to_server, Set-Cookie
    # to_client (a 6-byte "cookie" name only: X-Cookie stays), no final extra CRLF
    assert buffers.get("http.header", TO_SERVER) == (
        b"Host: WWW.Example.ORG:8080\r\n"
        b"Accept: text/html, */*\r\n"
        b"User-Agent: one\r\n"
        b"X-Cookie: no\r\n"
        b"Referer: http://r.example/\r\n"
        b"Accept-Encoding: gzip\r\n"
        b"Accept-Language: fr\r\n"
        b"Connection: keep-alive\r\n"
    )
    # values trimmed: "the header buffer is normalized. Any trailing whitespace and tab
    # characters are removed" (http-keywords.rst)
    assert buffers.get("http.header", TO_CLIENT) == (
        b"Server: nginx/1.2\r\nLocation: /next\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\nConnection: close\r\n"
    )


def test_cookie_is_cookie_to_server_and_set_cookie_to_client(buffers: HttpBuffers) -> None:
    # detect-http-cookie.c GetRequestData ("Cookie") / GetResponseData ("Set-Cookie")
    assert buffers.get("http.cookie", TO_SERVER) == b"c=1, c=2"
    assert buffers.get("http.cookie", TO_CLIENT) == b"s=1, s=2"


def test_raw_header_is_the_head_as_sent(buffers: HttpBuffers) -> None:
    # libhtp's header-data hook: from after the start line to the empty line, included
    assert buffers.get("http.header.raw", TO_SERVER) == GET[GET.index(b"\r\n") + 2 :]
    assert buffers.get("http.header.raw", TO_CLIENT) == OK[OK.index(b"\r\n") + 2 : -5]


def test_header_names_and_start(buffers: HttpBuffers) -> None:
    # detect-http-header-names.c: "\r\nName1\r\nName2\r\n\r\n", every field (cookies too)
    assert buffers.get("http.header_names", TO_CLIENT) == (
        b"\r\nServer\r\nSet-Cookie\r\nLocation\r\nContent-Type\r\nContent-Length\r\n"
        b"Connection\r\n\r\n"
    )
    # detect-http-start.c: start line, CRLF, "Name: value\r\n" (Cookie kept), final CRLF
    assert buffers.get("http.start", TO_CLIENT) == (
        b"HTTP/1.1 302 Found it\r\nServer: nginx/1.2\r\nSet-Cookie: s=1, s=2\r\n"
        b"Location: /next\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        b"Connection: close\r\n\r\n"
    )
    start = buffers.get("http.start", TO_SERVER)
    assert start is not None
    assert start.startswith(b"GET /a/../b%2fc?x=%41+y HTTP/1.1\r\nHost: ")
    assert b"\r\nCookie: c=1, c=2\r\n" in start and start.endswith(b"keep-alive\r\n\r\n")


def test_single_field_buffers(buffers: HttpBuffers) -> None:
    # detect-http-headers-stub.h (and detect-http-ua.c, detect-http-referer.c): the value
    # of one field; http.connection / content_type / content_len exist in both directions
    assert buffers.get("http.user_agent") == b"one"
    assert buffers.get("http.accept") == b"text/html, */*"
    assert buffers.get("http.accept_enc") == b"gzip"
    assert buffers.get("http.accept_lang") == b"fr"
    assert buffers.get("http.referer") == b"http://r.example/"
    assert buffers.get("http.connection", TO_SERVER) == b"keep-alive"
    assert buffers.get("http.connection", TO_CLIENT) == b"close"
    assert buffers.get("http.content_type", TO_SERVER) is None
    assert buffers.get("http.content_type", TO_CLIENT) == b"text/plain"
    assert buffers.get("http.content_len", TO_CLIENT) == b"5"
    assert buffers.get("http.server") == b"nginx/1.2"
    assert buffers.get("http.location") == b"/next"


def test_response_line_buffers(buffers: HttpBuffers) -> None:
    # detect-http-stat-code.c / detect-http-stat-msg.c / detect-http-response-line.c
    assert buffers.get("http.stat_code") == b"302"
    assert buffers.get("http.stat_msg") == b"Found it"
    assert buffers.get("http.response_line") == b"HTTP/1.1 302 Found it"
    assert buffers.get("http.protocol", TO_CLIENT) == b"HTTP/1.1"
    assert buffers.get("http.response_body") == buffers.get("file.data", TO_CLIENT) == b"hello"


def test_per_field_instances(buffers: HttpBuffers) -> None:
    # detect-http-header.c GetHttp1HeaderData: one "Name: value" buffer per field
    assert buffers.multi("http.response_header") == [
        b"Server: nginx/1.2",
        b"Set-Cookie: s=1, s=2",
        b"Location: /next",
        b"Content-Type: text/plain",
        b"Content-Length: 5",
        b"Connection: close",
    ]
    assert buffers.multi("http.request_header")[:2] == [
        b"Host: WWW.Example.ORG:8080",
        b"Cookie: c=1, c=2",
    ]


def test_both_way_buffers_without_a_direction(buffers: HttpBuffers) -> None:
    assert buffers.multi("http.cookie") == [b"c=1, c=2", b"s=1, s=2"]
    # get(): the response's side once its head is in, the request's before
    assert buffers.get("http.cookie") == b"s=1, s=2"
    request_only = HttpBuffers(exchange(b"GET / HTTP/1.1\r\nCookie: c=1\r\n\r\n"))
    assert request_only.get("http.cookie") == b"c=1"
    # a buffer Suricata has no engine for in that direction is not there
    assert buffers.get("http.uri", TO_CLIENT) is None
    assert buffers.multi("http.stat_code", TO_SERVER) == []
    with pytest.raises(KeyError):
        buffers.get("dns.query")
    with pytest.raises(KeyError):
        buffers.get("http.nope")


def test_legacy_names_are_accepted(buffers: HttpBuffers) -> None:
    assert buffers.get("http_raw_uri") == buffers.get("http.uri.raw")
    assert buffers.get("http_server_body") == b"hello"
    assert buffers.get("file_data") == b"hello"


@pytest.mark.parametrize(
    ("host", "target", "normalised", "raw"),
    [
        # http-keywords.rst: lower case, no port; http.host.raw as sent
        (b"WWW.Example.ORG:8080", b"/", b"www.example.org", b"WWW.Example.ORG:8080"),
        # ...repeated Host fields concatenated with ", " (the documentation's example)
        (
            b"ABC.com\r\nAccept: */*\r\nHost: efg.net",
            b"/",
            b"abc.com, efg.net",
            b"ABC.com, efg.net",
        ),
        # an absolute target's host wins over Host (detect-http-host.c GetRawData: the
        # normalised parsed_uri hostname, trailing dots removed by libhtp)
        (b"a.example", b"http://Other.EXAMPLE.:81/x", b"other.example", b"other.example"),
        (b"[::1]:80", b"/", b"[::1]", b"[::1]:80"),
    ],
)
def test_host(host: bytes, target: bytes, normalised: bytes, raw: bytes) -> None:
    tx = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    buffers = HttpBuffers(tx)
    assert buffers.get("http.host") == normalised
    assert buffers.get("http.host.raw") == raw


def test_no_host() -> None:
    buffers = HttpBuffers(exchange(b"GET / HTTP/1.0\r\n\r\n"))
    assert buffers.get("http.host") is None and buffers.get("http.host.raw") is None
    # no field at all: no header buffers (Suricata: an empty buffer is no buffer)
    assert buffers.get("http.header", TO_SERVER) is None
    assert buffers.get("http.header_names", TO_SERVER) is None
    # http.start: the line and its CRLF, no extra CRLF without fields (detect-http-start.c)
    assert buffers.get("http.start", TO_SERVER) == b"GET / HTTP/1.0\r\n"
    assert buffers.get("http.header.raw", TO_SERVER) == b"\r\n"


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        (b"/a/../b", b"/b"),
        (b"/a/./b", b"/a/b"),
        (b"/a//b///c", b"/a/b/c"),
        (b"/a/%2e%2e/b", b"/b"),
        (b"/a%2fb", b"/a/b"),
        (b"/a%00b", b"/a\x00b"),
        (b"/%u0041%uff0fb", b"/A/b"),
        (b"/a+b?c=d+e", b"/a+b?c=d+e"),
        (b"/a\\..\\b", b"/b"),
        (b"/p?q=%2e%2e/%2f&r=%u0041", b"/p?q=..//&r=A"),
        (b"/p#frag%41", b"/p#fragA"),
        (b"http://h.example/x/./y?z", b"/x/y?z"),
        (b"http://h.example", None),
    ],
)
def test_uri_normalisation_through_the_parser(target: bytes, uri: bytes | None) -> None:
    # uri.rs / urlencoded.rs with Suricata's IDS personality (see test_uri.py)
    tx = exchange(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n")
    assert HttpBuffers(tx).get("http.uri") == uri
    assert HttpBuffers(tx).get("http.uri.raw") == target


def test_connect_has_raw_uri_only() -> None:
    tx = exchange(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
    buffers = HttpBuffers(tx)
    assert buffers.get("http.uri") is None
    assert buffers.get("http.uri.raw") == b"example.com:443"
    assert buffers.get("http.host") == b"example.com"


def test_headerless_response_has_body_but_no_head() -> None:
    tx = exchange(b"GET /\r\n", b"<html>old</html>")  # HTTP/0.9
    buffers = HttpBuffers(tx)
    assert buffers.get("http.protocol", TO_SERVER) is None
    assert buffers.get("http.request_line") == b"GET /"
    assert buffers.get("http.response_line") is None
    assert buffers.get("http.stat_code") is None
    assert buffers.get("http.header", TO_CLIENT) is None
    assert buffers.get("file.data", TO_CLIENT) == b"<html>old</html>"


def test_bodies_chunked_and_gzip() -> None:
    body = gzip.compress(b"secret payload")
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:7], body[7:])) + b"0\r\n\r\n"
    tx = exchange(
        b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks,
    )
    buffers = HttpBuffers(tx)
    # de-chunked request body; response de-chunked then gunzipped (libhtp decompression)
    assert buffers.get("http.request_body") == b"abcdefg"
    assert buffers.get("http.response_body") == b"secret payload"
    assert buffers.get("file.data", TO_CLIENT) == b"secret payload"


def test_gzip_capture_body() -> None:
    # Zeek x-gzip.pcap: "Content-Encoding: x-gzip", decoded body (tests/applayer/http)
    (tx,) = http_txs(APP / "http" / "x-gzip.pcap")
    assert HttpBuffers(tx).get("file.data") == b"Encoded gzip header"


def test_bodies_need_inspect_bodies() -> None:
    tx = exchange(
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        inspect_bodies=False,
    )
    buffers = HttpBuffers(tx)
    assert buffers.get("http.request_body") is None and buffers.get("file.data", TO_CLIENT) is None
    assert buffers.ready("http.request_body") and buffers.ready("file.data", TO_CLIENT)


def test_progress_and_body_available_when_complete() -> None:
    """A request is inspectable before its response: `pending_transactions()` shows it,
    its body is whole the moment `request_done` is set, and values reached before a stage
    completes are not frozen by the cache."""
    flow = Flow()
    flow.send(TO_SERVER, b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello")
    (tx,) = flow.parser.pending_transactions()
    buffers = HttpBuffers(tx)
    assert reached(tx, Stage.REQUEST_HEADERS) and not reached(tx, Stage.REQUEST_BODY)
    assert http_stage(tx) == Stage.REQUEST_HEADERS
    assert buffers.ready("http.uri") and not buffers.ready("http.request_body")
    assert buffers.get("http.request_body") == b"hello"  # what there is so far
    assert buffers.get("http.stat_code") is None and not buffers.ready("http.stat_code")
    assert buffers.get("http.header", TO_CLIENT) is None
    assert buffers.ready("http.header", TO_SERVER) and not buffers.ready("http.header")
    flow.send(TO_SERVER, b"world")
    assert tx.request_done and buffers.ready("http.request_body")
    assert http_stage(tx) == Stage.REQUEST_BODY >= stage_of("http.request_body")
    assert buffers.get("http.request_body") == b"helloworld"
    assert not reached(tx, Stage.RESPONSE_HEADERS)
    flow.send(TO_CLIENT, b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nd")
    assert reached(tx, Stage.RESPONSE_HEADERS) and not reached(tx, Stage.RESPONSE_BODY)
    assert http_stage(tx) == Stage.RESPONSE_HEADERS < stage_of("file.data", TO_CLIENT)
    assert buffers.get("http.stat_code") == b"201" and buffers.ready("http.stat_code")
    assert buffers.get("http.header", TO_CLIENT) == b"Content-Length: 4\r\n"
    assert buffers.ready("http.header")  # both heads are in
    assert not buffers.ready("file.data", TO_CLIENT) and buffers.get("file.data", TO_CLIENT) == b"d"
    flow.send(TO_CLIENT, b"one")
    assert flow.txs == [tx] and buffers.get("file.data", TO_CLIENT) == b"done"
    assert buffers.ready("file.data", TO_CLIENT) and reached(tx, Stage.EVENT)
    assert http_stage(tx) == Stage.EVENT


def test_interim_response_is_replaced() -> None:
    tx = exchange(
        b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
        b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )
    buffers = HttpBuffers(tx)
    assert buffers.get("http.response_line") == b"HTTP/1.1 200 OK"
    assert buffers.get("http.header.raw", TO_CLIENT) == b"Content-Length: 0\r\n\r\n"


# -- suricata-verify captures --------------------------------------------------------------


def test_sv_http_raw_header() -> None:
    # http-raw-header: content:"Server|3a 20 20 20 20 20 20 20|Yx|28|"; http_raw_header;
    # to_client, 1 alert: the raw head keeps the spaces the normalised buffer trims
    (tx,) = http_txs(FIX / "http-raw-header.pcap")
    buffers = HttpBuffers(tx)
    raw = buffers.get("http.header.raw", TO_CLIENT)
    assert raw is not None and b"Server:       Yx(" in raw
    header = buffers.get("http.header", TO_CLIENT)
    assert header is not None and b"Server: Yx(yw)" in header and b"Server:  " not in header
    assert buffers.get("http.uri") == b"/pptmaster/ptcuu.ini"  # absolute target
    assert buffers.get("http.host") == b"ppmter.720891.com"


def test_sv_http_request_line() -> None:
    # http-request-line: bsize >10, <100, 10<>100 match, >100 does not; content
    # "GET /index.html HTTP/1.0" matches (the request head is cut short)
    (tx,) = http_txs(FIX / "http-request-line.pcap")
    line = HttpBuffers(tx).get("http.request_line")
    assert line == b"GET /index.html HTTP/1.0" and 10 < len(line) < 100


def test_sv_http_response_line() -> None:
    # http-response-line: http_response_line; content:"HTTP/1.0 200 OK"
    (tx,) = http_txs(FIX / "http-response-line.pcap")
    assert HttpBuffers(tx).get("http.response_line") == b"HTTP/1.0 200 OK"


def test_sv_urilen_normalised_and_raw() -> None:
    # detect-http-uri UriTestSig33-38: urilen 15 (and 15,norm) match, 16 not; 17,raw match
    (tx,) = http_txs(FIX / "uri-normalized-length.pcap")
    buffers = HttpBuffers(tx)
    assert buffers.get("http.uri") == b"/normalized uri"
    assert len(buffers.get("http.uri") or b"") == 15
    assert len(buffers.get("http.uri.raw") or b"") == 17


def test_sv_raw_uri_keeps_dot_segments() -> None:
    # detect-http-uri DetectEngineHttpRawUriTest01: content:"../c/./d"; http_raw_uri; matches
    (tx,) = http_txs(FIX / "uri-dot-segments.pcap")
    buffers = HttpBuffers(tx)
    assert b"../c/./d" in (buffers.get("http.uri.raw") or b"")
    assert buffers.get("http.uri") == b"/a/c/d.html"


def test_sv_uri_with_spaces() -> None:
    # http-uri-spaces (Suricata 8): content:" afterspace"; http_uri; 1 alert
    (tx,) = http_txs(APP / "http" / "uri-spaces.pcap")
    assert HttpBuffers(tx).get("http.uri") == b"/uri afterspace"


def test_sv_http_connection_to_client() -> None:
    # http-connection-toclient: flow:to_client; http.connection; content:"close"; 1 alert
    (tx,) = http_txs(FIX / "http-connection-toclient.pcap")
    buffers = HttpBuffers(tx)
    assert buffers.get("http.connection", TO_CLIENT) == b"close"
    assert buffers.get("http.connection", TO_SERVER) == b"Keep-Alive"


def test_sv_request_and_response_header_instances() -> None:
    # http-request-header: http.request_header "Connection: " and "User-Agent: ",
    # http.response_header "Connection: " and "Date: ", 1 alert each
    (tx,) = http_txs(FIX / "http-request-header.pcap")
    buffers = HttpBuffers(tx)
    for name, prefixes in (
        ("http.request_header", (b"Connection: ", b"User-Agent: ")),
        ("http.response_header", (b"Connection: ", b"Date: ")),
    ):
        values = buffers.multi(name)
        for prefix in prefixes:
            assert sum(v.startswith(prefix) for v in values) == 1, (name, prefix)


def test_sv_http_start() -> None:
    # http-sticky-start: flow:to_server; http.start; content:"GET"; depth:3;
    # content:"Host:"; distance:0; 3 alerts
    txs = http_txs(FIX / "http-sticky-start.pcap")
    starts = [HttpBuffers(tx).get("http.start", TO_SERVER) or b"" for tx in txs]
    assert len(starts) == 3
    assert all(s.startswith(b"GET") and b"Host:" in s[3:] for s in starts)
    assert all(s.endswith(b"\r\n\r\n") for s in starts)
