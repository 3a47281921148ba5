"""A worker's share of the traffic, and what it hands to the process that writes and correlates.

With `--workers N`, every worker reads the whole capture and keeps the packets of its share
(`Balancer`: each address pair — the flow key's two addresses, either way round — is given,
when first seen, to the worker with the least load so far; so both directions of a flow, its
fragments and its tunnelled packets all meet the same worker, and the shares stay even
however the pairs hash; packets without an IP header go to worker 0). A worker runs the
ordinary `Pipeline` with a `ShardWriter` in place of the EVE writer: it formats its EVE
lines itself and ships them, in `Shipment`s, with the flows and events the correlator wants
and its stats points, to the main process (`runtime.workers`), which writes, correlates and
rolls up.

`Shipment.key` is the capture packet number up to which the worker's output is complete;
the main process merges the workers' shipments in key order, so the output is the same
from run to run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import PacketBatch
from tocsin.decode.layout import FLAG_IP
from tocsin.detect.correlate.correlator import Correlator
from tocsin.flow.key import mix64
from tocsin.flow.layout import FLOW_DTYPE
from tocsin.jit import inline_kernel, kernel
from tocsin.model.arp import ArpEvent
from tocsin.model.events import EVENT_TYPES, Event
from tocsin.model.flows import FlowBatch
from tocsin.output.sink import EveSink
from tocsin.output.writer import EveWriter

Counters = dict[str, int]


@inline_kernel
def _pair_hash(r: Any) -> np.uint64:
    """A packet record's address pair, hashed the same both ways (a + b)."""
    a = mix64(r["src_hi"] ^ mix64(r["src_lo"]))
    b = mix64(r["dst_hi"] ^ mix64(r["dst_lo"]))
    h: np.uint64 = mix64(a + b)
    return h


@kernel
def _owners(pk: np.ndarray, n: int, out: np.ndarray) -> None:
    for i in range(pk.shape[0]):
        r = pk[i]
        out[i] = _pair_hash(r) % np.uint64(n) if r["flags"] & FLAG_IP else 0


def owners(pk: npt.NDArray[np.void], n: int) -> npt.NDArray[np.uint16]:
    """The worker (0..n-1) that owns each decoded packet of `pk` by a plain hash of its
    address pair (`Balancer` falls back to it once its table is full)."""
    out = np.zeros(pk.shape[0], dtype=np.uint16)
    _owners(pk, n, out)
    return out


@kernel
def _assign(
    pk: np.ndarray,
    count: int,
    keys: np.ndarray,
    owner: np.ndarray,
    load: np.ndarray,
    used: np.ndarray,
    capacity: int,
    out: np.ndarray,
) -> None:
    n = load.shape[0]
    mask = np.uint64(keys.shape[0] - 1)
    for i in range(count):
        r = pk[i]
        if (r["flags"] & FLAG_IP) == 0:
            out[i] = 0
            load[0] += 1
            continue
        h = _pair_hash(r)
        if h == 0:
            h = np.uint64(1)  # 0 marks an empty slot
        j = h & mask
        while keys[j] != 0 and keys[j] != h:
            j = (j + np.uint64(1)) & mask
        if keys[j] == h:
            w = np.int64(owner[j])
        elif used[0] < capacity:  # a new pair: to the least loaded worker
            w = np.int64(0)
            for m in range(1, n):
                if load[m] < load[w]:
                    w = np.int64(m)
            keys[j] = h
            owner[j] = w
            used[0] += 1
        else:  # the table is full (and stays so): the plain hash, for good
            w = np.int64(h % np.uint64(n))
        out[i] = w
        load[w] += 1 + 3 * (r["pay_len"] > 0)  # payload: reassembly, parsing, signatures


