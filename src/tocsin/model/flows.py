"""`FlowBatch`: ended flows as columns, the flow events the correlator's detectors read.

A worker hands the flows it ended to the EVE writer as records of the flow kernel; the
correlator receives the same flows as a `FlowBatch` (NumPy columns, no Python object per
flow), so a detector can group a flood's hundred thousand flows by host in a few vectorised
steps. `FlowBatch.from_events` builds one from EVE `flow` events (a Suricata probe's, or a
replayed file), so detectors never depend on who produced the flows.

Times are microseconds since the epoch; addresses are two 64-bit halves (IPv4 stored
IPv4-mapped, as everywhere in Tocsin); `app_proto` is an index into `app_names` ("" when the
flow's protocol is unknown). For ICMP, `sport`/`dport` hold the type and code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tocsin.model.ids import ip_text

# TCP flag bits, as in the TCP header
TH_FIN, TH_SYN, TH_RST, TH_PSH, TH_ACK, TH_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
STATE_NEW, STATE_ESTABLISHED, STATE_CLOSED = 0, 1, 2

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FlowBatch:
    """Ended flows, one row each (read-only views: copy what you keep)."""

    flow_id: U64
    first_ts: I64
    last_ts: I64
    ipver: U8
    src_hi: U64
    src_lo: U64
    dst_hi: U64
    dst_lo: U64
    sport: U16
    dport: U16
    proto: U8
    pkts_ts: U64
    pkts_tc: U64
    bytes_ts: U64
    bytes_tc: U64
    tcp_flags_ts: U8
    tcp_flags_tc: U8
    state: U8
    app_proto: U8
    app_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.flow_id.shape[0])

    def src_ip(self, i: int) -> str:
        return ip_text(int(self.ipver[i]), int(self.src_hi[i]), int(self.src_lo[i]))

    def dest_ip(self, i: int) -> str:
        return ip_text(int(self.ipver[i]), int(self.dst_hi[i]), int(self.dst_lo[i]))

    def app(self, i: int) -> str:
        return self.app_names[int(self.app_proto[i])]

    def select(self, rows: npt.NDArray[np.bool_] | npt.NDArray[np.intp]) -> FlowBatch:
        """The rows selected by a mask or an index array."""
        return FlowBatch(
            **{
                name: getattr(self, name)[rows]
                for name in self.__dataclass_fields__
                if name != "app_names"
            },
            app_names=self.app_names,
        )

    @classmethod
    def from_records(cls, rec: npt.NDArray[np.void], app_names: tuple[str, ...]) -> FlowBatch:
        """Columns of records with the flow kernel's field names (views, no copy)."""
        return cls(
            flow_id=rec["flow_id"],
            first_ts=rec["first_ts"],
            last_ts=rec["last_ts"],
            ipver=rec["ipver"],
            src_hi=rec["src_hi"],
            src_lo=rec["src_lo"],
            dst_hi=rec["dst_hi"],
            dst_lo=rec["dst_lo"],
            sport=rec["sport"],
            dport=rec["dport"],
            proto=rec["proto"],
            pkts_ts=rec["pkts_ts"],
            pkts_tc=rec["pkts_tc"],
            bytes_ts=rec["bytes_ts"],
            bytes_tc=rec["bytes_tc"],
            tcp_flags_ts=rec["tcp_flags_ts"],
            tcp_flags_tc=rec["tcp_flags_tc"],
            state=rec["state"],
            app_proto=rec["app_proto"],
            app_names=app_names,
        )

    @classmethod
    def from_rows(cls, rows: Sequence[FlowRow]) -> FlowBatch:
        """A batch from flows given one by one (EVE `flow` events read back, tests)."""
        names: list[str] = [""]
        index = {"": 0}
        apps = []
        for r in rows:
            if r.app_proto not in index:
                index[r.app_proto] = len(names)
                names.append(r.app_proto)
            apps.append(index[r.app_proto])
        src = [_halves(r.src_ip) for r in rows]
        dst = [_halves(r.dest_ip) for r in rows]
        return cls(
            flow_id=np.array([r.flow_id for r in rows], dtype=np.uint64),
            first_ts=np.array([r.first_ts for r in rows], dtype=np.int64),
            last_ts=np.array([r.last_ts for r in rows], dtype=np.int64),
            ipver=np.array([v for v, _, _ in src], dtype=np.uint8),
            src_hi=np.array([h for _, h, _ in src], dtype=np.uint64),
            src_lo=np.array([lo for _, _, lo in src], dtype=np.uint64),
            dst_hi=np.array([h for _, h, _ in dst], dtype=np.uint64),
            dst_lo=np.array([lo for _, _, lo in dst], dtype=np.uint64),
            sport=np.array([r.sport for r in rows], dtype=np.uint16),
            dport=np.array([r.dport for r in rows], dtype=np.uint16),
            proto=np.array([r.proto for r in rows], dtype=np.uint8),
            pkts_ts=np.array([r.pkts_ts for r in rows], dtype=np.uint64),
            pkts_tc=np.array([r.pkts_tc for r in rows], dtype=np.uint64),
            bytes_ts=np.array([r.bytes_ts for r in rows], dtype=np.uint64),
            bytes_tc=np.array([r.bytes_tc for r in rows], dtype=np.uint64),
            tcp_flags_ts=np.array([r.tcp_flags_ts for r in rows], dtype=np.uint8),
            tcp_flags_tc=np.array([r.tcp_flags_tc for r in rows], dtype=np.uint8),
            state=np.array([r.state for r in rows], dtype=np.uint8),
            app_proto=np.array(apps, dtype=np.uint8),
            app_names=tuple(names),
        )


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One flow, for `FlowBatch.from_rows`."""

    src_ip: str
    dest_ip: str
    sport: int = 0
    dport: int = 0
    proto: int = 6
    first_ts: int = 0
    last_ts: int = 0
    pkts_ts: int = 1
    pkts_tc: int = 0
    bytes_ts: int = 60
    bytes_tc: int = 0
    tcp_flags_ts: int = TH_SYN
    tcp_flags_tc: int = 0
    state: int = STATE_NEW
    app_proto: str = ""
    flow_id: int = 0


def _halves(text: str) -> tuple[int, int, int]:
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return 4, 0, 0xFFFF_0000_0000 | int(a)
    v = int(a)
    return 6, v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF
