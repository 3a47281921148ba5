"""Kerberos 5 KDC exchanges (UDP and TCP 88): sans-io parsers giving Suricata's `krb5` events.

`der` is a small strict DER reader, `message` turns one KDC message into the EVE body,
`parser` holds the datagram and stream parsers (`Krb5UdpParser`, `Krb5TcpParser`).
"""

from tocsin.applayer.krb5.parser import Krb5TcpParser, Krb5UdpParser

__all__ = ["Krb5TcpParser", "Krb5UdpParser"]
