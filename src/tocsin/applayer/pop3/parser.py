"""POP3 (RFC 1939, RFC 2449, RFC 5034): commands and responses as `pop3` transactions.

`Pop3Parser` is a stream parser over LF-framed lines (`applayer.lines`, at most `_MAX_LINE`
bytes kept of a line; a CR before the LF is dropped; empty lines are passed over).

- client (TO_SERVER): each line is a command `KEYWORD [SP arg]...`, opening a transaction
  queued until its response (at most `limits.max_pending`: past that the oldest is emitted
  unanswered). A keyword that is longer than `_MAX_KEYWORD` or not printable ASCII raises
  `ParseError`. After a SASL continuation (`+ ...`) answering `AUTH` or SASL data, the next
  line is SASL data, not a command: a `<SASL DATA>` transaction whose bytes are not kept.
  Credentials are redacted as `model.pop3` says (`PASS`, `APOP` digest, `AUTH` initial
  response).
- server (TO_CLIENT): a line starting `+OK`, `-ERR` or `+` (continuation) answers the oldest
  queued transaction, or a new one without a request (the greeting). A `+OK` to `CAPA`, `TOP`,
  `RETR`, or `LIST`/`UIDL` without argument starts a multi-line answer, read up to a line of a
  single `.` (dot-stuffing undone); its lines are kept (bounded by `limits.max_items`) except
  for `RETR` and `TOP` (mail content, never kept). Any other line outside a multi-line answer
  raises `ParseError`.
- `STLS` answered `+OK`, or a TLS record (0x16 0x03) where a command or response should be:
  the rest is TLS, both directions are `done`. (The dispatcher has no hand-over of a flow to
  another protocol's parser, so the TLS session is not parsed; Suricata upgrades to TLS.)

Events: one `pop3` event per transaction when its response completes (direction TO_SERVER:
addresses follow the flow), `tx_id` counting the flow's transactions from 0 in the order they
opened; at `close` transactions still open are emitted as they are (without response, or with
a multi-line answer that never ended).

`gap`: the partial line of that direction is dropped; reading resumes after the next LF (a
multi-line answer in progress is given up).
"""

from __future__ import annotations

from collections import deque

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.lines import LineReader, text
from tocsin.model.pop3 import (
    PASSWORD_REDACTED,
    SASL_DATA,
    Pop3Event,
    Pop3Info,
    Pop3Request,
    Pop3Response,
)

_MAX_LINE = 4096
_MAX_KEYWORD = 16
_MULTI_ALWAYS = frozenset({"CAPA", "TOP", "RETR"})
_MULTI_NO_ARG = frozenset({"LIST", "UIDL"})
_NO_DATA = frozenset({"TOP", "RETR"})  # mail content: never kept


def redact_args(command: str, args: list[str]) -> list[str]:
    """The arguments as logged: credentials replaced by `<redacted>`."""
    if command == "PASS":
        return [PASSWORD_REDACTED] if args else []
    if command == "APOP":
        return args[:1] + ([PASSWORD_REDACTED] if len(args) > 1 else [])
    if command == "AUTH":
        return args[:1] + ([PASSWORD_REDACTED] if len(args) > 1 else [])
    return args


class _Tx:
    __slots__ = ("args", "command", "data", "header", "status")

    def __init__(self, command: str | None, args: list[str]) -> None:
        self.command = command
        self.args = args
        self.status: str | None = None
        self.header = ""
        self.data: list[str] = []

    def info(self) -> Pop3Info:
        req = Pop3Request(command=self.command, args=self.args) if self.command else None
        resp = None
        if self.status is not None:
            resp = Pop3Response(
                status=self.status, success=self.status == "OK", header=self.header, data=self.data
            )
        return Pop3Info(request=req, response=resp)


