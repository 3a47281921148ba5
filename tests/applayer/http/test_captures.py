"""The HTTP parser on real captures (tests/fixtures/applayer/http, see PROVENANCE.md).

Expected values are those of the outside judges: the suricata-verify test each capture comes
from (its `test.yaml` checks) or Zeek's http.log baseline for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tocsin.applayer.base import TO_CLIENT, AppLimits
from tocsin.applayer.http import HttpParser, HttpTransaction
from tocsin.model.http import HttpInfo

from .flows import replay, replay_with_gaps

FIXTURES = Path(__file__).parents[2] / "fixtures" / "applayer" / "http"
EICAR = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"


def run(
    name: str, gaps: bool = False, **options: Any
) -> tuple[list[HttpInfo], list[int | None], list[HttpTransaction]]:
    txs: list[HttpTransaction] = []
    options.setdefault("inspect_bodies", True)  # these tests read the decoded bodies

    def make(emit: Any, limits: AppLimits) -> HttpParser:
        return HttpParser(emit, limits, on_transaction=txs.append, **options)

    events = (replay_with_gaps if gaps else replay)(make, FIXTURES / name)
    return [e.body for e in events], [e.tx_id for e in events], txs


def test_all_headers() -> None:
    """suricata-verify http-all-headers (dump-all-headers: both)."""
    [info], _, _ = run("all-headers.pcap", request_headers=("*",), response_headers=("*",))
    assert info.request_headers is not None and info.response_headers is not None
    assert len(info.request_headers) == 9 and len(info.response_headers) == 9
    assert (info.request_headers[0].name, info.request_headers[0].value) == (
        "Host",
        "www.ethereal.com",
    )
    assert (info.response_headers[5].name, info.response_headers[5].value) == (
        "Content-Length",
        "18070",
    )
    assert (info.hostname, info.url, info.status, info.length) == (
        "www.ethereal.com",
        "/download.html",
        200,
        18070,
    )
    assert info.http_content_type == "text/html"  # "text/html; charset=ISO-8859-1"


def test_bug_130() -> None:
    """suricata-verify bug-130: the whole expected `http` object."""
    [info], [tx_id], _ = run("bug-130.pcap", request_headers=(), response_headers=())
    assert tx_id == 0
    assert info == HttpInfo(
        hostname="www.abcdefghij.com",
        url="/publication/pub.home/home.html",
        http_user_agent=(
            "Mozilla/5.0 (X11; U; Linux i686; fr; rv:1.9.0.6) Gecko/2009011912 Firefox/3.0.6"
        ),
        http_content_type="text/html",
        http_refer="http://www.abcdefghij.com/abdeltat/login",
        http_method="GET",
        protocol="HTTP/1.1",
        status=401,
        length=1483,
    )


def test_connect_then_http_in_the_tunnel() -> None:
    """suricata-verify http-connect-simple: both transactions have tx_id 0."""
    infos, ids, _ = run("connect-http.pcap")
    assert [(i.http_method, i.protocol, i.status) for i in infos] == [
        ("CONNECT", "HTTP/1.1", 200),
        ("GET", "HTTP/1.1", 200),
    ]
    assert ids == [0, 0]
    assert (infos[0].hostname, infos[0].http_port, infos[0].url) == ("abc", 443, "abc:443")


def test_100_continue_zeek() -> None:
    """Zeek 100-continue baseline: POST www.osu.edu /, request body 2001, response 60731."""
    [info], _, [tx] = run("continue-100.pcap")
    assert (info.http_method, info.hostname, info.url, info.status) == (
        "POST",
        "www.osu.edu",
        "/",
        200,
    )
    assert tx.interim == 1  # Zeek: info_code 100
    assert tx.request_payload == 2001 and tx.response_payload == 60731
    assert info.length is not None and info.length > 60731  # chunked: framing counted


def test_multiple_100() -> None:
    """suricata-verify http-multiple100: one http event, status 200."""
    [info], _, [tx] = run("multiple-100.pcap")
    assert info.status == 200 and tx.interim >= 2
    assert tx.request_payload == 34498  # the upload went through


def test_status_string() -> None:
    """suricata-verify http1-noint-status: "HTTP/1.0 2XX OK"."""
    [info], _, _ = run("status-2xx.pcap")
    assert info.status is None and info.status_string == "2XX"
    assert (info.hostname, info.http_port) == ("127.0.0.1", 8001)


def test_uri_with_space() -> None:
    """suricata-verify http-uri-spaces: the target keeps its space."""
    [info], _, _ = run("uri-spaces.pcap")
    assert (info.url, info.protocol, info.status) == ("/uri afterspace", "HTTP/1.1", 400)


def test_x_gzip_zeek() -> None:
    """Zeek x-gzip baseline: response_body_len 19 (decoded)."""
    [info], _, [tx] = run("x-gzip.pcap")
    assert tx.response_body == b"Encoded gzip header"
    assert info.length == 39  # on the wire


def test_smuggled_request_zeek() -> None:
    """Zeek 261 te-cl-desync: chunked wins over Content-Length, the GET behind is seen."""
    infos, ids, _ = run("smuggle-te-cl.pcap")
    assert [(i.http_method, i.hostname, i.url) for i in infos] == [
        ("POST", "target", "/"),
        ("GET", "target", "/smuggled-te-cl"),
    ]
    assert ids == [0, 1]


def test_http09_zeek() -> None:
    """Zeek http-09 baseline: GET /zeek.html answered by a 51-byte headerless body."""
    infos, _, txs = run("http09.pcap")
    first = infos[0]
    assert (first.http_method, first.url, first.protocol, first.status) == (
        "GET",
        "/zeek.html",
        None,
        None,
    )
    assert first.length == 51 and txs[0].http09
    assert txs[0].response_body.startswith(b"<html>")


def test_not_http09() -> None:
    """suricata-verify http-not09: a protocol-less line followed by fields is not HTTP/0.9."""
    [info], _, [tx] = run("not09.pcap")
    assert info.http_user_agent == "myscript" and info.hostname == "localhost"
    assert not tx.http09
    assert tx.response_body.startswith(b"<!DOCTYPE HTML>")  # the server answered headerless


def test_pipelined_requests_without_responses() -> None:
    infos, ids, _ = run("pipelined.pcap")
    assert [(i.http_method, i.url, i.status) for i in infos] == [
        ("POST", "/one", None),
        ("POST", "/oneself", None),
    ]
    assert ids == [0, 1]


def test_gap_resynchronises() -> None:
    """suricata-verify http-gap-simple: /1 /2 /3 all answered 200 despite the lost segment."""
    infos, _, txs = run("gap-simple.pcap", gaps=True)
    assert [(i.url, i.status) for i in infos] == [("/1", 200), ("/2", 200), ("/3", 200)]
    assert [tx.gap for tx in txs] == [False, True, False]


def test_evasions_still_show_the_payload() -> None:
    """suricata-verify http-evader: Suricata sees EICAR in each; so must we."""
    for name in ("evader-220.pcap", "evader-296.pcap", "evader-402.pcap"):
        [info], _, [tx] = run(name)
        assert info.status == 200 and info.hostname == "evader.example.com", name
        assert EICAR in tx.response_body, name
    _, _, [tx] = run("evader-296.pcap")
    assert tx.response_headers.get(b"transfer-encoding") == b"chunked"


def test_events_carry_the_completing_packet() -> None:
    # a Content-Length response completes with its last packet
    [event] = replay(HttpParser, FIXTURES / "status-2xx.pcap")
    assert event.direction == TO_CLIENT and event.ts_us == 1728396310522942
    # a close-delimited one (bug-130: no Content-Length, "Connection: close") at close()
    [event] = replay(HttpParser, FIXTURES / "bug-130.pcap")
    assert event.direction == TO_CLIENT and event.ts_us == 0
