"""The per-flow HTTP state machine, on hand-written exchanges (RFC 9112 framing, libhtp quirks)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.model.http import HttpInfo

from .flows import Flow

GET = (
    b"GET /index.html?q=1 HTTP/1.1\r\nHost: WWW.Example.org:8080\r\n"
    b"User-Agent: curl/8.0\r\nReferer: http://a/b\r\nX-Forwarded-For: 10.0.0.1\r\n"
    b"Accept: */*\r\nAuthorization: Basic c2VjcmV0\r\n\r\n"
)
OK = (
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: 11\r\nLocation: /next\r\nContent-Range: bytes 0-10/100\r\n\r\nhello world"
)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
)
SCHEMA = Path(__file__).parents[4] / "shared" / "corpus" / "suricata-etc" / "schema.json"


def test_one_exchange(flow: Flow) -> None:
    flow.send(TO_SERVER, GET, ts=1)
    assert flow.events == []  # nothing until the response is complete
    flow.send(TO_CLIENT, OK, ts=2)
    [(info, direction, ts, tx_id)] = flow.events
    assert (direction, ts, tx_id) == (TO_CLIENT, 2, 0)
    assert info.hostname == "www.example.org" and info.http_port == 8080
    assert info.url == "/index.html?q=1"
    assert info.http_method == "GET" and info.protocol == "HTTP/1.1"
    assert info.http_user_agent == "curl/8.0"
    assert info.http_refer == "http://a/b" and info.xff == "10.0.0.1"
    assert info.status == 200 and info.status_string is None
    assert info.http_content_type == "text/html"  # parameters cut, as Suricata
    assert info.redirect == "/next"
    assert info.content_range is not None
    assert (info.content_range.start, info.content_range.end, info.content_range.size) == (
        0,
        10,
        100,
    )
    assert info.length == 11
    assert flow.txs[0].response_body == b"hello world"


def test_default_header_selection_never_logs_credentials(flow: Flow) -> None:
    flow.send(TO_SERVER, GET)
    flow.send(TO_CLIENT, OK)
    info = flow.infos[0]
    assert info.request_headers is not None and info.response_headers is not None
    assert [h.name for h in info.request_headers] == ["Accept", "Authorization"]
    auth = info.request_headers[1].value
    assert auth.startswith("Basic ") and "c2VjcmV0" not in auth and "secret" not in auth
    assert [h.name for h in info.response_headers] == ["Server", "Content-Length"]


def test_all_or_no_headers() -> None:
    every = Flow(options={"request_headers": ("*",), "response_headers": ("*",)})
    none = Flow(options={"request_headers": (), "response_headers": ()})
    for f in (every, none):
        f.send(TO_SERVER, GET)
        f.send(TO_CLIENT, OK)
    info = every.infos[0]
    assert info.request_headers is not None and len(info.request_headers) == 6
    assert info.request_headers[0].name == "Host"
    assert info.response_headers is not None and len(info.response_headers) == 5
    assert none.infos[0].request_headers is None and none.infos[0].response_headers is None


@pytest.mark.parametrize("step", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("response", [OK, CHUNKED], ids=["length", "chunked"])
def test_any_segmentation_gives_the_same_event(response: bytes, step: int) -> None:
    whole, split = Flow(), Flow()
    whole.send(TO_SERVER, GET)
    whole.send(TO_CLIENT, response)
    split.send(TO_SERVER, GET, step=step)
    split.send(TO_CLIENT, response, step=step)
    assert len(split.events) == 1
    assert split.infos == whole.infos
    assert split.txs[0].response_body == whole.txs[0].response_body == b"hello world"


def test_chunked_length_counts_framing_not_trailer(flow: Flow) -> None:
    flow.send(TO_SERVER, GET)
    flow.send(TO_CLIENT, CHUNKED + OK)  # a second response right behind: no request for it
    assert flow.infos[0].length == len(b"5\r\nhello\r\n6\r\n world\r\n0\r\n")
    assert flow.infos[1].status == 200 and flow.infos[1].url is None  # orphan response
    assert not flow.txs[1].request_seen


def test_pipelining_matches_responses_in_order(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
    flow.send(TO_CLIENT, b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nBB")
    assert [(e[0].url, e[0].status, e[0].length, e[3]) for e in flow.events] == [
        ("/1", 200, 1, 0),
        ("/2", 404, 2, 1),
    ]


def test_no_body_for_head_204_304(flow: Flow) -> None:
    flow.send(TO_SERVER, b"HEAD / HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 304 Not Modified\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 204 No Content\r\n\r\n")
    assert [(i.http_method, i.status, i.length) for i in flow.infos] == [
        ("HEAD", 200, 0),
        ("GET", 304, 0),
        ("GET", 204, 0),
    ]


def test_100_continue(flow: Flow) -> None:
    flow.send(
        TO_SERVER,
        b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    )
    flow.send(TO_CLIENT, b"HTTP/1.1 100 Continue\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 100 Continue\r\n\r\n")  # sv http-multiple100
    flow.send(TO_SERVER, b"data")
    flow.send(TO_CLIENT, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    [info] = flow.infos
    assert info.status == 201 and info.url == "/up"
    assert flow.txs[0].interim == 2 and flow.txs[0].request_body == b"data"


def test_expectation_refused_ends_the_request(flow: Flow) -> None:
    flow.send(
        TO_SERVER,
        b"PUT /big HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
    )
    flow.send(TO_CLIENT, b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
    flow.send(TO_SERVER, b"GET /next HTTP/1.1\r\n\r\n")  # not taken as the PUT body
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert [(i.url, i.status) for i in flow.infos] == [("/big", 417), ("/next", 200)]


def test_close_delimited_response_ends_at_close(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET / HTTP/1.0\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nabc", ts=5)
    flow.send(TO_CLIENT, b"def", ts=6)
    assert flow.events == []
    flow.close(ts=9)
    [(info, direction, ts, _)] = flow.events
    assert (info.length, direction, ts) == (6, TO_CLIENT, 9)
    assert flow.txs[0].response_body == b"abcdef"


def test_unanswered_request_is_reported_at_close(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /lonely HTTP/1.1\r\nHost: h\r\n\r\n", ts=3)
    flow.close(ts=7)
    [(info, direction, ts, tx_id)] = flow.events
    assert (info.url, info.status, info.length, direction, ts, tx_id) == (
        "/lonely",
        None,
        0,
        TO_SERVER,
        7,
        0,
    )
    assert msgspec.json.encode(info) == (
        b'{"hostname":"h","url":"/lonely","http_method":"GET","protocol":"HTTP/1.1","length":0}'
    )


def test_partial_head_at_close(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET / HTTP/1.1\r\nHost: foo.bar\r\n")  # sv base64-issue-5223
    flow.close()
    [info] = flow.infos
    assert (info.hostname, info.url, info.length) == ("foo.bar", "/", 0)


def test_connect_tunnel_opaque(flow: Flow) -> None:
    flow.send(TO_SERVER, b"CONNECT db.example:443 HTTP/1.1\r\nHost: db.example:443\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 Connection established\r\n\r\n")
    flow.send(TO_SERVER, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(40))
    assert flow.parser.done == [True, True]
    [info] = flow.infos
    assert (info.http_method, info.hostname, info.http_port, info.url, info.status) == (
        "CONNECT",
        "db.example",
        443,
        "db.example:443",
        200,
    )


def test_connect_refused_goes_on(flow: Flow) -> None:
    flow.send(TO_SERVER, b"CONNECT a:443 HTTP/1.1\r\n\r\nGET http://b/x HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert [(i.http_method, i.status, i.hostname) for i in flow.infos] == [
        ("CONNECT", 407, "a"),
        ("GET", 200, "b"),  # absolute URI: its host, not the Host header
    ]


def test_upgrade_switches_protocols(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05")
    assert flow.parser.done == [True, True]
    assert flow.infos[0].status == 101


def test_http09(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /old\r\n")
    flow.send(TO_CLIENT, b"<html>old</html>\n")
    flow.close()
    [info] = flow.infos
    assert (info.url, info.protocol, info.status, info.length) == ("/old", None, None, 17)
    assert flow.txs[0].http09


def test_gap_in_response_body_resynchronises(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nAAAA")
    flow.parser.gap(TO_CLIENT, 5)
    flow.send(TO_CLIENT, b"AAAAAAAAHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert [(i.url, i.status, i.length) for i in flow.infos] == [("/1", 200, 4), ("/2", 404, 0)]
    assert flow.txs[0].gap and not flow.txs[1].gap


def test_gap_in_request_resynchronises(flow: Flow) -> None:
    flow.send(TO_SERVER, b"POST /up HTTP/1.1\r\nContent-Length: 50\r\n\r\nxx")
    flow.parser.gap(TO_SERVER, 1)
    flow.send(TO_SERVER, b"xxxx\r\nFOO /next HTTP/1.1\r\n\r\n")  # any method at a line start
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert [(i.http_method, i.url) for i in flow.infos] == [("POST", "/up"), ("FOO", "/next")]


def test_midstream_response_direction(flow: Flow) -> None:
    """A flow picked up inside a response body: the next response is found and reported."""
    flow.send(TO_CLIENT, b"\x89PNG\r\n\x1a\n" + bytes(300) + b"HTTP/1.1 200 OK\r\n")
    flow.send(TO_CLIENT, b"Content-Length: 0\r\n\r\n")
    [info] = flow.infos
    assert info.status == 200 and info.url is None


def test_midstream_request_direction_gives_up_on_junk() -> None:
    f = Flow(options={"sync_limit": 10_000})
    f.send(TO_SERVER, b"\x16\x03\x01" + bytes(5000))
    assert not f.parser.done[TO_SERVER]
    f.send(TO_SERVER, b"\x17" * 12_000)
    assert f.parser.done[TO_SERVER]


def test_head_over_max_message_is_an_error() -> None:
    f = Flow(limits=AppLimits(max_message=1024))
    f.send(TO_SERVER, b"GET /ok HTTP/1.1\r\n\r\n")
    f.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    f.send(TO_SERVER, b"GET /big HTTP/1.1\r\n")
    with pytest.raises(ParseError):
        f.send(TO_SERVER, b"X-Pad: " + b"a" * 2000 + b"\r\n")
    assert [i.url for i in f.infos] == ["/ok"]


def test_invalid_request_length_reports_the_request_then_fails(flow: Flow) -> None:
    with pytest.raises(ParseError):
        flow.send(TO_SERVER, b"POST /x HTTP/1.1\r\nContent-Length: none\r\n\r\n")
    assert [i.url for i in flow.infos] == ["/x"]


def test_pending_requests_are_bounded() -> None:
    f = Flow(limits=AppLimits(max_pending=3))
    for i in range(5):
        f.send(TO_SERVER, b"GET /%d HTTP/1.1\r\n\r\n" % i)
    assert [i.url for i in f.infos] == ["/0", "/1"]  # emitted unanswered to make room
    f.close()
    assert len(f.infos) == 5


def test_body_beyond_max_body_is_skipped() -> None:
    f = Flow(limits=AppLimits(max_body=10))
    f.send(TO_SERVER, b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n")
    body = bytes(range(256)) * 40
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    f.send(TO_CLIENT, resp + b"HTTP/1.1 204 No Content\r\n\r\n", step=1460)
    assert [(i.status, i.length) for i in f.infos] == [(200, len(body)), (204, 0)]
    assert f.txs[0].response_body == body[:10]
    assert f.dropped[TO_CLIENT] > len(body) - 1460  # the sensor never fed those bytes


def test_no_body_inspection_skips_everything() -> None:
    f = Flow(options={"inspect_bodies": False})
    f.send(TO_SERVER, b"POST / HTTP/1.1\r\nContent-Length: 3000\r\n\r\n" + b"x" * 100)
    assert f.parser.skip[TO_SERVER] == 2900  # the rest of the body is never handed over
    f.send(TO_SERVER, b"y" * 2900 + b"GET /n HTTP/1.1\r\n\r\n")
    assert f.dropped[TO_SERVER] == 2900 and f.parser.skip[TO_SERVER] == 0
    assert f.txs == [] and len(f.parser._txs._pending) == 2


def test_gzip_body_is_decoded_for_inspection(flow: Flow) -> None:
    payload = gzip.compress(b"<script>evil()</script>")
    flow.send(TO_SERVER, b"GET / HTTP/1.1\r\n\r\n")
    flow.send(
        TO_CLIENT,
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(payload)
        + payload,
    )
    assert flow.txs[0].response_body == b"<script>evil()</script>"
    assert flow.infos[0].length == len(payload)  # the length on the wire, as Suricata


def test_bytes_after_a_short_body_belong_to_it(flow: Flow) -> None:
    """libhtp's finalize: a Content-Length too short does not hide the rest (evader-249)."""
    flow.send(TO_SERVER, b"GET / HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nEICAR-STANDARD\r\n")
    assert flow.txs[0].response_body == b"EICAR-STANDARD\r\n"
    assert flow.infos[0].length == 16


