"""DCERPC (connection-oriented, MS-RPCE): PDUs, interface names, the call state machine shared
with SMB named pipes, and the TCP parser."""

from tocsin.applayer.dcerpc.parser import DcerpcParser

__all__ = ["DcerpcParser"]
