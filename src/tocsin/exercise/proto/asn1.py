"""DER encoding by hand (ITU-T X.690), for the Kerberos and SPNEGO builders.

Each function returns one whole element (tag, definite length in its shortest form,
content). Only the types those protocols use are here; tag numbers are below 31 (one tag
byte). Pure functions of their arguments, no state.
"""

from __future__ import annotations

import time

SEQUENCE = 0x30


def tlv(tag: int, content: bytes) -> bytes:
    """One element with the tag byte `tag` (class, constructed bit and number already in it)."""
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | size)) + n.to_bytes(size, "big") + content


def seq(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def ctx(n: int, content: bytes) -> bytes:
    """`[n]` EXPLICIT: a constructed context-specific element wrapping `content`."""
    return tlv(0xA0 | n, content)


def app(n: int, content: bytes) -> bytes:
    """`[APPLICATION n]`, constructed."""
    return tlv(0x60 | n, content)


def integer(v: int) -> bytes:
    """INTEGER in two's complement, shortest form (negative values allowed: etype -135)."""
    size = max(1, (v + (v < 0)).bit_length() // 8 + 1)
    return tlv(0x02, v.to_bytes(size, "big", signed=True))


def enumerated(v: int) -> bytes:
    return tlv(0x0A, v.to_bytes(1, "big"))


def boolean(v: bool) -> bytes:
    return tlv(0x01, b"\xff" if v else b"\x00")


def octets(b: bytes) -> bytes:
    return tlv(0x04, b)


def gstring(s: str) -> bytes:
    """GeneralString (KerberosString, Realm)."""
    return tlv(0x1B, s.encode("ascii"))


def bits32(flags: int) -> bytes:
    """A 32-bit BIT STRING (KerberosFlags: bit 0 is the most significant)."""
    return tlv(0x03, b"\x00" + flags.to_bytes(4, "big"))


def gtime(unix_s: float) -> bytes:
    """GeneralizedTime "YYYYMMDDHHMMSSZ" (KerberosTime: whole seconds, UTC)."""
    return tlv(0x18, time.strftime("%Y%m%d%H%M%SZ", time.gmtime(int(unix_s))).encode())


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form."""
    arcs = [int(x) for x in dotted.split(".")]
    out = bytearray((40 * arcs[0] + arcs[1],))
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))
