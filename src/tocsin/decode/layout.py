"""The decoded-packet record: what the decode kernel fills for every packet of a batch.

One structured NumPy array (`PKT_DTYPE`) per batch, index-aligned with the `PacketBatch`.
Offsets are relative to the start of the packet's captured bytes. Addresses are two uint64
(`*_hi` = bytes 0..7, `*_lo` = bytes 8..15 of the IPv6 address, big-endian); an IPv4 address
is stored IPv4-mapped (hi = 0, lo = 0x0000FFFF_xxxxxxxx) with `ipver` = 4.

For tunnelled traffic (GRE, ERSPAN, VXLAN, IP-in-IP) the record describes the innermost packet;
`FLAG_TUNNEL` says that decapsulation happened. Flows are tracked on the innermost packet only.

Decoder anomalies carry Suricata's decoder event names (`ANOMALY_NAMES`); a packet records the
first anomaly met. A packet with an anomaly in its IP or transport header is not given a flow,
as in Suricata.
"""

from __future__ import annotations

import numpy as np

PKT_DTYPE = np.dtype(
    [
        ("src_hi", np.uint64),
        ("src_lo", np.uint64),
        ("dst_hi", np.uint64),
        ("dst_lo", np.uint64),
        ("tcp_seq", np.uint32),
        ("tcp_ack", np.uint32),
        ("tcp_tsval", np.uint32),
        ("tcp_tsecr", np.uint32),
        ("l3_off", np.int32),  # innermost IP header, -1 if none
        ("l4_off", np.int32),  # transport header, -1 if none
        ("pay_off", np.int32),  # transport payload, -1 if none
        ("pay_len", np.int32),  # payload bytes present in the capture
        ("frag_off", np.int32),  # IPv6: offset of the Fragment header from l3_off; -1 otherwise
        ("sport", np.uint16),  # ICMP: type
        ("dport", np.uint16),  # ICMP: code
        ("vlan0", np.uint16),  # outer 802.1Q id, 0 if untagged
        ("vlan1", np.uint16),  # inner (QinQ) id, 0 if none
        ("flags", np.uint16),  # FLAG_*
        ("anomaly", np.uint16),  # index into ANOMALY_NAMES, 0 = none
        ("tcp_win", np.uint16),
        ("tcp_mss", np.uint16),
        ("ipver", np.uint8),  # 4, 6 or 0
        ("proto", np.uint8),  # IP protocol of the innermost packet
        ("tcp_flags", np.uint8),
        ("tcp_wscale", np.uint8),  # 255 if absent
        ("tcp_opts", np.uint8),  # TCPOPT_* bits
        ("ttl", np.uint8),
        ("icmp_type", np.uint8),
        ("icmp_code", np.uint8),
    ]
)

# flags
FLAG_IP = 1  # an IP header was decoded (addresses valid)
FLAG_FLOW = 2  # the packet belongs to a flow (decoded cleanly, not a fragment)
FLAG_FRAG = 4  # IP fragment: handed to the defragmenter
FLAG_TUNNEL = 8  # decapsulated from GRE / ERSPAN / VXLAN / IP-in-IP
FLAG_ARP = 16
FLAG_PORTS = 32  # sport/dport are transport ports (TCP/UDP/SCTP)
FLAG_REASSEMBLED = 64  # built by the defragmenter

# TCP options seen
TCPOPT_MSS = 1
TCPOPT_WSCALE = 2
TCPOPT_SACKOK = 4
TCPOPT_SACK = 8
TCPOPT_TS = 16

# TCP flag bits
TH_FIN = 0x01
TH_SYN = 0x02
TH_RST = 0x04
TH_PUSH = 0x08
TH_ACK = 0x10
TH_URG = 0x20
TH_ECE = 0x40
TH_CWR = 0x80

PROTO_ICMP = 1
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMPV6 = 58
PROTO_SCTP = 132

