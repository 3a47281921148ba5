"""Capture readers: pcap / pcapng files (plain or gzip) to `PacketBatch` blocks.

Entry point: `open_capture(paths)` returns a `CaptureSet`; its `batches()` yields the packets of
every file, in time order, as NumPy struct-of-arrays batches. Unreadable input raises (at open)
or collects (mid-file) a `CaptureError` subclass. See `source`, `pcap`, `pcapng`.
"""

from tocsin.capture.batch import SUPPORTED_LINKTYPES, PacketBatch
from tocsin.capture.errors import (
    BadMagic,
    CaptureError,
    CorruptCapture,
    TruncatedCapture,
    UnreadableCapture,
    UnsupportedLinkType,
)
from tocsin.capture.source import CaptureSet, open_capture

__all__ = [
    "SUPPORTED_LINKTYPES",
    "BadMagic",
    "CaptureError",
    "CaptureSet",
    "CorruptCapture",
    "PacketBatch",
    "TruncatedCapture",
    "UnreadableCapture",
    "UnsupportedLinkType",
    "open_capture",
]
