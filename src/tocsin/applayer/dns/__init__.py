"""DNS (UDP and TCP): sans-io parsers giving Suricata 8 `dns` events (EVE DNS v3).

`wire` reads names and writes bytes as Suricata does, `message` turns one message into the
EVE body, `parser` holds the datagram and stream parsers (`DnsUdpParser`, `DnsTcpParser`).
"""

from tocsin.applayer.dns.parser import DnsTcpParser, DnsUdpParser

__all__ = ["DnsTcpParser", "DnsUdpParser"]
