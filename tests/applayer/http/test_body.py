"""HTTP bodies: framing decisions, incremental reading, wire length, content decoding."""

from __future__ import annotations

import gzip
import lzma
import struct
import zlib

import pytest

from tocsin.applayer.base import ParseError
from tocsin.applayer.http.body import (
    CHUNKED,
    CLOSE,
    INTERIM,
    LENGTH,
    NONE,
    SWITCH,
    TUNNEL,
    BodyReader,
    request_framing,
    response_framing,
    trailing,
)
from tocsin.applayer.http.decode import BodySink, content_codings
from tocsin.applayer.http.message import parse_fields

CHUNKED_BODY = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT"


def _h(block: bytes) -> object:
    return parse_fields(block, True)


@pytest.mark.parametrize(
    ("method", "code", "block", "expected"),
    [
        (b"GET", 200, b"Content-Length: 10\r\n", (LENGTH, 10)),
        (b"GET", 200, b"Content-Length: 0\r\n", (NONE, 0)),
        (b"GET", 200, b"Transfer-Encoding: chunked\r\nContent-Length: 10\r\n", (CHUNKED, 0)),
        (b"GET", 200, b"", (CLOSE, 0)),
        (b"HEAD", 200, b"Content-Length: 10\r\n", (NONE, 0)),
        (b"GET", 304, b"", (NONE, 0)),
        (b"GET", 204, b"", (NONE, 0)),
        (b"GET", 100, b"", (INTERIM, 0)),
        (b"GET", 103, b"Link: </a>\r\n", (INTERIM, 0)),
        (b"GET", 100, b"Content-Length: 3\r\n", (LENGTH, 3)),  # libhtp: not interim then
        (b"GET", 101, b"Upgrade: websocket\r\n", (SWITCH, 0)),
        (b"CONNECT", 200, b"", (TUNNEL, 0)),
        (b"CONNECT", 407, b"Content-Length: 5\r\n", (LENGTH, 5)),
        (b"GET", None, b"", (CLOSE, 0)),
        (b"GET", 200, b"Transfer-Encoding: chu\x00nked\r\n", (CHUNKED, 0)),  # evader-290
    ],
)
def test_response_framing(
    method: bytes, code: int | None, block: bytes, expected: tuple[int, int]
) -> None:
    assert response_framing(method, code, parse_fields(block, True)) == expected


def test_request_framing() -> None:
    assert request_framing(parse_fields(b"Content-Length: 7\r\n", False)) == (LENGTH, 7)
    assert request_framing(parse_fields(b"Transfer-Encoding: chunked\r\n", False)) == (CHUNKED, 0)
    assert request_framing(parse_fields(b"Host: a\r\n", False)) == (NONE, 0)
    with pytest.raises(ParseError):
        request_framing(parse_fields(b"Content-Length: abc\r\n", False))
    with pytest.raises(ParseError):
        response_framing(b"GET", 200, parse_fields(b"Content-Length: x\r\n", True))


def _read(reader: BodyReader, data: bytes, step: int) -> int:
    """Feed `data` `step` bytes at a time, keeping unconsumed bytes like the parser."""
    pending, pos = b"", 0
    while pos < len(data) and not reader.done:
        buf = pending + data[pos : pos + step]
        pos += step
        used = reader.feed(buf, 0)
        pending = buf[used:]
    return len(data) - len(pending) - max(0, pos - len(data)) if reader.done else -1


