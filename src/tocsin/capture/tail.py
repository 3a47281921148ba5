"""Following a growing log file the way Filebeat does: complete lines, resumable, rotation-safe.

`Follower(path, position)` reads the lines appended to `path` since `position`; `read(n)` gives at
most `n` complete lines (bytes, without their ``\\n``; a ``\\r`` before it is kept) and the
`Position` after them, which the caller stores (`Position.to_json`) and hands back after a restart.
No threads and no sleeping: the caller polls.

Contract, per `read` call:

- A line is returned once, when its ``\\n`` has been written; a partial last line waits.
- The position is always the start of the next unread line: a line being written, or a long line
  being skipped, is read again from its start after a restart.
- **Rotation by rename** (the path now names another inode): the new file is opened at once
  (`rotations`), and the old one stays open: its remaining complete lines come first. The old
  file is closed once it is read to its end *and* a newer one holds data (the writer has moved
  on: until then it may still append to the old file). A partial line left at the end of a closed
  file is dropped (`partials_dropped`). Two rotations between polls lose nothing as long as the
  follower had polled once since the middle file was created; at most `MAX_OPEN` files are held.
- **Truncation in place** (copytruncate): the file is shorter than what was read, or the byte
  before the position is not a ``\\n`` (truncated and written again past the position): reading
  restarts at 0 (`truncations`). A file truncated and regrown with a ``\\n`` by chance just before
  the position is not detected (Filebeat has the same blind spot).
- **Absent file** (not yet created, or between the rename and the re-creation of a rotation):
  no lines, no error; the position is kept (``Position(0, 0, 0)`` before any file was seen).
- **Resumed position** whose inode the path no longer names: the inode is looked for among the
  path's siblings (``conn.log.1``...) and, when found, read to its end first, as for a rotation;
  when gone, the current file is read from 0 (`lost_positions`). Only the position's file and
  the one the path names are read after a restart: a file rotated through in between is missed.
- Lines longer than `max_line` bytes are skipped (`skipped_long`) without ever being held whole:
  memory is bounded by `max_line` plus one read chunk.

Errors: reading a path that exists but cannot be read (permission, a directory) raises `OSError`.
`Position.from_json` raises `ValueError` on malformed input. Nothing else raises.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from types import TracebackType

import msgspec

DEFAULT_MAX_LINE = 16 * 1024 * 1024
CHUNK = 64 * 1024
MAX_OPEN = 8  # files kept open across rotations; past this the oldest is closed once read


class Position(msgspec.Struct, frozen=True):
    """Where the next unread line of a file starts: device, inode and byte offset."""

    dev: int
    ino: int
    offset: int

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Position:
        """The position `to_json` wrote; `ValueError` naming the problem when `data` is not one."""
        try:
            pos = msgspec.json.decode(data, type=cls)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise ValueError(f"not a tail position: {err}") from None
        if pos.offset < 0:
            raise ValueError("not a tail position: negative offset")
        return pos


_NOWHERE = Position(0, 0, 0)


class _Handle:
    """One open file: its identity, the next unread line's offset and the bytes read past it."""

    def __init__(self, fd: int, offset: int) -> None:
        st = os.fstat(fd)
        self.fd = fd
        self.dev = st.st_dev
        self.ino = st.st_ino
        self.offset = offset  # start of the next unread line
        self.read_pos = offset  # next byte to read from the file
        self.buf = bytearray()  # bytes [offset, read_pos) when not skipping
        self.scanned = 0  # bytes of buf known to hold no newline
        self.skipping = False  # inside a line longer than the cap, discarding it

    def position(self) -> Position:
        return Position(self.dev, self.ino, self.offset)

    def rewind(self) -> None:
        self.offset = self.read_pos = self.scanned = 0
        self.buf.clear()
        self.skipping = False

    def damaged(self) -> bool:
        """True when the file no longer holds what was read: shorter, or no `\\n` before offset."""
        if os.fstat(self.fd).st_size < self.read_pos:
            return True
        return self.offset > 0 and os.pread(self.fd, 1, self.offset - 1) != b"\n"


def _open(path: Path | str) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None


