"""The `tls` EVE record: one per TLS/SSL session, with Suricata's field names and formats.

Fields follow `properties.tls` of Suricata's EVE JSON Schema (additionalProperties is false
there, so nothing else is added). Certificate fields (`subject`, `issuerdn`, `serial`,
`fingerprint`, `notbefore`, `notafter`, `subjectaltname`) are the server's leaf certificate;
`client` holds the same for a client certificate (mutual TLS). `certificate` / `chain` (base64
DER) are only filled when the parser is asked to. Formats: `serial` "00:AB:...",
`fingerprint` SHA-1 "aa:bb:...", dates "YYYY-MM-DDTHH:MM:SS" UTC, `version` as Suricata spells
it ("TLSv1", "TLS 1.2", "TLS 1.3", "UNDETERMINED"...).
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class Ja3Info(msgspec.Struct, frozen=True, omit_defaults=True):
    hash: str | None = None
    string: str | None = None


class TlsClientHandshake(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ClientHello's offer, GREASE removed."""

    version: str | None = None
    ciphers: list[int] | None = None
    exts: list[int] | None = None
    sig_algs: list[int] | None = None


class TlsServerHandshake(msgspec.Struct, frozen=True, omit_defaults=True):
    """The ServerHello's answer (`version` is its legacy version field, as Suricata logs it)."""

    version: str | None = None
    cipher: int | None = None
    exts: list[int] | None = None


class TlsClientCert(msgspec.Struct, frozen=True, omit_defaults=True):
    """The client's certificate (mutual TLS)."""

    subject: str | None = None
    issuerdn: str | None = None
    serial: str | None = None
    fingerprint: str | None = None
    notbefore: str | None = None
    notafter: str | None = None
    subjectaltname: list[str] | None = None
    certificate: str | None = None
    chain: list[str] | None = None


class TlsInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    subject: str | None = None
    issuerdn: str | None = None
    session_resumed: bool | None = None
    serial: str | None = None
    fingerprint: str | None = None
    sni: str | None = None
    version: str | None = None
    notbefore: str | None = None
    notafter: str | None = None
    subjectaltname: list[str] | None = None
    certificate: str | None = None
    chain: list[str] | None = None
    ja3: Ja3Info | None = None
    ja3s: Ja3Info | None = None
    ja4: str | None = None
    client_alpns: list[str] | None = None
    server_alpns: list[str] | None = None
    client_handshake: TlsClientHandshake | None = None
    server_handshake: TlsServerHandshake | None = None
    client: TlsClientCert | None = None
    from_proto: str | None = None


class TlsEvent(AppEvent, frozen=True, kw_only=True, tag="tls"):
    tls: TlsInfo
