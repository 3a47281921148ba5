"""`FlowTable`: owns the flow kernel's arrays and drives it over decoded batches.

Usage (the pipeline's view)::

    table = FlowTable(FlowConfig())
    for chunk in table.update(pk, wirelen, ts_us):   # ended flows, as FLOW_DTYPE arrays
        write(chunk)
    table.slot / table.direction / table.flow_id      # per-packet results of the last batch
    table.app                                         # 1: payload for the Python app layer
    table.pstate                                      # PS_*: flow state as of each packet
    for chunk in table.flush():                       # end of capture: every remaining flow
        write(chunk)

The ended-flow arrays yielded are views into a reused buffer: consume each before asking for
the next. Memory is fixed at construction (`cap` flows); nothing grows with traffic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import N_ALPROTOS
from tocsin.flow.kernel import (
    N_ST,
    ST_CAP,
    ST_EMERG,
    ST_FREE_TOP,
    ST_LAST_TICK,
    ST_NOW,
    ST_RECOVER_BELOW,
    ST_TICK_US,
    FlowArrays,
    flow_expire,
    flow_expire_all,
    flow_flush,
    flow_update,
)
from tocsin.flow.layout import (
    FC_ACTIVE,
    FC_MEMUSE,
    FC_SPARE,
    FLOW_COUNTERS,
    FLOW_DTYPE,
    N_CLASSES,
    N_FLOW_COUNTERS,
    PCLASS_NAMES,
)

_NO_DATA: npt.NDArray[np.uint8] = np.zeros(1, dtype=np.uint8)
_NO_POS: npt.NDArray[np.int64] = np.zeros(1, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds of inactivity before a flow ends, per state (Suricata's flow-timeouts)."""

    new: int
    established: int
    closed: int
    emergency_new: int
    emergency_established: int
    emergency_closed: int


