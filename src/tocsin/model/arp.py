"""The `arp` record: one ARP packet, shaped as Suricata 8's EVE `arp` event.

Field names follow `properties.arp` of Suricata's EVE JSON Schema (`hw_type`, `proto_type`,
`opcode`, `src_mac`, `src_ip`, `dest_mac`, `dest_ip`), with Suricata's values: `opcode` is
`"request"`, `"reply"`, `"request_reverse"`, `"reply_reverse"` or `"unknown"`; MACs are
lower-case colon-separated hex. `src_*` is the ARP sender, `dest_*` the target (for a request,
`dest_mac` is usually all zeros).

Tocsin builds these for the correlator only (ARP scans, ARP spoofing): they are not written to
EVE. `parse_arp` reads one ARP header (Ethernet hardware, IPv4 protocol); anything else gives
`None`.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

import msgspec

OPCODES = {1: "request", 2: "reply", 3: "request_reverse", 4: "reply_reverse"}


class ArpInfo(msgspec.Struct, frozen=True, kw_only=True):
    hw_type: str = "ethernet"
    proto_type: str = "ipv4"
    opcode: str
    src_mac: str
    src_ip: str
    dest_mac: str
    dest_ip: str


class ArpEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event_type", tag="arp"):
    event_type: ClassVar[str] = "arp"  # the tag, readable on instances (correlator dispatch)

    timestamp: str
    arp: ArpInfo


def mac_text(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def parse_arp(b: bytes) -> ArpInfo | None:
    """The ARP header at the start of `b` (Ethernet/IPv4 only), or None."""
    if len(b) < 28 or b[0:2] != b"\x00\x01" or b[2:4] != b"\x08\x00" or b[4] != 6 or b[5] != 4:
        return None
    op = int.from_bytes(b[6:8], "big")
    return ArpInfo(
        opcode=OPCODES.get(op, "unknown"),
        src_mac=mac_text(b[8:14]),
        src_ip=str(ipaddress.IPv4Address(b[14:18])),
        dest_mac=mac_text(b[18:24]),
        dest_ip=str(ipaddress.IPv4Address(b[24:28])),
    )
