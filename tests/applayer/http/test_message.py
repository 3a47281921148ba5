"""HTTP heads: request/status lines, header fields, host and number fields (libhtp's readings)."""

from __future__ import annotations

import pytest

from tocsin.applayer.http.message import (
    chunk_size,
    content_length,
    content_range,
    host_port,
    looks_like_response,
    parse_fields,
    parse_request_line,
    parse_status_line,
    response_head_end,
    uri_host_port,
)
from tocsin.applayer.http.resync import find_message_start


@pytest.mark.parametrize(
    ("line", "method", "uri", "protocol"),
    [
        (b"GET /index.html HTTP/1.1", b"GET", b"/index.html", b"HTTP/1.1"),
        (b"GET /uri afterspace HTTP/1.1", b"GET", b"/uri afterspace", b"HTTP/1.1"),  # sv
        (b"  GET  /a  HTTP/1.0  ", b"GET", b"/a", b"HTTP/1.0"),
        (b"GET\t/a\tHTTP/1.0", b"GET", b"/a", b"HTTP/1.0"),
        (b"GET /", b"GET", b"/", None),  # HTTP/0.9 form
        (b"GET", b"GET", None, None),
        (b"CONNECT host:443 HTTP/1.1", b"CONNECT", b"host:443", b"HTTP/1.1"),
        (b"T / HTTP", b"T", b"/", b"HTTP"),  # unknown method, but an HTTP protocol word
        (b"GET HTTP/1.1", b"GET", b"HTTP/1.1", None),  # libhtp: the word is the target
    ],
)
def test_request_line(line: bytes, method: bytes, uri: bytes, protocol: bytes | None) -> None:
    rl = parse_request_line(line)
    assert rl is not None
    assert (rl.method, rl.uri, rl.protocol) == (method, uri, protocol)


@pytest.mark.parametrize(
    "line",
    [
        b"\x16\x03\x01\x02\x00",
        b"hello world",
        b"SSH-2.0-OpenSSH_8.9",
        b"FOO /x",
        b"",
        b"G(T / HTTP/1.1",
    ],
)
def test_not_a_request_line(line: bytes) -> None:
    assert parse_request_line(line) is None


def test_unknown_method_without_protocol_only_when_lenient() -> None:
    assert parse_request_line(b"CCM_POST /HTTP/1.1") is None
    rl = parse_request_line(b"CCM_POST /HTTP/1.1", lenient=True)
    assert rl is not None and (rl.method, rl.uri, rl.protocol) == (b"CCM_POST", b"/HTTP/1.1", None)


@pytest.mark.parametrize(
    ("line", "protocol", "status", "code"),
    [
        (b"HTTP/1.1 200 OK", b"HTTP/1.1", b"200", 200),
        (b"HTTP/1.0 2XX OK", b"HTTP/1.0", b"2XX", None),  # sv http1-noint-status
        (b"HTTP/1.1 404", b"HTTP/1.1", b"404", 404),
        (b"HTTP/1.1 099 Low", b"HTTP/1.1", b"099", None),
        (b"HTTP/1.1 2000 Long", b"HTTP/1.1", b"2000", None),
        (b"HTTP/1.1", b"HTTP/1.1", None, None),
        (b" HTTP/1.1   301   Moved Permanently", b"HTTP/1.1", b"301", 301),
    ],
)
def test_status_line(line: bytes, protocol: bytes, status: bytes | None, code: int | None) -> None:
    sl = parse_status_line(line)
    assert (sl.protocol, sl.status, sl.code) == (protocol, status, code)


def test_looks_like_response() -> None:
    assert looks_like_response(b"HTTP/1.1 200 OK")
    assert looks_like_response(b"  http/1.0 404")
    assert not looks_like_response(b"<html>")
    assert not looks_like_response(b"\r\n")


def test_fields_merge_repeats_and_keep_first_content_length() -> None:
    h = parse_fields(
        b"Host: a\r\nAccept: x\r\naccept: y\r\nContent-Length: 5\r\ncontent-length: 6\r\n", False
    )
    assert h.items == [[b"Host", b"a"], [b"Accept", b"x, y"], [b"Content-Length", b"5"]]
    assert h.get(b"accept") == b"x, y"
    assert h.get(b"content-length") == b"5"
    assert h.get(b"cookie") is None


def test_fields_folding_and_missing_colon() -> None:
    h = parse_fields(b"X-A: one\r\n two\r\n\tthree\r\nnocolon\r\nY:  v  \r\n", False)
    assert h.items == [[b"X-A", b"one two\tthree"], [b"", b"nocolon"], [b"Y", b"v"]]


def test_fields_empty_fold_and_value_on_next_line() -> None:
    # sv http-evader-060: "Transfer-Encoding: " CRLF SP CRLF SP "chunked"
    h = parse_fields(b"Transfer-Encoding: \r\n \r\n chunked\r\nConnection: close\r\n", True)
    assert h.get(b"transfer-encoding") == b"chunked"
    assert h.get(b"connection") == b"close"


def test_fields_name_continued_on_folded_line() -> None:
    # sv http-evader-296: "Transfer-Encoding" LF SP ":chunked"
    h = parse_fields(b"Transfer-Encoding\n :chunked\r\nYet-another-header: foo\r\n", True)
    assert h.get(b"transfer-encoding") == b"chunked"


def test_response_fields_end_at_lone_cr() -> None:
    # sv http-evader-402: a server ending lines with CR only
    block = b"Content-type: a/b\rConnection: close\rTransfer-Encoding: chunked\r"
    h = parse_fields(block, True)
    assert h.get(b"transfer-encoding") == b"chunked" and h.get(b"connection") == b"close"
    # a request side CR is data, not a line end
    assert parse_fields(b"A: 1\rB: 2\r\n", False).get(b"a") == b"1\rB: 2"


