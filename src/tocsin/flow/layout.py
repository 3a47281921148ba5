"""Flow-table records, states, counters and timeouts shared by the flow kernel and its callers.

A flow is bidirectional and keyed on (addresses, ports, IP protocol, two VLAN ids). `src_*` is
the initiator (the sender of the first packet, or the receiver of a SYN/ACK picked up
midstream); "to server" is the initiator's direction, as in Suricata's EVE.

ICMP flows are keyed as Community ID does: (type, counterpart type) for request/response types
(echo, timestamp, information, address mask, router and neighbour discovery...), (type, code)
otherwise, so an echo request and its reply are one flow.
"""

from __future__ import annotations

import numpy as np

FLOW_DTYPE = np.dtype(
    [
        ("src_hi", np.uint64),
        ("src_lo", np.uint64),
        ("dst_hi", np.uint64),
        ("dst_lo", np.uint64),
        ("hash", np.uint64),
        ("flow_id", np.uint64),
        ("first_ts", np.int64),
        ("last_ts", np.int64),
        ("lru_ts", np.int64),  # when the flow took its place in its timeout list
        ("pkts_ts", np.uint64),
        ("pkts_tc", np.uint64),
        ("bytes_ts", np.uint64),
        ("bytes_tc", np.uint64),
        ("prev", np.int32),
        ("next", np.int32),
        ("tcp_isn", np.uint32),  # to server: the SYN's sequence number (FF_ISN_TS)
        ("tcp_isn_tc", np.uint32),  # to client: the SYN/ACK's (FF_ISN_TC)
        ("skip_ts", np.uint32),  # AF_SKIP_TS: stream bytes before this seq are not wanted
        ("skip_tc", np.uint32),
        ("end_idx", np.int32),  # packet of the batch at which the flow ended (END_FLUSH)
        ("sport", np.uint16),  # key port (ICMP: type)
        ("dport", np.uint16),  # key port (ICMP: counterpart type or code)
        ("vlan0", np.uint16),
        ("vlan1", np.uint16),
        ("fflags", np.uint16),  # FF_*
        ("proto", np.uint8),
        ("ipver", np.uint8),
        ("tcp_flags_ts", np.uint8),
        ("tcp_flags_tc", np.uint8),
        ("tcp_state", np.uint8),  # TCP_* below
        ("state", np.uint8),  # STATE_* below
        ("cls", np.uint8),  # timeout class = proto class * 3 + state
        ("icmp_type_ts", np.uint8),
        ("icmp_code_ts", np.uint8),
        ("icmp_type_tc", np.uint8),
        ("icmp_code_tc", np.uint8),
        ("reason", np.uint8),  # REASON_*, set when the flow ends
        ("app_proto", np.uint8),  # applayer.protos.ALPROTO_*
        ("app_flags", np.uint8),  # AF_*
        ("app_npkt", np.uint8),  # payload packets probed without a match
    ]
)

# fflags
FF_IN_USE = 1
FF_MIDSTREAM = 2
FF_EMERGENCY = 4  # ended while the table was in emergency mode
FF_TC_SEEN = 8  # a packet to the client was seen
FF_ALERTED = 16
FF_ISN_TS = 32  # tcp_isn holds the client's SYN sequence number
FF_ISN_TC = 64  # tcp_isn_tc holds the server's SYN/ACK sequence number

# app_flags: what the application layer needs of a flow (see flow.kernel, runtime.applayer)
AF_FAIL_TS = 1  # no probe matched the first payload to server
AF_FAIL_TC = 2  # ... to client
AF_DONE_TS = 4  # the parser wants no more bytes to server
AF_DONE_TC = 8
AF_SKIP_TS = 16  # skip_ts is set: bytes before it are not wanted
AF_SKIP_TC = 32
AF_PY = 64  # payload was handed to Python: the app layer may hold state for the flow
AF_PYPROBE = 128  # a probe needs more bytes: Python probes the stream's start
PROBE_MAX_PKTS = 4  # payload packets probed before a flow's protocol is "failed"
END_FLUSH = 2**31 - 1  # end_idx of flows ended by flush (after every packet)

