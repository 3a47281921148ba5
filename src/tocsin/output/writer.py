"""`EveWriter`: formats and writes EVE events in order, on a background thread.

The pipeline hands ended-flow records and typed events to the writer in the order they
happen; a single writer thread formats flows (a compiled kernel that releases the GIL) and
writes everything to the sink in exactly that order, so the output stays deterministic while
formatting and writing run on another core than decoding. When the writer falls behind (its
queue is full, as under a flood where nearly every packet ends a flow), the caller formats
the next chunk itself before queueing it, so both cores format. The queue is bounded
(`depth` items): when the disk is slower than the traffic, the pipeline waits rather than
buffering without limit. A write error in the thread is raised again in the caller at the
next call.

`threaded=False` does the same work in the caller's thread (tests, debugging).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.model.events import Event
from tocsin.output.eve_flow import FlowFormatter
from tocsin.output.sink import EveSink

FlowsHook = Callable[[npt.NDArray[np.void]], None]
# flows formatted at once, at most: the formatter's output buffer is sized for the largest
# chunk (MAX_FLOW_LINE bytes a flow), so a timeout burst of 500 k flows must not make it 500 MB
MAX_CHUNK = 16_384
_STOP = object()


@dataclass(frozen=True, slots=True)
class _Formatted:
    """Flow lines the caller already formatted, with their records (for the summary hook)."""

    text: bytes
    records: npt.NDArray[np.void]


@dataclass(frozen=True, slots=True)
class _Sequence:
    """Ended flows (owned: not reused by the caller) and events, in order: `layout` says, item
    by item, how many of the next flows of `recs` to write, or which events."""

    recs: npt.NDArray[np.void] | None
    layout: list[int | list[Any]]
    pre: list[bytes] | None = None  # the flows' lines, formatted by the caller


def stack(arrays: list[npt.NDArray[np.void]]) -> npt.NDArray[np.void]:
    """`np.concatenate` for records of one dtype, without its per-call field promotion
    (tens of µs for a record type of 40 fields)."""
    out = np.empty(sum(a.shape[0] for a in arrays), dtype=arrays[0].dtype)
    at = 0
    for a in arrays:
        out[at : at + a.shape[0]] = a
        at += a.shape[0]
    return out


class EveWriter:
    """Ordered EVE output: `flows(records)`, `event(ev)`, `sequence(items)`, then `close()`."""

    def __init__(
        self,
        sink: EveSink,
        formatter: FlowFormatter,
        *,
        on_flows: FlowsHook | None = None,
        threaded: bool = True,
        depth: int = 4,
    ) -> None:
        self.sink = sink
        self.formatter = formatter
        self.on_flows = on_flows
        self._error: BaseException | None = None
        self._queue: queue.Queue[object] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=depth)
            self._helper = FlowFormatter(formatter.seed)  # the caller's own buffers
            self._thread = threading.Thread(target=self._run, name="tocsin-eve", daemon=True)
            self._thread.start()

    def flows(self, ended: npt.NDArray[np.void]) -> None:
        """Log ended flows (copied: the caller's buffer may be reused at once)."""
        if ended.shape[0] == 0:
            return
        if ended.shape[0] > MAX_CHUNK:  # the formatter's buffer grows with the chunk
            for k in range(0, ended.shape[0], MAX_CHUNK):
                self.flows(ended[k : k + MAX_CHUNK])
            return
        if self._queue is None:
            self._write_flows(ended)
        elif self._queue.full():  # the writer is behind: format here, in parallel with it
            self._put(_Formatted(bytes(self._helper.format(ended)), ended.copy()))
        else:
            self._put(ended.copy())

    def event(self, ev: Event) -> None:
        if self._queue is None:
            self.sink.write(ev)
        else:
            self._put(ev)

    def sequence(self, items: list[npt.NDArray[np.void] | list[Any]]) -> None:
        """Log flow arrays and event lists interleaved, in order, as one queue item. The
        arrays must belong to the writer from now on (not be reused by the caller).

        The flows of all items are formatted together, in pieces of `MAX_CHUNK` (one kernel
        call per piece, however finely events cut them), and written back in their places."""
        if not items:
            return
        arrays = [it for it in items if isinstance(it, np.ndarray) and it.shape[0]]
        recs = (arrays[0] if len(arrays) == 1 else stack(arrays)) if arrays else None
        layout: list[int | list[Any]] = [
            it.shape[0] if isinstance(it, np.ndarray) else it for it in items
        ]
        if self._queue is None:
            self._write_sequence(recs, layout)
            return
        pre: list[bytes] | None = None
        if recs is not None and self._queue.full():  # the writer is behind: format here
            pre = [
                bytes(self._helper.format(recs[k : k + MAX_CHUNK]))
                for k in range(0, recs.shape[0], MAX_CHUNK)
            ]
        self._put(_Sequence(recs, layout, pre))

    def _write_sequence(
        self,
        recs: npt.NDArray[np.void] | None,
        layout: list[int | list[Any]],
        pre: list[bytes] | None = None,
    ) -> None:
        at = 0  # next record to write
        win = 0  # first record of the formatted window
        text = memoryview(b"")
        ends: npt.NDArray[np.intp] = np.zeros(0, dtype=np.intp)
        for part in layout:
            if not isinstance(part, int):
                for ev in part:
                    self.sink.write(ev)
                continue
            left = part
            while left:
                assert recs is not None
                if at >= win + ends.shape[0]:  # format the next piece
                    win = at
                    if pre is not None:  # formatted by the caller, MAX_CHUNK flows a piece
                        text = memoryview(pre[at // MAX_CHUNK])
                    else:
                        text = self.formatter.format(recs[at : at + MAX_CHUNK])
                    ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10) + 1
                take = min(left, win + ends.shape[0] - at)
                a = int(ends[at - win - 1]) if at > win else 0
                b = int(ends[at - win + take - 1])
                self.sink.write_lines(text[a:b], "flow", take)
                at += take
                left -= take
        if recs is not None and self.on_flows is not None:
            self.on_flows(recs)

    def close(self) -> None:
        """Wait until everything is written; raise the writer's error if it had one."""
        if self._queue is not None and self._thread is not None:
            self._put(_STOP)
            self._thread.join()
            self._queue = None
        self._raise()

    def _put(self, item: object) -> None:
        self._raise()
        assert self._queue is not None
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def _write_flows(self, ended: npt.NDArray[np.void], text: bytes | None = None) -> None:
        lines = self.formatter.format(ended) if text is None else text
        self.sink.write_lines(lines, "flow", ended.shape[0])
        if self.on_flows is not None:
            self.on_flows(ended)

    def _run(self) -> None:
        assert self._queue is not None
        q = self._queue
        while True:
            item = q.get()
            if item is _STOP:
                return
            if self._error is not None:
                continue  # drain without writing after a failure
            try:
                if isinstance(item, np.ndarray):
                    self._write_flows(item)
                elif isinstance(item, _Formatted):
                    self._write_flows(item.records, item.text)
                elif isinstance(item, _Sequence):
                    self._write_sequence(item.recs, item.layout, item.pre)
                else:
                    self.sink.write(item)  # type: ignore[arg-type]
            except BaseException as exc:
                self._error = exc
