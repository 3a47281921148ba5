"""Property: whatever bytes arrive, in whatever pieces, the parser emits `http` events or
raises `ParseError`, nothing else (no IndexError, zlib.error, UnicodeDecodeError...)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.http import HttpParser
from tocsin.model.http import HttpEvent, HttpInfo

from ..replay import packets

FIXTURES = Path(__file__).parents[2] / "fixtures" / "applayer" / "http"


def _streams(name: str) -> tuple[bytes, bytes]:
    """Both directions of the first TCP flow of a fixture, in capture order."""
    out = [bytearray(), bytearray()]
    first = None
    for _ts, key, _fl, _seq, _i, payload in packets(FIXTURES / name):
        if first is None:
            first = key
        if payload:
            out[0 if key == first else 1] += payload
    return bytes(out[0]), bytes(out[1])


BODY = gzip.compress(b"<html>" + b"x" * 300 + b"</html>")
SEEDS = [
    _streams("bug-130.pcap"),
    _streams("x-gzip.pcap"),
    _streams("evader-402.pcap"),
    _streams("connect-http.pcap"),
    _streams("smuggle-te-cl.pcap"),
    (
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
        b"\r\n4\r\nabcd\r\n0\r\nT: 1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n"
        % len(BODY)
        + BODY
        + b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.0 304 N\rX: y\r\r\n",
    ),
]

mutation = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "delete"]),
    st.integers(min_value=0, max_value=4096),
    st.binary(min_size=1, max_size=8),
)


def _mutate(data: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    buf = bytearray(data)
    for op, at, blob in ops:
        i = at % (len(buf) + 1)
        if op == "flip" and buf:
            buf[i % len(buf)] ^= blob[0] or 1
        elif op == "truncate":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = blob
        elif op == "delete":
            del buf[i : i + len(blob)]
    return bytes(buf)


def _drive(streams: tuple[bytes, bytes], cuts: list[int], gaps: list[int]) -> None:
    """Feed both directions alternately in pieces of the given sizes, with some gaps."""
    events: list[Any] = []

    def emit(cls: Any, body: Any, direction: int, ts: int, tx_id: int | None = None) -> None:
        assert cls is HttpEvent and isinstance(body, HttpInfo)
        assert direction in (0, 1) and isinstance(tx_id, int)
        msgspec.json.encode(body)
        events.append(body)

    parser = HttpParser(
        emit, AppLimits(max_message=2048, max_body=512, max_pending=4), sync_limit=4096
    )
    pos = [0, 0]
    step = 0
    try:
        while pos[0] < len(streams[0]) or pos[1] < len(streams[1]):
            for d in (0, 1):
                size = cuts[step % len(cuts)] if cuts else 1500
                step += 1
                chunk = streams[d][pos[d] : pos[d] + size]
                pos[d] += size
                if step in gaps:
                    parser.gap(d, step)
                    continue
                skip = min(parser.skip[d], len(chunk))
                parser.skip[d] -= skip
                if chunk[skip:] and not parser.done[d]:
                    parser.feed(d, chunk[skip:], step)
        parser.close(step)
    except ParseError:
        pass


@settings(max_examples=200, deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    request_ops=st.lists(mutation, max_size=4),
    response_ops=st.lists(mutation, max_size=4),
    cuts=st.lists(st.integers(min_value=1, max_value=700), max_size=6),
    gaps=st.lists(st.integers(min_value=0, max_value=30), max_size=2),
)
def test_mutated_real_messages(
    seed: tuple[bytes, bytes],
    request_ops: list[tuple[str, int, bytes]],
    response_ops: list[tuple[str, int, bytes]],
    cuts: list[int],
    gaps: list[int],
) -> None:
    _drive((_mutate(seed[0], request_ops), _mutate(seed[1], response_ops)), cuts, gaps)


@settings(max_examples=200, deadline=None)
@given(
    request=st.binary(max_size=3000),
    response=st.binary(max_size=3000),
    cuts=st.lists(st.integers(min_value=1, max_value=300), max_size=4),
)
def test_random_bytes(request: bytes, response: bytes, cuts: list[int]) -> None:
    _drive((request, response), cuts, [])


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(
        st.sampled_from(
            [
                b"GET / HTTP/1.1\r\n",
                b"HTTP/1.1 200 OK\r\n",
                b"HTTP/1.1 100 Continue\r\n",
                b"Content-Length: 5\r\n",
                b"Transfer-Encoding: chunked\r\n",
                b"Content-Encoding: gzip\r\n",
                b" folded\r\n",
                b"\r\n",
                b"\r",
                b"\n",
                b"5\r\nhello\r\n",
                b"0\r\n\r\n",
                b"CONNECT a:1 HTTP/1.1\r\n",
                b"\x1f\x8b\x08\x00",
            ]
        ),
        max_size=30,
    ),
    cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=4),
)
def test_http_shaped_noise(lines: list[bytes], cuts: list[int]) -> None:
    data = b"".join(lines)
    _drive((data, data), cuts, [])
