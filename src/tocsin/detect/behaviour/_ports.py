"""Port (or ICMP type) membership for whole flow batches: a 64 K table and one gather.

`PortSet(ports).of(col)` is `np.isin(col, ports)` for a `uint16` column (a `FlowBatch`'s
`sport`/`dport`): the same answer, without `isin`'s sort of a small set per batch, which the
correlator pays on every batch of flows. Values outside 0..65535 never match a port column
and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt


class PortSet:
    """A fixed set of 16-bit values, tested a column at a time."""

    def __init__(self, ports: Iterable[int]) -> None:
        self.table = np.zeros(1 << 16, dtype=np.bool_)
        for p in ports:
            if 0 <= int(p) < 1 << 16:
                self.table[int(p)] = True

    def of(self, col: npt.NDArray[np.uint16]) -> npt.NDArray[np.bool_]:
        """Per row: is the value in the set (`col` holds uint16 values)."""
        out: npt.NDArray[np.bool_] = self.table[col]
        return out
