"""IMAP4 (RFC 9051, RFC 3501): tagged commands and their tagged answers as `imap` events.

`ImapParser` is a stream parser over LF-framed lines (`applayer.lines`, at most `_MAX_LINE`
bytes kept of a line, a CR before the LF dropped).

- client (TO_SERVER): a line is `tag SP command [SP args]`. The tag is printable ASCII; a tag
  or command that is not raises `ParseError`; a one-word line (`DONE` ending `IDLE`) is passed
  over. A line ending with a literal `{N}` or `{N+}` is followed by N bytes skipped unread, then
  the same command's next line (only the first line of a command is read). While an
  `AUTHENTICATE` waits for its answer, client lines are SASL responses: only `PLAIN`'s first
  one is decoded, for its identity; nothing else of them is read.
  Commands wait for their tagged answer in a table bounded by `limits.max_pending` (past it the
  oldest is emitted unanswered).
- server (TO_CLIENT): a line `tag SP (OK|NO|BAD) ...` answers the pending command of that tag
  and emits its event. Untagged (`* ...`) and continuation (`+ ...`) lines are passed over; a
  literal `{N}` at a line's end makes the next N bytes skipped unread (FETCH bodies).
- `STARTTLS` answered `OK`, or a TLS record (0x16 0x03) where a line should start: the rest is
  TLS, both directions are `done` (the dispatcher has no hand-over of a flow to the TLS
  parser, so that session is not parsed).

Events: direction TO_SERVER (addresses follow the flow), `tx_id` counting the flow's commands
from 0 in the order they were sent. At `close` commands still unanswered are emitted without
`status`. `gap`: the partial line is dropped; reading resumes after the next LF.
"""

from __future__ import annotations

import base64
import binascii
import re

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.lines import LineReader, text
from tocsin.model.imap import ImapEvent, ImapInfo

_MAX_LINE = 8192
_MAX_WORD = 64
_MAX_USER = 256
_LITERAL = re.compile(rb"\{(\d{1,10})\+?\}$")
_STATUS = frozenset({b"OK", b"NO", b"BAD"})
_ATOM_SPECIALS = frozenset(b'(){%*"\\')


def literal_size(line: bytes) -> int | None:
    """N when the line ends with a literal announcement `{N}` / `{N+}`."""
    m = _LITERAL.search(line)
    return int(m.group(1)) if m else None


def first_astring(rest: bytes) -> str | None:
    """The first argument as an atom or quoted string; None for a literal, nothing, or a
    malformed atom."""
    rest = rest.lstrip(b" ")
    if not rest or rest[:1] == b"{":
        return None
    if rest[:1] == b'"':
        out = bytearray()
        k = 1
        while k < len(rest) and rest[k : k + 1] != b'"':
            if rest[k : k + 1] == b"\\" and k + 1 < len(rest):
                k += 1
            out += rest[k : k + 1]
            k += 1
        return text(bytes(out[:_MAX_USER]))
    atom = rest.split(b" ", 1)[0]
    if any(c < 0x21 or c > 0x7E or c in _ATOM_SPECIALS for c in atom):
        return None  # not an atom: malformed, better not guess where the password starts
    return text(atom[:_MAX_USER])


def plain_identity(b64: bytes) -> str | None:
    """The authentication identity of a SASL PLAIN response (`authzid NUL authcid NUL
    password`, base64); the password part is dropped unread."""
    try:
        raw = base64.b64decode(b64.strip(), validate=False)
    except (binascii.Error, ValueError):
        return None
    parts = raw.split(b"\x00")
    if len(parts) != 3:
        return None
    who = parts[1] or parts[0]
    return text(who[:_MAX_USER]) if who else None


def _word(w: bytes, what: str) -> str:
    if not w or len(w) > _MAX_WORD or not all(0x21 <= c < 0x7F for c in w):
        raise ParseError(f"imap {what} {w[:_MAX_WORD]!r} is not a word")
    return w.decode("ascii")


class _Cmd:
    __slots__ = ("command", "mechanism", "sasl_seen", "user")

    def __init__(self, command: str) -> None:
        self.command = command
        self.user: str | None = None
        self.mechanism: str | None = None
        self.sasl_seen = False

    def info(self, status: str | None) -> ImapInfo:
        return ImapInfo(
            command=self.command, user=self.user, mechanism=self.mechanism, status=status
        )


