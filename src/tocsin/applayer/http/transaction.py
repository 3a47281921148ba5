"""One HTTP/1.x transaction (a request and its response) and its EVE `http` record.

`HttpTransaction` is what the parser knows of an exchange: the request line, the request and
response header fields (every field, merged over repeats), the status, and up to
`AppLimits.max_body` bytes of each body, decoded (`request_body` / `response_body`). For
content inspection it also keeps the heads as they came on the wire: the start lines without
their line end (`request_line`, `response_line`) and the bytes after them up to and including
the empty line that ends the head (`request_head`, `response_head`: what libhtp hands to its
header-data hooks, Suricata's `http.header.raw`), and the reason phrase (`status_message`).
It is handed to the parser's `on_transaction` hook just before its event is emitted, for
content inspection (signatures on bodies, file typing); the parser keeps no reference
afterwards (`HttpParser.pending_transactions()` shows those not emitted yet).

`info()` builds the EVE body the way Suricata's `output-json-http.c` does (extended mode):

- `hostname` / `http_port`: from an absolute request target, else from the Host header (port
  only when one is written there); lowercase;
- `url`: the request target exactly as sent; `http_method`, `protocol`: the request's words;
- `http_user_agent`, `xff` (X-Forwarded-For), `http_refer` (Referer), `redirect` (Location):
  field values as sent (repeats merged with ", ");
- `http_content_type`: the response Content-Type up to its first ';' (case kept);
- `content_range`: the response Content-Range, raw and parsed;
- `status` when the status word is a number 100-999, else `status_string`;
- `length`: the response body length on the wire (see `body.py`), always present, 0 for none;
- `request_headers` / `response_headers`: the selected fields (constructor of `HttpParser`),
  names as sent, at most `max_items` each.

Bytes that are not UTF-8 are written with `\\xNN` escapes.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from tocsin.applayer.base import AppLimits, Emit, ParseError
from tocsin.applayer.http.decode import BodySink
from tocsin.applayer.http.message import (
    Headers,
    content_range,
    host_port,
    uri_host_port,
)
from tocsin.model.http import HttpContentRange, HttpEvent, HttpHeader, HttpInfo

DEFAULT_REQUEST_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-type",
    "content-length",
    "origin",
)
DEFAULT_RESPONSE_HEADERS = (
    "server",
    "content-length",
    "content-encoding",
    "transfer-encoding",
    "content-disposition",
    "x-powered-by",
)
"""Fields logged in `request_headers` / `response_headers` by default: what helps tell clients,
servers and payloads apart, never credentials or session tokens (Authorization, Cookie,
Set-Cookie). Pass `("*",)` to log every field (Suricata's dump-all-headers), `()` for none.
Authorization is always logged, reduced to its scheme (and Basic's user name): `auth_summary`."""


def selection(names: Iterable[str]) -> frozenset[bytes] | None:
    """Lowercase field names to log; None means every field."""
    return _selection(tuple(names))


@lru_cache(maxsize=64)
def _selection(names: tuple[str, ...]) -> frozenset[bytes] | None:
    chosen = frozenset(n.strip().lower().encode() for n in names)
    return None if b"*" in chosen else chosen


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


@dataclass(slots=True, eq=False)
class HttpTransaction:
    """A request/response exchange (see module docstring). `request_seen` is False for a
    response that matched no request (capture started midstream, request lost)."""

    tx_id: int
    request_seen: bool = True
    method: bytes | None = None
    uri: bytes | None = None
    protocol: bytes | None = None
    http09: bool = False
    request_line: bytes | None = None  # the request line as sent, without its line end
    request_head: bytes | None = None  # the header lines as sent, with the empty line
    request_headers: Headers = field(default_factory=Headers)
    request_sink: BodySink | None = None
    request_len: int = 0  # request body length on the wire
    request_payload: int = 0  # request payload length (de-chunked, before decoding)
    request_done: bool = False
    expect_continue: bool = False
    response_started: bool = False
    response_protocol: bytes | None = None
    status: bytes | None = None
    status_code: int | None = None
    status_message: bytes | None = None  # the reason phrase as sent ("OK")
    response_line: bytes | None = None  # the status line as sent, without its line end
    response_head: bytes | None = None  # the header lines as sent, with the empty line
    interim: int = 0  # 1xx interim responses seen (and dropped)
    response_headers: Headers = field(default_factory=Headers)
    response_sink: BodySink | None = None
    response_len: int = 0
    response_payload: int = 0
    response_done: bool = False
    gap: bool = False  # bytes were lost in this transaction

    @property
    def request_body(self) -> bytes:
        """The kept, decoded request payload (at most `max_body` bytes)."""
        return bytes(self.request_sink.data) if self.request_sink is not None else b""

    @property
    def response_body(self) -> bytes:
        """The kept, decoded response payload (at most `max_body` bytes)."""
        return bytes(self.response_sink.data) if self.response_sink is not None else b""

    def host(self) -> tuple[bytes | None, int | None]:
        """(hostname, port) as libhtp determines them: URI authority first, then Host."""
        if self.uri is not None:
            if self.method == b"CONNECT":
                host, port = host_port(self.uri)
            else:
                host, port = uri_host_port(self.uri)
            if host is not None:
                return host, port
        value = self.request_headers.get(b"host")
        return host_port(value) if value is not None else (None, None)

    def info(
        self,
        request_headers: frozenset[bytes] | None,
        response_headers: frozenset[bytes] | None,
        max_items: int,
    ) -> HttpInfo:
        req, resp = self.request_headers, self.response_headers
        host, port = self.host()
        ctype = resp.get(b"content-type")
        crange = resp.get(b"content-range")
        rng = None
        if crange is not None:
            start, end, size = content_range(crange)
            rng = HttpContentRange(raw=text(crange), start=start, end=end, size=size)
        status_string = None
        if self.status_code is None and self.status is not None:
            status_string = text(self.status)
        return HttpInfo(
            hostname=_opt(host),
            http_port=port,
            url=_opt(self.uri),
            http_user_agent=_opt(req.get(b"user-agent")),
            xff=_opt(req.get(b"x-forwarded-for")),
            http_content_type=text(ctype.split(b";", 1)[0]) if ctype is not None else None,
            content_range=rng,
            http_refer=_opt(req.get(b"referer")),
            http_method=_opt(self.method),
            protocol=_opt(self.protocol),
            status=self.status_code,
            status_string=status_string,
            redirect=_opt(resp.get(b"location")),
            length=self.response_len,
            request_headers=_with_auth(
                req, request_headers, _select(req, request_headers, max_items)
            ),
            response_headers=_select(resp, response_headers, max_items),
        )


def _opt(raw: bytes | None) -> str | None:
    return text(raw) if raw is not None else None


def auth_summary(value: bytes) -> str:
    """An Authorization field without its secret: the scheme, and for Basic the user name
    (`Basic user=alice`) — what a defender needs to see a clear-text login, never the
    password or a token."""
    scheme, _, rest = value.strip().partition(b" ")
    name = text(scheme)[:32] or "?"
    if name.lower() != "basic":
        return name
    try:
        decoded = base64.b64decode(rest.strip(), validate=True)
    except (binascii.Error, ValueError):
        return f"{name} (undecodable)"
    if b":" not in decoded:  # not user:password: it could all be a secret
        return f"{name} (malformed)"
    return f"{name} user={text(decoded.split(b':', 1)[0])[:64]}"


def _with_auth(
    headers: Headers, names: frozenset[bytes] | None, selected: list[HttpHeader] | None
) -> list[HttpHeader] | None:
    """The Authorization field is logged as `auth_summary` whenever any field is (even with
    every field selected: a clear-text login must be visible, its secret never)."""
    value = headers.get(b"authorization")
    if value is None or names == frozenset():
        return selected
    kept = [h for h in selected or [] if h.name.lower() != "authorization"]
    return [*kept, HttpHeader(name="Authorization", value=auth_summary(value))]


def _select(
    headers: Headers, names: frozenset[bytes] | None, max_items: int
) -> list[HttpHeader] | None:
    out = [
        HttpHeader(name=text(name), value=text(value))
        for name, value in headers.items
        if names is None or name.lower() in names
    ][:max_items]
    return out or None


class TxQueue:
    """The transactions of a flow not yet emitted, in order (responses answer them in order).

    `new()` starts one (ids 0, 1, 2...; past `limits.max_pending` the oldest is emitted as it
    is); `answered()` is the first still waiting for its response; `pending()` lists those
    not emitted yet; `emit_ready()` emits, in
    order, those whose request and response are both complete; `flush()` emits the rest.
    Each is handed to `on_transaction` just before its event is emitted."""

    __slots__ = ("_emit", "_limits", "_pending", "_sel", "next_id", "on_transaction")

    def __init__(
        self,
        emit: Emit,
        limits: AppLimits,
        selected: tuple[frozenset[bytes] | None, frozenset[bytes] | None],
        on_transaction: Callable[[HttpTransaction], None] | None,
    ) -> None:
        self._emit = emit
        self._limits = limits
        self._sel = selected
        self._pending: deque[HttpTransaction] = deque()
        self.next_id = 0
        self.on_transaction = on_transaction

    def new(self, direction: int, ts_us: int, request_seen: bool = True) -> HttpTransaction:
        if len(self._pending) >= self._limits.max_pending:
            old = self._pending[0]
            if old.response_started and not old.response_done:
                raise ParseError("too many pipelined HTTP requests")
            self._send(self._pending.popleft(), direction, ts_us)
        tx = HttpTransaction(self.next_id, request_seen=request_seen, request_done=not request_seen)
        self.next_id += 1
        self._pending.append(tx)
        return tx

    def answered(self) -> HttpTransaction | None:
        return next((t for t in self._pending if not t.response_started), None)

    def pending(self) -> tuple[HttpTransaction, ...]:
        """The transactions not emitted yet, oldest first."""
        return tuple(self._pending)

    def emit_ready(self, direction: int, ts_us: int) -> None:
        pending = self._pending
        while pending and pending[0].request_done and pending[0].response_done:
            self._send(pending.popleft(), direction, ts_us)

    def flush(self, ts_us: int) -> None:
        while self._pending:
            tx = self._pending.popleft()
            self._send(tx, 1 if tx.response_started else 0, ts_us)

    def info(self, tx: HttpTransaction) -> HttpInfo:
        """The EVE `http` body of a transaction as it stands (an alert's `http` field)."""
        return tx.info(self._sel[0], self._sel[1], self._limits.max_items)

    def _send(self, tx: HttpTransaction, direction: int, ts_us: int) -> None:
        if self.on_transaction is not None:
            self.on_transaction(tx)
        info = tx.info(self._sel[0], self._sel[1], self._limits.max_items)
        self._emit(HttpEvent, info, direction, ts_us, tx.tx_id)
