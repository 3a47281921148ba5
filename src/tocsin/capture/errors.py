"""Errors a capture reader raises (or collects) for input it cannot read.

Every error names the file and says what is wrong in one line a user can act on::

    capture.pcap: truncated packet record at byte 123456 (packet 812): 40 of 1514 bytes present

``str(err) == f"{err.path}: {err.problem}"``. Packet numbers are 1-based, like Wireshark's frame
numbers; byte offsets are 0-based, in the decompressed stream for gzip files.

Anything else escaping a reader is a bug, not a property of the input.
"""

from __future__ import annotations

from pathlib import Path


class CaptureError(Exception):
    """A capture file cannot be (fully) read: `path` is the file, `problem` says why."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"

    def __reduce__(self) -> tuple[type[CaptureError], tuple[Path, str]]:
        return (type(self), (self.path, self.problem))


class BadMagic(CaptureError):
    """The file starts with neither a pcap, a pcapng nor a gzip magic number."""


class TruncatedCapture(CaptureError):
    """The file (or its gzip stream) ends inside a header, a record or a block."""


class UnsupportedLinkType(CaptureError):
    """The link type of the file or of an interface is not one the decoder understands."""


class UnreadableCapture(CaptureError):
    """The path cannot be opened (missing, permission, a directory without captures...)."""


class CorruptCapture(CaptureError):
    """A length or field is inconsistent (pcapng block length, absurd caplen, bad gzip data...)."""


def unreadable(path: Path, err: OSError) -> UnreadableCapture:
    """An `UnreadableCapture` carrying the OS reason of `err` ("No such file or directory")."""
    reason = err.strerror or type(err).__name__
    return UnreadableCapture(path, f"cannot read: {reason}")