def _default_timeouts() -> dict[str, Timeouts]:
    return {
        "tcp": Timeouts(60, 600, 60, 5, 100, 10),
        "udp": Timeouts(30, 300, 0, 10, 100, 0),
        "icmp": Timeouts(30, 300, 0, 10, 100, 0),
        "default": Timeouts(30, 300, 0, 10, 100, 0),
    }


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Flow-table settings. `cap` bounds memory: about 200 bytes a flow, allocated upfront."""

    cap: int = 1_000_000
    emergency_recovery_pct: int = 30
    tick_s: float = 1.0
    ended_buffer: int = 16_384
    timeouts: dict[str, Timeouts] = field(default_factory=_default_timeouts)

    def __post_init__(self) -> None:
        if self.cap < 16:
            raise ValueError(f"flow cap must be at least 16, not {self.cap}")
        if not 0 < self.emergency_recovery_pct < 100:
            raise ValueError("emergency recovery must be a percentage between 1 and 99")
        if self.ended_buffer < 3:
            # the kernel keeps two entries in reserve and must end at least one flow per call
            raise ValueError(
                f"ended-flow buffer must hold at least 3 flows, not {self.ended_buffer}"
            )
        missing = set(PCLASS_NAMES) - set(self.timeouts)
        if missing:
            raise ValueError(f"flow timeouts missing for: {', '.join(sorted(missing))}")


class FlowTable:
    """The bounded bidirectional flow table (see `flow.kernel` for the algorithm)."""

    def __init__(self, config: FlowConfig) -> None:
        self.config = config
        cap = config.cap
        size = 1
        while size < 2 * cap:
            size <<= 1
        self.fl = np.zeros(cap, dtype=FLOW_DTYPE)
        self.idx = np.zeros(size, dtype=np.uint64)
        self.heads = np.full(N_CLASSES, -1, dtype=np.int32)
        self.tails = np.full(N_CLASSES, -1, dtype=np.int32)
        self.free = np.arange(cap - 1, -1, -1, dtype=np.int32)
        self.st = np.zeros(N_ST, dtype=np.int64)
        self.st[ST_FREE_TOP] = cap
        self.st[ST_CAP] = cap
        self.st[ST_RECOVER_BELOW] = cap * (100 - config.emergency_recovery_pct) // 100
        self.st[ST_TICK_US] = int(config.tick_s * 1_000_000)
        self.st[ST_LAST_TICK] = -(2**62)
        self.st[ST_NOW] = 0
        self.ctr = np.zeros(N_FLOW_COUNTERS, dtype=np.int64)
        self.tmo = np.zeros((2, N_CLASSES), dtype=np.int64)
        for pc, name in enumerate(PCLASS_NAMES):
            t = config.timeouts[name]
            normal = (t.new, t.established, t.closed)
            emerg = (t.emergency_new, t.emergency_established, t.emergency_closed)
            for state in range(3):
                self.tmo[0, pc * 3 + state] = normal[state] * 1_000_000
                self.tmo[1, pc * 3 + state] = emerg[state] * 1_000_000
        self.ended = np.zeros(config.ended_buffer, dtype=FLOW_DTYPE)
        self._numbered = 0  # the last packet number seen (see `update`)
        self._slot_buf: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._dir_buf: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._fid_buf: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
        self._app_buf: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._ps_buf: npt.NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        # app_want[alproto] != 0: that protocol's parser is on; app_want[0] != 0: probing is on
        self.app_want: npt.NDArray[np.uint8] = np.zeros(N_ALPROTOS, dtype=np.uint8)
        self.slot = self._slot_buf
        self.direction = self._dir_buf
        self.flow_id = self._fid_buf
        self.app = self._app_buf
        self.pstate = self._ps_buf
        self._fixed_bytes = self.idx.nbytes + self.free.nbytes + self.ended.nbytes
        self.arrays = FlowArrays(
            self.fl,
            self.idx,
            self.heads,
            self.tails,
            self.free,
            self.st,
            self.ctr,
            self.tmo,
            self.ended,
        )

    @property
    def active(self) -> int:
        return int(self.ctr[FC_ACTIVE])

    @property
    def emergency(self) -> bool:
        return bool(self.st[ST_EMERG])

    def update(
        self,
        pk: npt.NDArray[np.void],
        wirelen: npt.NDArray[np.uint32],
        ts_us: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8] | None = None,
        pos: npt.NDArray[np.int64] | None = None,
        pcnt: npt.NDArray[np.int64] | None = None,
    ) -> Iterator[npt.NDArray[np.void]]:
        """Account a decoded batch; yields chunks of flows that ended meanwhile.

        `pcnt[i]` is packet `i`'s number in the capture (flow ids derive from it, see
        `flow_update`); without it, packets are numbered on from the previous call's.

        `data[pos[i]:]` are packet `i`'s captured bytes, needed only when the app layer is on
        (`app_want[0]`): its probes read payloads. Each ended flow's `end_idx` is the index
        of the packet at which it ended.
        """
        n = pk.shape[0]
        if self._slot_buf.shape[0] < n:
            self._slot_buf = np.zeros(n, dtype=np.int32)
            self._dir_buf = np.zeros(n, dtype=np.uint8)
            self._fid_buf = np.zeros(n, dtype=np.uint64)
            self._app_buf = np.zeros(n, dtype=np.uint8)
            self._ps_buf = np.zeros(n, dtype=np.uint8)
        if data is None or pos is None:
            if self.app_want[0]:
                raise ValueError("the app layer is on: update() needs the packets' bytes")
            data, pos = _NO_DATA, _NO_POS
        if pcnt is None:
            pcnt = np.arange(self._numbered + 1, self._numbered + n + 1, dtype=np.int64)
        self._numbered = int(pcnt[-1]) if n else self._numbered
        # views of exactly this batch's length (the buffers are reused across batches)
        self.slot = slot = self._slot_buf[:n]
        self.direction = direction = self._dir_buf[:n]
        self.flow_id = fid = self._fid_buf[:n]
        self.app = papp = self._app_buf[:n]
        self.pstate = pstate = self._ps_buf[:n]
        i = 0
        while True:
            i, n_ended = flow_update(
                pk,
                wirelen,
                ts_us,
                i,
                slot,
                direction,
                fid,
                self.arrays,
                0,
                data,
                pos,
                papp,
                self.app_want,
                pstate,
                pcnt,
            )
            if n_ended:
                yield self.ended[:n_ended]
            if i >= n:
                break

    def advance(self, now: int) -> Iterator[npt.NDArray[np.void]]:
        """Packet time is `now`: when a tick has passed since the last expiry, end the flows
        idle past their timeout (as a packet at `now` would); yields chunks of them
        (`end_idx` END_FLUSH: after every packet so far)."""
        if now - int(self.st[ST_LAST_TICK]) < int(self.st[ST_TICK_US]):
            return
        while True:
            n_ended, done = flow_expire(self.arrays, 0, now)
            if n_ended:
                yield self.ended[:n_ended]
            if done:
                break

    def expire_all(self, now: int) -> Iterator[npt.NDArray[np.void]]:
        """End every flow idle past its timeout at `now` (a scan of the table: the end of a
        run, so that which flows end "timeout" rather than "shutdown" does not depend on
        when expiry last ran); yields chunks of them."""
        s = 0
        while s < self.config.cap:
            n_ended, s = flow_expire_all(self.arrays, 0, now, s)
            if n_ended:
                yield self.ended[:n_ended]

    def flush(self) -> Iterator[npt.NDArray[np.void]]:
        """End every remaining flow (reason "shutdown"); yields chunks of them."""
        while True:
            n_ended, done = flow_flush(self.arrays, 0)
            if n_ended:
                yield self.ended[:n_ended]
            if done:
                break

    def counters(self) -> dict[str, int]:
        """Suricata-named counters (`flow.*`, `tcp.*`)."""
        self.ctr[FC_SPARE] = self.config.cap - self.active
        self.ctr[FC_MEMUSE] = self.active * FLOW_DTYPE.itemsize + self._fixed_bytes
        return {name: int(v) for name, v in zip(FLOW_COUNTERS, self.ctr, strict=True)}
