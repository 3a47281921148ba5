"""A small, strict DER reader: enough ASN.1 for Kerberos KDC messages (RFC 4120 section 5).

`read_tlv(data, off, end)` reads one element at `data[off:end]` and returns a `Tlv` (class,
constructed bit, tag number, content bounds). It accepts only what DER allows: definite
lengths in the shortest form (no indefinite length, no long form for lengths under 128, no
leading zero length bytes), tag numbers in the shortest form, and an element that fits in
`end`. Anything else raises `DerError` (a `ParseError`). `fields(data, tlv)` reads a
SEQUENCE whose members are context-tagged (`[0]`, `[1]`...) into a dict, rejecting
repeated or descending tags and trailing bytes. The readers below it read Kerberos' types
(Int32, KerberosString, PrincipalName).
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.applayer.base import ParseError

UNIVERSAL, APPLICATION, CONTEXT, PRIVATE = 0, 1, 2, 3
T_INTEGER, T_OCTET_STRING, T_SEQUENCE = 2, 4, 16
T_GENERAL_STRING, T_GENERALIZED_TIME = 27, 24
_MAX_DEPTH_TAG_BYTES = 4  # tag numbers up to 2^28


class DerError(ParseError):
    """Malformed DER."""


@dataclass(frozen=True, slots=True)
class Tlv:
    cls: int
    constructed: bool
    tag: int
    start: int  # first content byte
    end: int  # one past the last content byte


def read_tlv(data: bytes, off: int, end: int) -> Tlv:
    if off >= end:
        raise DerError("der: element expected, none left")
    b = data[off]
    cls, constructed, tag = b >> 6, bool(b & 0x20), b & 0x1F
    off += 1
    if tag == 0x1F:  # high tag number form
        tag = 0
        for k in range(_MAX_DEPTH_TAG_BYTES + 1):
            if off >= end:
                raise DerError("der: truncated tag")
            c = data[off]
            off += 1
            if k == 0 and c == 0x80:
                raise DerError("der: tag number with a leading zero")
            tag = (tag << 7) | (c & 0x7F)
            if not c & 0x80:
                break
        else:
            raise DerError("der: tag number too long")
        if tag < 0x1F:
            raise DerError("der: tag number not in its shortest form")
    if off >= end:
        raise DerError("der: truncated length")
    n = data[off]
    off += 1
    if n == 0x80:
        raise DerError("der: indefinite length")
    if n & 0x80:
        k = n & 0x7F
        if k > 4 or off + k > end:
            raise DerError("der: length field too long or truncated")
        length = int.from_bytes(data[off : off + k], "big")
        if data[off] == 0 or length < 0x80:
            raise DerError("der: length not in its shortest form")
        off += k
    else:
        length = n
    if off + length > end:
        raise DerError(f"der: element of {length} bytes overruns its container")
    return Tlv(cls, constructed, tag, off, off + length)


def expect(data: bytes, off: int, end: int, cls: int, tag: int, constructed: bool) -> Tlv:
    t = read_tlv(data, off, end)
    if t.cls != cls or t.tag != tag or t.constructed != constructed:
        raise DerError(f"der: expected class {cls} tag {tag}, got class {t.cls} tag {t.tag}")
    return t


def fields(data: bytes, seq: Tlv) -> dict[int, Tlv]:
    """The context-tagged members `[n] EXPLICIT` of a SEQUENCE, by tag: the inner element."""
    out: dict[int, Tlv] = {}
    off, last = seq.start, -1
    while off < seq.end:
        t = read_tlv(data, off, seq.end)
        if t.cls != CONTEXT or not t.constructed:
            raise DerError("der: sequence member without a context tag")
        if t.tag <= last:
            raise DerError("der: sequence members out of order or repeated")
        last = t.tag
        inner = read_tlv(data, t.start, t.end)
        if inner.end != t.end:
            raise DerError("der: bytes after an explicitly tagged element")
        out[t.tag] = inner
        off = t.end
    return out


def sequence(data: bytes, t: Tlv) -> Tlv:
    if t.cls != UNIVERSAL or t.tag != T_SEQUENCE or not t.constructed:
        raise DerError("der: SEQUENCE expected")
    return t


def integer(data: bytes, t: Tlv) -> int:
    if t.cls != UNIVERSAL or t.tag != T_INTEGER or t.constructed:
        raise DerError("der: INTEGER expected")
    raw = data[t.start : t.end]
    if not raw or len(raw) > 8:
        raise DerError("der: INTEGER empty or too long")
    if len(raw) > 1 and ((raw[0] == 0 and not raw[1] & 0x80) or (raw[0] == 0xFF and raw[1] & 0x80)):
        raise DerError("der: INTEGER not in its shortest form")
    return int.from_bytes(raw, "big", signed=True)


def kerberos_string(data: bytes, t: Tlv) -> bytes:
    if t.cls != UNIVERSAL or t.tag != T_GENERAL_STRING or t.constructed:
        raise DerError("der: GeneralString expected")
    return data[t.start : t.end]


def principal_name(data: bytes, t: Tlv, max_items: int) -> list[bytes]:
    """PrincipalName ::= SEQUENCE { name-type [0] Int32, name-string [1] SEQUENCE OF
    KerberosString }: the name components."""
    f = fields(data, sequence(data, t))
    if 0 not in f or 1 not in f:
        raise DerError("krb5: PrincipalName without name-type or name-string")
    integer(data, f[0])
    names = sequence(data, f[1])
    out: list[bytes] = []
    off = names.start
    while off < names.end:
        s = read_tlv(data, off, names.end)
        if len(out) < max_items:
            out.append(kerberos_string(data, s))
        off = s.end
    return out
