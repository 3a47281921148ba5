"""FTP control channel (TCP): a sans-io stream parser giving Suricata's `ftp` events.

`parser` holds `FtpParser` (line framing, the command/reply state machine) and the helpers
that read data-channel ports (`port_of_command`, `port_of_reply`).
"""

from tocsin.applayer.ftp.parser import FtpParser

__all__ = ["FtpParser"]