class Balancer:
    """Which worker owns each packet: a deterministic function of the packets seen so far,
    so every worker — each reading the whole capture from its start — computes the same.

    An address pair (hashed symmetrically: both directions, fragments and the packets of a
    tunnel's inner flow have the same) seen for the first time goes to the worker that owns
    the least load so far, and stays there for the rest of the run. A packet's load is 1, or
    4 when it carries payload (reassembly, parsing and signatures cost more than decoding):
    on the mixed capture the workers' CPU time splits 52/48, where a hash of the pairs split
    it 53/47 and an even share of packets 56/44 on its first million. Once `capacity` pairs
    are known (a flood of spoofed sources) the table stops growing and new pairs go by the
    plain hash (`owners`), which is even enough over that many pairs; the pairs already in
    the table keep their worker. Memory: about 18 bytes per pair of `capacity`. Packets
    without an IP header go to worker 0."""

    def __init__(self, workers: int, capacity: int = 1 << 19) -> None:
        if workers < 1 or capacity < 1:
            raise ValueError("Balancer needs at least 1 worker and a capacity of 1")
        slots = 1 << (2 * capacity - 1).bit_length()  # a power of two, at most half full
        self.capacity = capacity
        self._keys = np.zeros(slots, dtype=np.uint64)
        self._owner = np.zeros(slots, dtype=np.uint16)
        self.load = np.zeros(workers, dtype=np.int64)  # load owned so far, by worker
        self._used = np.zeros(1, dtype=np.int64)

    @property
    def pairs(self) -> int:
        """Address pairs in the table."""
        return int(self._used[0])

    def owners(self, pk: npt.NDArray[np.void]) -> npt.NDArray[np.uint16]:
        """The owner (0..workers-1) of each decoded packet of `pk`, the capture's next."""
        out = np.zeros(pk.shape[0], dtype=np.uint16)
        _assign(pk, pk.shape[0], self._keys, self._owner, self.load, self._used, self.capacity, out)
        return out


@kernel
def _cuts(ts: np.ndarray, span_us: int, most: int, out: np.ndarray) -> int:
    n = 0
    start = 0
    for i in range(1, ts.shape[0]):
        if ts[i] - ts[start] > span_us or i - start >= most:
            out[n] = i
            n += 1
            start = i
    out[n] = ts.shape[0]
    return n + 1


def stretches(ts_us: npt.NDArray[np.int64], span_us: int, most: int) -> list[int]:
    """Ends of the stretches a batch is cut into: each covers at most `span_us` of packet
    time and `most` packets. A worker ships its output stretch by stretch, so the main
    process sees every worker's events of one stretch before the next's (the correlator's
    packet time stays within a stretch of the capture's)."""
    out = np.zeros(ts_us.shape[0] + 1, dtype=np.int64)
    n = _cuts(ts_us, span_us, most, out)
    ends: list[int] = out[:n].tolist()
    return ends


def share(batch: PacketBatch, rows: npt.NDArray[np.intp]) -> PacketBatch:
    """Packets `rows` of `batch` (their bytes stay in the batch's buffer)."""
    return PacketBatch(
        data=batch.data,
        offset=batch.offset[rows],
        caplen=batch.caplen[rows],
        wirelen=batch.wirelen[rows],
        ts_us=batch.ts_us[rows],
        linktype=batch.linktype[rows],
    )


@dataclass(slots=True)
class Shipment:
    """One worker's output since its previous shipment, complete up to packet `key`."""

    worker: int
    key: int
    # formatted EVE lines: (segment, start, end) of the worker's spill file (`spill_path`)
    eve: tuple[int, int, int]
    counts: dict[str, int]  # of `eve`, by event type
    # for the correlator, in order: ended flows (`for_correlator` records) and event lists
    # (msgpack: `encode_events` / `decode_events`)
    corr: list[npt.NDArray[np.void] | bytes] = field(default_factory=list)
    # stats points reached: (packet time, Suricata-named counters, Tocsin-only counters)
    stats: list[tuple[int, Counters, Counters]] = field(default_factory=list)
    bytes_read: int = 0
    bytes_total: int = 0
    # the worker's flow table entering (True) or leaving (False) emergency mode: (packet
    # time, which, the table's counters); the main process says it once for the sensor
    emergency: list[tuple[int, bool, Counters]] = field(default_factory=list)


def spill_path(spill_dir: str, worker: int, segment: int) -> str:
    """Where worker `worker` writes segment `segment` of its EVE lines."""
    return f"{spill_dir}/w{worker}-{segment}.eve"


# what the correlator reads of a flow (`FlowBatch`'s columns): 98 of a record's 157 bytes
_CORR_DTYPE = np.dtype(
    [(n, FLOW_DTYPE[n]) for n in FlowBatch.__dataclass_fields__ if n != "app_names"]
)


