"""DCERPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2): header and the bodies
Tocsin reads.

Every PDU starts with a 16-byte header: rpc_vers (5), rpc_vers_minor (0 or 1), PTYPE, pfc_flags,
the data representation (byte 0 bit 0x10: little endian), frag_length, auth_length, call_id.

Functions take `bytes` and an offset, return plain values and raise `ParseError` on anything
inconsistent; they never read stub data (only its size is logged).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from tocsin.applayer.base import ParseError

HEADER_LEN = 16
REQUEST, RESPONSE, FAULT = 0, 2, 3
BIND, BIND_ACK, BIND_NAK, ALTER_CONTEXT, ALTER_CONTEXT_RESP, AUTH3 = 11, 12, 13, 14, 15, 16
PFC_FIRST_FRAG, PFC_LAST_FRAG, PFC_OBJECT_UUID = 0x01, 0x02, 0x80

PTYPE_NAMES = (
    "REQUEST",
    "PING",
    "RESPONSE",
    "FAULT",
    "WORKING",
    "NOCALL",
    "REJECT",
    "ACK",
    "CL_CANCEL",
    "FACK",
    "CANCEL_ACK",
    "BIND",
    "BINDACK",
    "BINDNAK",
    "ALTER_CONTEXT",
    "ALTER_CONTEXT_RESP",
    "AUTH3",
    "SHUTDOWN",
    "CO_CANCEL",
    "ORPHANED",
    "RTS",
)

# the request type each response type answers (a call is keyed by call_id and request type)
REQUEST_OF = {
    BIND_ACK: BIND,
    BIND_NAK: BIND,
    ALTER_CONTEXT_RESP: ALTER_CONTEXT,
    RESPONSE: REQUEST,
    FAULT: REQUEST,
}

_H_LE = struct.Struct("<HHI")
_H_BE = struct.Struct(">HHI")


def ptype_name(ptype: int) -> str:
    return PTYPE_NAMES[ptype] if ptype < len(PTYPE_NAMES) else str(ptype)


class Header(NamedTuple):
    minor: int
    ptype: int
    flags: int
    little: bool
    frag_len: int
    auth_len: int
    call_id: int


def parse_header(b: bytes | bytearray | memoryview, off: int = 0) -> Header:
    """The common header at `b[off:]` (at least 16 bytes). ParseError unless version 5.0/5.1,
    a known connection-oriented PTYPE (0..20) and a fragment length that holds the header and
    the authentication verifier."""
    if len(b) - off < HEADER_LEN:
        raise ParseError("dcerpc: header cut short")
    if b[off] != 5 or b[off + 1] > 1:
        raise ParseError(f"dcerpc: version {b[off]}.{b[off + 1]}")
    ptype, flags = b[off + 2], b[off + 3]
    if ptype > 20:
        raise ParseError(f"dcerpc: PTYPE {ptype}")
    little = bool(b[off + 4] & 0x10)
    frag_len, auth_len, call_id = (_H_LE if little else _H_BE).unpack_from(b, off + 8)
    if frag_len < HEADER_LEN or (auth_len and auth_len + 8 > frag_len - HEADER_LEN):
        raise ParseError(f"dcerpc: fragment length {frag_len} (auth {auth_len})")
    return Header(b[off + 1], ptype, flags, little, frag_len, auth_len, call_id)


def looks_like_dcerpc(b: bytes | bytearray | memoryview, off: int = 0) -> bool:
    """True when `b[off:]` starts with a plausible connection-oriented DCERPC header (used to
    tell a named pipe from a file when the TREE_CONNECT was not seen)."""
    try:
        parse_header(b, off)
    except ParseError:
        return False
    return True


def uuid_text(b: bytes | bytearray | memoryview, off: int, little: bool) -> str:
    """A UUID as text; the first three fields are in the PDU's byte order."""
    raw = bytes(b[off : off + 16])
    if len(raw) < 16:
        raise ParseError("dcerpc: uuid cut short")
    if little:
        raw = raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Context(NamedTuple):
    ctx_id: int
    uuid: str
    version: str  # "major.minor" of the abstract syntax


def parse_bind(pdu: bytes, h: Header, max_items: int) -> list[Context]:
    """The presentation contexts of a BIND or ALTER_CONTEXT PDU (the whole fragment)."""
    e = "<" if h.little else ">"
    if len(pdu) < 28:
        raise ParseError("dcerpc: bind cut short")
    n = pdu[24]
    off = 28
    out: list[Context] = []
    for _ in range(n):
        if off + 24 > len(pdu):
            raise ParseError("dcerpc: bind context cut short")
        ctx_id, n_syn = struct.unpack_from(e + "HB", pdu, off)
        major, minor = struct.unpack_from(e + "HH", pdu, off + 20)
        if len(out) < max_items:
            out.append(Context(ctx_id, uuid_text(pdu, off + 4, h.little), f"{major}.{minor}"))
        off += 24 + 20 * n_syn
    if off > len(pdu):
        raise ParseError("dcerpc: bind transfer syntaxes cut short")
    return out


def parse_bind_ack(pdu: bytes, h: Header) -> list[tuple[int, int]]:
    """(result, reason) per context of a BIND_ACK or ALTER_CONTEXT_RESP PDU."""
    e = "<" if h.little else ">"
    if len(pdu) < 26:
        raise ParseError("dcerpc: bind_ack cut short")
    (sec_len,) = struct.unpack_from(e + "H", pdu, 24)
    off = 26 + sec_len
    off += -off % 4  # the result list is 4-byte aligned
    if off + 4 > len(pdu):
        raise ParseError("dcerpc: bind_ack results cut short")
    n = pdu[off]
    off += 4
    if off + 24 * n > len(pdu):
        raise ParseError("dcerpc: bind_ack result list cut short")
    return [struct.unpack_from(e + "HH", pdu, off + 24 * i) for i in range(n)]


def body_len(h: Header) -> int:
    """Bytes of a REQUEST / RESPONSE / FAULT fragment that precede its stub data."""
    if h.ptype == REQUEST:
        return 24 + (16 if h.flags & PFC_OBJECT_UUID else 0)
    if h.ptype in (RESPONSE, FAULT):
        return 24
    return HEADER_LEN


def stub_len(h: Header) -> int:
    """Stub data bytes of a REQUEST / RESPONSE fragment as Suricata counts `stub_data_size`:
    a REQUEST's bytes after its first 24 (object UUID and authentication verifier included),
    a RESPONSE's bytes after the 16-byte common header."""
    n = h.frag_len - (24 if h.ptype == REQUEST else HEADER_LEN)
    if n < 0:
        raise ParseError("dcerpc: fragment shorter than its header")
    return n


def request_fields(b: bytes, off: int, h: Header) -> tuple[int, int]:
    """(context id, opnum) of the REQUEST fragment at `b[off:]`."""
    if len(b) - off < 24:
        raise ParseError("dcerpc: request header cut short")
    ctx_id, opnum = struct.unpack_from("<HH" if h.little else ">HH", b, off + 20)
    return ctx_id, opnum
