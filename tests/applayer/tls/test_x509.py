"""The DER certificate reader: real certificates from the fixtures (values checked against
suricata-verify, Zeek's x509.log and openssl), and hand-built DER for the odd corners."""

from __future__ import annotations

import base64

import pytest

from tocsin.applayer.tls.x509 import CertError, read_certificate

from ._util import conversations, run


def _leaf(name: str, conn: int = 0) -> bytes:
    info = run(conversations(name)[conn], certificates=True).info
    assert info.certificate is not None
    return base64.b64decode(info.certificate)


def test_real_certificate_fields_match_suricata_verify() -> None:
    # suricata-verify tls-glupteba: 17 subjectAltNames in DER order, Let's Encrypt R3
    c = read_certificate(_leaf("glupteba-san.pcap"))
    assert c.subject == "CN=xn--j1ahhq.xn--p1ai"
    assert c.issuerdn == "C=US, O=Let's Encrypt, CN=R3"
    assert c.serial == "03:DE:23:89:7E:97:FB:86:8E:7C:C5:53:09:FE:AE:D0:AE:20"
    assert (c.notbefore, c.notafter) == ("2022-12-01T06:47:31", "2023-03-01T06:47:30")
    assert len(c.subjectaltname) == 17
    assert c.subjectaltname[0] == "server1.xn--j1ahhq.xn--p1ai"
    assert c.subjectaltname[1] == "server10.xn--j1ahhq.xn--p1ai"
    assert c.subjectaltname[16] == "xn--j1ahhq.xn--p1ai"


def test_pre_1970_validity_and_one_byte_serial() -> None:
    # suricata-verify tls-pre-1970
    c = read_certificate(_leaf("pre-1970.pcap"))
    assert c.notbefore == "1969-12-31T00:00:00"
    assert c.notafter == "2038-12-31T00:10:03"
    assert c.serial == "32"
    assert c.subject == "OU=vd, CN=fkp.samsungcloudsolution.com"
    assert c.issuerdn == (
        "C=KR, ST=Kyunggido, L=Suwon, O=Samsung Electronics, OU=SW2 SISC, CN=ROOT CA SISC FKP2_PLUS"
    )


def test_email_attribute_and_generalized_time() -> None:
    # suricata-verify sslv2-tls-upgrade-01 prints emailAddress as "Email"
    c = read_certificate(_leaf("sslv2-hello-tls-server.pcap"))
    assert c.subject is not None and c.subject.endswith(", Email=aturner@netscreen.com")
    assert c.serial == "55"
    # a GeneralizedTime validity (Zeek's x509-generalizedtime trace; openssl agrees)
    g = read_certificate(_leaf("x509-generalizedtime.pcap"))
    assert (g.notbefore, g.notafter) == ("2015-09-01T13:33:37", "2025-09-01T13:33:37")
    assert g.serial == "03:E8"


def test_zeek_x509_log_values() -> None:
    # Zeek scripts.base.protocols.ssl.basic x509.log: serial 36F5DA5300000000505E, validity
    # 1334102677 / 1365639277, san.dns *.gstatic.com,gstatic.com,*.metric.gstatic.com
    c = read_certificate(_leaf("conn-with-extensions.pcap"))
    assert c.subject == "C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.gstatic.com"
    assert c.issuerdn == "C=US, O=Google Inc, CN=Google Internet Authority"
    assert c.serial == "36:F5:DA:53:00:00:00:00:50:5E"
    assert (c.notbefore, c.notafter) == ("2012-04-11T00:04:37", "2013-04-11T00:14:37")
    assert c.subjectaltname == ["*.gstatic.com", "gstatic.com", "*.metric.gstatic.com"]


# --- hand-built DER ---------------------------------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    k = (n.bit_length() + 7) // 8
    return bytes((tag, 0x80 | k)) + n.to_bytes(k, "big") + content


def _seq(*parts: bytes) -> bytes:
    return _tlv(0x30, b"".join(parts))


def _atv(oid: bytes, tag: int, value: bytes) -> bytes:
    return _seq(_tlv(0x06, oid), _tlv(tag, value))


CN, O_ = b"\x55\x04\x03", b"\x55\x04\x0a"


