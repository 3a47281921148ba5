"""DHCP (UDP): a sans-io datagram parser giving Suricata's extended `dhcp` events.

`parser` holds `decode` (one BOOTP/DHCP message to its EVE body) and `DhcpParser`.
"""

from tocsin.applayer.dhcp.parser import DhcpParser

__all__ = ["DhcpParser"]
