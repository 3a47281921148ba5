"""Who authenticates in a SESSION_SETUP: the security blob's NTLMSSP AUTHENTICATE message
(MS-NLMP 2.2.1.3) or Kerberos AP-REQ ticket (RFC 4120 5.5.1), raw or inside SPNEGO.

`parse_blob(blob)` returns `(SmbNtlmssp | None, SmbKerberos | None)`. The blob is the client's
claim, not the SMB framing: a blob that does not parse gives `(None, None)` rather than an
error, so one odd authenticator never costs the rest of the flow. No secret is kept (the
challenge responses and session key are never read).
"""

from __future__ import annotations

import struct

from tocsin.model.smb import SmbKerberos, SmbNtlmssp

_NTLMSSP = b"NTLMSSP\x00"
_FIELD = struct.Struct("<HHI")
_NEGOTIATE_UNICODE = 0x00000001
_NEGOTIATE_VERSION = 0x02000000
# Kerberos 5 mechanism OIDs (RFC 1964, Microsoft) in DER, then TOK_ID AP-REQ, [APPLICATION 14]
_KRB5_AP_REQ = (
    b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01\x00\x6e",
    b"\x06\x09\x2a\x86\x48\x82\xf7\x12\x01\x02\x02\x01\x00\x6e",
)


def parse_blob(blob: bytes, max_items: int = 256) -> tuple[SmbNtlmssp | None, SmbKerberos | None]:
    i = blob.find(_NTLMSSP)
    if i >= 0:
        return ntlmssp_auth(blob[i:]), None
    for sig in _KRB5_AP_REQ:
        j = blob.find(sig)
        if j >= 0:
            return None, kerberos_ticket(blob, j + len(sig) - 1, max_items)
    return None, None


def ntlmssp_auth(msg: bytes) -> SmbNtlmssp | None:
    """The AUTHENTICATE message at the start of `msg` (None for NEGOTIATE / CHALLENGE)."""
    if len(msg) < 64 or int.from_bytes(msg[8:12], "little") != 3:
        return None
    flags = int.from_bytes(msg[60:64], "little")
    codec = "utf-16-le" if flags & _NEGOTIATE_UNICODE else "latin-1"
    out = []
    for pos in (28, 36, 44):  # DomainName, UserName, Workstation
        ln, _, off = _FIELD.unpack_from(msg, pos)
        if off + ln > len(msg):
            return None
        out.append(msg[off : off + ln].decode(codec, "replace"))
    version = None
    if flags & _NEGOTIATE_VERSION and len(msg) >= 72:
        major, minor, build = struct.unpack_from("<BBH", msg, 64)
        version = f"{major}.{minor} build {build} rev {msg[71]}"
    return SmbNtlmssp(domain=out[0], user=out[1], host=out[2], version=version)


def _tlv(b: bytes, off: int, end: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the DER element at `off`; ValueError if it overruns."""
    if off + 2 > end:
        raise ValueError("der: cut short")
    tag, n = b[off], b[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or off + k > end:
            raise ValueError("der: bad length")
        n = int.from_bytes(b[off : off + k], "big")
        off += k
    if off + n > end:
        raise ValueError("der: value overruns")
    return tag, off, off + n


def _children(b: bytes, start: int, end: int) -> dict[int, tuple[int, int, int]]:
    """The elements of a constructed value, by tag (context tags [0]..[n] are 0xa0 + n)."""
    out = {}
    off = start
    while off < end:
        tag, s, e = _tlv(b, off, end)
        out[tag] = (tag, s, e)
        off = e
    return out


def kerberos_ticket(b: bytes, off: int, max_items: int) -> SmbKerberos | None:
    """Realm and service principal of the ticket in the AP-REQ at `b[off]` (tag 0x6e)."""
    try:
        _, s, e = _tlv(b, off, len(b))  # [APPLICATION 14] AP-REQ
        _, s, e = _tlv(b, s, e)  # SEQUENCE
        _, s, e = _children(b, s, e)[0xA3]  # [3] ticket
        _, s, e = _tlv(b, s, e)  # [APPLICATION 1] Ticket
        _, s, e = _tlv(b, s, e)  # SEQUENCE
        fields = _children(b, s, e)
        _, rs, re_ = fields[0xA1]  # [1] realm
        _, rs, re_ = _tlv(b, rs, re_)
        realm = b[rs:re_].decode("utf-8", "replace")
        _, ns, ne = fields[0xA2]  # [2] sname PrincipalName
        _, ns, ne = _tlv(b, ns, ne)
        _, ns, ne = _children(b, ns, ne)[0xA1]  # [1] name-string
        _, ns, ne = _tlv(b, ns, ne)  # SEQUENCE OF KerberosString
        snames: list[str] = []
        while ns < ne and len(snames) < max_items:
            _, vs, ve = _tlv(b, ns, ne)
            snames.append(b[vs:ve].decode("utf-8", "replace"))
            ns = ve
    except (ValueError, KeyError):
        return None
    return SmbKerberos(realm=realm, snames=snames) if snames else None
