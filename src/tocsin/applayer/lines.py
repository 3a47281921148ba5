"""LF-framed text lines of one stream direction, for the line-based mail parsers (pop3, imap).

`LineReader.lines(data)` yields each complete line (without the LF and one CR before it) and
whether it was cut. A line longer than `max_line` bytes is kept cut to that length and marked;
the rest up to its LF is dropped, so memory per direction is bounded by one line.

`skip(n)`: the next `n` bytes are not lines (an IMAP literal `{n}`): they are dropped as they
come, without being kept, then framing resumes. Calling it while iterating `lines` applies to
the bytes after the line just yielded. `gap()`: bytes were lost: the partial line is dropped and
framing resumes after the next LF.
"""

from __future__ import annotations

from collections.abc import Iterator


def text(data: bytes) -> str:
    """Bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII kept and every other
    byte as `\\xNN`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("ascii", errors="backslashreplace")


class LineReader:
    __slots__ = ("buf", "cut", "discard", "literal", "max_line")

    def __init__(self, max_line: int) -> None:
        self.max_line = max_line
        self.buf = bytearray()
        self.cut: bytes | None = None  # first max_line bytes of an over-long line
        self.discard = False  # after a gap: drop bytes up to the next LF
        self.literal = 0  # bytes still to drop unread (skip)

    def skip(self, n: int) -> None:
        self.literal += max(n, 0)

    def pending_skip(self) -> int:
        """Bytes still to skip once the buffer is empty (the dispatcher may drop them)."""
        return self.literal if not self.buf else 0

    def take_skip(self) -> int:
        """Hand the remaining skip to the caller (who drops those bytes elsewhere)."""
        n = self.pending_skip()
        self.literal -= n
        return n

    def lines(self, data: bytes) -> Iterator[tuple[bytes, bool]]:
        buf = self.buf
        buf += data
        start = 0
        try:
            while True:
                if self.literal:
                    k = min(self.literal, len(buf) - start)
                    start += k
                    self.literal -= k
                    if self.literal:
                        break
                nl = buf.find(b"\n", start)
                if nl < 0:
                    break
                line = bytes(buf[start:nl])
                start = nl + 1
                if self.discard:
                    self.discard = False
                    continue
                if self.cut is not None:
                    cut, self.cut = self.cut, None
                    yield cut, True
                    continue
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) > self.max_line:
                    yield line[: self.max_line], True
                else:
                    yield line, False
        finally:
            del buf[:start]
            if len(buf) > self.max_line and not self.literal:
                if not self.discard and self.cut is None:
                    self.cut = bytes(buf[: self.max_line])
                buf.clear()

    def gap(self) -> None:
        self.buf.clear()
        self.cut = None
        self.literal = 0
        self.discard = True
