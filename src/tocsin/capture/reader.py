"""What the pcap and pcapng readers share: the block window, the output arrays, the counters.

A reader is opened on one file by `tocsin.capture.source.open_reader`, which parses the file
header (raising `CaptureError` for a bad one). `batches()` then yields `PacketBatch` views:

- ``data`` is the reader's block buffer and ``offset`` indexes into it; the arrays are the
  reader's reusable output arrays. A batch is valid until the next batch is requested (the buffer
  and arrays are overwritten then); copy what must outlive it.
- A batch holds at most `batch_packets` packets, never zero.
- A truncation or corruption raises `CaptureError` after every packet before it was yielded.
- Problems that do not stop reading (an interface with an unsupported link type) go to `errors`;
  the packets not yielded are counted in `skipped_packets` by reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from tocsin.capture.batch import SUPPORTED_LINKTYPES, PacketBatch
from tocsin.capture.errors import CaptureError
from tocsin.capture.stream import Window
from tocsin.jit import inline_kernel

# A captured packet longer than this is taken as a corrupt length field, not a packet.
MAX_CAPLEN = 256 * 1024

# Status codes the walking kernels return.
ST_NEED = 0  # the next record is incomplete in the buffer: `need` bytes from `pos` are required
ST_FULL = 1  # `max_n` packets were written
ST_CONTROL = 2  # pcapng: an SHB or IDB at `pos`, for Python to parse
ST_CORRUPT = 3  # the record at `pos` is inconsistent (kernel-specific detail code)


@inline_kernel
def rd_u32(buf, p, big):  # type: ignore[no-untyped-def]
    """Unsigned 32-bit field at `buf[p]` as int64, big- or little-endian."""
    if big:
        return (
            (np.int64(buf[p]) << 24)
            | (np.int64(buf[p + 1]) << 16)
            | (np.int64(buf[p + 2]) << 8)
            | np.int64(buf[p + 3])
        )
    return (
        np.int64(buf[p])
        | (np.int64(buf[p + 1]) << 8)
        | (np.int64(buf[p + 2]) << 16)
        | (np.int64(buf[p + 3]) << 24)
    )


@inline_kernel
def rd_u16(buf, p, big):  # type: ignore[no-untyped-def]
    """Unsigned 16-bit field at `buf[p]` as int64."""
    if big:
        return (np.int64(buf[p]) << 8) | np.int64(buf[p + 1])
    return np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8)


def supported_list() -> str:
    return ", ".join(str(k) for k in sorted(SUPPORTED_LINKTYPES))


class BaseReader:
    """One open capture file; subclasses implement `batches`."""

    def __init__(self, path: Path, window: Window, *, batch_packets: int) -> None:
        if batch_packets < 1:
            raise ValueError(f"batch_packets must be >= 1, not {batch_packets}")
        self.path = path
        self.window = window
        self.errors: list[CaptureError] = []
        self.packets_read = 0
        self._skipped: dict[str, int] = {}
        self._off = np.empty(batch_packets, dtype=np.int64)
        self._cap = np.empty(batch_packets, dtype=np.uint32)
        self._wire = np.empty(batch_packets, dtype=np.uint32)
        self._ts = np.empty(batch_packets, dtype=np.int64)
        self._lt = np.empty(batch_packets, dtype=np.uint16)

    @property
    def batch_packets(self) -> int:
        return int(self._off.shape[0])

    @property
    def bytes_read(self) -> int:
        """On-disk bytes consumed so far (compressed bytes for gzip)."""
        return self.window.stream.disk_bytes()

    @property
    def skipped_packets(self) -> dict[str, int]:
        """Packets read but not yielded, by reason."""
        return dict(self._skipped)

    def _batch(self, n: int) -> PacketBatch:
        self.packets_read += n
        return PacketBatch(
            data=self.window.buf[: self.window.hi],
            offset=self._off[:n],
            caplen=self._cap[:n],
            wirelen=self._wire[:n],
            ts_us=self._ts[:n],
            linktype=self._lt[:n],
        )

    def batches(self) -> Iterator[PacketBatch]:
        raise NotImplementedError

    def close(self) -> None:
        self.window.stream.close()

    def __enter__(self) -> BaseReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
