"""The HTTP sticky buffers of one transaction, with the contents Suricata 8 inspects.

`HttpBuffers(tx)` builds each buffer of an `HttpTransaction` on demand, by canonical (or
legacy) name (`registry.BUFFERS`), and caches it once the transaction has reached the stage
that completes it (`reached(tx, stage)`); before that a value is rebuilt on every call (a
body still growing) and may be None. `get(name, direction)` gives the buffer (None: not
there, or not yet), `multi(name, direction)` its instances as a list, `ready(name,
direction)` whether it is complete. `direction` is the inspection direction of the rule (0
to_server, 1 to_client): `http.header`, `http.cookie`... differ by direction. Left out,
`multi` lists every inspectable side (to_server first), and `get` gives the to_client side
once the response head is in, else the to_server side (for callers that do not track the
rule's direction; such a caller should rather pass it). Unknown names, and names of other
protocols, raise `KeyError`.

`http_stage(tx)` is how far the transaction has gone along request head, request body,
response head, response body (each stage counted once all those before it are complete);
`stage_of(name, direction)` the stage a buffer needs (for a buffer inspectable both ways and
no direction, the request side's): a buffer is complete once `http_stage(tx) >=
stage_of(name)`.

Contents (source: Suricata 8 `src/detect-http-*.c` and the `detect-http-headers-stub.h`
keywords, on libhtp's transaction):

- `http.uri`: libhtp's normalised URI (`uri.normalized_uri`); `http.uri.raw`: the request
  target as sent; `http.method`, `http.protocol` (the request's or the response's protocol
  word), `http.request_line` / `http.response_line` (the start line as sent, no line end);
- `http.host`: the hostname as libhtp determines it (absolute target first, then Host), lower
  case, without port (`HttpTransaction.host`, Suricata's EVE `hostname`); `http.host.raw`:
  the absolute target's hostname (normalised, as libhtp's `parsed_uri`) or else the Host
  value as sent (repeats merged with ", ");
- one-field buffers (`http.user_agent`, `http.cookie`, `http.referer`, `http.accept`,
  `http.accept_enc`, `http.accept_lang`, `http.connection`, `http.content_type`,
  `http.content_len`, `http.server`, `http.location`): the field's value as the parser keeps
  it (trimmed, repeats merged with ", "; Content-Length keeps the first), b"" for a field sent
  empty. `http.cookie` is the request's Cookie to_server and the response's Set-Cookie
  to_client (detect-http-cookie.c `GetRequestData` / `GetResponseData`);
- `http.header`: "Name: value\\r\\n" per field, in order, without Cookie (to_server) or
  Set-Cookie (to_client), no extra line end at the end (detect-http-header.c: the final
  "\\r\\n" is `#if 0`, "breaks existing rules"); None when nothing is left;
- `http.header.raw`: the header lines as they came, the empty line that ends the head
  included (libhtp's header-data hook, detect-http-raw-header.c); trailers are not added;
- `http.header_names`: "\\r\\n" + "Name\\r\\n" per field + "\\r\\n" (detect-http-header-names.c);
- `http.start`: start line + "\\r\\n" + "Name: value\\r\\n" per field (Cookie included) +
  "\\r\\n" when there is at least one field (detect-http-start.c);
- `http.request_header` / `http.response_header`: one "Name: value" instance per field;
- `http.stat_code`: the status word as sent; `http.stat_msg`: the reason phrase;
- `http.request_body`, `http.response_body`, `file.data` (the response body): the decoded
  body the parser kept (de-chunked, decompressed, at most `AppLimits.max_body` bytes; only
  with `HttpParser(inspect_bodies=True)`), None when empty.

Names are as sent (first occurrence), values as the parser trimmed them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tocsin.applayer.http.message import Headers, host_port, uri_host_port
from tocsin.applayer.http.transaction import HttpTransaction
from tocsin.detect.buffers.registry import Stage, directions, spec
from tocsin.detect.buffers.uri import normalized_uri

CRLF = b"\r\n"


def reached(tx: HttpTransaction, stage: Stage) -> bool:
    """Whether `tx` has gone as far as `stage` (`Stage.EVENT`: request and response done)."""
    if stage == Stage.NONE:
        return True
    if stage == Stage.REQUEST_HEADERS:
        return tx.request_seen and tx.method is not None
    if stage == Stage.REQUEST_BODY:
        return tx.request_seen and tx.request_done
    if stage == Stage.RESPONSE_HEADERS:
        return tx.response_started
    if stage == Stage.RESPONSE_BODY:
        return tx.response_done
    return tx.request_done and tx.response_done


_ORDER = (
    Stage.REQUEST_HEADERS,
    Stage.REQUEST_BODY,
    Stage.RESPONSE_HEADERS,
    Stage.RESPONSE_BODY,
    Stage.EVENT,
)


def http_stage(tx: HttpTransaction) -> Stage:
    """The last stage reached with every stage before it reached too (`Stage.NONE` when the
    request head is not in: a response whose request was not seen)."""
    stage = Stage.NONE
    for step in _ORDER:
        if not reached(tx, step):
            break
        stage = step
    return stage


def stage_of(name: str, direction: int | None = None) -> Stage:
    """The stage buffer `name` needs in `direction` (see the module docstring). Raises
    `KeyError` for an unknown name or a direction the buffer is not inspected in."""
    found = spec(name, "http")
    ds = directions(found, direction)
    stage = found.stages[ds[0]] if ds else None
    if stage is None:
        raise KeyError(f"{found.name} is not inspected in direction {direction}")
    return stage


def _headers(tx: HttpTransaction, d: int) -> Headers | None:
    if d == 0:
        return tx.request_headers if reached(tx, Stage.REQUEST_HEADERS) else None
    return tx.response_headers if tx.response_line is not None else None


def _field(lname: bytes) -> Callable[[HttpTransaction, int], bytes | None]:
    def value(tx: HttpTransaction, d: int) -> bytes | None:
        h = _headers(tx, d)
        return h.get(lname) if h is not None else None

    return value


def _cookie(tx: HttpTransaction, d: int) -> bytes | None:
    h = _headers(tx, d)
    return None if h is None else h.get(b"cookie" if d == 0 else b"set-cookie")


def _header(tx: HttpTransaction, d: int) -> bytes | None:
    h = _headers(tx, d)
    if h is None:
        return None
    skip = b"cookie" if d == 0 else b"set-cookie"
    out = b"".join(
        name + b": " + value + CRLF
        for name, value in h.items
        if not (len(name) == len(skip) and name.lower() == skip)
    )
    return out or None


def _header_names(tx: HttpTransaction, d: int) -> bytes | None:
    h = _headers(tx, d)
    if not h:
        return None
    return CRLF + b"".join(name + CRLF for name, _ in h.items) + CRLF


def _start(tx: HttpTransaction, d: int) -> bytes | None:
    line = tx.request_line if d == 0 else tx.response_line
    h = _headers(tx, d)
    if line is None or h is None:
        return None
    fields = b"".join(name + b": " + value + CRLF for name, value in h.items)
    return line + CRLF + fields + (CRLF if fields else b"")


def _raw_head(tx: HttpTransaction, d: int) -> bytes | None:
    return (tx.request_head if d == 0 else tx.response_head) or None


def _host_raw(tx: HttpTransaction, d: int) -> bytes | None:
    if not reached(tx, Stage.REQUEST_HEADERS):
        return None
    if tx.uri is not None:
        host = (host_port(tx.uri) if tx.method == b"CONNECT" else uri_host_port(tx.uri))[0]
        if host is not None:
            return host
    return tx.request_headers.get(b"host")


def _host(tx: HttpTransaction, d: int) -> bytes | None:
    return tx.host()[0] if reached(tx, Stage.REQUEST_HEADERS) else None


def _uri(tx: HttpTransaction, d: int) -> bytes | None:
    if not reached(tx, Stage.REQUEST_HEADERS):
        return None
    return normalized_uri(tx.uri, connect=tx.method == b"CONNECT")


def _request(attr: str) -> Callable[[HttpTransaction, int], bytes | None]:
    def value(tx: HttpTransaction, d: int) -> bytes | None:
        got: bytes | None = getattr(tx, attr) if reached(tx, Stage.REQUEST_HEADERS) else None
        return got

    return value


def _response(attr: str) -> Callable[[HttpTransaction, int], bytes | None]:
    def value(tx: HttpTransaction, d: int) -> bytes | None:
        got: bytes | None = getattr(tx, attr)
        return got or None

    return value


def _protocol(tx: HttpTransaction, d: int) -> bytes | None:
    if d == 0:
        return tx.protocol if reached(tx, Stage.REQUEST_HEADERS) else None
    return tx.response_protocol


def _request_body(tx: HttpTransaction, d: int) -> bytes | None:
    return (tx.request_body or None) if tx.request_seen else None


def _response_body(tx: HttpTransaction, d: int) -> bytes | None:
    return tx.response_body or None


_Builder = Callable[[HttpTransaction, int], bytes | None]

_BUILDERS: dict[str, _Builder] = {
    "http.uri": _uri,
    "http.uri.raw": _request("uri"),
    "http.method": _request("method"),
    "http.request_line": _request("request_line"),
    "http.host": _host,
    "http.host.raw": _host_raw,
    "http.user_agent": _field(b"user-agent"),
    "http.referer": _field(b"referer"),
    "http.accept": _field(b"accept"),
    "http.accept_enc": _field(b"accept-encoding"),
    "http.accept_lang": _field(b"accept-language"),
    "http.request_body": _request_body,
    "http.protocol": _protocol,
    "http.header": _header,
    "http.header.raw": _raw_head,
    "http.header_names": _header_names,
    "http.start": _start,
    "http.cookie": _cookie,
    "http.connection": _field(b"connection"),
    "http.content_type": _field(b"content-type"),
    "http.content_len": _field(b"content-length"),
    "http.stat_code": _response("status"),
    "http.stat_msg": _response("status_message"),
    "http.response_line": _response("response_line"),
    "http.server": _field(b"server"),
    "http.location": _field(b"location"),
    "http.response_body": _response_body,
}


def _fields(tx: HttpTransaction, d: int) -> list[bytes]:
    h = _headers(tx, d)
    return [] if h is None else [name + b": " + value for name, value in h.items]


_BOUNDARY = re.compile(rb'boundary=(?:"([^"]+)"|([^;\s]+))', re.I)
_FILENAME = re.compile(rb"filename\*?=", re.I)


def _multipart_files(body: bytes, ctype: bytes) -> list[bytes]:
    """The contents of the parts of a multipart/form-data body that carry a file (a
    Content-Disposition with a filename), as libhtp's multipart parser hands them to
    Suricata's file tracking; [] when there is no boundary or no file part."""
    m = _BOUNDARY.search(ctype)
    if m is None:
        return []
    delim = b"--" + (m.group(1) or m.group(2))
    files: list[bytes] = []
    for part in body.split(delim)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep or not _FILENAME.search(head):
            continue
        files.append(content[:-2] if content.endswith(b"\r\n") else content)
    return files


