"""Byte streams and the reusable block buffer the record-walking kernels run over.

`open_stream(path)` opens a file, plain or gzip (sniffed from the 1f 8b magic), as a `Stream`
whose `readinto` fills a NumPy buffer. `Window` holds one reusable buffer: `fill(n)` makes sure
`n` unconsumed bytes are present, moving the partial tail record to the front and reading a whole
block after it. Moving the tail overwrites the buffer: a `PacketBatch` viewing it is valid only
until the next `fill`.

Errors: `UnreadableCapture` (OS errors), `TruncatedCapture` (gzip stream cut short),
`CorruptCapture` (bad gzip data). A gzip error is raised only once the bytes decompressed before
it have been handed out, so the packets they hold are still read.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tocsin.capture.errors import CaptureError, CorruptCapture, TruncatedCapture, unreadable

GZIP_MAGIC = b"\x1f\x8b"
_GZ_CHUNK = 1 << 20


class Stream(Protocol):
    """A readable byte stream of the (decompressed) capture content."""

    gzip: bool

    def readinto(self, out: memoryview) -> int:
        """Fill `out` as far as possible; 0 means end of stream."""
        ...

    def disk_bytes(self) -> int:
        """On-disk bytes consumed so far (compressed bytes for gzip)."""
        ...

    def close(self) -> None: ...


class RawStream:
    """An uncompressed file."""

    gzip = False

    def __init__(self, path: Path, f: io.FileIO) -> None:
        self._path = path
        self._f = f
        self._read = 0

    def readinto(self, out: memoryview) -> int:
        got = 0
        try:
            while got < len(out):
                k = self._f.readinto(out[got:])
                if not k:
                    break
                got += k
        except OSError as err:
            raise unreadable(self._path, err) from err
        self._read += got
        return got

    def disk_bytes(self) -> int:
        return self._read

    def close(self) -> None:
        self._f.close()


class GzipStream:
    """A gzip file (one or several members), decompressed on the fly with zlib."""

    gzip = True

    def __init__(self, path: Path, f: io.FileIO) -> None:
        self._path = path
        self._f = f
        self._d = zlib.decompressobj(31)
        self._inp = b""
        self._read = 0
        self._out = 0
        self._got = 0
        self._pending: CaptureError | None = None

    def _raw(self) -> bytes:
        try:
            data = self._f.read(_GZ_CHUNK)
        except OSError as err:
            raise unreadable(self._path, err) from err
        self._read += len(data)
        return data

    def readinto(self, out: memoryview) -> int:
        if self._pending is not None:
            err, self._pending = self._pending, None
            raise err
        self._got = 0
        try:
            self._decompress(out)
        except CaptureError as err:
            if not self._got:
                raise
            self._pending = err  # raised at the next call, once these bytes are used
        self._out += self._got
        return self._got

    def _decompress(self, out: memoryview) -> None:
        """Decompress into `out`, counting in `self._got` (kept if an error interrupts)."""
        while self._got < len(out):
            if self._d.eof:
                rest = self._d.unused_data or self._raw()
                if not rest.strip(b"\0"):
                    break  # clean end (trailing zero padding tolerated)
                if not rest.startswith(GZIP_MAGIC):
                    raise CorruptCapture(
                        self._path, f"data after the gzip stream at compressed byte {self._read}"
                    )
                self._d = zlib.decompressobj(31)
                self._inp = rest
            if not self._inp:
                self._inp = self._raw()
                if not self._inp:
                    raise TruncatedCapture(
                        self._path,
                        f"gzip stream truncated: compressed data ends at byte {self._read} "
                        f"({self._out + self._got} bytes decompressed)",
                    )
            try:
                chunk = self._d.decompress(self._inp, len(out) - self._got)
            except zlib.error as err:
                raise CorruptCapture(self._path, f"gzip data corrupt: {err}") from err
            self._inp = self._d.unconsumed_tail
            out[self._got : self._got + len(chunk)] = chunk
            self._got += len(chunk)

    def disk_bytes(self) -> int:
        return self._read

    def close(self) -> None:
        self._f.close()


def open_stream(path: Path) -> Stream:
    """Open `path`; raise `UnreadableCapture` with the OS reason if it cannot be read."""
    try:
        f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the stream
    except OSError as err:
        raise unreadable(path, err) from err
    try:
        head = f.read(2)
        f.seek(0)
    except OSError as err:
        f.close()
        raise unreadable(path, err) from err
    if head == GZIP_MAGIC:
        return GzipStream(path, f)
    return RawStream(path, f)


def sniff(path: Path) -> bytes:
    """The first 4 content bytes of `path` (decompressed if gzip); b"" if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return b""
    if head.startswith(GZIP_MAGIC):
        try:
            return zlib.decompressobj(31).decompress(head, 4)
        except zlib.error:
            return b""
    return head[:4]


class Window:
    """A reusable byte buffer over a `Stream`: `buf[lo:hi]` is read but not yet consumed.

    `base` is the stream offset of `buf[0]`; the buffer grows (never shrinks) when one record
    does not fit in a block.
    """

    def __init__(self, stream: Stream, block_size: int) -> None:
        self.stream = stream
        self.buf: npt.NDArray[np.uint8] = np.empty(block_size, dtype=np.uint8)
        self.lo = 0
        self.hi = 0
        self.base = 0
        self.eof = False

    @property
    def avail(self) -> int:
        return self.hi - self.lo

    def fill(self, n: int) -> bool:
        """Make `buf[lo:lo+n]` valid; False if the stream ends first (then `avail < n`)."""
        if self.hi - self.lo >= n:
            return True
        if self.lo:
            tail = self.hi - self.lo
            self.buf[:tail] = self.buf[self.lo : self.hi]
            self.base += self.lo
            self.lo, self.hi = 0, tail
        if n > self.buf.shape[0]:
            bigger = np.empty(max(n, 2 * self.buf.shape[0]), dtype=np.uint8)
            bigger[: self.hi] = self.buf[: self.hi]
            self.buf = bigger
        view = memoryview(self.buf)  # type: ignore[arg-type]
        while self.hi - self.lo < n and not self.eof:
            got = self.stream.readinto(view[self.hi :])
            if got == 0:
                self.eof = True
            self.hi += got
        return self.hi - self.lo >= n

    def peek(self, n: int, at: int = 0) -> bytes:
        """`n` bytes at `lo + at` (the caller has filled them)."""
        start = self.lo + at
        return bytes(self.buf[start : start + n])

    def where(self, pos: int) -> str:
        """Describe buffer index `pos` as a stream position for an error message."""
        off = self.base + pos
        return f"byte {off} of the decompressed data" if self.stream.gzip else f"byte {off}"