@pytest.mark.parametrize("step", [1, 2, 3, 7, 1000])
def test_chunked_reader(step: int) -> None:
    sink = BodySink(1000, None)
    reader = BodyReader(CHUNKED, 0, sink, 1000, request=False)
    pending, consumed = b"", 0
    data = CHUNKED_BODY
    for i in range(0, len(data), step):
        buf = pending + data[i : i + step]
        used = reader.feed(buf, 0)
        consumed += used
        pending = buf[used:]
        if reader.done:
            break
    assert reader.done
    assert bytes(sink.data) == b"hello world"
    assert reader.payload == 11
    # Suricata's length counts the size lines, the data and the CRLFs, not the trailer
    assert reader.wire == len(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n")
    assert consumed == len(data) - len(b"NEXT")


def test_length_reader_and_skip() -> None:
    reader = BodyReader(LENGTH, 10, None, 100, request=True)
    assert not reader.wants()
    assert reader.feed(b"abc", 0) == 3
    assert reader.skippable() == 7
    reader.skipped(7)
    assert reader.done and reader.wire == 10 and reader.payload == 10


def test_chunk_data_can_be_skipped() -> None:
    reader = BodyReader(CHUNKED, 0, None, 100, request=False)
    assert reader.feed(b"10\r\n0123", 0) == 8
    assert reader.skippable() == 12
    reader.skipped(12)
    assert reader.feed(b"\r\n0\r\n\r\n", 0) == 7
    assert reader.done and reader.payload == 16


def test_invalid_chunk_size() -> None:
    with pytest.raises(ParseError):
        BodyReader(CHUNKED, 0, None, 100, request=True).feed(b"zz\r\n", 0)
    # a response announced chunked but sent raw: the rest is its body (libhtp, evader-044)
    sink = BodySink(100, None)
    reader = BodyReader(CHUNKED, 0, sink, 100, request=False)
    assert reader.feed(b"X5O!P%@AP", 0) == 9  # no line end yet, but cannot be a size
    assert reader.kind == CLOSE and bytes(sink.data) == b"X5O!P%@AP"
    with pytest.raises(ParseError):
        BodyReader(CHUNKED, 0, None, 8, request=False).feed(b"1" * 20, 0)


def test_close_reader_runs_until_finish() -> None:
    reader = BodyReader(CLOSE, 0, None, 100, request=False)
    assert reader.feed(b"abc", 0) == 3 and not reader.done
    reader.finish()
    assert reader.done and reader.wire == 3


def test_trailing_junk_belongs_to_the_body() -> None:
    buf = b"\r\nextra line\r\nHTTP/1.1 200 OK\r\n"
    assert trailing(buf, 0) == buf.index(b"HTTP")
    assert trailing(b"HTTP/1.1 200 OK\r\n", 0) == 0
    assert trailing(b"ab", 0) == 0  # too short to tell: left for the next response


PLAIN = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*" * 3


def _deflate_raw(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-15)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("encoding", "payload"),
    [
        (b"gzip", gzip.compress(PLAIN)),
        (b"x-gzip", gzip.compress(PLAIN)),
        (b"deflate", zlib.compress(PLAIN)),
        (b"deflate", _deflate_raw(PLAIN)),  # deflate without its zlib header (browsers accept)
        (b"gzip", zlib.compress(PLAIN)),  # deflate sent as gzip
        (b"deflate", gzip.compress(PLAIN)),  # gzip sent as deflate
        (b"gzip", gzip.compress(PLAIN)[:-8] + b"\xff" * 8),  # damaged CRC and length
        (b"gzip", gzip.compress(PLAIN)[:3] + b"\xe0" + gzip.compress(PLAIN)[4:]),  # reserved flags
        (b"gz\x00ip", gzip.compress(PLAIN)),  # NUL ignored (evader-315)
        (b"\xa0gzip", gzip.compress(PLAIN)),  # a word containing gzip (evader-326)
        (b"gzip, gzip", gzip.compress(gzip.compress(PLAIN))),
        (b"gzip, deflate", zlib.compress(gzip.compress(PLAIN))),  # decoded right to left
        (b"gzip, gzip", gzip.compress(PLAIN)),  # announced twice, applied once: passthrough
        (b"gzip", PLAIN),  # announced but not compressed: passthrough (evader-169)
        (b"lzma", lzma.compress(PLAIN, format=lzma.FORMAT_ALONE)),
        (b"identity", PLAIN),
        (b"br", PLAIN),  # unknown coding: kept as it is
    ],
)
@pytest.mark.parametrize("step", [1, 5, 10_000])
def test_decoding(encoding: bytes, payload: bytes, step: int) -> None:
    sink = BodySink(65536, encoding)
    for i in range(0, len(payload), step):
        sink.write(payload[i : i + step])
    sink.finish()
    assert bytes(sink.data) == PLAIN


def test_decoding_is_bounded() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in ~50 KB
    sink = BodySink(4096, b"gzip")
    for i in range(0, len(bomb), 1460):
        sink.write(bomb[i : i + 1460])
        if sink.full:
            break
    assert sink.full and len(sink.data) == 4096
    sink.finish()
    assert len(sink.data) == 4096


def test_content_codings() -> None:
    assert content_codings(b"gzip") == [b"gzip"]
    assert content_codings(b"GZIP") == [b"gzip"]
    assert content_codings(b"identity, gzip") == [b"gzip"]
    assert content_codings(b"gzip,deflate,gzip,deflate") == [b"gzip", b"deflate", b"gzip"]
    assert content_codings(b"br") == []
    assert content_codings(None) == []


def test_plain_sink_bounded_and_appends_after_end() -> None:
    sink = BodySink(5, None)
    sink.write(b"abc")
    sink.finish()
    sink.append_raw(b"defgh")  # libhtp's finalize bytes still count as body
    assert bytes(sink.data) == b"abcde" and sink.full


def test_inner_layer_expanding_without_bound_stops() -> None:
    inner = gzip.compress(b"\0" * 2_000_000)
    sink = BodySink(1000, b"gzip, gzip")
    sink.write(gzip.compress(inner))
    assert sink.full and len(sink.data) <= 1000


def test_gzip_header_fields_and_truncation() -> None:
    body = _deflate_raw(PLAIN)
    member = b"\x1f\x8b\x08" + bytes([4 | 8 | 16 | 2]) + bytes(6)
    member += struct.pack("<H", 4) + b"data" + b"name\0" + b"comment\0" + b"\0\0" + body
    for step in (1, 3, 1000):
        sink = BodySink(65536, b"gzip")
        for i in range(0, len(member), step):
            sink.write(member[i : i + step])
        sink.finish()
        assert bytes(sink.data) == PLAIN and not sink.error
    sink = BodySink(65536, b"gzip")
    sink.write(b"\x1f\x8b\x08\x08" + bytes(6) + b"unterminated name")
    sink.finish()
    assert bytes(sink.data).startswith(b"\x1f\x8b")  # never decoded: passed on as it came


def test_lzma_garbage_passes_through() -> None:
    sink = BodySink(100, b"lzma")
    sink.write(b"not lzma at all")
    sink.finish()
    assert sink.error and bytes(sink.data) == b"not lzma at all"
