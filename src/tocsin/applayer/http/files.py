"""Files in HTTP transfers: incremental MD5/SHA-1/SHA-256 of bodies, and their `fileinfo` record.

Which bodies are files (Suricata's `app-layer-htp.c`): every response body, and the body of a
POST or PUT request (an upload, `HtpRequestBodyHandlePOSTorPUT`). A `multipart/form-data`
body carries its files inside MIME parts, which Suricata extracts one by one; Tocsin does not
extract them yet, and does not hash such a body whole (its hash would match no file).

`FileHash` is a `decode.BodySink` that keeps nothing: the payload (de-chunked by `body.py`)
goes through the Content-Encoding layers (gzip, deflate, lzma, as libhtp undoes them before
Suricata hashes: Suricata's file is the decoded content) into `hashlib` md5, sha1 and sha256.
It takes at most `limit + 1` decoded bytes: past `limit` the file is over the bound, hashing
stops and the rest of the body may be skipped unread.

`file_record(...)` builds the EVE `fileinfo` body at the end of the body: `CLOSED` with the
three hashes when the body ended as framed, else `TRUNCATED` with none (a gap, the flow ended
first, over the bound) — a partial hash must never match an
indicator. `filename`: the Content-Disposition `filename` when the response has one, else
the request path (percent-decoded, without the query), as Suricata names HTTP files.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from tocsin.applayer.http.decode import BodySink
from tocsin.applayer.http.transaction import HttpTransaction, text
from tocsin.model.fileinfo import FileInfo

_DISPOSITION_NAME = re.compile(rb"""filename\s*=\s*(?:"([^"]*)"|([^;\s]+))""", re.I)


class FileHash(BodySink):
    """A body's decoded content hashed as it comes (see module docstring)."""

    __slots__ = ("_md5", "_sha1", "_sha256", "max_bytes", "size")

    def __init__(self, max_bytes: int, encoding: bytes | None) -> None:
        super().__init__(max_bytes + 1, encoding)
        self.max_bytes = max_bytes
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()

    def _keep(self, data: bytes | memoryview) -> None:
        piece = data[: self.limit - self.size]
        if piece:
            self._md5.update(piece)
            self._sha1.update(piece)
            self._sha256.update(piece)
            self.size += len(piece)
        self.full = self.size >= self.limit

    @property
    def over(self) -> bool:
        """More decoded bytes than the bound were seen: not hashed whole."""
        return self.size > self.max_bytes

    def digests(self) -> tuple[str, str, str]:
        return self._md5.hexdigest(), self._sha1.hexdigest(), self._sha256.hexdigest()


def is_upload(tx: HttpTransaction) -> bool:
    """A request body hashed as a file: that of a POST or PUT, unless multipart."""
    if tx.method not in (b"POST", b"PUT"):
        return False
    ctype = tx.request_headers.get(b"content-type")
    return ctype is None or b"multipart/" not in ctype.lower()


def filename(tx: HttpTransaction, response: bool) -> str:
    """The file's name: Content-Disposition's `filename` (responses), else the URI path."""
    if response:
        disp = tx.response_headers.get(b"content-disposition")
        m = _DISPOSITION_NAME.search(disp) if disp is not None else None
        if m is not None:
            name = m.group(1) if m.group(1) is not None else m.group(2)
            if name:
                return text(name)
    uri = tx.uri or b""
    if b"://" in uri[:16]:  # absolute form (a proxy request): the path after the authority
        rest = uri.split(b"://", 1)[1]
        uri = b"/" + rest.split(b"/", 1)[1] if b"/" in rest else b"/"
    path = uri.split(b"?", 1)[0].split(b"#", 1)[0]
    return unquote(text(path), errors="backslashreplace")


def file_record(
    tx: HttpTransaction, sink: FileHash, response: bool, complete: bool, gap: bool
) -> FileInfo:
    """The `fileinfo` body of a body that just ended (`complete`: as its framing said;
    `gap`: bytes of it were lost). A layer that could not decode passed its bytes through, as
    libhtp does: the hash is of what a client received."""
    closed = complete and not gap and not sink.over
    md5 = sha1 = sha256 = None
    if closed:
        md5, sha1, sha256 = sink.digests()
    return FileInfo(
        filename=filename(tx, response),
        gaps=gap,
        state="CLOSED" if closed else "TRUNCATED",
        md5=md5,
        sha1=sha1,
        sha256=sha256,
        stored=False,
        size=min(sink.size, sink.max_bytes),
        tx_id=tx.tx_id,
    )
