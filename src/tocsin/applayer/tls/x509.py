"""A small DER reader for the X.509 fields the `tls` event logs.

`read_certificate(der)` walks the certificate's TLV structure by offsets (no copies, no
recursion, no per-byte loops) and returns a `CertInfo` with the fields Suricata logs, in
Suricata's formats:

- `subject` / `issuerdn`: RDNs in DER order joined by ", ", attributes of a multi-valued RDN by
  " + ", each `ABBR=value` with x509-parser's names (CN, C, L, ST, O, OU, DC, Email, then the
  OID registry's short names: serialNumber, businessCategory...; unknown OIDs as `OID(1.2.3)`);
  string values decoded (UTF-8, latin-1 when not UTF-8, BMPString as UTF-16), other types as
  upper-case hex;
- `serial`: the INTEGER's content bytes as upper-case hex joined by ":" ("00:97:E6:...");
- `notbefore` / `notafter`: UTC "YYYY-MM-DDTHH:MM:SS" (UTCTime years 50-99 are 19xx; an
  offset is applied, a missing zone read as UTC, fractions of a second dropped);
- `subjectaltname`: dNSName, rfc822Name and URI values as text, iPAddress as an address,
  at most `max_san` entries.

Errors: `CertError` when the outer structure (certificate, TBS, names) is not valid DER. A field
that cannot be read (an odd date, an unknown string type) is left as None or shown as hex: real
certificates are often slightly wrong and the rest is still worth logging. It does not verify
signatures, chains or validity periods.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
from dataclasses import dataclass, field

__all__ = ["CertError", "CertInfo", "read_certificate"]


class CertError(ValueError):
    """The bytes are not a DER X.509 certificate."""


@dataclass(slots=True)
class CertInfo:
    subject: str | None = None
    issuerdn: str | None = None
    serial: str | None = None
    notbefore: str | None = None
    notafter: str | None = None
    subjectaltname: list[str] = field(default_factory=list)


# attribute type OIDs (DER content bytes) -> name printed before "=", as x509-parser does
_X520 = b"\x55\x04"
_NAMES: dict[bytes, str] = {
    _X520 + b"\x03": "CN",
    _X520 + b"\x06": "C",
    _X520 + b"\x07": "L",
    _X520 + b"\x08": "ST",
    _X520 + b"\x0a": "O",
    _X520 + b"\x0b": "OU",
    bytes.fromhex("0992268993f22c640119"): "DC",
    bytes.fromhex("2a864886f70d010901"): "Email",
    _X520 + b"\x00": "objectClass",
    _X520 + b"\x01": "aliasedEntryName",
    _X520 + b"\x02": "knowledgeInformation",
    _X520 + b"\x04": "surname",
    _X520 + b"\x05": "serialNumber",
    _X520 + b"\x09": "streetAddress",
    _X520 + b"\x0c": "title",
    _X520 + b"\x0d": "description",
    _X520 + b"\x0e": "searchGuide",
    _X520 + b"\x0f": "businessCategory",
    _X520 + b"\x10": "postalAddress",
    _X520 + b"\x11": "postalCode",
    _X520 + b"\x29": "name",
    _X520 + b"\x2a": "givenName",
    _X520 + b"\x2b": "initials",
    _X520 + b"\x2c": "generationQualifier",
    _X520 + b"\x2d": "uniqueIdentifier",
    _X520 + b"\x2e": "dnQualifier",
    bytes.fromhex("2a864886f70d010902"): "unstructuredName",
    bytes.fromhex("2b0601040182373c020101"): "msJurisdictionLocality",
    bytes.fromhex("2b0601040182373c020102"): "msJurisdictionStateOrProvince",
    bytes.fromhex("2b0601040182373c020103"): "msJurisdictionCountry",
}
# extension OIDs also have registry names (seen misused as attribute types in odd certificates)
_EXTENSIONS = {
    14: "subjectKeyIdentifier",
    15: "keyUsage",
    16: "privateKeyUsagePeriod",
    17: "subjectAltName",
    18: "issuerAltName",
    19: "basicConstraints",
    20: "crlNumber",
    21: "reasonCode",
    23: "holdInstructionCode",
    24: "invalidityDate",
    27: "deltaCRLIndicator",
    28: "issuerDistributionPoint",
    29: "issuer",
    30: "nameConstraints",
    31: "crlDistributionPoints",
    32: "certificatePolicies",
    33: "policyMappings",
    35: "authorityKeyIdentifier",
    36: "policyConstraints",
    37: "extendedKeyUsage",
    46: "freshestCRL",
    54: "inhibitantAnyPolicy",
}
_NAMES.update({b"\x55\x1d" + bytes((n,)): name for n, name in _EXTENSIONS.items()})
_OID_SAN = b"\x55\x1d\x11"
# universal string types whose content is text (x509-parser's list)
_TEXT_TAGS = frozenset((0x0C, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x07))
_SEQ, _SET, _INT, _OID, _OCTETS, _BOOL = 0x30, 0x31, 0x02, 0x06, 0x04, 0x01


def _tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start, stop) of the element at `pos`: its content is buf[start:stop]."""
    if pos + 2 > end:
        raise CertError("truncated DER element")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise CertError("high tag numbers are not used in certificates")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise CertError("bad DER length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise CertError("DER element overruns its parent")
    return tag, pos, pos + n


def _children(buf: bytes, start: int, stop: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < stop:
        t = _tlv(buf, pos, stop)
        out.append(t)
        pos = t[2]
    return out


def _oid_text(b: bytes) -> str:
    if not b:
        return "OID()"
    parts: list[int] = []
    val = 0
    for byte in b:  # OIDs are a dozen bytes; only for names not in the table
        val = (val << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(val)
            val = 0
    if not parts:
        return "OID()"
    arc = min(parts[0] // 40, 2)
    head = [arc, parts[0] - 40 * arc]
    return "OID(" + ".".join(str(p) for p in head + parts[1:]) + ")"


def _text(tag: int, raw: bytes) -> str:
    if tag in _TEXT_TAGS:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if tag == 0x1E:  # BMPString
        return raw.decode("utf-16-be", "replace")
    if tag == 0x1C:  # UniversalString
        return raw.decode("utf-32-be", "replace")
    return raw.hex().upper()


def _name(buf: bytes, start: int, stop: int) -> str:
    rdns = []
    for tag, s, e in _children(buf, start, stop):
        if tag != _SET:
            raise CertError("RDN is not a SET")
        atvs = []
        for tag2, s2, e2 in _children(buf, s, e):
            if tag2 != _SEQ:
                raise CertError("attribute is not a SEQUENCE")
            ot, os_, oe = _tlv(buf, s2, e2)
            if ot != _OID:
                raise CertError("attribute type is not an OID")
            vt, vs, ve = _tlv(buf, oe, e2)
            oid = buf[os_:oe]
            label = _NAMES.get(oid) or _oid_text(oid)
            atvs.append(f"{label}={_text(vt, buf[vs:ve])}")
        rdns.append(" + ".join(atvs))
    return ", ".join(rdns)


def _time(tag: int, raw: bytes) -> str | None:
    """UTCTime (0x17) / GeneralizedTime (0x18) -> "YYYY-MM-DDTHH:MM:SS" UTC, None if odd."""
    try:
        s = raw.decode("ascii")
        if tag == 0x17:
            yy = int(s[0:2])
            year, rest = (1900 + yy if yy >= 50 else 2000 + yy), s[2:]
        elif tag == 0x18:
            year, rest = int(s[0:4]), s[4:]
        else:
            return None
        month, day, hour, minute = (int(rest[i : i + 2]) for i in (0, 2, 4, 6))
        rest = rest[8:]
        second = 0
        if rest[:2].isdigit():
            second, rest = int(rest[:2]), rest[2:]
        if rest[:1] in (".", ","):  # fractional seconds: dropped
            rest = rest[1:].lstrip("0123456789")
        offset = dt.timedelta(0)
        if rest[:1] in ("+", "-") and len(rest) >= 5:
            sign = 1 if rest[0] == "+" else -1
            offset = sign * dt.timedelta(hours=int(rest[1:3]), minutes=int(rest[3:5]))
        elif rest not in ("Z", ""):
            return None
        when = dt.datetime(year, month, day, hour, minute, min(second, 59)) - offset
    except (ValueError, OverflowError, IndexError):
        return None
    return when.isoformat()


def _san(buf: bytes, start: int, stop: int, limit: int) -> list[str]:
    out: list[str] = []
    tag, s, e = _tlv(buf, start, stop)
    if tag != _SEQ:
        return out
    for gtag, gs, ge in _children(buf, s, e):
        if len(out) >= limit:
            break
        raw = buf[gs:ge]
        if gtag in (0x81, 0x82, 0x86):  # rfc822Name, dNSName, URI (IA5String)
            out.append(raw.decode("latin-1"))
        elif gtag == 0x87 and len(raw) in (4, 16):
            out.append(str(ipaddress.ip_address(raw)))
    return out


def read_certificate(der: bytes, max_san: int = 256) -> CertInfo:
    """The logged fields of one DER certificate; `CertError` if its structure is not DER."""
    end = len(der)
    tag, cs, ce = _tlv(der, 0, end)
    if tag != _SEQ:
        raise CertError("certificate is not a SEQUENCE")
    tag, ts, te = _tlv(der, cs, ce)
    if tag != _SEQ:
        raise CertError("tbsCertificate is not a SEQUENCE")
    items = _children(der, ts, te)
    if items and items[0][0] == 0xA0:  # [0] EXPLICIT version
        items = items[1:]
    if len(items) < 6:
        raise CertError("tbsCertificate has too few fields")
    serial, _alg, issuer, validity, subject = items[:5]
    if serial[0] != _INT or issuer[0] != _SEQ or subject[0] != _SEQ or validity[0] != _SEQ:
        raise CertError("unexpected tbsCertificate field types")
    info = CertInfo()
    info.serial = ":".join(f"{b:02X}" for b in der[serial[1] : serial[2]])
    info.issuerdn = _name(der, issuer[1], issuer[2])
    info.subject = _name(der, subject[1], subject[2])
    times = _children(der, validity[1], validity[2])
    if len(times) == 2:
        info.notbefore = _time(times[0][0], der[times[0][1] : times[0][2]])
        info.notafter = _time(times[1][0], der[times[1][1] : times[1][2]])
    for tag, s, e in items[6:]:
        if tag != 0xA3:  # [3] EXPLICIT extensions
            continue
        with contextlib.suppress(CertError):  # a broken extension block hides nothing else
            info.subjectaltname = _extensions_san(der, s, e, max_san)
    return info


def _extensions_san(der: bytes, start: int, stop: int, limit: int) -> list[str]:
    tag, s, e = _tlv(der, start, stop)
    if tag != _SEQ:
        return []
    for etag, es, ee in _children(der, s, e):
        if etag != _SEQ:
            continue
        parts = _children(der, es, ee)
        if len(parts) < 2 or parts[0][0] != _OID or der[parts[0][1] : parts[0][2]] != _OID_SAN:
            continue
        value = parts[-1]
        if value[0] == _OCTETS:
            return _san(der, value[1], value[2], limit)
    return []
