"""HTTP/1.x message bodies: framing (RFC 9112 §6-7), read incrementally and bounded.

`request_framing` / `response_framing` decide how a body is delimited; `BodyReader` consumes
one body from the parser's buffer:

- `LENGTH`: exactly `length` bytes (Content-Length);
- `CHUNKED`: chunk-size lines, chunk data, the line end after each chunk, the last chunk ("0"),
  then trailer fields up to an empty line (the trailer is read and dropped);
- `CLOSE`: every byte until the connection closes (`finish()`).

It counts `wire`, the body length Suricata logs as `http.length` (libhtp's message length):
identity bytes, or for chunked bodies the chunk-size lines, the chunk data and the line ends
after the data; not the trailer. The payload (de-chunked) goes to a `decode.BodySink` while the
sink wants more (and to a second one, `file`, hashing the body: `files.FileHash`); bytes
nobody needs can be skipped (`skippable` / `skipped`) so that the sensor never hands them to
Python.

Errors: an invalid chunk-size line raises `ParseError` for a request (libhtp gives up the
stream); in a response it turns the rest of the body into close-delimited data, as libhtp (and
browsers) do, so a body announced chunked but sent raw is still seen. A line (chunk size,
trailer) longer than `max_line` raises `ParseError`.
"""

from __future__ import annotations

import re

from tocsin.applayer.base import ParseError
from tocsin.applayer.http.decode import BodySink
from tocsin.applayer.http.message import (
    RESPONSE_EOL,
    WS,
    Headers,
    chunk_size,
    content_length,
    looks_like_response,
)

NONE, LENGTH, CHUNKED, CLOSE = 0, 1, 2, 3  # body framings
INTERIM, SWITCH, TUNNEL = 4, 5, 6  # response heads that are not followed by a body


def _chunked(te: bytes | None) -> bool:
    """Transfer-Encoding says chunked (anywhere in it, NUL bytes ignored: libhtp)."""
    return te is not None and b"chunked" in te.replace(b"\0", b"").lower()


def request_framing(h: Headers) -> tuple[int, int]:
    """(framing, length) of a request body: chunked, else Content-Length, else none.
    Raises `ParseError` when Content-Length holds no number (libhtp gives up too)."""
    if _chunked(h.get(b"transfer-encoding")):
        return CHUNKED, 0
    cl = h.get(b"content-length")
    if cl is None:
        return NONE, 0
    size = content_length(cl)
    if size is None:
        raise ParseError("HTTP request Content-Length is not a number")
    return (LENGTH, size) if size else (NONE, 0)


def response_framing(method: bytes | None, code: int | None, h: Headers) -> tuple[int, int]:
    """(framing, length) of a response body (RFC 9112 §6.3, with libhtp's tolerance):

    - 2xx to CONNECT: `TUNNEL`; 101 without framing: `SWITCH` (the connection changes
      protocol); other 1xx without Transfer-Encoding and without a positive Content-Length:
      `INTERIM` (libhtp only knows 100; 102 and 103 are interim too, RFC 9110 §15.2);
    - HEAD, or 1xx / 204 / 304 without framing: `NONE`;
    - chunked, else Content-Length (no number: `ParseError`), else `CLOSE`.
    """
    te, cl = h.get(b"transfer-encoding"), h.get(b"content-length")
    size = content_length(cl) if cl is not None else None
    code = code or 0
    if method == b"CONNECT" and 200 <= code < 300:
        return TUNNEL, 0
    if code == 101 and te is None and cl is None:
        return SWITCH, 0
    if 100 <= code < 200 and code != 101 and te is None and not size:
        return INTERIM, 0
    if method == b"HEAD" or ((100 <= code < 200 or code in (204, 304)) and te is cl is None):
        return NONE, 0
    if _chunked(te):
        return CHUNKED, 0
    if cl is not None:
        if size is None:
            raise ParseError("HTTP response Content-Length is not a number")
        return (LENGTH, size) if size else (NONE, 0)
    return CLOSE, 0


def trailing(buf: bytes, pos: int) -> int:
    """End of the lines from `pos` that do not start like a response line: libhtp's
    response_finalize counts such bytes, found right after a complete response in the same
    data, in that response's body (a Content-Length too short, a stray CRLF)."""
    n = len(buf)
    while pos < n:
        eol = RESPONSE_EOL.search(buf, pos)
        end = eol.end() if eol is not None else n
        line = buf[pos:end]
        if looks_like_response(line) or (eol is None and len(line.lstrip(WS)) < 4):
            break
        pos = end
    return pos


