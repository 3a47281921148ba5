"""FTP control channel (RFC 959, RFC 2428): commands and replies as `ftp` transactions.

`FtpParser` is a stream parser. Both directions are lines ended by LF (a CR before it is
dropped; empty lines are passed over). A line longer than `_MAX_LINE` bytes is kept cut to
that length and marked truncated; the rest up to its LF is dropped, so memory per flow is
bounded by two lines.

- client (TO_SERVER): each line is a command, `VERB SP data`. Telnet IAC sequences before the
  verb (`IAC IP IAC DM` sent before `ABOR`) are dropped. A verb that is empty, longer than
  `_MAX_VERB` or not printable ASCII raises `ParseError`. Each command opens a transaction,
  queued until its reply (at most `limits.max_pending`: past that the oldest is emitted as
  unanswered). A line that starts a TLS record (0x16 0x03) means the channel went TLS
  without the parser seeing the `234` reply: both directions are `done`.
- server (TO_SERVER's answers): a reply is a line `ddd SP text`, or a multi-line reply
  `ddd-text` ... `ddd SP text` (RFC 959 section 4.2); every line of it goes to the oldest
  queued transaction, or to a new one without a command when none is queued (the greeting).
  A `1xx` (preliminary) reply keeps the transaction open for the final reply; any other
  completes it. A line without a code outside a multi-line reply is taken as a reply
  line of its own (as Suricata does) and completes the transaction.

Data-channel ports: `PORT`/`EPRT` give `dynamic_port` from the command, `PASV`/`EPSV` from
the `227`/`229` reply. `AUTH` answered by `234` starts TLS on the channel: both directions
are `done` (Suricata hands the flow to TLS; Tocsin stops here).

Events: one `ftp` event per transaction when it completes, `direction` TO_SERVER (addresses
follow the flow), `tx_id` counting the flow's transactions from 0 in the order they opened;
at `close` transactions still open are emitted with `reply_received` "no". The `PASS`
argument is never kept: `command_data` is `"<redacted>"` (see `model.ftp`).

`gap`: the partial line of that direction is dropped and reading resumes after the next LF.
"""

from __future__ import annotations

import re
from collections import deque

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, AppParser, Emit, ParseError
from tocsin.model.ftp import PASSWORD_REDACTED, FtpEvent, FtpInfo

_MAX_LINE = 4096  # bytes kept of one line (Suricata's default ftp max-line-length)
_MAX_VERB = 16
_IAC = 0xFF
_PASV_RE = re.compile(rb"(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3}),(\d{1,3})")
_EPSV_RE = re.compile(rb"\((.)\1\1(\d{1,5})\1\)")