def _file_data(tx: HttpTransaction, d: int) -> list[bytes]:
    """`file.data`: to_client, the response body; to_server (Suricata 7 and later), the files
    the request carries: each file part of a multipart/form-data body, else the body itself
    (PUT and plain POST uploads)."""
    if d == 1:
        return [tx.response_body] if tx.response_body else []
    body = tx.request_body if tx.request_seen else b""
    if not body:
        return []
    ctype = tx.request_headers.get(b"content-type") or b""
    if ctype.lower().startswith(b"multipart/"):
        return _multipart_files(body, ctype)
    return [body]


_MULTI: dict[str, Callable[[HttpTransaction, int], list[bytes]]] = {
    "http.request_header": _fields,
    "http.response_header": _fields,
    "file.data": _file_data,
}


class HttpBuffers:
    """The sticky buffers of one HTTP transaction (see the module docstring)."""

    __slots__ = ("_cache", "_done", "_multi", "tx")

    def __init__(self, tx: HttpTransaction) -> None:
        self.tx = tx
        self._cache: dict[tuple[str, int], list[bytes]] = {}
        # (name, direction) lookups answered for good: complete buffers, and readiness once
        # reached (the engine asks again at every inspection round of the transaction)
        self._multi: dict[tuple[str, int | None], list[bytes]] = {}
        self._done: set[tuple[str, int | None]] = set()

    def get(self, name: str, direction: int | None = None) -> bytes | None:
        """The buffer `name` inspected in `direction` (the first instance of a multi-buffer);
        None when the transaction has none (yet). Without a direction, a buffer inspected
        both ways is the response's once its head is in, else the request's."""
        found = spec(name, "http")
        ds = directions(found, direction)
        if len(ds) > 1 and reached(self.tx, Stage.RESPONSE_HEADERS):
            ds = ds[1:]
        values = self._values(found.name, ds[0]) if ds else []
        return values[0] if values else None

    def multi(self, name: str, direction: int | None = None) -> list[bytes]:
        """Every instance of buffer `name` in `direction` (both directions for None)."""
        key = (name, direction)
        got = self._multi.get(key)
        if got is not None:
            return got
        found = spec(name, "http")
        got = [v for d in directions(found, direction) for v in self._values(found.name, d)]
        if self.ready(name, direction):
            self._multi[key] = got
        return got

    def ready(self, name: str, direction: int | None = None) -> bool:
        """Whether buffer `name` is complete in `direction` (every direction for None)."""
        key = (name, direction)
        if key in self._done:
            return True
        found = spec(name, "http")
        stages = [found.stages[d] for d in directions(found, direction)]
        done = bool(stages) and all(s is not None and reached(self.tx, s) for s in stages)
        if done:
            self._done.add(key)
        return done

    def _values(self, name: str, d: int) -> list[bytes]:
        key = (name, d)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        many = _MULTI.get(name)
        if many is not None:
            values = many(self.tx, d)
        else:
            one = _BUILDERS[name](self.tx, d)
            values = [] if one is None else [one]
        stage = spec(name).stage(d)
        if stage is not None and reached(self.tx, stage):
            self._cache[key] = values
        return values