# per-packet flow state (FlowTable.pstate), as of the packet, for the signature engine
PS_ESTABLISHED = 1  # TCP: handshake done (or picked up midstream), both ways seen; UDP: both ways
PS_FIRST = 2  # the flow's first packet in this direction
PS_MIDSTREAM = 4  # the TCP flow was picked up without its handshake
PS_APP = 8  # the flow's application protocol was known at this packet

# flow states (EVE flow.state)
STATE_NEW = 0
STATE_ESTABLISHED = 1
STATE_CLOSED = 2
STATE_NAMES = ("new", "established", "closed")

# TCP states (EVE tcp.state), Suricata's names
TCP_NONE = 0
TCP_SYN_SENT = 1
TCP_SYN_RECV = 2
TCP_ESTABLISHED = 3
TCP_FIN_WAIT1 = 4
TCP_FIN_WAIT2 = 5
TCP_TIME_WAIT = 6
TCP_CLOSE_WAIT = 7
TCP_LAST_ACK = 8
TCP_CLOSING = 9
TCP_CLOSED = 10
TCP_STATE_NAMES = (
    "none",
    "syn_sent",
    "syn_recv",
    "established",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close_wait",
    "last_ack",
    "closing",
    "closed",
)

# why a flow ended (EVE flow.reason)
REASON_TIMEOUT = 0
REASON_FORCED = 1  # evicted: table full (emergency mode)
REASON_SHUTDOWN = 2  # end of capture / sensor stop
REASON_TCP_REUSE = 3  # a new SYN on a closed TCP flow started a new one
REASON_NAMES = ("timeout", "forced", "shutdown", "tcp_reuse")

# timeout classes
PCLASS_TCP = 0
PCLASS_UDP = 1
PCLASS_ICMP = 2
PCLASS_OTHER = 3
N_CLASSES = 12
PCLASS_NAMES = ("tcp", "udp", "icmp", "default")

# Flow counters: Suricata's stats names (`flow.*` and `tcp.*`), indexes into the counter array.
FLOW_COUNTERS: tuple[str, ...] = (
    "flow.total",
    "flow.active",
    "flow.tcp",
    "flow.udp",
    "flow.icmpv4",
    "flow.icmpv6",
    "flow.tcp_reuse",
    "flow.emerg_mode_entered",
    "flow.emerg_mode_over",
    "flow.mgr.flows_timeout",
    "flow.mgr.flows_evicted",
    "flow.end.state.new",
    "flow.end.state.established",
    "flow.end.state.closed",
    "tcp.sessions",
    "tcp.syn",
    "tcp.synack",
    "tcp.rst",
    "tcp.midstream_pickups",
    "flow.spare",
    "flow.memuse",
    "flow.active_max",
    "flow.emergency",
    "app_layer.skipped_bytes",  # payload bytes a parser did not want (never left the kernel)
)
FC = {name: i for i, name in enumerate(FLOW_COUNTERS)}
FC_TOTAL = FC["flow.total"]
FC_ACTIVE = FC["flow.active"]
FC_TCP = FC["flow.tcp"]
FC_UDP = FC["flow.udp"]
FC_ICMPV4 = FC["flow.icmpv4"]
FC_ICMPV6 = FC["flow.icmpv6"]
FC_TCP_REUSE = FC["flow.tcp_reuse"]
FC_EMERG_ENTERED = FC["flow.emerg_mode_entered"]
FC_EMERG_OVER = FC["flow.emerg_mode_over"]
FC_TIMEOUT = FC["flow.mgr.flows_timeout"]
FC_EVICTED = FC["flow.mgr.flows_evicted"]
FC_END_NEW = FC["flow.end.state.new"]
FC_TCP_SESSIONS = FC["tcp.sessions"]
FC_TCP_SYN = FC["tcp.syn"]
FC_TCP_SYNACK = FC["tcp.synack"]
FC_TCP_RST = FC["tcp.rst"]
FC_TCP_MIDSTREAM = FC["tcp.midstream_pickups"]
FC_SPARE = FC["flow.spare"]
FC_MEMUSE = FC["flow.memuse"]
FC_ACTIVE_MAX = FC["flow.active_max"]
FC_EMERGENCY = FC["flow.emergency"]  # 1 while in emergency mode (a gauge)
FC_APP_SKIPPED = FC["app_layer.skipped_bytes"]
N_FLOW_COUNTERS = len(FLOW_COUNTERS)