_SIZE, _DATA, _DATA_END, _TRAILER, _END = range(5)
_CHUNK_LINE_START = re.compile(rb"[ \t\r\n\x0b\x0c]*(?:[0-9a-fA-F].*)?\Z", re.S)


class BodyReader:
    """One message body being read (see module docstring)."""

    __slots__ = (
        "_left",
        "_state",
        "done",
        "file",
        "kind",
        "max_line",
        "payload",
        "request",
        "sink",
        "wire",
    )

    def __init__(
        self,
        kind: int,
        length: int,
        sink: BodySink | None,
        max_line: int,
        request: bool,
        file: BodySink | None = None,
    ) -> None:
        self.kind = kind
        self.sink = sink
        self.file = file
        self.max_line = max_line
        self.request = request
        self.wire = 0
        self.payload = 0  # payload bytes (de-chunked, not decoded)
        self.done = False
        self._left = length if kind == LENGTH else 0
        self._state = _DATA if kind == LENGTH else _SIZE

    def wants(self) -> bool:
        """True while the payload is still kept or hashed (a sink is not full)."""
        return (self.sink is not None and not self.sink.full) or (
            self.file is not None and not self.file.full
        )

    def feed(self, buf: bytes, pos: int) -> int:
        """Consume body bytes of `buf` from `pos`; return where this body's bytes stop (a
        partial chunk-size or trailer line is left unconsumed for the next call)."""
        n = len(buf)
        if self.kind == CLOSE:
            self._take(buf, pos, n)
            return n
        while pos < n and not self.done:
            st = self._state
            if st == _DATA:
                end = min(n, pos + self._left)
                self._take(buf, pos, end)
                self._left -= end - pos
                pos = end
                if not self._left:
                    if self.kind == LENGTH:
                        self._end()
                    else:
                        self._state = _DATA_END
                continue
            nl = buf.find(b"\n", pos)
            if st == _DATA_END:  # the CRLF after chunk data (anything up to LF is counted)
                stop = n if nl < 0 else nl + 1
                self.wire += stop - pos
                pos = stop
                if nl >= 0:
                    self._state = _SIZE
                continue
            if nl < 0:
                if st == _SIZE and not _CHUNK_LINE_START.match(buf, pos):
                    return self._not_chunked(buf, pos)  # cannot become a chunk-size line
                if n - pos > self.max_line:
                    raise ParseError("HTTP chunk-size or trailer line over the size limit")
                return pos
            line = buf[pos:nl]
            if st == _SIZE:
                size = chunk_size(line)
                if size is None:
                    return self._not_chunked(buf, pos)
                self.wire += nl + 1 - pos
                if size > 0:
                    self._left, self._state = size, _DATA
                elif size == 0:
                    self._state = _TRAILER
            elif not line.strip(b"\r"):  # _TRAILER: the empty line ends the message
                self._end()
            pos = nl + 1
        return pos

    def _not_chunked(self, buf: bytes, pos: int) -> int:
        if self.request:
            raise ParseError("invalid chunk size in HTTP request body")
        self.kind = CLOSE  # libhtp: the rest of the response is its body
        self._take(buf, pos, len(buf))
        return len(buf)

    def extra(self, chunk: bytes) -> None:
        """Bytes after the body that libhtp counts in it (see `parser._trail`)."""
        self.wire += len(chunk)
        self.payload += len(chunk)
        if self.sink is not None:
            self.sink.append_raw(chunk)
        if self.file is not None:
            self.file.append_raw(chunk)

    def _take(self, buf: bytes, start: int, end: int) -> None:
        self.wire += end - start
        self.payload += end - start
        sink = self.sink
        if sink is not None and not sink.full and end > start:
            sink.write(memoryview(buf)[start:end])
        file = self.file
        if file is not None and not file.full and end > start:
            file.write(memoryview(buf)[start:end])

    def _end(self) -> None:
        self.done = True
        self._state = _END
        if self.sink is not None:
            self.sink.finish()
        if self.file is not None:
            self.file.finish()

    def skippable(self) -> int:
        """Bytes coming next that are payload of known length (may be skipped unread)."""
        return self._left if self._state == _DATA else 0

    def skipped(self, count: int) -> None:
        """`count` payload bytes were skipped (at most `skippable()`): count them as read."""
        self.wire += count
        self.payload += count
        self._left -= count
        if not self._left:
            if self.kind == LENGTH:
                self._end()
            else:
                self._state = _DATA_END

    def finish(self) -> None:
        """The stream ended (close, gap): the body is over, complete or not."""
        if not self.done:
            self._end()