def for_correlator(recs: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """The columns of flow records that `FlowBatch.from_records` reads, packed: a flood's
    millions of flows cross to the main process in 38 % fewer bytes."""
    out = np.empty(recs.shape[0], dtype=_CORR_DTYPE)
    for name in _CORR_DTYPE.names or ():
        out[name] = recs[name]
    return out


_SEGMENT = 64 << 20  # a spill segment's size: the main process deletes those it copied
_ENCODER = msgspec.msgpack.Encoder()
_DECODER: msgspec.msgpack.Decoder[list[Any]] = msgspec.msgpack.Decoder(
    list[Union[(*EVENT_TYPES, ArpEvent)]]  # type: ignore[valid-type]
)


def encode_events(events: list[Any]) -> bytes:
    return _ENCODER.encode(events)


def decode_events(data: bytes) -> list[Any]:
    """Events as the worker had them (tagged records: the tag says which)."""
    return _DECODER.decode(data)


class ShardWriter:
    """`CorrelatedWriter`'s interface (`flows`, `event`, `sequence`, `observe`, `finish`,
    `close`) for a worker: lines are formatted here, into `sink` (the worker's spill file,
    in segments, that the main process copies from), and shipped with the events
    `corr.keeps` and the flows, if its detectors read flows. The correlator itself runs in
    the main process."""

    def __init__(
        self,
        out: EveWriter,
        sink: EveSink,
        corr: Correlator | None,
        ship: Callable[[Shipment], None],
        worker: int,
        spill_dir: str,
    ) -> None:
        self.out = out
        self.sink = sink
        self.corr = corr
        self._ship = ship
        self.worker = worker
        self.spill_dir = spill_dir
        self.wants_arp = corr is not None and corr.wants("arp")
        self._flows = corr is not None and corr.wants("flow")
        self._corr: list[npt.NDArray[np.void] | list[Any]] = []
        self._stats: list[tuple[int, Counters, Counters]] = []
        self._emergency: list[tuple[int, bool, Counters]] = []
        self._segment = 0
        self._at = 0  # where the next shipment's lines start in the segment
        self.position: Callable[[], int] = lambda: 0
        self.ending = False  # set before the pipeline's finish(): its stats are the last
        self.final: tuple[Counters, Counters] | None = None
        self.bytes_read = 0
        self.bytes_total = 0

    def _keep(self, events: list[Any]) -> None:
        corr = self.corr
        if corr is None:
            return
        kept = [ev for ev in events if corr.keeps(ev)]
        if kept:
            if self._corr and isinstance(self._corr[-1], list):
                self._corr[-1].extend(kept)
            else:
                self._corr.append(kept)

    def flows(self, recs: npt.NDArray[np.void]) -> None:
        self.out.flows(recs)
        if self._flows and recs.shape[0]:
            self._corr.append(for_correlator(recs))

    def event(self, ev: Event) -> None:
        self.out.event(ev)
        self._keep([ev])

    def sequence(self, items: list[Any]) -> None:
        self.out.sequence(items)
        for it in items:
            if isinstance(it, np.ndarray):
                if self._flows and it.shape[0]:
                    self._corr.append(for_correlator(it))
            else:
                self._keep(it)
        self.ship()

    def observe(self, ev: Any) -> None:
        """An event for the correlator only (ARP packets): shipped, not written."""
        self._keep([ev])

    def stats(self, now: int, flat: Counters, extra: Counters) -> None:
        """A stats point: the main process writes one `stats` event for all workers. The
        end of run's (`ending`) is kept in `final`, for the worker's last message."""
        if self.ending:
            self.final = (flat, extra)
        else:
            self._stats.append((now, flat, extra))

    def emergency(self, now: int, entered: bool, counters: Counters) -> None:
        """The worker's flow table entered or left emergency mode: shipped, not written (the
        sensor is in emergency mode while any worker's table is)."""
        self._emergency.append((now, entered, counters))

    def finish(self, now_us: int) -> None:
        """The correlator's end of run happens in the main process, after every worker's."""

    def ship(self, *, always: bool = False) -> bool:
        """Hand over what was written since the last shipment (`always`: even if nothing
        was, so the main process learns how far this worker is); false if nothing went."""
        end, counts = self.sink.checkpoint()
        if not (always or end > self._at or self._corr or self._stats or self._emergency):
            return False
        corr = [it if isinstance(it, np.ndarray) else encode_events(it) for it in self._corr]
        self._ship(
            Shipment(
                self.worker,
                self.position(),
                (self._segment, self._at, end),
                counts,
                corr,
                self._stats,
                self.bytes_read,
                self.bytes_total,
                self._emergency,
            )
        )
        self._corr = []
        self._stats = []
        self._emergency = []
        self._at = end
        if end >= _SEGMENT:
            self._segment += 1
            self._at = 0
            self.sink.reopen(spill_path(self.spill_dir, self.worker, self._segment))
        return True

    def close(self) -> None:
        self.out.close()
        self.ship()
        self.sink.close()
