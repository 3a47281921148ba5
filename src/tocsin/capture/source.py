"""Open a set of capture files (and directories of them) and read them in time order.

`open_capture(paths)`:

- expands each directory recursively to the files whose content starts with a pcap, pcapng or
  gzip-compressed pcap/pcapng magic (other files are ignored; a directory with none raises
  `UnreadableCapture`); a path named twice is read once;
- opens every file's header upfront, so a missing file, a wrong magic or an unsupported link
  type in any of them raises `CaptureError` before any packet is analysed;
- orders the files by the timestamp of their first packet (ties, and files without packets,
  which go last, by path).

`CaptureSet.batches()` then reads the files merged in time order (`capture.merge`: rotated
files simply follow each other; files that overlap in time interleave, each keeping its own
packet order). A truncation or corruption in a file ends that file: the packets before it are
yielded, the error goes to `CaptureSet.errors`, and reading goes on with the other files.
Batches are only valid until the next batch is requested. The counters (`bytes_read`,
`packets_read`...) feed a progress bar and the run summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType

from tocsin.capture.batch import PacketBatch
from tocsin.capture.errors import (
    BadMagic,
    CaptureError,
    TruncatedCapture,
    UnreadableCapture,
    unreadable,
)
from tocsin.capture.merge import merge
from tocsin.capture.pcap import PCAP_MAGICS, PcapReader
from tocsin.capture.pcapng import PCAPNG_MAGIC, PcapngReader
from tocsin.capture.reader import BaseReader
from tocsin.capture.stream import Window, open_stream, sniff

DEFAULT_BLOCK_SIZE = 16 * 1024 * 1024
DEFAULT_BATCH_PACKETS = 65536
_PROBE_BLOCK_SIZE = 64 * 1024
_MAGICS = (*PCAP_MAGICS, PCAPNG_MAGIC)


def open_reader(path: Path, *, block_size: int, batch_packets: int) -> BaseReader:
    """Open one capture file (pcap or pcapng, plain or gzip) and parse its header.

    Raises `UnreadableCapture`, `BadMagic`, `TruncatedCapture` (file shorter than its header),
    `CorruptCapture` or `UnsupportedLinkType`. The caller closes the returned reader.
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, not {block_size}")
    stream = open_stream(path)
    try:
        window = Window(stream, block_size)
        window.fill(4)
        magic = window.peek(min(4, window.avail))
        inside = " (inside gzip)" if stream.gzip else ""
        if magic in PCAP_MAGICS:
            return PcapReader(path, window, batch_packets=batch_packets)
        if magic == PCAPNG_MAGIC:
            return PcapngReader(path, window, batch_packets=batch_packets)
        if not magic:
            raise TruncatedCapture(path, f"empty file{inside}: no pcap or pcapng header")
        if len(magic) < 4 and any(m.startswith(magic) for m in _MAGICS):
            raise TruncatedCapture(path, f"file too short{inside}: {len(magic)} bytes")
        raise BadMagic(path, f"not a pcap or pcapng file{inside} (magic 0x{magic.hex()})")
    except BaseException:
        stream.close()
        raise


def expand(paths: Sequence[str | Path]) -> list[Path]:
    """The capture files named by `paths`, directories expanded (sorted), duplicates dropped."""
    out: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        path = Path(given)
        found = _scan_dir(path) if path.is_dir() else [path]
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                out.append(f)
    return out


def _scan_dir(root: Path) -> list[Path]:
    def fail(err: OSError) -> None:
        raise unreadable(Path(err.filename) if err.filename else root, err) from err

    found: list[Path] = []
    looked = 0
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        dirnames.sort()
        for name in sorted(filenames):
            looked += 1
            f = Path(dirpath) / name
            if sniff(f) in _MAGICS:
                found.append(f)
    if not found:
        raise UnreadableCapture(
            root, f"directory holds no pcap or pcapng file ({looked} files looked at)"
        )
    return found


@dataclass(frozen=True, slots=True)
class _Entry:
    path: Path
    size: int
    first_ts_us: int | None


