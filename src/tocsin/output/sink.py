"""Where EVE lines go: a file (or standard output), written in large buffered blocks.

Flow lines arrive as pre-formatted bytes from the compiled formatter; every other event is a
typed record encoded with msgspec. Lines are written in the order they are given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

import msgspec

from tocsin.model.events import Event
from tocsin.model.exercise import ExerciseMark


class EveSinkError(Exception):
    """The EVE output cannot be opened or written (names the path and the OS reason)."""


class EveSink:
    """Appends EVE JSON lines to `path` ("-" = standard output). Counts events by type.
    With `mark`, every line carries it as its `exercise` member."""

    def __init__(
        self, path: str | Path, *, buffer_bytes: int = 4 << 20, mark: ExerciseMark | None = None
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
        try:
            if self._own:
                self._fh.close()
            else:
                self._fh.flush()
        except OSError as err:
            raise EveSinkError(f"{self.path}: cannot write EVE output: {err.strerror}") from err
