"""HTTP/1.0 and 1.1 per-flow parser: a small explicit state machine per direction (h11 style).

Rules (each direction has one state; `TO_SERVER` carries requests, `TO_CLIENT` responses):

- `LINE`: blank lines are skipped; a start line and its header fields are buffered until the
  empty line that ends the head (at most `limits.max_message` bytes, else `ParseError`).
  A request line without protocol followed by nothing but whitespace is an HTTP/0.9 request
  (no fields, no body); followed by more bytes, its fields are read (libhtp does the same).
  Bytes that cannot start a message switch to `SYNC`.
- `BODY`: framing as `body.request_framing` / `body.response_framing` say (chunked,
  Content-Length, until close, none). An interim 1xx response is dropped: the next response
  line answers the same request. A 4xx answering `Expect: 100-continue` before the body was
  sent ends the request (the client will not send it). A response that does not start with
  "HTTP" to a waiting request is a headerless (HTTP/0.9 style) body until close.
- Responses answer requests in order (pipelining); a transaction is emitted as one `http` event
  when both its request and its response are complete, with `tx_id` 0, 1, 2... A response with
  no waiting request makes a transaction of its own (`request_seen` False). More than
  `limits.max_pending` unanswered requests: the oldest is emitted unanswered.
- `WAIT` / `PROBE`: a CONNECT request waits for its response. 2xx opens a tunnel: if the
  client's first tunnel bytes start with a known method, the tunnel carries HTTP and parsing
  goes on with transaction ids restarting at 0 (as Suricata does); otherwise both directions
  are done. Non-2xx: parsing goes on. 101 Switching Protocols: both directions are done.
- Bodies: with `inspect_bodies` (off by default: on for content inspection, which hands
  them over through `on_transaction`), up to `limits.max_body` decoded bytes of each body
  are kept on the transaction; payload bytes of known length that are not kept are handed back via
  `skip` (the message completes at once, so its event may precede the skipped packets).
  `pending_transactions()` shows the transactions not emitted yet, so that a request (head,
  then body) can be inspected as soon as it is complete, before its response.
- Files: with `file_hashes` (off by default), every response body and every POST/PUT body
  (not multipart) is hashed (`files.FileHash`: decoded, at most `file_max_bytes`) and, when
  it ends, a `fileinfo` event is emitted with the transaction's `http` object
  (`files.file_record`: `CLOSED` with md5/sha1/sha256, or `TRUNCATED` without after a gap, a
  flow that ended first, or a body over the bound). Empty bodies are no files. Hashed bodies
  are not skipped (up to the bound).
- `SYNC`, after `gap(d)` (the message being read in `d` ends there, marked `gap`) or bytes
  that cannot start a message (a flow picked up midstream, inside a body): bytes are dropped up
  to the next request line or response line (`resync`); after `sync_limit` bytes without
  one, the direction is done.
- After a complete response, lines in the same bytes that do not start like a response line
  belong to its body (libhtp's finalize: a Content-Length too short hides nothing).
- `close()`: a close-delimited body ends; partial heads are read as far as they go; every
  pending transaction is emitted with what is known (requests never answered included). A
  `ParseError` does the same before it propagates.

Events carry the direction and time of the bytes that completed them (`TO_CLIENT` for a
response, `TO_SERVER` for a request completed last or unanswered).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.http import body as framing
from tocsin.applayer.http.body import BodyReader, trailing
from tocsin.applayer.http.decode import BodySink
from tocsin.applayer.http.files import FileHash, file_record, is_upload
from tocsin.applayer.http.message import (
    FIELD_LINE,
    REQUEST_EOH,
    RESPONSE_EOL,
    WS,
    Headers,
    looks_like_response,
    parse_fields,
    parse_request_line,
    parse_status_line,
    request_like,
    response_head_end,
    skip_blank_lines,
    split_head,
    tunnel_carries_http,
)
from tocsin.applayer.http.resync import Resync
from tocsin.applayer.http.transaction import (
    DEFAULT_REQUEST_HEADERS,
    DEFAULT_RESPONSE_HEADERS,
    HttpTransaction,
    TxQueue,
    selection,
)
from tocsin.model.fileinfo import FileinfoEvent
from tocsin.model.http import HttpInfo

LINE, BODY, SYNC, WAIT, PROBE = range(5)


class HttpParser(AppParser):
    """HTTP/1.x parser for one TCP flow (see the module docstring for the rules)."""

    name = "http"

    def __init__(
        self,
        emit: Emit,
        limits: AppLimits,
        *,
        request_headers: Iterable[str] = DEFAULT_REQUEST_HEADERS,
        response_headers: Iterable[str] = DEFAULT_RESPONSE_HEADERS,
        inspect_bodies: bool = False,
        on_transaction: Callable[[HttpTransaction], None] | None = None,
        sync_limit: int = 1 << 20,
        file_hashes: bool = False,
        file_max_bytes: int = 50 << 20,
    ) -> None:
        super().__init__(emit, limits)
        self._txs = TxQueue(
            emit, limits, (selection(request_headers), selection(response_headers)), on_transaction
        )
        self._bodies = inspect_bodies
        self._files = file_hashes
        self._file_max = file_max_bytes
        self._state = [LINE, LINE]
        self._buf = [b"", b""]  # unconsumed bytes (a partial head or line)
        self._scan = [0, 0]  # where the search for the end of the head resumes in _buf
        self._resync = [Resync(True, sync_limit), Resync(False, sync_limit)]
        self._resume = [False, False]  # WAIT/PROBE ended: run the bytes held meanwhile
        self._reader: list[BodyReader | None] = [None, None]
        self._cur: list[HttpTransaction | None] = [None, None]  # tx whose body is being read
        self._ts = 0
        self._dir = TO_SERVER

    # -- the AppParser contract -------------------------------------------------------------

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        if self.done[direction] or not data:
            return
        self._ts, self._dir = ts_us, direction
        buf = self._buf[direction] + data if self._buf[direction] else bytes(data)
        self._buf[direction] = b""
        try:
            self._run(direction, buf)
            other = 1 - direction
            if self._resume[other]:
                self._resume[other] = False
                if self._buf[other] and not self.done[other]:
                    buf, self._buf[other] = self._buf[other], b""
                    self._dir = other
                    self._run(other, buf)
        except ParseError:
            self.close(ts_us)  # what was understood is still reported
            raise
        self._txs.emit_ready(self._dir, self._ts)

    def gap(self, direction: int, ts_us: int) -> None:
        self._ts, self._dir = ts_us, direction
        if PROBE in self._state:
            self.done[0] = self.done[1] = True  # lost the start of a CONNECT tunnel
        self._end_body(direction, gap=True)
        self._buf[direction] = b""
        self._scan[direction] = 0
        self.skip[direction] = 0
        if self._state[direction] != WAIT:
            self._state[direction] = SYNC
            self._resync[direction].after_gap()
        self._txs.emit_ready(self._dir, self._ts)

    def info(self, tx: HttpTransaction) -> HttpInfo:
        """The EVE `http` body of one of this flow's transactions, as it stands."""
        return self._txs.info(tx)

    def pending_transactions(self) -> tuple[HttpTransaction, ...]:
        """The transactions not emitted yet, oldest first: what is known of them so far (a
        request whose head, or body, is complete can be inspected before its response)."""
        return self._txs.pending()

    def close(self, ts_us: int) -> None:
        self._ts = ts_us
        for d in (TO_SERVER, TO_CLIENT):
            if self._state[d] == LINE and self._buf[d].strip(WS) and not self.done[d]:
                self._partial_head(d, self._buf[d])
            self._end_body(d, gap=False)
            self._buf[d] = b""
        self._txs.flush(ts_us)

    # -- driving ----------------------------------------------------------------------------

    def _run(self, d: int, buf: bytes) -> None:
        pos, n = 0, len(buf)
        while pos < n and not self.done[d]:
            state = self._state[d]
            if state == BODY:
                new = self._body(d, buf, pos)
            elif state == LINE:
                new = self._request(buf, pos) if d == TO_SERVER else self._response(buf, pos)
            elif state == SYNC:
                new = self._sync(d, buf, pos)
            elif state == PROBE:
                new = self._probe(buf, pos)
            else:  # WAIT: held until the other direction decides
                break
            if new == pos and self._state[d] == state:
                break  # needs more bytes
            pos = new
        if self.done[d]:
            self._buf[d] = b""
            return
        rest = buf[pos:]
        if len(rest) > self.limits.max_message:
            rest = self._overflow(d, rest)
        self._buf[d] = rest
        self._skip_body(d)

    def _overflow(self, d: int, rest: bytes) -> bytes:
        state = self._state[d]
        if state == SYNC:
            self._resync[d].drop(len(rest))
            self.done[d] = self._resync[d].exhausted
            return b""
        if state in (WAIT, PROBE):
            self.done[0] = self.done[1] = True  # a tunnel that is not HTTP
            return b""
        if state == LINE and d == TO_SERVER and not request_like(rest):
            self._state[d] = SYNC
            self._resync[d].drop(len(rest))
            return b""
        raise ParseError(f"HTTP head over {self.limits.max_message} bytes")

    def _skip_body(self, d: int) -> None:
        """Hand back payload bytes of known length that nobody will read."""
        reader, tx = self._reader[d], self._cur[d]
        if reader is None or tx is None or self._state[d] != BODY or reader.wants():
            return
        if d == TO_SERVER and tx.expect_continue and not reader.wire:
            return  # the body may never come (100-continue refused)
        count = reader.skippable()
        if count:
            self.skip[d] += count
            reader.skipped(count)
            if reader.done:
                self._body_done(d)

    # -- requests ---------------------------------------------------------------------------

    def _request(self, buf: bytes, pos: int) -> int:
        pos = skip_blank_lines(buf, pos)
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return pos if request_like(buf[pos : pos + 33]) else self._to_sync(0, buf, pos, pos)
        rl = parse_request_line(buf[pos:nl])
        if rl is None:  # an unknown method is a request if header fields follow
            rl = parse_request_line(buf[pos:nl], lenient=True)
            if rl is not None and nl + 1 == len(buf):
                return pos  # wait for the next line
            if rl is None or not FIELD_LINE.match(buf, nl + 1):
                return self._to_sync(TO_SERVER, buf, pos, nl + 1)
        if rl.protocol is None and len(buf) - nl <= 17 and not buf[nl + 1 :].strip(WS):
            tx = self._new_tx()
            tx.method, tx.uri, tx.http09, tx.request_done = rl.method, rl.uri, True, True
            tx.request_line = _chomp(buf[pos:nl])
            return len(buf)
        ends = self._head_end(TO_SERVER, buf, pos, nl)
        if ends is None:
            return pos
        block_end, end = ends
        tx = self._new_tx()
        tx.method, tx.uri, tx.protocol = rl.method, rl.uri, rl.protocol
        tx.request_line, tx.request_head = _chomp(buf[pos:nl]), buf[nl + 1 : end]
        h = tx.request_headers = parse_fields(buf[nl + 1 : block_end], response=False)
        expect = h.get(b"expect")
        tx.expect_continue = expect is not None and expect.lower() == b"100-continue"
        if rl.method == b"CONNECT":
            tx.request_done = True
            self._state[TO_SERVER] = WAIT
            return end
        kind, size = framing.request_framing(h)
        if kind == framing.NONE:
            tx.request_done = True
        else:
            self._start_body(TO_SERVER, tx, kind, size, h)
        return end

    def _new_tx(self, request_seen: bool = True) -> HttpTransaction:
        return self._txs.new(self._dir, self._ts, request_seen)

    def _probe(self, buf: bytes, pos: int) -> int:
        """First client bytes in a CONNECT tunnel: HTTP goes on, anything else is opaque."""
        http = tunnel_carries_http(buf, pos)
        if http is None:
            return pos  # too short to tell yet
        if http:
            self._txs.next_id = 0  # Suricata restarts its transactions inside the tunnel
            self._state = [LINE, LINE]
            self._resume[TO_CLIENT] = True
        else:
            self.done[0] = self.done[1] = True
        return pos

    # -- responses --------------------------------------------------------------------------

    def _response(self, buf: bytes, pos: int) -> int:
        tx = self._txs.answered()
        if tx is not None and tx.http09:  # the answer to HTTP/0.9 is a bare body
            tx.response_started = True
            self._start_body(TO_CLIENT, tx, framing.CLOSE, 0, None)
            return pos
        pos = skip_blank_lines(buf, pos)
        eol = RESPONSE_EOL.search(buf, pos)
        nl = eol.start() if eol is not None else -1
        head = buf[pos : pos + 16 if eol is None else nl]
        if not looks_like_response(head):
            if eol is None and len(head.lstrip(WS + b"\x00")) < 4:
                return pos  # too short to tell
            if tx is None or tx.method == b"CONNECT":
                return self._to_sync(TO_CLIENT, buf, pos, pos + 1 if eol is None else eol.end())
            if eol is not None and (buf[eol.end() : eol.end() + 1] == b"H" or len(head) <= 2):
                return eol.end()  # libhtp: a stray line before a response line
            tx.response_started = True  # headerless response: the body runs to close
            self._start_body(TO_CLIENT, tx, framing.CLOSE, 0, None)
            return pos
        if eol is None:
            return pos
        ends = self._head_end(TO_CLIENT, buf, pos, nl)
        if ends is None:
            return pos
        tx = tx or self._new_tx(request_seen=False)
        sl = parse_status_line(head)
        h = parse_fields(buf[eol.end() : ends[0]], response=True)
        tx.response_protocol, tx.status, tx.status_code = sl.protocol, sl.status, sl.code
        tx.status_message, tx.response_line = sl.message, head
        tx.response_head = buf[eol.end() : ends[1]]
        tx.response_headers = h
        self._response_body(tx, h, sl.code)
        if tx.response_done and self._state[TO_CLIENT] == LINE:
            return self._trail(tx, None, buf, ends[1])
        return ends[1]

    def _trail(self, tx: HttpTransaction, reader: BodyReader | None, buf: bytes, pos: int) -> int:
        """Bytes after a complete response that libhtp counts in its body (see `trailing`)."""
        end = trailing(buf, pos)
        if end > pos:
            if reader is not None:
                reader.extra(buf[pos:end])
            else:
                tx.response_len += end - pos
                tx.response_payload += end - pos
        return end

    def _response_body(self, tx: HttpTransaction, h: Headers, code: int | None) -> None:
        """Apply `response_framing` to the response whose head was just read."""
        kind, size = framing.response_framing(tx.method, code, h)
        if kind == framing.INTERIM:
            tx.interim += 1
            tx.response_headers = Headers()
            tx.status = tx.status_code = tx.response_protocol = None
            tx.status_message = tx.response_line = tx.response_head = None
            return
        tx.response_started = True
        if self._state[TO_SERVER] == WAIT and tx.method == b"CONNECT":
            if kind == framing.TUNNEL:
                tx.response_done = True
                self._state[TO_SERVER], self._state[TO_CLIENT] = PROBE, WAIT
                return
            self._state[TO_SERVER] = LINE  # refused: the client goes on in HTTP
            self._resume[TO_SERVER] = True
        reader = self._reader[TO_SERVER]
        if (
            400 <= (code or 0) < 500
            and tx.expect_continue
            and self._cur[TO_SERVER] is tx
            and reader is not None
            and not reader.wire
        ):  # refused before the body was sent: the client keeps it
            self._reader[TO_SERVER] = self._cur[TO_SERVER] = None
            self._state[TO_SERVER] = LINE
            tx.request_done = True
        if kind in (framing.NONE, framing.TUNNEL, framing.SWITCH):
            tx.response_done = True
            if kind == framing.SWITCH:
                self.done[0] = self.done[1] = True
        else:
            self._start_body(TO_CLIENT, tx, kind, size, h)

    # -- shared steps -----------------------------------------------------------------------

    def _head_end(self, d: int, buf: bytes, pos: int, nl: int) -> tuple[int, int] | None:
        """(end of the last field line, end of the head) for the head that starts at `pos`
        (its first line ends at `nl`), or None while incomplete."""
        if d == TO_CLIENT:
            block_end, end, resume = response_head_end(buf, max(nl, pos + self._scan[d]))
            if end < 0:
                self._scan[d] = resume - pos
                return None
            self._scan[d] = 0
            return block_end, end
        m = REQUEST_EOH.search(buf, max(nl, pos + self._scan[d]))
        if m is None:
            self._scan[d] = max(0, buf.rfind(b"\n", pos) - 1 - pos)
            return None
        self._scan[d] = 0
        return m.end(1), m.end()

    def _start_body(
        self, d: int, tx: HttpTransaction, kind: int, size: int, h: Headers | None
    ) -> None:
        sink = None
        if self._bodies:
            sink = BodySink(self.limits.max_body, h.get(b"content-encoding") if h else None)
            if d == TO_SERVER:
                tx.request_sink = sink
            else:
                tx.response_sink = sink
        file = None
        if self._files and (d == TO_CLIENT or is_upload(tx)):
            file = FileHash(self._file_max, h.get(b"content-encoding") if h else None)
        self._reader[d] = BodyReader(
            kind, size, sink, self.limits.max_message, d == TO_SERVER, file
        )
        self._cur[d] = tx
        self._state[d] = BODY

    def _body(self, d: int, buf: bytes, pos: int) -> int:
        reader, tx = self._reader[d], self._cur[d]
        assert reader is not None and tx is not None
        pos = reader.feed(buf, pos)
        if reader.done:
            if d == TO_CLIENT:
                pos = self._trail(tx, reader, buf, pos)
            self._body_done(d)
        return pos

    def _body_done(self, d: int, complete: bool = True, gap: bool = False) -> None:
        reader, tx = self._reader[d], self._cur[d]
        assert reader is not None and tx is not None
        if d == TO_SERVER:
            tx.request_len, tx.request_payload, tx.request_done = reader.wire, reader.payload, True
        else:
            tx.response_len, tx.response_payload = reader.wire, reader.payload
            tx.response_done = True
        self._reader[d] = self._cur[d] = None
        if self._state[d] == BODY:
            self._state[d] = LINE
        file = reader.file
        if isinstance(file, FileHash) and file.size:
            record = file_record(tx, file, d == TO_CLIENT, complete, gap)
            http = {"http": self._txs.info(tx), "app_proto": "http"}
            self.emit(FileinfoEvent, record, d, self._ts, tx.tx_id, extra=http)

    def _end_body(self, d: int, gap: bool) -> None:
        reader, tx = self._reader[d], self._cur[d]
        if reader is not None and tx is not None:
            complete = reader.kind == framing.CLOSE and not gap  # the close ends such a body
            reader.finish()
            tx.gap = tx.gap or gap
            self._body_done(d, complete, gap)

    def _to_sync(self, d: int, buf: bytes, start: int, pos: int) -> int:
        """`buf[start:pos]` cannot start a message: look for the next one from `pos`."""
        self._state[d] = SYNC
        self._resync[d].begin(buf, start, pos)
        return pos

    def _sync(self, d: int, buf: bytes, pos: int) -> int:
        pos, found = self._resync[d].scan(buf, pos)
        if found:
            self._state[d] = LINE
        elif self._resync[d].exhausted:
            self.done[d] = True
        return pos

    def _partial_head(self, d: int, buf: bytes) -> None:
        """At close: read what there is of an unfinished head (libhtp does the same)."""
        line, rest = split_head(buf, d == TO_CLIENT)
        if d == TO_SERVER:
            rl = parse_request_line(line)
            if rl is not None:
                tx = self._new_tx()
                tx.method, tx.uri, tx.protocol = rl.method, rl.uri, rl.protocol
                tx.request_line, tx.request_head = line, rest
                tx.request_headers = parse_fields(rest, response=False)
                tx.request_done = True
        elif looks_like_response(line):
            rtx = self._txs.answered() or self._new_tx(request_seen=False)
            sl = parse_status_line(line)
            rtx.response_protocol, rtx.status, rtx.status_code = sl.protocol, sl.status, sl.code
            rtx.status_message, rtx.response_line, rtx.response_head = sl.message, line, rest
            rtx.response_headers = parse_fields(rest, response=True)
            rtx.response_started = rtx.response_done = True


def _chomp(line: bytes) -> bytes:
    """A line without its line end (libhtp's chomp: trailing CR and LF bytes removed)."""
    return line.rstrip(b"\r\n")