def _probe(path: Path) -> _Entry:
    """Check the header of `path` (raising CaptureError) and find its first packet time."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise unreadable(path, err) from err
    with open_reader(path, block_size=_PROBE_BLOCK_SIZE, batch_packets=1) as reader:
        try:
            first = next(reader.batches(), None)
        except CaptureError:  # met again, and reported, when the file is read
            first = None
        ts = int(first.ts_us[0]) if first is not None else None
    return _Entry(path, size, ts)


def open_capture(
    paths: Sequence[str | Path],
    *,
    batch_packets: int = DEFAULT_BATCH_PACKETS,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> CaptureSet:
    """Open capture files and directories for reading in time order (see the module doc).

    `batch_packets` bounds the packets per batch; `block_size` is the read size in bytes (a
    record larger than it grows the buffer). Raises `CaptureError` for the first path that
    cannot be opened.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if batch_packets < 1:
        raise ValueError(f"batch_packets must be >= 1, not {batch_packets}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, not {block_size}")
    entries = [_probe(p) for p in expand(paths)]
    entries.sort(key=lambda e: (e.first_ts_us is None, e.first_ts_us or 0, str(e.path)))
    return CaptureSet(entries, batch_packets=batch_packets, block_size=block_size)


class CaptureSet:
    """Capture files opened by `open_capture`, read merged in time order by `batches()`."""

    def __init__(self, entries: list[_Entry], *, batch_packets: int, block_size: int) -> None:
        self._entries = entries
        self._batch_packets = batch_packets
        self._block_size = block_size
        self.errors: list[CaptureError] = []
        self._readers: list[BaseReader] = []  # open files (several while merging)
        self._open_paths: list[Path] = []  # their paths, in opening (time) order
        self._done_bytes = 0
        self._done_packets = 0
        self._done_skipped: dict[str, int] = {}
        self._running: Generator[PacketBatch, None, None] | None = None

    @property
    def files(self) -> list[Path]:
        """The files to read, in reading (time) order."""
        return [e.path for e in self._entries]

    @property
    def bytes_total(self) -> int:
        """Sum of the files' on-disk sizes."""
        return sum(e.size for e in self._entries)

    @property
    def bytes_read(self) -> int:
        """On-disk bytes consumed so far (compressed bytes for gzip files)."""
        return self._done_bytes + sum(r.bytes_read for r in self._readers)

    @property
    def packets_read(self) -> int:
        """Packets yielded so far."""
        return self._done_packets + sum(r.packets_read for r in self._readers)

    @property
    def skipped_packets(self) -> dict[str, int]:
        """Packets read but not yielded, by reason (e.g. "unsupported linktype 147")."""
        out = dict(self._done_skipped)
        for r in self._readers:
            _merge(out, r.skipped_packets)
        return out

    @property
    def current_file(self) -> Path | None:
        """The earliest file still being read (None before the first and after the last)."""
        return self._open_paths[0] if self._open_paths else None

    def batches(self) -> Iterator[PacketBatch]:
        """Yield the packets of every file in order; each call starts over from the first file.

        A batch is a view into the current reader's buffers: valid until the next one is
        requested. Errors that end a file go to `errors`; nothing is raised for them.
        """
        self.close()
        self.errors = []
        self._done_bytes = self._done_packets = 0
        self._done_skipped = {}
        self._running = self._read_all()
        return self._running

    def _read_all(self) -> Generator[PacketBatch, None, None]:
        if len(self._entries) == 1:
            yield from self._file_batches(self._entries[0])
        else:
            sources: list[tuple[int | None, Callable[[], Iterator[PacketBatch]]]] = [
                (e.first_ts_us, partial(self._file_batches, e)) for e in self._entries
            ]
            yield from merge(sources, self._batch_packets)

    def _file_batches(self, entry: _Entry) -> Generator[PacketBatch, None, None]:
        """The batches of one file; its errors go to `errors` and its counts to the totals."""
        self._open_paths.append(entry.path)
        fatal: CaptureError | None = None
        reader: BaseReader | None = None
        try:
            reader = open_reader(
                entry.path, block_size=self._block_size, batch_packets=self._batch_packets
            )
            self._readers.append(reader)
            yield from reader.batches()
        except CaptureError as err:
            fatal = err
        finally:
            self._finish_file(entry, reader)
        if fatal is not None:
            self.errors.append(fatal)

    def _finish_file(self, entry: _Entry, reader: BaseReader | None) -> None:
        self._open_paths.remove(entry.path)
        self._done_bytes += entry.size
        if reader is not None:
            self._readers.remove(reader)
            self.errors.extend(reader.errors)
            self._done_packets += reader.packets_read
            _merge(self._done_skipped, reader.skipped_packets)
            reader.close()

    def close(self) -> None:
        """Stop reading and close the open file (idempotent)."""
        if self._running is not None:
            self._running.close()
            self._running = None

    def __enter__(self) -> CaptureSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _merge(into: dict[str, int], more: dict[str, int]) -> None:
    for reason, count in more.items():
        into[reason] = into.get(reason, 0) + count
