"""RDP (TCP): a sans-io stream parser giving Suricata's `rdp` events.

`parser` holds `RdpParser` (TPKT framing, the connection-sequence state), `pdu` reads the
X.224 and MCS PDUs, `windows` names locale ids and Windows builds.
"""

from tocsin.applayer.rdp.parser import RdpParser

__all__ = ["RdpParser"]
