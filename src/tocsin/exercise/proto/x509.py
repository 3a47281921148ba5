"""X.509 v3 certificates in DER (RFC 5280), built by hand for generated TLS handshakes.

`certificate(rng, subject_cn, issuer_cn, ...)` gives one DER certificate: version 3, a positive
16-byte serial, sha256WithRSAEncryption, issuer and subject names (C, O, CN), a validity
period (UTCTime), an RSA public key, and the extensions a web server certificate carries
(basicConstraints, keyUsage, extendedKeyUsage, subjectKeyIdentifier, authorityKeyIdentifier,
subjectAltName with DNS names and IP addresses). A CA certificate (`ca=True`) gets
basicConstraints CA and keyCertSign/cRLSign instead of the server usages.

What is not real: the RSA modulus and the signature are random bytes of the right length
(the modulus odd with its top bit set, so it reads as a `bits`-bit key). Dissectors and
Tocsin's TLS parser read every field; nothing verifies a signature in generated traffic.

`chain_for(host, ...)` gives the chain a server sends (leaf first, then the issuing
intermediate, or one self-signed certificate), derived from its arguments alone (its own
`random.Random` seeded by them) and cached: a server presents the same chain in every
session, and building it never consumes the caller's random stream.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
import socket
from collections.abc import Sequence

# Full DER TLVs of the OIDs used
_OID_SHA256_RSA = bytes.fromhex("06092a864886f70d01010b")
_OID_RSA = bytes.fromhex("06092a864886f70d010101")
_NULL = b"\x05\x00"
_OID_C, _OID_O, _OID_CN = (bytes.fromhex(h) for h in ("0603550406", "060355040a", "0603550403"))
_OID_SKI, _OID_KU, _OID_SAN = (bytes.fromhex(h) for h in ("0603551d0e", "0603551d0f", "0603551d11"))
_OID_BC, _OID_AKI, _OID_EKU = (bytes.fromhex(h) for h in ("0603551d13", "0603551d23", "0603551d25"))
_EKU_SERVER_CLIENT = bytes.fromhex("06082b0601050507030106082b06010505070302")
_TRUE = b"\x01\x01\xff"
_PUBLIC_EXPONENT = b"\x02\x03\x01\x00\x01"  # 65537

# (issuer CN, O, C) of the intermediates a hospital's clients commonly see
PUBLIC_CA = ("R3", "Let's Encrypt", "US")
COMMERCIAL_CA = ("DigiCert Global G2 TLS RSA SHA256 2020 CA1", "DigiCert Inc", "US")
INTERNAL_CA = ("AC Serveurs", "Centre Hospitalier", "FR")


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: tag, definite length, content."""
    return bytes((tag,)) + _len(len(content)) + content