class Pop3Parser(AppParser):
    name = "pop3"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._lines = (LineReader(_MAX_LINE), LineReader(_MAX_LINE))
        self._pending: deque[tuple[int, _Tx]] = deque()  # opened, response not complete
        self._tx_count = 0
        self._multi: tuple[int, _Tx] | None = None  # transaction whose multi-line answer is read
        self._sasl_next = False  # the next client line answers a SASL challenge

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        for line, _cut in self._lines[direction].lines(data):
            if self.done[direction]:
                continue
            if direction == TO_SERVER:
                self._command(line, ts_us)
            else:
                self._response(line, ts_us)

    def gap(self, direction: int, ts_us: int) -> None:
        self._lines[direction].gap()
        if direction == TO_CLIENT and self._multi is not None:
            tx_id, tx = self._multi
            self._multi = None
            self.emit(Pop3Event, tx.info(), TO_SERVER, ts_us, tx_id)

    def close(self, ts_us: int) -> None:
        if self._multi is not None:
            tx_id, tx = self._multi
            self._multi = None
            self.emit(Pop3Event, tx.info(), TO_SERVER, ts_us, tx_id)
        while self._pending:
            tx_id, tx = self._pending.popleft()
            self.emit(Pop3Event, tx.info(), TO_SERVER, ts_us, tx_id)

    def _tls(self) -> None:
        self.done[TO_SERVER] = self.done[TO_CLIENT] = True

    def _open(self, tx: _Tx, ts_us: int) -> tuple[int, _Tx]:
        entry = (self._tx_count, tx)
        self._tx_count += 1
        self._pending.append(entry)
        if len(self._pending) > self.limits.max_pending:
            tx_id, old = self._pending.popleft()
            self.emit(Pop3Event, old.info(), TO_SERVER, ts_us, tx_id)
        return entry

    def _command(self, line: bytes, ts_us: int) -> None:
        if line[:2] == b"\x16\x03":  # TLS started without a seen STLS answer
            self._tls()
            return
        if not line.strip():
            return
        if self._sasl_next:  # a SASL response: never read, never kept
            self._sasl_next = False
            self._open(_Tx(SASL_DATA, []), ts_us)
            return
        words = line.split()
        raw = words[0]
        if len(raw) > _MAX_KEYWORD or not all(0x21 <= c < 0x7F for c in raw):
            raise ParseError(f"pop3 command keyword {raw[:_MAX_KEYWORD]!r} is not a word")
        command = raw.decode("ascii").upper()
        args = redact_args(command, [text(w) for w in words[1:]])
        self._open(_Tx(command, args), ts_us)

    def _response(self, line: bytes, ts_us: int) -> None:
        if self._multi is not None:
            tx_id, tx = self._multi
            if line == b".":
                self._multi = None
                self.emit(Pop3Event, tx.info(), TO_SERVER, ts_us, tx_id)
                return
            if tx.command not in _NO_DATA and len(tx.data) < self.limits.max_items:
                tx.data.append(text(line[1:] if line[:2] == b".." else line))
            return
        if not line:
            return
        if line[:2] == b"\x16\x03":
            self._tls()
            return
        if line[:3] == b"+OK":
            status, header, final = "OK", line[3:], True
        elif line[:4] == b"-ERR":
            status, header, final = "ERR", line[4:], True
        elif line[:1] == b"+":  # SASL continuation (challenge)
            status, header, final = "OK", line[1:], False
        else:
            raise ParseError(f"pop3 response {line[:16]!r} has no status")
        if header[:1] == b" ":
            header = header[1:]
        if self._pending:
            tx_id, tx = self._pending.popleft()
        else:  # a response to no command (the greeting)
            tx_id, tx = self._tx_count, _Tx(None, [])
            self._tx_count += 1
        tx.status, tx.header = status, text(header)
        cmd = tx.command
        self._sasl_next = not final and cmd in ("AUTH", SASL_DATA)
        multi = cmd in _MULTI_ALWAYS or (cmd in _MULTI_NO_ARG and not tx.args)
        if status == "OK" and final and multi:
            self._multi = (tx_id, tx)
            return
        self.emit(Pop3Event, tx.info(), TO_SERVER, ts_us, tx_id)
        if cmd == "STLS" and status == "OK" and final:
            self._tls()
