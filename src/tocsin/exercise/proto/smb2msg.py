"""SMB2 message bodies (MS-SMB2 2.2) and the codes they carry, as pure functions.

Each builder returns the body that follows the 64-byte header (offsets inside it are
relative to the header's start, as the specification counts them). `header` builds the
header, `frame` the NetBIOS session message around header and body. `smb2.Smb2Session` keeps
the state (ids, credits) that ties them into a conversation; nothing here does.
"""

from __future__ import annotations

import random
import struct
from functools import cache

from tocsin.exercise.proto import ntlm

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, CREATE, CLOSE = range(7)
READ, WRITE, IOCTL, QUERY_DIRECTORY, SET_INFO = 8, 9, 11, 14, 17

STATUS_SUCCESS = 0x00000000
STATUS_NO_MORE_FILES = 0x80000006
STATUS_END_OF_FILE = 0xC0000011
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_LOGON_FAILURE = 0xC000006D
STATUS_BAD_NETWORK_NAME = 0xC00000CC
STATUS_ACCOUNT_LOCKED_OUT = 0xC0000234

FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF = range(6)
READ_ACCESS = 0x00120089  # FILE_GENERIC_READ
RW_ACCESS = 0x0012019F  # FILE_GENERIC_READ | FILE_GENERIC_WRITE
DELETE_ACCESS = 0x00010000
OPT_DIRECTORY, OPT_NON_DIRECTORY, OPT_DELETE_ON_CLOSE = 0x1, 0x40, 0x1000
FSCTL_PIPE_TRANSCEIVE = 0x0011C017
MAX_PIPE_OUT = 4280  # MaxOutputResponse of a pipe transceive (DCERPC max_recv_frag)
FLAG_RESPONSE, FLAG_SIGNED = 0x1, 0x8
CHUNK = 1 << 20  # largest READ / WRITE a client sends (Windows copies in 1 MiB chunks)
DIR_OUT = 65536  # OutputBufferLength of a QUERY_DIRECTORY (Windows Explorer's)

_HDR = struct.Struct("<4sHHIHHIIQIIQ16s")
ERROR_BODY = struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"  # SMB2 ERROR Response, no context
_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
_PREAUTH = struct.pack("<HHH", 1, 32, 1)  # one hash (SHA-512), 32-byte salt


@cache
def _block() -> bytes:
    return random.Random(0x5EED_F11E).randbytes(CHUNK)


def filler(rng: random.Random, n: int) -> bytes:
    """`n` bytes of high-entropy filler (file contents), a slice of a fixed random block."""
    b = _block()
    if n <= len(b):
        start = rng.randrange(len(b) - n + 1)
        return b[start : start + n]
    return (b * (n // len(b) + 1))[:n]


def _u16(s: str) -> bytes:
    return s.encode("utf-16-le")


def header(
    cmd: int,
    status: int,
    flags: int,
    msg_id: int,
    tree_id: int,
    session_id: int,
    *,
    charge: int,
    credits: int,
    signature: bytes,
) -> bytes:
    """The 64-byte sync header (Windows' ProcessId 0xFEFF)."""
    return _HDR.pack(b"\xfeSMB", 64, charge, status, cmd, credits, flags, 0, msg_id, 0xFEFF,
                     tree_id, session_id, signature)  # fmt: skip


def frame(hdr: bytes, body: bytes) -> bytes:
    """A NetBIOS session message (type 0, 24-bit length) holding one SMB2 message."""
    return struct.pack(">I", len(hdr) + len(body)) + hdr + body


def _context(ctype: int, data: bytes, last: bool) -> bytes:
    out = struct.pack("<HHI", ctype, len(data), 0) + data
    return out if last else out + bytes(-len(out) % 8)


def negotiate_request(rng: random.Random, target: str) -> bytes:
    """Dialects 2.0.2 to 3.1.1, with preauth integrity, encryption and netname contexts."""
    n = len(_DIALECTS)
    ctx_off = 64 + 36 + 2 * n
    ctx_off += -ctx_off % 8
    return b"".join(
        (
            struct.pack("<HHHHI16sIHH", 36, n, 1, 0, 0x7F, rng.randbytes(16), ctx_off, 3, 0),
            struct.pack(f"<{n}H", *_DIALECTS),
            bytes(ctx_off - 64 - 36 - 2 * n),
            _context(1, _PREAUTH + rng.randbytes(32), False),
            _context(2, struct.pack("<HHH", 2, 2, 1), False),  # AES-128-GCM, AES-128-CCM
            _context(5, _u16(target), True),
        )
    )


def negotiate_response(rng: random.Random, now: float, signing_required: bool) -> bytes:
    """Dialect 3.1.1 chosen, SPNEGO hints, preauth integrity and AES-128-GCM contexts."""
    blob = ntlm.spnego_hints()
    blob_end = 128 + len(blob)
    ctx_off = blob_end + (-blob_end % 8)
    now_ft = ntlm.filetime(now)
    boot_ft = now_ft - rng.randrange(3600, 40 * 86400) * 10_000_000
    mode, size = 3 if signing_required else 1, 8 << 20
    fixed = struct.pack(
        "<HHHH16sIIIIQQHHI", 65, mode, 0x0311, 2, rng.randbytes(16), 0x2F, size, size, size,
        now_ft, boot_ft, 128, len(blob), ctx_off,
    )  # fmt: skip
    return b"".join(
        (
            fixed,
            blob,
            bytes(ctx_off - blob_end),
            _context(1, _PREAUTH + rng.randbytes(32), False),
            _context(2, struct.pack("<HH", 1, 2), True),
        )
    )


def session_setup_request(blob: bytes) -> bytes:
    return struct.pack("<HBBIIHHQ", 25, 0, 1, 1, 0, 88, len(blob), 0) + blob


def session_setup_response(blob: bytes) -> bytes:
    return struct.pack("<HHHH", 9, 0, 72, len(blob)) + blob


def tree_connect_request(path: str) -> bytes:
    name = _u16(path)
    return struct.pack("<HHHH", 9, 0, 72, len(name)) + name


def tree_connect_response(is_pipe: bool) -> bytes:
    """A pipe share (IPC$, no caching) or a disk share with full access."""
    if is_pipe:
        return struct.pack("<HBBIII", 16, 2, 0, 0x30, 0, 0x001F00A9)
    return struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0x001F01FF)


EMPTY_BODY = struct.pack("<HH", 4, 0)  # TREE_DISCONNECT / LOGOFF request and response


def create_request(name: str, disposition: int, access: int, options: int) -> bytes:
    raw = _u16(name)
    attrs = 0x80 if disposition in (FILE_CREATE, FILE_OVERWRITE_IF, FILE_SUPERSEDE) else 0
    return struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 2, 0, 0, access, attrs, 7, disposition,
                       options, 120, len(raw), 0, 0) + (raw or b"\x00")  # fmt: skip


