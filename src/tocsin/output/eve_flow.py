"""EVE `flow` events, formatted in a numba kernel straight from ended-flow records.

One JSON line per ended flow, in Suricata's layout and field names (`model.events.FlowEvent`
is the typed definition of the same record; a test decodes this kernel's output with it):

    {"timestamp":…,"flow_id":…,"event_type":"flow","vlan":[…],"src_ip":…,"src_port":…,
     "dest_ip":…,"dest_port":…,"proto":"TCP","flow":{"pkts_toserver":…,"pkts_toclient":…,
     "bytes_toserver":…,"bytes_toclient":…,"start":…,"end":…,"age":…,"state":…,
     "reason":…,"alerted":false},"tcp":{…},"community_id":"1:…"}

`timestamp` is the time of the flow's last packet (packet time, so output is reproducible);
ICMP flows carry `icmp_type`/`icmp_code` (and `response_icmp_*` when a reply was seen) instead
of ports. Bytes are frame bytes on the wire, both directions, as tshark and Suricata count.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.flow.layout import (
    FF_ALERTED,
    FF_EMERGENCY,
    FF_TC_SEEN,
    REASON_NAMES,
    STATE_NAMES,
    TCP_STATE_NAMES,
)
from tocsin.jit import inline_kernel, kernel
from tocsin.output.community_id import (
    COMMUNITY_ID_MSG_BYTES,
    SHA1_DIGEST_BYTES,
    SHA1_SCRATCH_WORDS,
    put_community_id,
)
from tocsin.output.eve_format import (
    lit,
    put_bool,
    put_hex2,
    put_ip,
    put_lit,
    put_timestamp,
    put_uint,
)

MAX_FLOW_LINE = 1024  # generous bound on one formatted flow line

PROTO_NAMES: dict[int, str] = {
    1: "ICMP",
    2: "IGMP",
    4: "IPIP",
    6: "TCP",
    17: "UDP",
    41: "IPv6",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "IPv6-ICMP",
    89: "OSPF",
    103: "PIM",
    112: "VRRP",
    132: "SCTP",
}


def _table(names: list[str]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    width = max(len(n) for n in names) + 2
    tab = np.zeros((len(names), width), dtype=np.uint8)
    lens = np.zeros(len(names), dtype=np.int64)
    for k, name in enumerate(names):
        enc = f'"{name}"'.encode()
        tab[k, : len(enc)] = np.frombuffer(enc, dtype=np.uint8)
        lens[k] = len(enc)
    return tab, lens


_PROTO_TAB, _PROTO_LEN = _table([PROTO_NAMES.get(p, str(p)) for p in range(256)])
_STATE_TAB, _STATE_LEN = _table(list(STATE_NAMES))
_TCP_TAB, _TCP_LEN = _table(list(TCP_STATE_NAMES))
_REASON_TAB, _REASON_LEN = _table(list(REASON_NAMES))
_APP_TAB, _APP_LEN = _table(list(ALPROTO_NAMES))

_L_TS = lit('{"timestamp":"')
_L_FID = lit('","flow_id":')
_L_EVT = lit(',"event_type":"flow",')
_L_VLAN = lit('"vlan":[')
_L_VLAN_END = lit("],")
_L_SRC = lit('"src_ip":"')
_L_SPORT = lit('","src_port":')
_L_DST = lit(',"dest_ip":"')
_L_DST_NOPORT = lit('","dest_ip":"')
_L_DPORT = lit('","dest_port":')
_L_PROTO = lit(',"proto":')
_L_PROTO_NOPORT = lit('","proto":')
_L_ITYPE = lit(',"icmp_type":')
_L_ICODE = lit(',"icmp_code":')
_L_RTYPE = lit(',"response_icmp_type":')
_L_RCODE = lit(',"response_icmp_code":')
_L_APP = lit(',"app_proto":')
_L_FLOW = lit(',"flow":{"pkts_toserver":')
_L_PTC = lit(',"pkts_toclient":')
_L_BTS = lit(',"bytes_toserver":')
_L_BTC = lit(',"bytes_toclient":')
_L_START = lit(',"start":"')
_L_END = lit('","end":"')
_L_AGE = lit('","age":')
_L_STATE = lit(',"state":')
_L_REASON = lit(',"reason":')
_L_ALERTED = lit(',"alerted":')
_L_EMERG = lit(',"emergency":true')
_L_TCP = lit('},"tcp":{"tcp_flags":"')
_L_TCP_TS = lit('","tcp_flags_ts":"')
_L_TCP_TC = lit('","tcp_flags_tc":"')
_L_QUOTE = lit('"')
_L_TCP_STATE = lit(',"state":')
_L_CID_AFTER_TCP = lit('},"community_id":')
_L_CID = lit('},"community_id":')
_L_EOL = lit("}\n")
_L_COMMA = lit(",")
_TZ_TAIL = lit("+0000")

_FLAG_LITS = (
    lit(',"fin":true'),
    lit(',"syn":true'),
    lit(',"rst":true'),
    lit(',"psh":true'),
    lit(',"ack":true'),
    lit(',"urg":true'),
    lit(',"ecn":true'),
    lit(',"cwr":true'),
)
_L_FIN, _L_SYN, _L_RST, _L_PSH, _L_ACK, _L_URG, _L_ECN, _L_CWR = _FLAG_LITS


@inline_kernel
def _put_row(out: np.ndarray, pos: int, tab: np.ndarray, lens: np.ndarray, k: int) -> int:
    n = lens[k]
    for j in range(n):
        out[pos + j] = tab[k, j]
    return pos + n


@inline_kernel
def _copy(out: np.ndarray, pos: int, src: int, n: int) -> int:
    for j in range(n):
        out[pos + j] = out[src + j]
    return pos + n


@kernel
def _put_ts(out: np.ndarray, pos: int, ts_us: int, tsc: np.ndarray, tsc_sec: np.ndarray) -> int:
    """`put_timestamp`, reusing the date and time text of the previous call in the same second."""
    sec = np.int64(ts_us) // 1_000_000
    if sec == tsc_sec[0]:
        for j in range(20):
            out[pos + j] = tsc[j]
        us = np.int64(ts_us) - sec * 1_000_000
        for j in range(25, 19, -1):
            out[pos + j] = 48 + us % 10
            us //= 10
        for j in range(5):
            out[pos + 26 + j] = _TZ_TAIL[j]
        return pos + 31
    end = put_timestamp(out, pos, ts_us)
    for j in range(20):
        tsc[j] = out[pos + j]
    tsc_sec[0] = sec
    return end


@kernel
def _put_tcp_bools(out: np.ndarray, pos: int, f: int) -> int:
    if f & 0x01:
        pos = put_lit(out, pos, _L_FIN)
    if f & 0x02:
        pos = put_lit(out, pos, _L_SYN)
    if f & 0x04:
        pos = put_lit(out, pos, _L_RST)
    if f & 0x08:
        pos = put_lit(out, pos, _L_PSH)
    if f & 0x10:
        pos = put_lit(out, pos, _L_ACK)
    if f & 0x20:
        pos = put_lit(out, pos, _L_URG)
    if f & 0x40:
        pos = put_lit(out, pos, _L_ECN)
    if f & 0x80:
        pos = put_lit(out, pos, _L_CWR)
    return pos


@kernel
def format_flows(
    flows: np.ndarray,
    out: np.ndarray,
    seed: int,
    msg: np.ndarray,
    w: np.ndarray,
    digest: np.ndarray,
    tsc: np.ndarray,
    tsc_sec: np.ndarray,
) -> int:
    """Write one EVE flow line per record of `flows` into `out`; returns bytes written.

    `out` must hold `len(flows) * MAX_FLOW_LINE` bytes.
    """
    pos = 0
    for k in range(flows.shape[0]):
        f = flows[k]
        proto = np.int64(f["proto"])
        ipver = np.int64(f["ipver"])
        icmp = proto == 1 or proto == 58
        ports = proto == 6 or proto == 17 or proto == 132
        pos = put_lit(out, pos, _L_TS)
        ts_end_at = pos
        pos = _put_ts(out, pos, f["last_ts"], tsc, tsc_sec)
        ts_len = pos - ts_end_at
        pos = put_lit(out, pos, _L_FID)
        pos = put_uint(out, pos, f["flow_id"])
        pos = put_lit(out, pos, _L_EVT)
        if f["vlan0"] != 0 or f["vlan1"] != 0:
            pos = put_lit(out, pos, _L_VLAN)
            pos = put_uint(out, pos, f["vlan0"])
            if f["vlan1"] != 0:
                pos = put_lit(out, pos, _L_COMMA)
                pos = put_uint(out, pos, f["vlan1"])
            pos = put_lit(out, pos, _L_VLAN_END)
        pos = put_lit(out, pos, _L_SRC)
        pos = put_ip(out, pos, ipver, f["src_hi"], f["src_lo"])
        if ports:
            pos = put_lit(out, pos, _L_SPORT)
            pos = put_uint(out, pos, f["sport"])
            pos = put_lit(out, pos, _L_DST)
        else:
            pos = put_lit(out, pos, _L_DST_NOPORT)
        pos = put_ip(out, pos, ipver, f["dst_hi"], f["dst_lo"])
        if ports:
            pos = put_lit(out, pos, _L_DPORT)
            pos = put_uint(out, pos, f["dport"])
            pos = put_lit(out, pos, _L_PROTO)
        else:
            pos = put_lit(out, pos, _L_PROTO_NOPORT)
        pos = _put_row(out, pos, _PROTO_TAB, _PROTO_LEN, proto)
        if icmp:
            pos = put_lit(out, pos, _L_ITYPE)
            pos = put_uint(out, pos, f["icmp_type_ts"])
            pos = put_lit(out, pos, _L_ICODE)
            pos = put_uint(out, pos, f["icmp_code_ts"])
            if (f["fflags"] & FF_TC_SEEN) != 0:
                pos = put_lit(out, pos, _L_RTYPE)
                pos = put_uint(out, pos, f["icmp_type_tc"])
                pos = put_lit(out, pos, _L_RCODE)
                pos = put_uint(out, pos, f["icmp_code_tc"])
        if f["app_proto"] != 0:
            pos = put_lit(out, pos, _L_APP)
            pos = _put_row(out, pos, _APP_TAB, _APP_LEN, f["app_proto"])
        pos = put_lit(out, pos, _L_FLOW)
        pos = put_uint(out, pos, f["pkts_ts"])
        pos = put_lit(out, pos, _L_PTC)
        pos = put_uint(out, pos, f["pkts_tc"])
        pos = put_lit(out, pos, _L_BTS)
        pos = put_uint(out, pos, f["bytes_ts"])
        pos = put_lit(out, pos, _L_BTC)
        pos = put_uint(out, pos, f["bytes_tc"])
        pos = put_lit(out, pos, _L_START)
        if f["first_ts"] == f["last_ts"]:
            pos = _copy(out, pos, ts_end_at, ts_len)
        else:
            pos = _put_ts(out, pos, f["first_ts"], tsc, tsc_sec)
        pos = put_lit(out, pos, _L_END)
        pos = _copy(out, pos, ts_end_at, ts_len)  # "end" is "timestamp"
        pos = put_lit(out, pos, _L_AGE)
        pos = put_uint(out, pos, f["last_ts"] // 1_000_000 - f["first_ts"] // 1_000_000)
        pos = put_lit(out, pos, _L_STATE)
        pos = _put_row(out, pos, _STATE_TAB, _STATE_LEN, f["state"])
        pos = put_lit(out, pos, _L_REASON)
        pos = _put_row(out, pos, _REASON_TAB, _REASON_LEN, f["reason"])
        pos = put_lit(out, pos, _L_ALERTED)
        pos = put_bool(out, pos, (f["fflags"] & FF_ALERTED) != 0)
        if (f["fflags"] & FF_EMERGENCY) != 0:
            pos = put_lit(out, pos, _L_EMERG)
        if proto == 6:
            fts = np.int64(f["tcp_flags_ts"])
            ftc = np.int64(f["tcp_flags_tc"])
            pos = put_lit(out, pos, _L_TCP)
            pos = put_hex2(out, pos, fts | ftc)
            pos = put_lit(out, pos, _L_TCP_TS)
            pos = put_hex2(out, pos, fts)
            pos = put_lit(out, pos, _L_TCP_TC)
            pos = put_hex2(out, pos, ftc)
            pos = put_lit(out, pos, _L_QUOTE)
            pos = _put_tcp_bools(out, pos, fts | ftc)
            pos = put_lit(out, pos, _L_TCP_STATE)
            pos = _put_row(out, pos, _TCP_TAB, _TCP_LEN, f["tcp_state"])
        pos = put_lit(out, pos, _L_CID)
        pos = put_community_id(
            out,
            pos,
            seed,
            ipver,
            f["src_hi"],
            f["src_lo"],
            f["dst_hi"],
            f["dst_lo"],
            proto,
            f["sport"],
            f["dport"],
            msg,
            w,
            digest,
        )
        pos = put_lit(out, pos, _L_EOL)
    return pos


class FlowFormatter:
    """Owns the output and scratch buffers of `format_flows`; returns bytes per chunk."""

    def __init__(self, community_id_seed: int = 0) -> None:
        self.seed = community_id_seed
        self._out = np.zeros(0, dtype=np.uint8)
        self._msg = np.zeros(COMMUNITY_ID_MSG_BYTES, dtype=np.uint8)
        self._w = np.zeros(SHA1_SCRATCH_WORDS, dtype=np.uint32)
        self._digest = np.zeros(SHA1_DIGEST_BYTES, dtype=np.uint8)
        self._tsc = np.zeros(20, dtype=np.uint8)
        self._tsc_sec = np.full(1, np.iinfo(np.int64).min, dtype=np.int64)

    def format(self, flows: npt.NDArray[np.void]) -> memoryview:
        need = flows.shape[0] * MAX_FLOW_LINE
        if self._out.shape[0] < need:
            self._out = np.zeros(need, dtype=np.uint8)
        n = format_flows(
            flows, self._out, self.seed, self._msg, self._w, self._digest, self._tsc, self._tsc_sec
        )
        return memoryview(self._out)[:n]