def text(data: bytes) -> str:
    """Bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII kept and every other
    byte as `\\xNN`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


def port_of_command(verb: str, data: bytes) -> int | None:
    """The data port a `PORT h1,h2,h3,h4,p1,p2` or `EPRT |af|addr|port|` command offers."""
    if verb == "PORT":
        parts = data.strip().split(b",")
        if len(parts) != 6 or not all(p.strip().isdigit() for p in parts):
            return None
        nums = [int(p) for p in parts]
        if any(n > 255 for n in nums):
            return None
        return (nums[4] << 8) | nums[5] or None
    if verb == "EPRT":
        data = data.strip()
        if len(data) < 2:
            return None
        fields = data.split(data[:1])
        if len(fields) != 5 or not fields[3].isdigit() or len(fields[3]) > 5:
            return None
        port = int(fields[3])
        return port if 0 < port < 65536 else None
    return None


def port_of_reply(verb: str | None, line: bytes) -> int | None:
    """The data port a `227` (PASV) or `229` (EPSV) reply line gives."""
    if verb == "PASV" and line.startswith(b"227"):
        m = _PASV_RE.search(line, 4)
        if m is None or any(int(g) > 255 for g in m.groups()):
            return None
        return (int(m.group(5)) << 8) | int(m.group(6)) or None
    if verb == "EPSV" and line.startswith(b"229"):
        e = _EPSV_RE.search(line, 4)
        if e is None:
            return None
        port = int(e.group(2))
        return port if 0 < port < 65536 else None
    return None


class _Tx:
    __slots__ = ("codes", "command", "data", "data_truncated", "port", "replies", "truncated")

    def __init__(self, command: str | None, data: str | None, data_truncated: bool) -> None:
        self.command = command
        self.data = data
        self.data_truncated = data_truncated
        self.port: int | None = None
        self.codes: list[str] = []
        self.replies: list[str] = []
        self.truncated = False  # a reply line was cut, or lines past the item cap dropped

    def info(self, received: bool) -> FtpInfo:
        active = self.command in ("PORT", "EPRT")
        return FtpInfo(
            command=self.command,
            command_data=self.data,
            command_truncated=self.data_truncated if self.data is not None else None,
            reply=self.replies or None,
            completion_code=self.codes or None,
            dynamic_port=self.port,
            mode="active" if active and self.port is not None else None,
            reply_received="yes" if received else "no",
            reply_truncated=self.truncated,
        )


class _Lines:
    """LF-framed lines of one direction, each at most `_MAX_LINE` bytes kept."""

    __slots__ = ("buf", "cut", "discard")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.cut: bytes | None = None  # first _MAX_LINE bytes of an over-long line
        self.discard = False  # after a gap: drop bytes up to the next LF

    def lines(self, data: bytes) -> list[tuple[bytes, bool]]:
        out: list[tuple[bytes, bool]] = []
        buf = self.buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if self.discard:
                self.discard = False
            elif self.cut is not None:
                out.append((self.cut, True))
                self.cut = None
            else:
                line = bytes(buf[start:nl])
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) > _MAX_LINE:
                    out.append((line[:_MAX_LINE], True))
                else:
                    out.append((line, False))
            start = nl + 1
        del buf[:start]
        if len(buf) > _MAX_LINE:
            if not self.discard and self.cut is None:
                self.cut = bytes(buf[:_MAX_LINE])
            buf.clear()
        return out

    def gap(self) -> None:
        self.buf.clear()
        self.cut = None
        self.discard = True


class FtpParser(AppParser):
    name = "ftp"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self._lines = (_Lines(), _Lines())
        self._pending: deque[tuple[int, _Tx]] = deque()  # opened, not completed
        self._tx_count = 0
        self._multi: bytes | None = None  # code of the multi-line reply being read

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        for line, cut in self._lines[direction].lines(data):
            if self.done[direction]:
                return
            if direction == TO_SERVER:
                self._command(line, cut, ts_us)
            else:
                self._reply(line, cut, ts_us)

    def gap(self, direction: int, ts_us: int) -> None:
        self._lines[direction].gap()
        if direction == TO_CLIENT:
            self._multi = None

    def close(self, ts_us: int) -> None:
        while self._pending:
            tx_id, tx = self._pending.popleft()
            self.emit(FtpEvent, tx.info(False), TO_SERVER, ts_us, tx_id)

    def _open(self, tx: _Tx, ts_us: int) -> None:
        self._pending.append((self._tx_count, tx))
        self._tx_count += 1
        if len(self._pending) > self.limits.max_pending:
            tx_id, old = self._pending.popleft()
            self.emit(FtpEvent, old.info(False), TO_SERVER, ts_us, tx_id)

    def _command(self, line: bytes, cut: bool, ts_us: int) -> None:
        k = 0
        while k + 1 < len(line) and line[k] == _IAC:
            k += 2  # telnet command (IAC IP, IAC DM...)
        line = line[k:]
        if not line.strip():
            return
        if line[:2] == b"\x16\x03":  # a TLS record: AUTH TLS answered unseen
            self.done[TO_SERVER] = self.done[TO_CLIENT] = True
            return
        sp = line.find(b" ")
        raw_verb = line if sp < 0 else line[:sp]
        if not raw_verb or len(raw_verb) > _MAX_VERB or not all(0x21 <= c < 0x7F for c in raw_verb):
            raise ParseError(f"ftp command verb {raw_verb[:_MAX_VERB]!r} is not a word")
        verb = raw_verb.decode("ascii").upper()
        data: str | None = None
        if sp >= 0:
            arg = line[sp + 1 :]
            data = PASSWORD_REDACTED if verb == "PASS" else text(arg)
        tx = _Tx(verb, data, cut)
        if sp >= 0:
            tx.port = port_of_command(verb, line[sp + 1 :])
        self._open(tx, ts_us)

    def _reply(self, line: bytes, cut: bool, ts_us: int) -> None:
        if not line:
            return
        if not self._pending:
            self._open(_Tx(None, None, False), ts_us)
        tx_id, tx = self._pending[0]
        code = line[:3] if len(line) >= 3 and line[:3].isdigit() else None
        if len(tx.replies) < self.limits.max_items:
            if code is not None:
                tx.codes.append(code.decode("ascii"))
                if len(line) >= 4:
                    tx.replies.append(text(line[4:]))
            else:
                tx.replies.append(text(line))
        else:
            tx.truncated = True
        if cut:
            tx.truncated = True
        port = port_of_reply(tx.command, line)
        if port is not None:
            tx.port = port
        if self._multi is not None:  # inside `ddd-` ... until `ddd SP`
            if not (code == self._multi and line[3:4] in (b" ", b"")):
                return
            self._multi = None
        elif code is not None and line[3:4] == b"-":
            self._multi = code
            return
        if code is not None and code[:1] == b"1":
            return  # preliminary: the final reply follows
        self._pending.popleft()
        self.emit(FtpEvent, tx.info(True), TO_SERVER, ts_us, tx_id)
        if tx.command == "AUTH" and code == b"234":  # TLS from here on
            self.done[TO_SERVER] = self.done[TO_CLIENT] = True
