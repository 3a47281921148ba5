"""`SmbParser`: SMB over TCP 445 / 139 (sans-io stream parser, see `applayer.base`).

Per direction, `Framer` cuts NetBIOS session messages; each is SMB2/3 (`smb2.Smb2`), SMB1
(`smb1.Smb1`), an SMB3 transform (encrypted: counted in `encrypted` and skipped, its header
only is read) or an SMB 3.1.1 compression transform (counted in `compressed`, skipped:
decompression is not done). Encryption can be per share, so clear messages may follow encrypted
ones on the same connection (a TREE_CONNECT to IPC$ after an encrypted share's traffic):
parsing goes on rather than stopping at the first encrypted message. Events (`smb`,
`smb_file`) are built by `state.SmbState`: `smb.id` numbers the flow's transactions from 1 in
the order they are created (a DCERPC call over a pipe when it completes) and `tx_id` is
`id - 1`; `smb_file` events have no `tx_id`.

Errors: anything malformed in the framing or an SMB header, or a length that points outside its
message, raises `ParseError` (lower-level `struct.error` / `IndexError` / `ValueError` /
`UnicodeDecodeError` are converted); an authentication blob that does not parse only loses
the `ntlmssp` / `kerberos` fields, and a pipe whose data is not DCERPC is not decoded.
Bounds: one kept message of at most `limits.max_message` bytes per direction (READ / WRITE
data on files is skipped before it reaches Python; larger messages keep their first
`max_message` bytes), plus the bounded state of `SmbState`.
A gap ends parsing of that direction (the default): SMB has no resynchronisation marker.
"""

from __future__ import annotations

import struct

from tocsin.applayer.base import AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.smb.framing import PEEK, Framer
from tocsin.applayer.smb.smb1 import Smb1
from tocsin.applayer.smb.smb2 import Smb2
from tocsin.applayer.smb.state import SmbState

_SMB2, _SMB1, _TRANSFORM, _COMPRESSED = b"\xfeSMB", b"\xffSMB", b"\xfdSMB", b"\xfcSMB"


class SmbParser(AppParser):
    name = "smb"

    def __init__(self, emit: Emit, limits: AppLimits) -> None:
        super().__init__(emit, limits)
        self.state = SmbState(emit, limits)
        self.smb2 = Smb2(self.state)
        self.smb1 = Smb1(self.state)
        self._framers = (Framer(), Framer())
        self._cap = max(limits.max_message, PEEK)
        self.encrypted = [0, 0]  # SMB3 transform (encrypted) messages seen, per direction
        self.compressed = [0, 0]  # SMB 3.1.1 compressed messages seen (and skipped)

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        d = direction

        def keep(head: bytes, ln: int) -> int:
            if ln <= PEEK:
                return ln
            magic = head[:4]
            if magic == _SMB2:
                return self.smb2.keep(head, ln, self._cap)
            if magic == _SMB1:
                return self.smb1.keep(head, ln, self._cap)
            if magic in (_TRANSFORM, _COMPRESSED):
                return 64
            raise ParseError(f"smb: not an SMB message ({bytes(magic).hex()})")

        def handle(msg: bytes, ln: int) -> bool:
            magic = msg[:4]
            if magic == _SMB2:
                self.smb2.message(msg, ln, ts_us)
            elif magic == _SMB1:
                self.smb1.message(msg, ts_us)
            elif magic == _TRANSFORM:
                self.encrypted[d] += 1
            elif magic == _COMPRESSED:
                self.compressed[d] += 1
            else:
                raise ParseError(f"smb: not an SMB message ({bytes(magic).hex()})")
            return True

        try:
            self.skip[d] = self._framers[d].feed(data, keep, handle)
        except (struct.error, IndexError, ValueError, UnicodeDecodeError) as e:
            raise ParseError(f"smb: {e}") from e

    def close(self, ts_us: int) -> None:
        self.state.flush(ts_us)
