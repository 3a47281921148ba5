"""Wiring of the correlator into one pipeline: a tee in front of the EVE writer.

Everything the pipeline writes — ended flows and events, in order — passes through
`CorrelatedWriter`, which shows it to the correlator first and writes the alerts it raises
right after the item that raised them. So the correlator sees exactly the event stream the
EVE file gets (the contract of DESIGN.md: detectors read events, never a worker's tables),
and its alerts land in packet-time order with the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.detect.correlate.correlator import Correlator
from tocsin.model.events import Event
from tocsin.model.flows import FlowBatch
from tocsin.output.writer import EveWriter


class CorrelatedWriter:
    """`EveWriter`'s interface (`flows`, `event`, `sequence`, `close`) with the correlator
    in front."""

    def __init__(self, out: EveWriter, corr: Correlator) -> None:
        self.out = out
        self.corr = corr

    def _flow_alerts(self, recs: npt.NDArray[np.void]) -> list[Any]:
        return self.corr.flows(FlowBatch.from_records(recs, ALPROTO_NAMES))

    def flows(self, recs: npt.NDArray[np.void]) -> None:
        alerts = self._flow_alerts(recs)
        self.out.flows(recs)
        if alerts:
            self.out.sequence([alerts])

    def event(self, ev: Event) -> None:
        self.out.event(ev)
        for a in self.corr.event(ev):
            self.out.event(a)

    def sequence(self, items: list[Any]) -> None:
        corr = self.corr
        out: list[Any] = []
        for it in items:
            out.append(it)
            if isinstance(it, np.ndarray):
                alerts = self._flow_alerts(it)
            else:
                alerts = []
                for ev in it:
                    alerts += corr.event(ev)
            if alerts:
                out.append(alerts)
        self.out.sequence(out)

    def finish(self, now_us: int) -> None:
        """The run ended: detectors report what they still hold."""
        alerts = self.corr.finish(now_us)
        if alerts:
            self.out.sequence([alerts])

    def close(self) -> None:
        self.out.close()