def test_non_utf8_is_escaped(flow: Flow) -> None:
    flow.send(TO_SERVER, b"GET /caf\xe9 HTTP/1.1\r\nUser-Agent: \xff\r\n\r\n")
    flow.close()
    info = flow.infos[0]
    assert info.url == "/caf\\xe9" and info.http_user_agent == "\\xff"


@pytest.mark.skipif(not SCHEMA.exists(), reason="Suricata's EVE schema not in the corpus")
def test_records_follow_suricatas_schema(flow: Flow) -> None:
    flow.send(TO_SERVER, GET + b"GET /2 HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, OK + b"HTTP/1.0 2XX OK\r\n\r\n")
    flow.close()
    schema = json.loads(SCHEMA.read_text())["properties"]["http"]
    assert len(flow.infos) == 2
    for info in flow.infos:
        jsonschema.validate(json.loads(msgspec.json.encode(info)), schema)
    assert flow.infos[1].status_string == "2XX"


def test_info_round_trips() -> None:
    info = HttpInfo(url="/", status=200, length=0)
    assert msgspec.json.decode(msgspec.json.encode(info), type=HttpInfo) == info


def test_junk_request_line_longer_than_max_message_is_dropped() -> None:
    f = Flow(limits=AppLimits(max_message=1024))
    f.send(TO_SERVER, b"GET /a HTTP/1.1\r\n\r\n")
    f.send(TO_SERVER, b"+" * 40 + b" " + b"\x01" * 3000)  # no line end, not a request
    f.send(TO_SERVER, b"\r\nGET /b HTTP/1.1\r\n\r\n")
    f.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" * 2)
    assert [i.url for i in f.infos] == ["/a", "/b"]


def test_sync_keeps_going_over_long_junk_until_the_limit() -> None:
    f = Flow(limits=AppLimits(max_message=1024), options={"sync_limit": 5000})
    f.send(TO_CLIENT, b"\x00garbage\n" + b"z" * 3000)  # midstream, no response yet
    assert not f.parser.done[TO_CLIENT]
    f.send(TO_CLIENT, b"z" * 3000)
    assert f.parser.done[TO_CLIENT]


def test_tunnel_that_never_shows_its_protocol() -> None:
    f = Flow(limits=AppLimits(max_message=1024))
    f.send(TO_SERVER, b"CONNECT a:443 HTTP/1.1\r\n\r\n")
    f.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\n\r\n")
    f.send(TO_CLIENT, b"\x05" * 2000)  # the server speaks first, much: not HTTP
    assert f.parser.done == [True, True]
    assert [i.http_method for i in f.infos] == ["CONNECT"]


def test_gap_while_probing_a_tunnel(flow: Flow) -> None:
    flow.send(TO_SERVER, b"CONNECT a:443 HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\n\r\n")
    flow.parser.gap(TO_SERVER, 1)
    assert flow.parser.done == [True, True]


def test_expect_continue_body_is_not_skipped_before_it_starts() -> None:
    f = Flow(options={"inspect_bodies": False})
    f.send(TO_SERVER, b"PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n")
    assert f.parser.skip[TO_SERVER] == 0  # the client waits for 100 before sending it
    f.send(TO_SERVER, b"a" * 10)
    assert f.parser.skip[TO_SERVER] == 4990


def test_head_response_with_stray_bytes_counts_them(flow: Flow) -> None:
    flow.send(TO_SERVER, b"HEAD / HTTP/1.1\r\n\r\n")
    flow.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nbody sent anyway\r\n")
    assert flow.infos[0].length == 18  # libhtp's finalize counts them


def test_too_many_pipelined_while_a_response_is_open() -> None:
    f = Flow(limits=AppLimits(max_pending=2))
    f.send(TO_SERVER, b"GET /1 HTTP/1.1\r\n\r\n")
    f.send(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")  # open
    f.send(TO_SERVER, b"GET /2 HTTP/1.1\r\n\r\n")
    with pytest.raises(ParseError):
        f.send(TO_SERVER, b"GET /3 HTTP/1.1\r\n\r\n")
    assert [i.url for i in f.infos] == ["/1", "/2"]  # reported before the error propagates