class ImapParser(AppParser):
    name = "imap"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._lines = (LineReader(_MAX_LINE), LineReader(_MAX_LINE))
        self._pending: dict[bytes, tuple[int, _Cmd]] = {}  # tag -> command, in sent order
        self._tx_count = 0
        self._cont = False  # the next client line continues a command after a literal
        self._auth: _Cmd | None = None  # AUTHENTICATE waiting for its answer

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        reader = self._lines[direction]
        for line, _cut in reader.lines(data):
            if self.done[direction]:
                continue
            if line[:2] == b"\x16\x03":  # TLS without a seen STARTTLS answer
                self._tls()
                continue
            n = literal_size(line)
            if direction == TO_SERVER:
                self._command(line, ts_us)
                self._cont = n is not None
            else:
                self._answer(line, ts_us)
            if n is not None:
                reader.skip(n)
        if not self.done[direction]:
            self.skip[direction] += reader.take_skip()

    def gap(self, direction: int, ts_us: int) -> None:
        self._lines[direction].gap()
        if direction == TO_SERVER:
            self._cont = False

    def close(self, ts_us: int) -> None:
        for tx_id, cmd in self._pending.values():
            self.emit(ImapEvent, cmd.info(None), TO_SERVER, ts_us, tx_id)
        self._pending.clear()

    def _tls(self) -> None:
        self.done[TO_SERVER] = self.done[TO_CLIENT] = True

    def _command(self, line: bytes, ts_us: int) -> None:
        if self._cont:  # after a literal: the rest of the same command, not read
            return
        auth = self._auth
        if auth is not None:  # a SASL response to AUTHENTICATE's challenge
            if line.strip() == b"*":
                self._auth = None
            elif auth.mechanism == "PLAIN" and not auth.sasl_seen:
                auth.user = plain_identity(line)
            auth.sasl_seen = True
            return
        words = line.split(b" ", 3)
        if len(words) < 2 or not words[1]:
            if line.strip() and not all(0x20 <= c < 0x7F or c == 0x09 for c in line.strip()):
                raise ParseError(f"imap line {line[:16]!r} is not a command")
            return  # DONE (after IDLE), or a stray word
        tag = words[0]
        _word(tag, "tag")
        command = _word(words[1], "command").upper()
        rest = words[2] if len(words) > 2 else b""
        more = words[3] if len(words) > 3 else b""
        cmd = _Cmd(command)
        if command == "UID" and rest:
            cmd.command = f"UID {_word(rest, 'command').upper()}"
        elif command == "LOGIN":
            cmd.user = first_astring(line.split(b" ", 2)[2] if len(words) > 2 else b"")
        elif command == "AUTHENTICATE" and rest:
            cmd.mechanism = _word(rest, "mechanism").upper()[:_MAX_WORD]
            if more.strip():  # SASL-IR initial response
                cmd.sasl_seen = True
                if cmd.mechanism == "PLAIN":
                    cmd.user = plain_identity(more)
            self._auth = cmd
        old = self._pending.pop(tag, None)
        if old is not None:  # a tag reused before its answer: the old one stays unanswered
            self.emit(ImapEvent, old[1].info(None), TO_SERVER, ts_us, old[0])
        self._pending[tag] = (self._tx_count, cmd)
        self._tx_count += 1
        if len(self._pending) > self.limits.max_pending:
            first = next(iter(self._pending))
            tx_id, stale = self._pending.pop(first)
            if stale is self._auth:
                self._auth = None
            self.emit(ImapEvent, stale.info(None), TO_SERVER, ts_us, tx_id)

    def _answer(self, line: bytes, ts_us: int) -> None:
        if line[:1] in (b"*", b"+") or not line:
            return
        words = line.split(b" ", 2)
        if len(words) < 2 or words[1].upper() not in _STATUS:
            return  # not a tagged answer (a server's free text): passed over
        entry = self._pending.pop(words[0], None)
        if entry is None:
            return
        tx_id, cmd = entry
        status = words[1].upper().decode("ascii")
        if cmd is self._auth:
            self._auth = None
        self.emit(ImapEvent, cmd.info(status), TO_SERVER, ts_us, tx_id)
        if cmd.command == "STARTTLS" and status == "OK":
            self._tls()
