"""HTTP files: `fileinfo` events with MD5/SHA-1/SHA-256 of decoded bodies (`file_hashes`)."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits
from tocsin.applayer.http import HttpParser
from tocsin.model.fileinfo import FileInfo, FileinfoEvent

GET = b"GET /dl/tool.exe?x=1 HTTP/1.1\r\nHost: files.example\r\n\r\n"


class Run:
    """A parser with file hashing and what it emitted."""

    def __init__(self, **options: Any) -> None:
        self.events: list[tuple[Any, Any, int, int | None, dict[str, Any]]] = []
        options.setdefault("file_hashes", True)
        self.parser = HttpParser(self._emit, AppLimits(), **options)

    def _emit(
        self,
        cls: Any,
        body: Any,
        direction: int,
        ts: int,
        tx_id: int | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.events.append((cls, body, direction, tx_id, extra or {}))

    def files(self) -> list[tuple[FileInfo, int, dict[str, Any]]]:
        return [(b, d, x) for c, b, d, _, x in self.events if c is FileinfoEvent]


def _hashes(data: bytes) -> tuple[str, str, str]:
    return (
        hashlib.md5(data).hexdigest(),
        hashlib.sha1(data).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def test_plain_body_is_hashed_with_the_transaction() -> None:
    body = b"MZ" + bytes(range(256)) * 4
    r = Run()
    r.parser.feed(TO_SERVER, GET, 1)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    r.parser.feed(TO_CLIENT, head + body[:100], 2)
    r.parser.feed(TO_CLIENT, body[100:], 3)
    [(f, d, extra)] = r.files()
    assert d == TO_CLIENT  # the file goes to the client: src = server in EVE
    assert (f.md5, f.sha1, f.sha256) == _hashes(body)
    assert f.state == "CLOSED" and not f.gaps and not f.stored
    assert f.size == len(body) and f.tx_id == 0
    assert f.filename == "/dl/tool.exe"  # the path, without the query
    assert extra["app_proto"] == "http"
    assert extra["http"].hostname == "files.example" and extra["http"].length == len(body)


def test_chunked_gzip_body_is_hashed_decoded() -> None:
    content = b"payload line\n" * 500
    z = gzip.compress(content)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(z[i : i + 700]), z[i : i + 700]) for i in (0, 700))
    chunks += b"%x\r\n%s\r\n0\r\n\r\n" % (len(z[1400:]), z[1400:])
    head = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
        b'Content-Disposition: attachment; filename="report.pdf"\r\n\r\n'
    )
    r = Run()
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, head + chunks, 2)
    [(f, _, _)] = r.files()
    assert f.sha256 == hashlib.sha256(content).hexdigest()  # the decoded content, as Suricata
    assert f.size == len(content) and f.state == "CLOSED"
    assert f.filename == "report.pdf"  # Content-Disposition wins over the path


def test_upload_is_a_file_but_not_a_multipart_form() -> None:
    data = b"exfiltrated table\n" * 10
    put = b"PUT /up/a.bin HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(data)
    r = Run()
    r.parser.feed(TO_SERVER, put + data, 1)
    [(f, d, _)] = r.files()
    assert d == TO_SERVER and f.sha256 == hashlib.sha256(data).hexdigest()
    assert f.filename == "/up/a.bin"
    form = (
        b"POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        b"Content-Length: 4\r\n\r\nabcd"
    )
    r = Run()
    r.parser.feed(TO_SERVER, form, 1)
    assert r.files() == []  # its files are inside MIME parts: a whole-body hash matches none


def test_body_cut_short_is_truncated_without_hashes() -> None:
    r = Run()
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"A" * 400, 2)
    r.parser.close(3)
    [(f, _, _)] = r.files()
    assert f.state == "TRUNCATED" and f.size == 400 and not f.gaps
    assert f.md5 is f.sha1 is f.sha256 is None  # a partial hash must never match
    r = Run()
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"A" * 400, 2)
    r.parser.gap(TO_CLIENT, 3)
    [(f, _, _)] = r.files()
    assert f.state == "TRUNCATED" and f.gaps and f.sha256 is None


def test_close_delimited_body_ends_closed() -> None:
    r = Run()
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, b"HTTP/1.0 200 OK\r\n\r\nuntil close", 2)
    r.parser.close(3)
    [(f, _, _)] = r.files()
    assert f.state == "CLOSED" and f.sha256 == hashlib.sha256(b"until close").hexdigest()


def test_over_the_size_bound_is_truncated_and_the_rest_skipped() -> None:
    r = Run(file_max_bytes=100)
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"B" * 300, 2)
    assert r.parser.skip[TO_CLIENT] == 4700  # hashing stopped: the kernel may skip the rest
    [(f, _, _)] = r.files()
    assert f.state == "TRUNCATED" and f.size == 100 and f.sha256 is None


def test_off_by_default_no_fileinfo_and_bodies_skipped() -> None:
    r = Run(file_hashes=False)
    r.parser.feed(TO_SERVER, GET, 1)
    r.parser.feed(TO_CLIENT, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"C" * 10, 2)
    assert r.parser.skip[TO_CLIENT] == 4990  # the default pipeline still skips bodies
    assert r.files() == [] and len(r.events) == 1  # the http event only
    empty = Run()
    empty.parser.feed(TO_SERVER, GET, 1)
    empty.parser.feed(TO_CLIENT, b"HTTP/1.1 204 No Content\r\n\r\n", 2)
    assert empty.files() == []  # no body, no file
