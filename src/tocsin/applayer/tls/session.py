"""What one TLS connection's handshake revealed, and the `TlsInfo` record built from it.

`Session` collects the parsed hellos and certificate lists of both directions; `info()` turns
them into the EVE body with Suricata's rules:

- `version`: the server's (supported_versions of the ServerHello, else its version field,
  else the version of the server's first record), else the client's (first valid
  supported_versions entry, else its ClientHello version), else "UNDETERMINED";
- `ja3` / `ja4` from the first ClientHello, `sni` from the first that has one; `ja3s` from the
  first ServerHello (a HelloRetryRequest if there was one, as Suricata and Wireshark do);
  `server_alpns`, `server_handshake`, `version` from the ServerHello that is not a HRR;
- certificate fields from the first certificate of the server's Certificate message (the
  client's for `client`); the SHA-1 `fingerprint` is given even when the DER cannot be read;
- `session_resumed`: the ServerHello echoes the client's session id (or the client offered a
  session ticket) and no server Certificate message came, TLS 1.3 excluded (its ids always
  match and its certificates are encrypted).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from tocsin.applayer.tls.fingerprint import (
    is_grease,
    ja3,
    ja3s,
    ja4,
    normalise_hello_version,
    valid_version,
    version_name,
)
from tocsin.applayer.tls.hello import Hello, SSLv2ServerHello
from tocsin.applayer.tls.x509 import CertError, CertInfo, read_certificate
from tocsin.model.tls import (
    Ja3Info,
    TlsClientCert,
    TlsClientHandshake,
    TlsInfo,
    TlsServerHandshake,
)

__all__ = ["Session", "certificate_list"]


def certificate_list(body: bytes, truncated: bool, max_certs: int) -> list[bytes]:
    """The DER certificates of a (TLS <= 1.2) Certificate message body, leaf first.

    `ValueError` if its lengths do not add up; with `truncated` (body cut at the memory bound)
    the certificates that fit are returned."""
    if len(body) < 3:
        raise ValueError("Certificate message shorter than its length field")
    total = int.from_bytes(body[0:3], "big")
    end = 3 + total
    if end != len(body) and not (truncated and end > len(body)):
        raise ValueError("Certificate list length does not match the message")
    end = min(end, len(body))
    certs: list[bytes] = []
    pos = 3
    while pos + 3 <= end and len(certs) < max_certs:
        n = int.from_bytes(body[pos : pos + 3], "big")
        pos += 3
        if pos + n > end:
            if truncated:
                break
            raise ValueError("certificate overruns the Certificate message")
        certs.append(body[pos : pos + n])
        pos += n
    return certs


def _fingerprint(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).digest().hex(":")


def _cert_fields(certs: list[bytes], max_items: int) -> tuple[CertInfo, str | None]:
    if not certs:
        return CertInfo(), None
    try:
        info = read_certificate(certs[0], max_san=max_items)
    except CertError:
        info = CertInfo()
    return info, _fingerprint(certs[0])


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode("ascii")


def _ints(values: list[int]) -> list[int] | None:
    kept = [v for v in values if not is_grease(v)]
    return kept or None


def _texts(values: list[bytes], limit: int) -> list[str] | None:
    kept = [v.decode("utf-8", "backslashreplace") for v in values if v][:limit]
    return kept or None


@dataclass(slots=True)
class Session:
    client_hello: Hello | None = None
    sni: str | None = None
    server_hello: Hello | None = None
    first_server_hello: Hello | None = None  # a HelloRetryRequest when there was one
    hrr: bool = False
    sslv2_server: SSLv2ServerHello | None = None
    server_record_version: int = 0
    server_cert_msg: bool = False
    server_certs: list[bytes] = field(default_factory=list)
    client_certs: list[bytes] = field(default_factory=list)

    @property
    def seen(self) -> bool:
        """Anything worth an event was seen."""
        return bool(
            self.client_hello or self.server_hello or self.sslv2_server or self.server_certs
        )

    @property
    def tls13(self) -> bool:
        """The ServerHello chose TLS 1.3 (or a draft or experiment of it): the rest is encrypted."""
        sh = self.server_hello
        if sh is None:
            return False
        v = sh.supported_versions[0] if sh.supported_versions else sh.version
        return v == 0x0304 or v >> 8 in (0x7E, 0x7F, 0xFB)

    def version(self) -> int:
        sh, ch = self.server_hello, self.client_hello
        if sh is not None:
            if sh.supported_versions:
                return sh.supported_versions[0]
            return normalise_hello_version(sh.version)
        if self.sslv2_server is not None:
            return 0x0200
        if self.server_record_version:
            return self.server_record_version
        if ch is not None:
            if ch.sslv2:
                return ch.version
            for v in ch.supported_versions:
                if valid_version(v):
                    return v
            return normalise_hello_version(ch.version)
        return 0

    def info(self, *, certificates: bool, from_proto: str | None, max_items: int) -> TlsInfo:
        ch, sh = self.client_hello, self.server_hello
        cert, fp = _cert_fields(self.server_certs, max_items)
        chain = [_b64(c) for c in self.server_certs] if certificates and self.server_certs else None
        tls_ch = ch if ch is not None and not ch.sslv2 else None
        ja3_info = ja3s_info = None
        if tls_ch is not None:
            s, h = ja3(tls_ch)
            ja3_info = Ja3Info(hash=h, string=s)
        if self.first_server_hello is not None:
            s, h = ja3s(self.first_server_hello)
            ja3s_info = Ja3Info(hash=h, string=s)
        resumed = (
            ch is not None
            and sh is not None
            and not self.tls13
            and not self.server_cert_msg
            and ((bool(ch.session_id) and ch.session_id == sh.session_id) or ch.session_ticket)
        )
        return TlsInfo(
            subject=cert.subject,
            issuerdn=cert.issuerdn,
            session_resumed=True if resumed else None,
            serial=cert.serial,
            fingerprint=fp,
            sni=self.sni,
            version=version_name(self.version()),
            notbefore=cert.notbefore,
            notafter=cert.notafter,
            subjectaltname=cert.subjectaltname or None,
            certificate=chain[0] if chain else None,
            chain=chain,
            ja3=ja3_info,
            ja3s=ja3s_info,
            ja4=ja4(tls_ch) if tls_ch is not None else None,
            client_alpns=_texts(tls_ch.alpns, max_items) if tls_ch is not None else None,
            server_alpns=_texts(sh.alpns, max_items) if sh is not None else None,
            client_handshake=self._client_handshake(tls_ch),
            server_handshake=self._server_handshake(sh),
            client=self._client_cert(certificates, max_items),
            from_proto=from_proto,
        )

    @staticmethod
    def _client_handshake(ch: Hello | None) -> TlsClientHandshake | None:
        if ch is None:
            return None
        version = ch.version
        for v in ch.supported_versions:
            if valid_version(v):
                version = max(version, v)
                break
        return TlsClientHandshake(
            version=version_name(version),
            ciphers=_ints(ch.ciphers),
            exts=_ints(ch.extensions),
            sig_algs=_ints(ch.sig_algs),
        )

    @staticmethod
    def _server_handshake(sh: Hello | None) -> TlsServerHandshake | None:
        if sh is None:
            return None
        return TlsServerHandshake(
            version=version_name(sh.version),
            cipher=sh.ciphers[0] if sh.ciphers else None,
            exts=_ints(sh.extensions),
        )

    def _client_cert(self, certificates: bool, max_items: int) -> TlsClientCert | None:
        if not self.client_certs:
            return None
        cert, fp = _cert_fields(self.client_certs, max_items)
        return TlsClientCert(
            subject=cert.subject,
            issuerdn=cert.issuerdn,
            serial=cert.serial,
            fingerprint=fp,
            notbefore=cert.notbefore,
            notafter=cert.notafter,
            subjectaltname=cert.subjectaltname or None,
            certificate=_b64(self.client_certs[0]) if certificates else None,
            chain=[_b64(c) for c in self.client_certs] if certificates else None,
        )
