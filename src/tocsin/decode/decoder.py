"""`Decoder`: the compiled decoder over whole batches, with the counters it keeps.

The Python face of `decode.kernel`: one object per worker, fed `PacketBatch`es, returning the
decoded records (`PKT_DTYPE`, index-aligned with the batch) and accumulating Suricata's
`decoder.*` counters and decoder events across batches.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import PacketBatch
from tocsin.decode.common import VXLAN_DEFAULT_PORT
from tocsin.decode.kernel import decode_batch
from tocsin.decode.layout import (
    ANOMALY_NAMES,
    C_BYTES,
    C_PKTS,
    DECODER_COUNTERS,
    N_ANOMALIES,
    N_DECODER_COUNTERS,
    new_packets,
)


class Decoder:
    """Decodes batches; `counters[C_*]` and `events[anomaly code]` grow as it goes."""

    def __init__(self, vxlan_port: int = VXLAN_DEFAULT_PORT) -> None:
        self.vxlan_port = vxlan_port
        self.counters: npt.NDArray[np.int64] = np.zeros(N_DECODER_COUNTERS, dtype=np.int64)
        self.events: npt.NDArray[np.int64] = np.zeros(N_ANOMALIES, dtype=np.int64)

    def decode(
        self,
        batch: PacketBatch,
        *,
        into: npt.NDArray[np.void] | None = None,
        on_wire: bool = True,
    ) -> npt.NDArray[np.void]:
        """The decoded records of `batch`: a fresh array, or the first `batch.n` records of
        `into` (zeroed here), which saves the page faults of a new array per batch.

        `on_wire=False` for packets the sensor built itself (reassembled datagrams): their
        headers are counted, but not as packets or bytes seen on the wire (as in Suricata).
        """
        if into is None:
            pk = new_packets(batch.n)
        else:
            pk = into[: batch.n]
            pk.view(np.uint8).fill(0)
        decode_batch(
            batch.data,
            batch.offset,
            batch.caplen,
            batch.wirelen,
            batch.linktype,
            pk,
            self.counters,
            self.events,
            self.vxlan_port,
        )
        if not on_wire:
            self.counters[C_PKTS] -= batch.n
            self.counters[C_BYTES] -= int(batch.wirelen.sum())
        return pk

    def counter_dict(self) -> dict[str, int]:
        """`decoder.*` counters by Suricata name, events as `event.<name>`."""
        out = {name: int(v) for name, v in zip(DECODER_COUNTERS, self.counters, strict=True)}
        for code in range(1, N_ANOMALIES):
            out["event." + ANOMALY_NAMES[code]] = int(self.events[code])
        return out