def create_response(
    action: int, times: tuple[int, int, int, int], size: int, attrs: int, fid: bytes
) -> bytes:
    alloc = -(-size // 4096) * 4096 if size else (4096 if attrs == 0x80 else 0)
    return struct.pack("<HBBIQQQQQQII16sII", 89, 0, 0, action, *times, alloc, size, attrs, 0,
                       fid, 0, 0)  # fmt: skip


def close_request(fid: bytes) -> bytes:
    return struct.pack("<HHI16s", 24, 0, 0, fid)


CLOSE_RESPONSE = struct.pack("<HHI48xI", 60, 0, 0, 0)


def read_request(fid: bytes, n: int, offset: int) -> bytes:
    return struct.pack("<HBBIQ16sIIIHHx", 49, 0x50, 0, n, offset, fid, 0, 0, 0, 0, 0)


def read_response(data: bytes) -> bytes:
    return struct.pack("<HBBIII", 17, 80, 0, len(data), 0, 0) + data


def write_request(fid: bytes, offset: int, data: bytes) -> bytes:
    return struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), offset, fid, 0, 0, 0, 0, 0) + data


def write_response(n: int) -> bytes:
    return struct.pack("<HHIIHH", 17, 0, n, 0, 0, 0)


def set_info_request(fid: bytes, info_class: int, buf: bytes) -> bytes:
    """SET_INFO of a file information class (10 rename, 13 disposition)."""
    return struct.pack("<HBBIHHI16s", 33, 1, info_class, len(buf), 96, 0, 0, fid) + buf


def rename_info(new_name: str) -> bytes:
    """FileRenameInformation (SMB2 form): no replace, no root directory, the new path."""
    raw = _u16(new_name)
    return struct.pack("<B7xQI", 0, 0, len(raw)) + raw


SET_INFO_RESPONSE = struct.pack("<H", 2)


def ioctl_request(fid: bytes, data_in: bytes) -> bytes:
    """FSCTL_PIPE_TRANSCEIVE of `data_in`, at most `MAX_PIPE_OUT` bytes back."""
    return struct.pack("<HHI16sIIIIIIII", 57, 0, FSCTL_PIPE_TRANSCEIVE, fid, 120, len(data_in),
                       0, 120, 0, MAX_PIPE_OUT, 1, 0) + data_in  # fmt: skip


def ioctl_response(fid: bytes, data_out: bytes) -> bytes:
    return struct.pack("<HHI16sIIIIII", 49, 0, FSCTL_PIPE_TRANSCEIVE, fid, 112, 0, 112,
                       len(data_out), 0, 0) + data_out  # fmt: skip


def query_directory_request(fid: bytes, pattern: str, *, restart: bool) -> bytes:
    """QUERY_DIRECTORY of FileIdBothDirectoryInformation (0x25) matching `pattern`;
    `restart`: SMB2_RESTART_SCANS (a new listing)."""
    raw = _u16(pattern)
    return struct.pack("<HBBI16sHHI", 33, 0x25, 0x01 if restart else 0, 0, fid, 96, len(raw),
                       DIR_OUT) + raw  # fmt: skip


_DIR_ENTRY = struct.Struct("<IIQQQQqqIIIBB24sHQ")  # FILE_ID_BOTH_DIR_INFORMATION, 104 bytes


def directory_info(entries: list[tuple[str, tuple[int, int, int, int], int, int, int]]) -> bytes:
    """FILE_ID_BOTH_DIR_INFORMATION entries (MS-FSCC 2.4.17), each (name, (creation, access,
    write, change) FILETIMEs, end of file, attributes, file id), 8-byte aligned and chained
    by NextEntryOffset (0 on the last). No short (8.3) names, as a Windows Server data
    volume has them disabled."""
    out = []
    last = len(entries) - 1
    for i, (name, times, size, attrs, file_id) in enumerate(entries):
        raw = _u16(name)
        n = _DIR_ENTRY.size + len(raw)
        pad = 0 if i == last else -n % 8
        alloc = -(-size // 4096) * 4096
        out.append(_DIR_ENTRY.pack(0 if i == last else n + pad, 0, *times, size, alloc, attrs,
                                   len(raw), 0, 0, 0, bytes(24), 0, file_id))  # fmt: skip
        out.append(raw + bytes(pad))
    return b"".join(out)


def query_directory_response(info: bytes) -> bytes:
    return struct.pack("<HHI", 9, 72, len(info)) + info