class Follower:
    """Follow one log file by path across rotations; see the module docstring for the contract."""

    def __init__(
        self,
        path: str | Path,
        position: Position | None = None,
        *,
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self.path = Path(path)
        self.max_line = max_line
        self._resume = position if position is not None and position.ino else None
        self._pos = position or _NOWHERE
        self._hs: list[_Handle] = []  # open files, oldest (being read) first, newest last
        self.lines = 0
        self.rotations = 0
        self.truncations = 0
        self.skipped_long = 0
        self.lost_positions = 0
        self.partials_dropped = 0
        self._start()  # anchor on the file there now, so that a rotation before `read` is seen

    # -- public ------------------------------------------------------------------------------

    def read(self, max_lines: int) -> tuple[list[bytes], Position]:
        """Up to `max_lines` complete new lines and the position after them."""
        out: list[bytes] = []
        if not self._hs and not self._start():
            return out, self._pos
        self._look()
        hs = self._hs
        while len(out) < max_lines:
            h = hs[0]
            if h.damaged():
                h.rewind()
                self.truncations += 1
            self._read_lines(h, max_lines - len(out), out)
            if len(out) >= max_lines or len(hs) == 1:
                break
            # `h` is read to its end; a newer file holding data means the writer has moved on
            if len(hs) <= MAX_OPEN and all(os.fstat(n.fd).st_size == 0 for n in hs[1:]):
                break
            if os.fstat(h.fd).st_size > h.read_pos:
                continue  # the writer's last bytes to the old file came after we read its end
            if h.buf or h.skipping:
                self.partials_dropped += 1
            os.close(hs.pop(0).fd)
        self._pos = hs[0].position()
        self.lines += len(out)
        return out, self._pos

    @property
    def position(self) -> Position:
        """The position after the lines returned so far."""
        return self._pos

    def close(self) -> None:
        while self._hs:
            os.close(self._hs.pop().fd)

    def __enter__(self) -> Follower:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- opening and rotation -----------------------------------------------------------------

    def _start(self) -> bool:
        """Open the file to read first (resumed inode or the path); False when there is none."""
        resume, self._resume = self._resume, None
        if resume is not None:
            fd = self._find(resume)
            if fd is not None:
                self._hs.append(_Handle(fd, resume.offset))
                return True
        fd = _open(self.path)
        if fd is None:
            self._resume = resume  # keep looking for it until the file appears
            return False
        self._hs.append(_Handle(fd, 0))
        if resume is not None:
            self.lost_positions += 1
        return True

    def _look(self) -> None:
        """When the path names a file other than the newest open one (a rotation), open it too."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return  # between the steps of a rotation: the open files are still read
        newest = self._hs[-1]
        if (st.st_dev, st.st_ino) == (newest.dev, newest.ino):
            return
        fd = _open(self.path)
        if fd is not None:
            self._hs.append(_Handle(fd, 0))
            self.rotations += 1

    def _find(self, pos: Position) -> int | None:
        """An fd on the file of `pos`: the path itself, or a sibling whose name starts like the
        path's (``conn.log.1``, ``conn.2026-11-30-10-00-00.log``) and still holds a line end just
        before the offset (a reused inode number is not taken for the file)."""
        fd = _open(self.path)
        if fd is not None:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (pos.dev, pos.ino):
                return fd  # a damaged file here counts as a truncation
            os.close(fd)
        stem = self.path.name.split(".")[0]
        try:
            with os.scandir(self.path.parent) as it:
                names = [e.path for e in it if e.inode() == pos.ino and e.name.startswith(stem)]
        except OSError:
            return None
        for name in names:
            fd = _open(name)
            if fd is None:
                continue
            st = os.fstat(fd)
            same = (st.st_dev, st.st_ino) == (pos.dev, pos.ino) and stat.S_ISREG(st.st_mode)
            if same and not _Handle(fd, pos.offset).damaged():
                return fd
            os.close(fd)
        return None

    # -- line splitting -----------------------------------------------------------------------

    def _read_lines(self, h: _Handle, want: int, out: list[bytes]) -> None:
        """Append up to `want` complete lines of `h` to `out`, reading until then or end of file."""
        got = 0
        while got < want:
            if not h.skipping:
                nl = h.buf.find(b"\n", h.scanned)
                if nl >= 0:
                    if nl > self.max_line:
                        self.skipped_long += 1
                    else:
                        out.append(bytes(h.buf[:nl]))
                        got += 1
                    del h.buf[: nl + 1]
                    h.offset += nl + 1
                    h.scanned = 0
                    continue
                h.scanned = len(h.buf)
                if len(h.buf) > self.max_line:
                    h.buf.clear()
                    h.scanned = 0
                    h.skipping = True
            chunk = os.pread(h.fd, CHUNK, h.read_pos)
            if not chunk:
                return
            h.read_pos += len(chunk)
            if not h.skipping:
                h.buf += chunk
                continue
            nl = chunk.find(b"\n")
            if nl >= 0:
                self.skipped_long += 1
                h.skipping = False
                h.offset = h.read_pos - len(chunk) + nl + 1
                h.buf += chunk[nl + 1 :]
