"""The exception paths of a batch, out of the compiled decoder: decode anomalies as EVE
`anomaly` events, and IP fragments through the defragmenter, each reassembled datagram
decoded and put back in capture order. Pure functions over the batch (the defragmenter keeps
its own state); the pipeline counts and writes what they return."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from tocsin.capture.batch import LINKTYPE_RAW, PacketBatch
from tocsin.decode.decoder import Decoder
from tocsin.decode.defrag import Defragmenter
from tocsin.decode.layout import ANOMALY_NAMES, FLAG_IP, FLAG_PORTS
from tocsin.model.events import AnomalyEvent, AnomalyInfo
from tocsin.model.ids import ip_text
from tocsin.output.eve_flow import PROTO_NAMES
from tocsin.output.timefmt import eve_timestamp


class Reassembled(NamedTuple):
    """A batch with its reassembled datagrams inserted: records, wire lengths, times, the
    bytes and each packet's offset in them, pcap_cnt."""

    pk: npt.NDArray[np.void]
    wirelen: npt.NDArray[np.uint32]
    ts_us: npt.NDArray[np.int64]
    data: npt.NDArray[np.uint8]
    offset: npt.NDArray[np.int64]
    pcnt: npt.NDArray[np.int64]


def anomaly_events(
    batch: PacketBatch,
    pk: npt.NDArray[np.void],
    rows: npt.NDArray[np.intp],
    pcnt: npt.NDArray[np.int64],
) -> list[AnomalyEvent]:
    """An `anomaly` event (type decode) for each packet of `rows`."""
    out = []
    for i in rows.tolist():
        r = pk[i]
        ipver = int(r["ipver"])
        has_ip = bool(r["flags"] & FLAG_IP)
        ports = bool(r["flags"] & FLAG_PORTS)
        proto = int(r["proto"])
        vlan = [int(v) for v in (r["vlan0"], r["vlan1"]) if v]
        out.append(
            AnomalyEvent(
                timestamp=eve_timestamp(int(batch.ts_us[i])),
                anomaly=AnomalyInfo(type="decode", event=ANOMALY_NAMES[int(r["anomaly"])]),
                pcap_cnt=int(pcnt[i]),
                src_ip=ip_text(ipver, int(r["src_hi"]), int(r["src_lo"])) if has_ip else None,
                dest_ip=ip_text(ipver, int(r["dst_hi"]), int(r["dst_lo"])) if has_ip else None,
                proto=PROTO_NAMES.get(proto, str(proto)) if has_ip else None,
                src_port=int(r["sport"]) if ports else None,
                dest_port=int(r["dport"]) if ports else None,
                vlan=vlan or None,
            )
        )
    return out


def defragment(
    defrag: Defragmenter,
    decoder: Decoder,
    keep_payload: bool,
    batch: PacketBatch,
    pk: npt.NDArray[np.void],
    rows: npt.NDArray[np.intp],
    pcnt: npt.NDArray[np.int64],
) -> tuple[Reassembled, list[tuple[str, AnomalyEvent]], int]:
    """Feed the fragments of `rows` to `defrag`. Returns the batch with each reassembled
    datagram inserted right after the fragment that completed it, so flows see packets in
    capture order (it has that fragment's pcap_cnt; with `keep_payload`, its bytes are
    appended to the batch's for the probes); the defragmenter's anomalies (name, event); and
    how many fragments failed inside the defragmenter (a bug, not bad input: dropped)."""
    done: list[tuple[int, bytes]] = []
    after: list[int] = []
    events: list[tuple[str, AnomalyEvent]] = []
    failed = 0
    for i in rows.tolist():
        r = pk[i]
        start = int(batch.offset[i]) + int(r["l3_off"])
        raw = bytes(batch.data[start : int(batch.offset[i]) + int(batch.caplen[i])])
        ts = int(batch.ts_us[i])
        try:
            if int(r["ipver"]) == 4:
                res = defrag.add_ipv4(ts, raw, int(r["vlan0"]))
            else:
                res = defrag.add_ipv6(ts, raw, int(r["frag_off"]), int(r["vlan0"]))
        except Exception:
            failed += 1
            continue
        for name in res.events:
            ev = AnomalyEvent(
                timestamp=eve_timestamp(ts),
                anomaly=AnomalyInfo(type="decode", event=name),
                pcap_cnt=int(pcnt[i]),
                src_ip=ip_text(int(r["ipver"]), int(r["src_hi"]), int(r["src_lo"])),
                dest_ip=ip_text(int(r["ipver"]), int(r["dst_hi"]), int(r["dst_lo"])),
            )
            events.append((name, ev))
        if res.packet is not None:
            done.append((ts, res.packet))
            after.append(i + 1)
    if not done:
        return (
            Reassembled(pk, batch.wirelen, batch.ts_us, batch.data, batch.offset, pcnt),
            events,
            failed,
        )
    whole = PacketBatch.from_packets(done, LINKTYPE_RAW)
    wpk = decoder.decode(whole, on_wire=False)
    data, pos = batch.data, batch.offset
    if keep_payload:  # the probes read payloads: one buffer for all packets
        used = int((batch.offset + batch.caplen).max())
        data = np.concatenate([batch.data[:used], whole.data])
        pos = np.insert(batch.offset, after, whole.offset + used)
    return (
        Reassembled(
            np.insert(pk, after, wpk),
            np.insert(batch.wirelen, after, whole.wirelen),
            np.insert(batch.ts_us, after, whole.ts_us),
            data,
            pos,
            np.insert(pcnt, after, pcnt[np.asarray(after) - 1]),
        ),
        events,
        failed,
    )