def test_response_folded_line_that_looks_like_a_field_is_a_field() -> None:
    # sv http-evader-270: " Transfer-Encoding: chunked" after "Connection: close"
    h = parse_fields(b"Connection: close\r\n Transfer-Encoding: chunked\r\n", True)
    assert h.get(b"connection") == b"close"
    assert h.get(b"transfer-encoding") == b"chunked"


def test_nul_in_field_name_is_ignored_for_lookup() -> None:
    h = parse_fields(b"Transfer\x00-encoding:chunked\r\n", True)  # sv http-evader-291
    assert h.get(b"transfer-encoding") == b"chunked"
    assert h.items[0][0] == b"Transfer\x00-encoding"


@pytest.mark.parametrize(
    ("buf", "block", "end"),
    [
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody", 23, 25),
        (b"HTTP/1.1 200 OK\r\n\r\n", 17, 19),
        (b"HTTP/1.1 200 OK\nA: 1\n\nbody", 21, 22),
        (b"HTTP/1.1 200 OK\rA: 1\r\r\nbody", 21, 23),
        (b"HTTP/1.1 200 OK\r\nA: 68\n \nX5O", 23, 25),  # sv http-evader-416: LF SP LF ends it
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\rB: 2\r\n\r\n", 31, 33),  # evader-286: deformed EOL
    ],
)
def test_response_head_end(buf: bytes, block: int, end: int) -> None:
    assert response_head_end(buf, 15)[:2] == (block, end)
    assert buf[end:] in (b"", b"body", b"X5O")


def test_response_head_end_waits() -> None:
    assert response_head_end(b"HTTP/1.1 200 OK\r\nA: 1\r\n", 15)[:2] == (-1, -1)
    # CRLF SP CRLF is an empty folded line, not the end (sv http-evader-059)
    assert response_head_end(b"HTTP/1.1 200 OK\r\nA: 1\r\n \r\nB: 2\r\n", 15)[:2] == (-1, -1)
    # a CR at the very end may be half a CRLF
    assert response_head_end(b"HTTP/1.1 200 OK\r\nA: 1\r\n\r", 15)[:2] == (-1, -1)


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [
        (b"www.Example.COM", b"www.example.com", None),
        (b"127.0.0.1:8000", b"127.0.0.1", 8000),
        (b"[::1]:8000", b"[::1]", 8000),  # sv http-ipv6 logs "[::1]"
        (b"[::1]", b"[::1]", None),
        (b"host:99999", b"host", None),  # invalid port: hostname kept, no port
        (b"host:0", b"host", None),
        (b"", None, None),
        (b"/path", None, None),
        (b"  spaced :80", b"spaced", 80),
    ],
)
def test_host_port(value: bytes, host: bytes | None, port: int | None) -> None:
    assert host_port(value) == (host, port)


@pytest.mark.parametrize(
    ("uri", "host", "port"),
    [
        (b"/index.html", None, None),
        (b"http://Example.org./x?y", b"example.org", None),
        (b"http://user:pw@h.example:8080/x", b"h.example", 8080),
        (b"http://h.example/p?mail=a@b", b"h.example", None),  # '@' past the authority
        (b"*", None, None),
    ],
)
def test_uri_host_port(uri: bytes, host: bytes | None, port: int | None) -> None:
    assert uri_host_port(uri) == (host, port)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"123", 123),
        (b" 42 ", 42),
        (b"00000000000000000000000000000050", 50),  # Zeek 261 variant-08
        (b"-1", 1),  # libhtp skips leading non-digits
        (b"34 68", 34),  # sv http-evader-249
        (b"18446744073709551615", 2**64 - 1),
        (b"18446744073709551616", None),
        (b"abc", None),
        (b"", None),
        (b"9" * 5000, None),  # no int() on huge digit strings
    ],
)
def test_content_length(value: bytes, expected: int | None) -> None:
    assert content_length(value) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"1a", 26),
        (b"1A;ext=1\r", 26),
        (b" 0 ", 0),
        (b"\r", -1),
        (b"", -1),
        (b"zz", None),
        (b"10000000000000000", None),  # Zeek 261 variant-01: 2**64
        (b"80000000", None),  # over libhtp's limit
        (b"0" * 40 + b"5", 5),
    ],
)
def test_chunk_size(line: bytes, expected: int | None) -> None:
    assert chunk_size(line) == expected


def test_content_range() -> None:
    assert content_range(b"bytes 10-20/69") == (10, 20, 69)  # sv http2-range's value
    assert content_range(b"bytes */1000") == (None, None, 1000)
    assert content_range(b"bytes 0-99/*") == (0, 99, None)
    assert content_range(b"garbage") == (None, None, None)


def test_find_message_start() -> None:
    body = b"AAAAHTTP/1.0 200 OK\r\n"
    assert find_message_start(body, 0, request=False, bol=False) == 4
    assert find_message_start(b"xxGET /a HTTP/1.1\r\n", 0, request=True, bol=False) == 2
    # an unknown method only at a line start
    assert find_message_start(b"xxFOO /a HTTP/1.1\r\n", 0, request=True, bol=False) == -1
    assert find_message_start(b"x\nFOO /a HTTP/1.1\r\n", 0, request=True, bol=False) == 2
    assert find_message_start(b"FOO /a HTTP/1.1\r\n", 0, request=True, bol=True) == 0
