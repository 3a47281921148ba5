"""Wiring of the correlator into one pipeline: a tee in front of the EVE writer.

Everything the pipeline writes — ended flows and events, in order — passes through
`CorrelatedWriter`, which shows it to the correlator first and writes the alerts it raises
right after the item that raised them. So the correlator sees exactly the event stream the
EVE file gets (the contract of DESIGN.md: detectors read events, never a worker's tables),
and its alerts land in packet-time order with the rest.

One exception: ARP packets make no flow and no EVE event, yet ARP detectors need them.
`arp_events` builds `model.arp.ArpEvent`s for a batch's ARP packets and `observe` shows them
to the correlator without writing them (only their alerts are written). The pipeline hands
them over after the rest of the batch, so an ARP alert can follow flows of later packets.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.capture.batch import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    PacketBatch,
)
from tocsin.decode.layout import FLAG_ARP, FLAG_TUNNEL
from tocsin.detect.correlate.correlator import Correlator
from tocsin.model.arp import ArpEvent, parse_arp
from tocsin.model.events import Event
from tocsin.model.flows import FlowBatch
from tocsin.output.timefmt import eve_timestamp
from tocsin.output.writer import EveWriter


class CorrelatedWriter:
    """`EveWriter`'s interface (`flows`, `event`, `sequence`, `close`) with the correlator
    in front."""

    def __init__(self, out: EveWriter, corr: Correlator) -> None:
        self.out = out
        self.corr = corr
        self.wants_arp = corr.wants("arp")

    def _flow_alerts(self, recs: npt.NDArray[np.void]) -> list[Any]:
        return self.corr.flows(FlowBatch.from_records(recs, ALPROTO_NAMES))

    def flows(self, recs: npt.NDArray[np.void]) -> None:
        alerts = self._flow_alerts(recs) + self.corr.flush()
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
            alerts = self._flow_alerts(it) if isinstance(it, np.ndarray) else corr.events(it)
            if alerts:
                out.append(alerts)
        held = corr.flush()  # flows held by the correlator: their alerts close the chunk
        if held:
            out.append(held)
        self.out.sequence(out)

    def observe(self, ev: Any) -> None:
        """An event for the correlator only (ARP packets): not written, its alerts are."""
        alerts = self.corr.event(ev)
        if alerts:
            self.out.sequence([alerts])

    def finish(self, now_us: int) -> None:
        """The run ended: detectors report what they still hold."""
        alerts = self.corr.finish(now_us)
        if alerts:
            self.out.sequence([alerts])

    def close(self) -> None:
        self.out.close()


def arp_rows(flags: npt.NDArray[np.uint16]) -> npt.NDArray[np.intp]:
    """Rows of a decoded batch that are ARP packets read off the wire (not tunnelled)."""
    rows: npt.NDArray[np.intp] = np.flatnonzero((flags & (FLAG_ARP | FLAG_TUNNEL)) == FLAG_ARP)
    return rows


def arp_events(batch: PacketBatch, rows: npt.NDArray[np.intp]) -> list[ArpEvent]:
    """`ArpEvent`s of the ARP packets `rows` of `batch` (Ethernet with VLAN tags, Linux
    SLL/SLL2; Python per ARP packet only). Malformed or non-IPv4 ARP gives nothing."""
    out: list[ArpEvent] = []
    data = batch.data
    for i in rows.tolist():
        start = int(batch.offset[i])
        b = bytes(data[start : start + int(batch.caplen[i])])
        lt = int(batch.linktype[i])
        if lt == LINKTYPE_ETHERNET:
            p = 12
            while b[p : p + 2] in (b"\x81\x00", b"\x88\xa8", b"\x91\x00"):
                p += 4
            p += 2
        elif lt == LINKTYPE_LINUX_SLL:
            p = 16
        elif lt == LINKTYPE_LINUX_SLL2:
            p = 20
        else:
            continue
        info = parse_arp(b[p:])
        if info is not None:
            out.append(ArpEvent(timestamp=eve_timestamp(int(batch.ts_us[i])), arp=info))
    return out