def _seq(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def _uint(raw: bytes) -> bytes:
    """A non-negative INTEGER from big-endian bytes (minimal, 0x00 prefix when needed)."""
    raw = raw.lstrip(b"\x00") or b"\x00"
    return tlv(0x02, b"\x00" + raw if raw[0] & 0x80 else raw)


def name(cn: str, org: str | None = None, country: str | None = "FR") -> bytes:
    """An X.501 Name: C (PrintableString), O and CN (UTF8String), one attribute per RDN."""
    rdns = []
    if country:
        rdns.append(tlv(0x31, _seq(_OID_C, tlv(0x13, country.encode("ascii")))))
    if org:
        rdns.append(tlv(0x31, _seq(_OID_O, tlv(0x0C, org.encode()))))
    rdns.append(tlv(0x31, _seq(_OID_CN, tlv(0x0C, cn.encode()))))
    return _seq(*rdns)


def _time(when: dt.datetime) -> bytes:
    if when.year < 2050:
        return tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


def _extension(oid: bytes, value: bytes, critical: bool = False) -> bytes:
    return _seq(oid, _TRUE if critical else b"", tlv(0x04, value))


def _san(dns_names: Sequence[str], ips: Sequence[str]) -> bytes:
    items = [tlv(0x82, n.encode("ascii")) for n in dns_names]
    for ip in ips:
        family = socket.AF_INET6 if ":" in ip else socket.AF_INET
        items.append(tlv(0x87, socket.inet_pton(family, ip)))
    return _seq(*items)


def rsa_public_key(rng: random.Random, bits: int = 2048) -> bytes:
    """A SubjectPublicKeyInfo for an RSA key of `bits` bits (random modulus, e = 65537)."""
    modulus = bytearray(rng.randbytes(bits // 8))
    modulus[0] |= 0x80
    modulus[-1] |= 0x01
    key = _seq(_uint(bytes(modulus)), _PUBLIC_EXPONENT)
    return _seq(_seq(_OID_RSA, _NULL), tlv(0x03, b"\x00" + key))


def certificate(
    rng: random.Random,
    subject_cn: str,
    issuer_cn: str,
    *,
    subject_org: str | None = None,
    issuer_org: str | None = None,
    country: str | None = None,
    issuer_country: str | None = None,
    san: Sequence[str] = (),
    ip_san: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    days: int = 90,
    key_bits: int = 2048,
    issuer_key_bits: int = 2048,
    ca: bool = False,
    issuer_key_id: bytes | None = None,
) -> bytes:
    """One DER certificate (see the module docstring). `not_before` is naive UTC (default
    2024-01-01); `issuer_key_id` is the issuer's subjectKeyIdentifier (random if None). A
    certificate whose issuer name equals its subject is self-signed (no
    authorityKeyIdentifier)."""
    return _build(
        rng, subject_cn, issuer_cn, subject_org, issuer_org, country, issuer_country, san,
        ip_san, not_before, days, key_bits, issuer_key_bits, ca, issuer_key_id,
    )[0]  # fmt: skip


def _build(
    rng: random.Random,
    subject_cn: str,
    issuer_cn: str,
    subject_org: str | None,
    issuer_org: str | None,
    country: str | None,
    issuer_country: str | None,
    san: Sequence[str],
    ip_san: Sequence[str],
    not_before: dt.datetime | None,
    days: int,
    key_bits: int,
    issuer_key_bits: int,
    ca: bool,
    issuer_key_id: bytes | None,
) -> tuple[bytes, bytes]:
    """(DER, subjectKeyIdentifier) of the certificate `certificate` describes."""
    start = not_before or dt.datetime(2024, 1, 1)
    serial = bytearray(rng.randbytes(16))
    serial[0] = (serial[0] & 0x7F) | 0x01
    spki = rsa_public_key(rng, key_bits)
    ski = hashlib.sha1(spki, usedforsecurity=False).digest()
    if ca:
        exts = [
            _extension(_OID_BC, _seq(_TRUE, b"\x02\x01\x00"), critical=True),
            _extension(_OID_KU, b"\x03\x02\x01\x06", critical=True),
        ]
    else:
        exts = [
            _extension(_OID_BC, _seq(), critical=True),
            _extension(_OID_KU, b"\x03\x02\x05\xa0", critical=True),
            _extension(_OID_EKU, _seq(_EKU_SERVER_CLIENT)),
        ]
    exts.append(_extension(_OID_SKI, tlv(0x04, ski)))
    issuer = name(issuer_cn, issuer_org, issuer_country)
    subject = name(subject_cn, subject_org, country)
    if issuer != subject:
        aki = issuer_key_id or rng.randbytes(20)
        exts.append(_extension(_OID_AKI, _seq(tlv(0x80, aki))))
    if san or ip_san:
        exts.append(_extension(_OID_SAN, _san(san, ip_san)))
    tbs = _seq(
        tlv(0xA0, b"\x02\x01\x02"),
        _uint(bytes(serial)),
        _seq(_OID_SHA256_RSA, _NULL),
        issuer,
        _seq(_time(start), _time(start + dt.timedelta(days=days))),
        subject,
        spki,
        tlv(0xA3, _seq(*exts)),
    )
    signature = tlv(0x03, b"\x00" + rng.randbytes(issuer_key_bits // 8))
    return _seq(tbs, _seq(_OID_SHA256_RSA, _NULL), signature), ski


def _element(der: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at `pos`."""
    n = der[pos + 1]
    start = pos + 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(der[start : start + k], "big")
        start += k
    return der[pos], start, start + n


@functools.lru_cache(maxsize=4096)
def key_bytes(der: bytes) -> int:
    """The RSA modulus length in bytes (the size of the key's signatures) of a certificate
    built here; `ValueError` when the certificate is not laid out as `certificate` does."""
    try:
        _, pos, _ = _element(der, 0)  # Certificate
        _, pos, _ = _element(der, pos)  # tbsCertificate
        for _ in range(6):  # version, serial, signature, issuer, validity, subject
            pos = _element(der, pos)[2]
        _, pos, _ = _element(der, pos)  # SubjectPublicKeyInfo
        pos = _element(der, pos)[2]  # algorithm
        tag, pos, _ = _element(der, pos)  # BIT STRING
        _, pos, _ = _element(der, pos + 1)  # RSAPublicKey, after the unused-bits byte
        tag, start, end = _element(der, pos)  # modulus
    except IndexError as exc:
        raise ValueError("certificate too short for its structure") from exc
    if tag != 0x02:
        raise ValueError("no RSA modulus where certificates built here have it")
    return end - start - (1 if der[start] == 0 else 0)


@functools.lru_cache(maxsize=4096)
def chain_for(
    host: str,
    issuer: tuple[str, str, str] | None = PUBLIC_CA,
    *,
    san: tuple[str, ...] = (),
    ip_san: tuple[str, ...] = (),
    not_before: dt.datetime | None = None,
    days: int = 90,
    seed: int = 0,
) -> tuple[bytes, ...]:
    """The certificates a server named `host` sends: (leaf, intermediate) issued by
    `issuer` (CN, O, C), or one self-signed certificate when `issuer` is None (RDP hosts,
    printers, appliances, many C2 servers). The leaf's SAN is `host` plus `san` and
    `ip_san`; its validity starts on `not_before` (default: a day in early 2024 drawn from
    the host name). Deterministic in its arguments; cached."""
    rng = random.Random(f"x509|{host}|{issuer}|{seed}")
    start = not_before or dt.datetime(2024, 1, 1) + dt.timedelta(seconds=rng.randrange(5_184_000))
    names = (host, *san)
    if issuer is None:
        leaf = certificate(rng, host, host, san=names, ip_san=ip_san, not_before=start, days=days)
        return (leaf,)
    cn, org, country = issuer
    ca_rng = random.Random(f"x509-ca|{issuer}|{seed}")
    inter, inter_ski = _build(
        ca_rng, cn, f"{org} Root CA", org, org, country, country, (), (),
        dt.datetime(2020, 9, 4), 1826, 2048, 4096, True, None,
    )  # fmt: skip
    leaf = certificate(
        rng, host, cn, issuer_org=org, issuer_country=country, san=names, ip_san=ip_san,
        not_before=start, days=days, issuer_key_id=inter_ski,
    )  # fmt: skip
    return (leaf, inter)
