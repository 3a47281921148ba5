"""Where EVE lines go: a file (or standard output), written in large buffered blocks.

Flow lines arrive as pre-formatted bytes from the compiled formatter; every other event is a
typed record encoded with msgspec. Lines are written in the order they are given.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import msgspec

from tocsin.model.events import Event
from tocsin.model.exercise import ExerciseMark

# errors that mean "no in-kernel copy between these two files": copy through memory
_NO_KERNEL_COPY = frozenset(
    [errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF]
)


def _copy(src: int, dst: int, offset: int, length: int) -> int:
    try:
        return os.copy_file_range(src, dst, length, offset)
    except OSError as err:
        if err.errno not in _NO_KERNEL_COPY:
            raise
    return os.sendfile(dst, src, offset, length)


class EveSinkError(Exception):
    """The EVE output cannot be opened or written (names the path and the OS reason)."""


class EveSink:
    """Appends EVE JSON lines to `path` ("-" = standard output). Counts events by type.
    With `mark`, every line carries it as its `exercise` member."""

    def __init__(
        self,
        path: str | Path,
        *,
        buffer_bytes: int = 4 << 20,
        mark: ExerciseMark | None = None,
        flush_s: float | None = None,
    ) -> None:
        self.path = str(path)
        # an exercise replay: `"exercise": {...}` closes every line (see model.exercise)
        self._mark = None if mark is None else b',"exercise":' + msgspec.json.encode(mark) + b"}\n"
        self.counts: dict[str, int] = {}
        self._encoder = msgspec.json.Encoder()
        try:
            if self.path == "-":
                self._fh: BinaryIO = sys.stdout.buffer
                self._own = False
            else:
                self._fh = open(self.path, "wb", buffering=buffer_bytes)  # noqa: SIM115
                self._own = True
        except OSError as err:
            raise EveSinkError(f"{self.path}: cannot write EVE output: {err.strerror}") from err
        # a live sensor: lines reach the file within `flush_s` (for followers: the uplink)
        self._closing = threading.Event()
        if flush_s is not None:
            threading.Thread(
                target=self._flusher, args=(flush_s,), name="eve-flush", daemon=True
            ).start()

    def _flusher(self, every: float) -> None:
        while not self._closing.wait(every):
            try:
                self._fh.flush()
            except (OSError, ValueError):  # closed meanwhile, or a full disk: close() says
                return

    def reopen(self, path: str | Path) -> None:
        """Go on in another file (a worker's next spill segment)."""
        self.close()
        try:
            self._fh = open(path, "wb", buffering=1 << 20)  # noqa: SIM115
        except OSError as err:
            raise EveSinkError(f"{path}: cannot write EVE output: {err.strerror}") from err
        self.path = str(path)
        self._own = True

    def checkpoint(self) -> tuple[int, dict[str, int]]:
        """Flush, and return the file's size and the lines written since the last
        checkpoint, by event type (a worker's spill file: see `runtime.shard`)."""
        self._flush()
        counts, self.counts = self.counts, {}
        return self._fh.tell(), counts

    def copy_from(self, fd: int, offset: int, length: int, counts: dict[str, int]) -> None:
        """Append `length` bytes of lines another sink wrote to file `fd` from `offset`,
        counting them as it counted: in the kernel where it can (copy_file_range, then
        sendfile), through memory otherwise (an exercise mark to add, an old kernel)."""
        for key, n in counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        if length <= 0:
            return
        if self._mark is None:
            self._flush()
            out = self._fh.fileno()
            try:
                while length > 0:
                    n = _copy(fd, out, offset, length)
                    if n <= 0:
                        break
                    offset += n
                    length -= n
            except OSError as err:
                if err.errno not in _NO_KERNEL_COPY:
                    raise EveSinkError(
                        f"{self.path}: cannot write EVE output: {err.strerror}"
                    ) from err
        while length > 0:
            data = os.pread(fd, min(length, 8 << 20), offset)
            if not data:
                raise EveSinkError(f"{self.path}: a worker's EVE lines are missing")
            self._write(data)
            offset += len(data)
            length -= len(data)

    def _flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as err:
            raise EveSinkError(f"{self.path}: cannot write EVE output: {err.strerror}") from err

    def write_lines(self, data: bytes | memoryview, event_type: str, count: int) -> None:
        """Write pre-formatted lines (each ending in a newline) of one event type."""
        if count:
            self._write(data)
            self.counts[event_type] = self.counts.get(event_type, 0) + count

    def write(self, event: Event) -> None:
        tag = type(event).__struct_config__.tag
        self._write(self._encoder.encode(event) + b"\n")
        key = str(tag)
        self.counts[key] = self.counts.get(key, 0) + 1

    def _write(self, data: bytes | memoryview) -> None:
        if self._mark is not None:  # a raw newline only ends a line: JSON escapes the others
            data = bytes(data).replace(b"}\n", self._mark)
        try:
            self._fh.write(data)
        except OSError as err:
            raise EveSinkError(f"{self.path}: cannot write EVE output: {err.strerror}") from err

    def close(self) -> None:
        self._closing.set()
        try:
            if self._own:
                self._fh.close()
            else:
                self._fh.flush()
        except OSError as err:
            raise EveSinkError(f"{self.path}: cannot write EVE output: {err.strerror}") from err