# Suricata decoder event names (`decoder.event.<name>` in stats, `anomaly.event` in EVE).
ANOMALY_NAMES: tuple[str, ...] = (
    "",
    "ethernet.pkt_too_small",
    "vlan.header_too_small",
    "vlan.too_many_layers",
    "sll.pkt_too_small",
    "sll2.pkt_too_small",
    "ltnull.pkt_too_small",
    "ltnull.unsupported_type",
    "ipraw.invalid_ip_version",
    "arp.pkt_too_small",
    "ipv4.pkt_too_small",
    "ipv4.hlen_too_small",
    "ipv4.iplen_smaller_than_hlen",
    "ipv4.trunc_pkt",
    "ipv4.opt_invalid_len",
    "ipv4.opt_malformed",
    "ipv4.wrong_ip_version",
    "ipv6.pkt_too_small",
    "ipv6.trunc_pkt",
    "ipv6.trunc_exthdr",
    "ipv6.wrong_ip_version",
    "ipv6.exthdr_useless_fh",
    "ipv6.exthdr_invalid_optlen",
    "tcp.pkt_too_small",
    "tcp.hlen_too_small",
    "tcp.invalid_optlen",
    "tcp.opt_invalid_len",
    "udp.pkt_too_small",
    "udp.hlen_too_small",
    "udp.hlen_invalid",
    "udp.len_invalid",
    "icmpv4.pkt_too_small",
    "icmpv6.pkt_too_small",
    "gre.pkt_too_small",
    "gre.wrong_version",
    "gre.version0_recur",
    "erspan.header_too_small",
    "erspan.unsupported_version",
    "vxlan.unknown_payload_type",
    "ipv6.ipv4_in_ipv6_wrong_version",
    "ipv6.ipv6_in_ipv6_wrong_version",
    "ipv4.frag_overlap",
    "ipv4.frag_pkt_too_large",
    "ipv4.frag_ignored",
    "ipv6.frag_overlap",
    "ipv6.frag_pkt_too_large",
    "ipv6.frag_invalid_length",
    "ipv6.frag_ignored",
    "ipv6.unknown_next_header",
    "ipv4.opt_pad_required",
)
ANOMALY_CODE: dict[str, int] = {name: i for i, name in enumerate(ANOMALY_NAMES) if name}


def _a(name: str) -> int:
    return ANOMALY_CODE[name]


A_ETH_SMALL = _a("ethernet.pkt_too_small")
A_VLAN_SMALL = _a("vlan.header_too_small")
A_VLAN_LAYERS = _a("vlan.too_many_layers")
A_SLL_SMALL = _a("sll.pkt_too_small")
A_SLL2_SMALL = _a("sll2.pkt_too_small")
A_NULL_SMALL = _a("ltnull.pkt_too_small")
A_NULL_TYPE = _a("ltnull.unsupported_type")
A_RAW_VERSION = _a("ipraw.invalid_ip_version")
A_ARP_SMALL = _a("arp.pkt_too_small")
A_IP4_SMALL = _a("ipv4.pkt_too_small")
A_IP4_HLEN = _a("ipv4.hlen_too_small")
A_IP4_IPLEN = _a("ipv4.iplen_smaller_than_hlen")
A_IP4_TRUNC = _a("ipv4.trunc_pkt")
A_IP4_OPTLEN = _a("ipv4.opt_invalid_len")
A_IP4_OPTMAL = _a("ipv4.opt_malformed")
A_IP4_VERSION = _a("ipv4.wrong_ip_version")
A_IP4_OPT_PAD = _a("ipv4.opt_pad_required")
A_IP6_SMALL = _a("ipv6.pkt_too_small")
A_IP6_TRUNC = _a("ipv6.trunc_pkt")
A_IP6_TRUNC_EXT = _a("ipv6.trunc_exthdr")
A_IP6_VERSION = _a("ipv6.wrong_ip_version")
A_IP6_USELESS_FH = _a("ipv6.exthdr_useless_fh")
A_IP6_OPTLEN = _a("ipv6.exthdr_invalid_optlen")
A_TCP_SMALL = _a("tcp.pkt_too_small")
A_TCP_HLEN = _a("tcp.hlen_too_small")
A_TCP_OPTLEN = _a("tcp.invalid_optlen")
A_TCP_OPT_INVALID = _a("tcp.opt_invalid_len")
A_UDP_SMALL = _a("udp.pkt_too_small")
A_UDP_HLEN_SMALL = _a("udp.hlen_too_small")
A_UDP_HLEN_INVALID = _a("udp.hlen_invalid")
A_UDP_LEN_INVALID = _a("udp.len_invalid")
A_ICMP4_SMALL = _a("icmpv4.pkt_too_small")
A_ICMP6_SMALL = _a("icmpv6.pkt_too_small")
A_GRE_SMALL = _a("gre.pkt_too_small")
A_GRE_VERSION = _a("gre.wrong_version")
A_GRE_RECUR = _a("gre.version0_recur")
A_ERSPAN_SMALL = _a("erspan.header_too_small")
A_ERSPAN_VERSION = _a("erspan.unsupported_version")
A_VXLAN_PAYLOAD = _a("vxlan.unknown_payload_type")
A_IP4IN6_VERSION = _a("ipv6.ipv4_in_ipv6_wrong_version")
A_IP6IN6_VERSION = _a("ipv6.ipv6_in_ipv6_wrong_version")

