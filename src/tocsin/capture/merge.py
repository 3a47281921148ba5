"""Merging several capture files into one packet stream in time order (like `mergecap`).

Files of a rotated capture follow each other and merge into plain concatenation; files that
overlap in time (two interfaces captured apart, or a directory of several sensors' files)
interleave, so that flows see packets in time order. Within one file the packets keep their
order, even where its timestamps go backwards: files are merged on the running maximum of
their timestamps, which never decreases.

A file is opened only when the merge reaches its first packet's time, so a directory of
hundreds of rotated files holds one or two readers at a time. Memory is bounded by one batch
of pending packets per open file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import PacketBatch

_NEVER = np.iinfo(np.int64).max


class _Open:
    """One open file: its batch iterator and the packets read from it, not yet merged."""

    def __init__(self, batches: Iterator[PacketBatch]) -> None:
        self.batches = batches
        self.pending = PacketBatch.from_packets([])
        self.runmax: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # of timestamps
        self.more = True  # the file may hold more packets
        self._floor = np.iinfo(np.int64).min

    def pull(self) -> None:
        """Read the file's next non-empty batch into `pending` (or learn it is exhausted)."""
        for batch in self.batches:
            if batch.n:
                self.pending = own(batch)
                self.runmax = np.maximum.accumulate(np.maximum(self.pending.ts_us, self._floor))
                self._floor = int(self.runmax[-1])
                return
        self.more = False

    def drop(self, k: int) -> None:
        """Forget the first `k` pending packets (merged), reading more when none are left."""
        self.pending = _take(self.pending, k)
        self.runmax = self.runmax[k:]
        if self.pending.n == 0 and self.more:
            self.pull()


def own(batch: PacketBatch) -> PacketBatch:
    """A copy of `batch` that owns its bytes (reader batches are views into reused buffers)."""
    start = int(batch.offset[0])
    end = int((batch.offset + batch.caplen).max())
    return PacketBatch(
        data=batch.data[start:end].copy(),
        offset=batch.offset - start,
        caplen=batch.caplen.copy(),
        wirelen=batch.wirelen.copy(),
        ts_us=batch.ts_us.copy(),
        linktype=batch.linktype.copy(),
    )


def _take(batch: PacketBatch, start: int) -> PacketBatch:
    return PacketBatch(
        data=batch.data,
        offset=batch.offset[start:],
        caplen=batch.caplen[start:],
        wirelen=batch.wirelen[start:],
        ts_us=batch.ts_us[start:],
        linktype=batch.linktype[start:],
    )


def merge(
    sources: list[tuple[int | None, Callable[[], Iterator[PacketBatch]]]],
    batch_packets: int,
) -> Iterator[PacketBatch]:
    """Merge files given as (first packet time or None, function opening its batch iterator),
    sorted by first packet time. Yields batches of at most `batch_packets` packets."""
    waiting = list(sources)
    files: list[_Open] = []
    try:
        while True:
            # packets up to `bound` can go out: no open file can still bring an earlier one
            bound = min((int(f.runmax[-1]) for f in files if f.more), default=_NEVER)
            if waiting and (not files or waiting[0][0] is None or waiting[0][0] <= bound):
                f = _Open(waiting.pop(0)[1]())
                f.pull()
                files.append(f)
                continue
            live = [f for f in files if f.pending.n]
            if not live:
                if waiting:
                    continue
                return
            counts = [int(np.searchsorted(f.runmax, bound, side="right")) for f in live]
            keys = np.concatenate([f.runmax[:c] for f, c in zip(live, counts, strict=True)])
            rank = np.repeat(np.arange(len(live)), counts)
            order = np.lexsort((rank, keys))[:batch_packets]
            yield _gather([f.pending for f in live], counts, order)
            taken = np.bincount(rank[order], minlength=len(live))
            for f, k in zip(live, taken.tolist(), strict=True):
                f.drop(k)
            files = [f for f in files if f.pending.n or f.more]
    finally:
        for f in files:
            close = getattr(f.batches, "close", None)
            if close is not None:
                close()


def _gather(
    batches: list[PacketBatch], counts: list[int], order: npt.NDArray[np.intp]
) -> PacketBatch:
    """One batch of the first `counts[j]` packets of each `batches[j]`, in `order` (indexes into
    their concatenation). The batches' bytes are copied into one new buffer."""
    data = np.concatenate([b.data for b in batches])
    base = np.cumsum([0] + [b.data.shape[0] for b in batches[:-1]], dtype=np.int64)
    parts = list(zip(batches, counts, strict=True))
    offset = np.concatenate([b.offset[:c] + base[j] for j, (b, c) in enumerate(parts)])
    return PacketBatch(
        data=data,
        offset=offset[order],
        caplen=np.concatenate([b.caplen[:c] for b, c in parts])[order],
        wirelen=np.concatenate([b.wirelen[:c] for b, c in parts])[order],
        ts_us=np.concatenate([b.ts_us[:c] for b, c in parts])[order],
        linktype=np.concatenate([b.linktype[:c] for b, c in parts])[order],
    )