def _cert(
    *,
    subject: bytes | None = None,
    times: tuple[bytes, bytes] = (_tlv(0x17, b"200101000000Z"), _tlv(0x17, b"300101000000Z")),
    sans: list[bytes] | None = None,
    serial: bytes = b"\x00\xab",
) -> bytes:
    name = subject or _seq(_tlv(0x31, _atv(CN, 0x0C, b"example")))
    exts = b""
    if sans is not None:
        san = _seq(_tlv(0x06, b"\x55\x1d\x11"), _tlv(0x04, _seq(*sans)))
        exts = _tlv(0xA3, _seq(san))
    tbs = _seq(
        _tlv(0xA0, _tlv(0x02, b"\x02")),
        _tlv(0x02, serial),
        _seq(_tlv(0x06, b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b")),
        name,
        _seq(*times),
        name,
        _seq(_seq(_tlv(0x06, b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01")), _tlv(0x03, b"\x00\x01")),
        exts,
    )
    return _seq(tbs, _seq(_tlv(0x06, b"\x2a")), _tlv(0x03, b"\x00\x00"))


def test_multi_valued_rdn_bmpstring_unknown_oid_and_hex_values() -> None:
    subject = _seq(
        _tlv(0x31, _atv(CN, 0x1E, "Zoë".encode("utf-16-be")) + _atv(O_, 0x13, b"Org")),
        _tlv(0x31, _atv(b"\x55\x04\x61", 0x0C, b"VATFR-123")),  # organizationIdentifier
        _tlv(0x31, _atv(b"\x55\x04\x05", 0x04, b"\x01\x02")),  # serialNumber as OCTET STRING
        _tlv(0x31, _atv(b"\x55\x04\x0b", 0x14, b"caf\xe9")),  # T61String, latin-1 bytes
    )
    c = read_certificate(_cert(subject=subject))
    assert c.subject == ("CN=Zoë + O=Org, OID(2.5.4.97)=VATFR-123, serialNumber=0102, OU=café")


@pytest.mark.parametrize(
    ("tag", "raw", "expected"),
    [
        (0x17, b"491231235959Z", "2049-12-31T23:59:59"),
        (0x17, b"500101000000Z", "1950-01-01T00:00:00"),
        (0x17, b"0001011200+0200", "2000-01-01T10:00:00"),  # no seconds, UTC offset
        (0x18, b"20250901133337.123Z", "2025-09-01T13:33:37"),  # fraction dropped
        (0x18, b"19691231000000Z", "1969-12-31T00:00:00"),
        (0x17, b"201301000000Z", None),  # month 13
        (0x17, b"2001010000", "2020-01-01T00:00:00"),  # no zone: read as UTC
        (0x18, b"garbage", None),
    ],
)
def test_validity_formats(tag: int, raw: bytes, expected: str | None) -> None:
    c = read_certificate(_cert(times=(_tlv(tag, raw), _tlv(0x17, b"300101000000Z"))))
    assert c.notbefore == expected
    assert c.notafter == "2030-01-01T00:00:00"


def test_subject_alt_name_kinds_and_bound() -> None:
    sans = [
        _tlv(0x82, b"a.example"),
        _tlv(0x87, bytes((192, 0, 2, 1))),
        _tlv(0x87, bytes(15) + b"\x01"),
        _tlv(0x81, b"ops@example.org"),
        _tlv(0x86, b"https://example.org/x"),
        _tlv(0xA4, _seq()),  # directoryName: not listed
        _tlv(0x82, b"b.example"),
    ]
    c = read_certificate(_cert(sans=sans))
    assert c.subjectaltname == [
        "a.example",
        "192.0.2.1",
        "::1",
        "ops@example.org",
        "https://example.org/x",
        "b.example",
    ]
    assert read_certificate(_cert(sans=sans), max_san=2).subjectaltname == [
        "a.example",
        "192.0.2.1",
    ]
    assert read_certificate(_cert(serial=b"\x01")).serial == "01"


def test_broken_extensions_keep_the_rest() -> None:
    der = bytearray(_cert(sans=[_tlv(0x82, b"a.example")]))
    i = der.index(b"\x55\x1d\x11")
    der[i + 4] = 0x7F  # the SAN OCTET STRING's inner SEQUENCE now overruns
    c = read_certificate(bytes(der))
    assert c.subject == "CN=example"
    assert c.subjectaltname == []


@pytest.mark.parametrize(
    "der",
    [
        b"",
        b"\x30",
        b"\x30\x82\xff\xff\x00",
        b"\x02\x01\x00",
        _seq(_seq()),
        _cert()[:-5],
        b"\x30\x80" + bytes(10),  # indefinite length: not DER
    ],
)
def test_not_a_certificate(der: bytes) -> None:
    with pytest.raises(CertError):
        read_certificate(der)