# Decoder counters (`decoder.<name>` in Suricata's stats), indexes into the counters array.
DECODER_COUNTERS: tuple[str, ...] = (
    "pkts",
    "bytes",
    "invalid",
    "ethernet",
    "sll",
    "sll2",
    "null",
    "raw",
    "vlan",
    "vlan_qinq",
    "vlan_qinqinq",
    "arp",
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "sctp",
    "icmpv4",
    "icmpv6",
    "gre",
    "vxlan",
    "erspan",
    "ipv4_in_ipv4",
    "ipv6_in_ipv4",
    "ipv4_in_ipv6",
    "ipv6_in_ipv6",
    "too_many_layers",
    "unknown_ethertype",
    "max_pkt_size",
)
DC = {name: i for i, name in enumerate(DECODER_COUNTERS)}
C_PKTS = DC["pkts"]
C_BYTES = DC["bytes"]
C_INVALID = DC["invalid"]
C_ETHERNET = DC["ethernet"]
C_SLL = DC["sll"]
C_SLL2 = DC["sll2"]
C_NULL = DC["null"]
C_RAW = DC["raw"]
C_VLAN = DC["vlan"]
C_VLAN_QINQ = DC["vlan_qinq"]
C_VLAN_QINQINQ = DC["vlan_qinqinq"]
C_ARP = DC["arp"]
C_IPV4 = DC["ipv4"]
C_IPV6 = DC["ipv6"]
C_TCP = DC["tcp"]
C_UDP = DC["udp"]
C_SCTP = DC["sctp"]
C_ICMPV4 = DC["icmpv4"]
C_ICMPV6 = DC["icmpv6"]
C_GRE = DC["gre"]
C_VXLAN = DC["vxlan"]
C_ERSPAN = DC["erspan"]
C_IP4IN4 = DC["ipv4_in_ipv4"]
C_IP6IN4 = DC["ipv6_in_ipv4"]
C_IP4IN6 = DC["ipv4_in_ipv6"]
C_IP6IN6 = DC["ipv6_in_ipv6"]
C_TOO_MANY_LAYERS = DC["too_many_layers"]
C_UNKNOWN_ETHERTYPE = DC["unknown_ethertype"]
C_MAX_PKT_SIZE = DC["max_pkt_size"]
N_DECODER_COUNTERS = len(DECODER_COUNTERS)
N_ANOMALIES = len(ANOMALY_NAMES)


def new_packets(n: int) -> np.ndarray:
    """A zeroed decoded-packet array of `n` records."""
    return np.zeros(n, dtype=PKT_DTYPE)
