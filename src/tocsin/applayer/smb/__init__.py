"""SMB1 / SMB2 / SMB3 over TCP 445 and 139, with DCERPC over named pipes."""

from tocsin.applayer.smb.parser import SmbParser

__all__ = ["SmbParser"]
