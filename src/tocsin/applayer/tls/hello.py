"""ClientHello and ServerHello bodies (RFC 5246 7.4.1, RFC 8446 4.1), and SSLv2 hellos.

`parse_client_hello(body)` / `parse_server_hello(body)` take one handshake message body (the
bytes after the 4-byte handshake header) and return a `Hello`: the values in wire order, GREASE
included (fingerprints filter it). Extensions read: server_name (0), supported_groups (10),
ec_point_formats (11), signature_algorithms (13), ALPN (16), session_ticket (35),
supported_versions (43); every other type is only listed.

`parse_sslv2_client_hello` / `parse_sslv2_server_hello` read the SSLv2 messages (a v2-format
ClientHello is still sent by old clients offering TLS 1.0; a v2 SERVER-HELLO carries the server
certificate).

Errors: `HelloError` when the fixed fields or a length prefix run past the message. With
`truncated=True` (the message was cut at the parser's memory bound) a list that runs past the
end is read as far as it goes instead. Inside an extension the parse is lenient: a value whose
inner lengths do not add up is ignored, the extension is still listed.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = [
    "HRR_RANDOM",
    "Hello",
    "HelloError",
    "SSLv2ServerHello",
    "parse_client_hello",
    "parse_server_hello",
    "parse_sslv2_client_hello",
    "parse_sslv2_server_hello",
]

# ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest")
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

EXT_SNI = 0
EXT_GROUPS = 10
EXT_POINT_FORMATS = 11
EXT_SIG_ALGS = 13
EXT_ALPN = 16
EXT_SESSION_TICKET = 35
EXT_SUPPORTED_VERSIONS = 43


class HelloError(ValueError):
    """A hello whose fields do not fit in the message."""


@dataclass(slots=True)
class Hello:
    version: int  # legacy_version (ClientHello.client_version / ServerHello.server_version)
    session_id: bytes = b""
    ciphers: list[int] = field(default_factory=list)  # the server's choice alone for a server
    extensions: list[int] = field(default_factory=list)
    sni: str | None = None
    alpns: list[bytes] = field(default_factory=list)  # raw protocol names, empty ones kept
    groups: list[int] = field(default_factory=list)
    point_formats: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    supported_versions: list[int] = field(default_factory=list)
    session_ticket: bool = False
    hrr: bool = False  # a HelloRetryRequest (server only)
    sslv2: bool = False


@dataclass(slots=True)
class SSLv2ServerHello:
    version: int
    certificate: bytes  # DER, empty when the certificate type is not X.509
    session_id_hit: bool


def _u16s(b: bytes, off: int, n: int) -> list[int]:
    return list(struct.unpack_from(f">{n}H", b, off))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")


def _read_extensions(h: Hello, b: bytes, pos: int, client: bool, truncated: bool) -> None:
    end = len(b)
    if pos + 2 > end:
        return  # extensions are optional
    total = int.from_bytes(b[pos : pos + 2], "big")
    pos += 2
    if pos + total > end:
        if not truncated:
            raise HelloError("extensions overrun the hello")
    else:
        end = pos + total
    exts = h.extensions
    while pos + 4 <= end:
        etype, elen = struct.unpack_from(">HH", b, pos)
        pos += 4
        if pos + elen > end:
            if truncated:
                exts.append(etype)
                return
            raise HelloError(f"extension {etype} overruns the extension block")
        exts.append(etype)
        if etype == EXT_SESSION_TICKET:
            h.session_ticket = True  # present, even empty: the client takes tickets
        elif elen and etype in _READERS:
            _READERS[etype](h, b[pos : pos + elen], client)
        pos += elen
    if pos != end and not truncated:
        raise HelloError("trailing bytes in the extension block")


def _ext_sni(h: Hello, v: bytes, client: bool) -> None:
    if not client or h.sni is not None or len(v) < 5:
        return
    n = int.from_bytes(v[0:2], "big")
    pos, end = 2, min(2 + n, len(v))
    while pos + 3 <= end:
        kind = v[pos]
        ln = int.from_bytes(v[pos + 1 : pos + 3], "big")
        pos += 3
        if pos + ln > end:
            return
        if kind == 0 and ln:
            h.sni = _text(v[pos : pos + ln])
            return
        pos += ln


def _ext_groups(h: Hello, v: bytes, client: bool) -> None:
    n = int.from_bytes(v[0:2], "big") if len(v) >= 2 else 0
    if client and n + 2 <= len(v):
        h.groups = _u16s(v, 2, n // 2)


def _ext_point_formats(h: Hello, v: bytes, client: bool) -> None:
    n = v[0]
    if client and n + 1 <= len(v):
        h.point_formats = list(v[1 : 1 + n])


def _ext_sig_algs(h: Hello, v: bytes, client: bool) -> None:
    n = int.from_bytes(v[0:2], "big") if len(v) >= 2 else 0
    if client and n + 2 <= len(v) and not n % 2:
        h.sig_algs = _u16s(v, 2, n // 2)


def _ext_alpn(h: Hello, v: bytes, client: bool) -> None:
    if len(v) < 2:
        return
    end = min(2 + int.from_bytes(v[0:2], "big"), len(v))
    pos = 2
    while pos < end:
        ln = v[pos]
        pos += 1
        if pos + ln > end:
            return
        h.alpns.append(v[pos : pos + ln])
        pos += ln


def _ext_supported_versions(h: Hello, v: bytes, client: bool) -> None:
    if not client:
        if len(v) >= 2:
            h.supported_versions = [int.from_bytes(v[0:2], "big")]
        return
    n = v[0]
    if n + 1 <= len(v):
        h.supported_versions = _u16s(v, 1, n // 2)


_READERS = {
    EXT_SNI: _ext_sni,
    EXT_GROUPS: _ext_groups,
    EXT_POINT_FORMATS: _ext_point_formats,
    EXT_SIG_ALGS: _ext_sig_algs,
    EXT_ALPN: _ext_alpn,
    EXT_SUPPORTED_VERSIONS: _ext_supported_versions,
}


def parse_client_hello(b: bytes, truncated: bool = False) -> Hello:
    """A ClientHello body. `HelloError` if its fields overrun it (with `truncated`, what fits
    is returned instead, once version and random are there)."""
    if len(b) < 35:
        raise HelloError("ClientHello shorter than version + random + session id")
    h = Hello(version=int.from_bytes(b[0:2], "big"))
    sid_len = b[34]
    pos = 35 + sid_len
    if sid_len > 32:
        raise HelloError("bad ClientHello session id")
    if pos + 2 > len(b):
        if truncated:
            return h
        raise HelloError("ClientHello without cipher suites")
    h.session_id = b[35:pos]
    cs_len = int.from_bytes(b[pos : pos + 2], "big")
    pos += 2
    if cs_len % 2:
        raise HelloError("odd cipher suites length")
    if pos + cs_len > len(b):
        if not truncated:
            raise HelloError("cipher suites overrun the ClientHello")
        h.ciphers = _u16s(b, pos, (len(b) - pos) // 2)
        return h
    h.ciphers = _u16s(b, pos, cs_len // 2)
    pos += cs_len
    if pos >= len(b) or pos + 1 + b[pos] > len(b):
        if truncated:
            return h
        raise HelloError("compression methods overrun the ClientHello")
    pos += 1 + b[pos]
    _read_extensions(h, b, pos, True, truncated)
    return h


def parse_server_hello(b: bytes, truncated: bool = False) -> Hello:
    """A ServerHello body (also a HelloRetryRequest, `hrr` set). `HelloError` if it overruns.

    TLS 1.3 drafts before 22 (server_version 0x7fxx or 0x0304) had no session id and no
    compression method; their layout is read accordingly."""
    if len(b) < 34:
        raise HelloError("ServerHello shorter than version + random")
    h = Hello(version=int.from_bytes(b[0:2], "big"))
    h.hrr = b[2:34] == HRR_RANDOM
    draft = h.version == 0x0304 or h.version >> 8 == 0x7F
    pos = 34
    if not draft:
        if pos >= len(b):
            raise HelloError("ServerHello without session id")
        sid_len = b[pos]
        if sid_len > 32:
            raise HelloError("bad ServerHello session id")
        h.session_id = b[pos + 1 : pos + 1 + sid_len]
        pos += 1 + sid_len
    if pos + 2 > len(b):
        raise HelloError("ServerHello without cipher suite")
    h.ciphers = [int.from_bytes(b[pos : pos + 2], "big")]
    pos += 2 if draft else 3
    if pos > len(b):
        raise HelloError("ServerHello without compression method")
    _read_extensions(h, b, pos, False, truncated)
    return h


def parse_sslv2_client_hello(b: bytes) -> Hello:
    """An SSLv2 CLIENT-HELLO (after its record header, message type byte included)."""
    if len(b) < 9 or b[0] != 1:
        raise HelloError("not an SSLv2 CLIENT-HELLO")
    version, cs_len, sid_len, ch_len = struct.unpack_from(">HHHH", b, 1)
    if cs_len % 3 or not cs_len or not 16 <= ch_len <= 32 or sid_len > 32:
        raise HelloError("SSLv2 CLIENT-HELLO with bad cipher, session id or challenge lengths")
    if version != 0x0002 and version >> 8 != 3:
        raise HelloError(f"SSLv2 CLIENT-HELLO offering version {version:#06x}")
    if 9 + cs_len + sid_len + ch_len > len(b):
        raise HelloError("SSLv2 CLIENT-HELLO fields overrun it")
    specs = b[9 : 9 + cs_len]
    h = Hello(version=version, sslv2=True)
    # 3-byte cipher specs; those with a zero first byte are TLS suites (RFC 5246 E.2)
    h.ciphers = [int.from_bytes(specs[i : i + 3], "big") for i in range(0, cs_len, 3)]
    h.session_id = b[9 + cs_len : 9 + cs_len + sid_len]
    return h


def parse_sslv2_server_hello(b: bytes) -> SSLv2ServerHello:
    """An SSLv2 SERVER-HELLO (message type byte included)."""
    if len(b) < 11 or b[0] != 4:
        raise HelloError("not an SSLv2 SERVER-HELLO")
    hit, cert_type = b[1], b[2]
    version, cert_len, _cs_len, _cid_len = struct.unpack_from(">HHHH", b, 3)
    if 11 + cert_len > len(b):
        raise HelloError("SSLv2 SERVER-HELLO certificate overruns it")
    cert = b[11 : 11 + cert_len] if cert_type == 1 else b""
    return SSLv2ServerHello(version=version, certificate=cert, session_id_hit=bool(hit))
