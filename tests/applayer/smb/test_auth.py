"""Security blobs of SESSION_SETUP: NTLMSSP AUTHENTICATE and Kerberos AP-REQ, on real bytes
from the fixtures and on hand-built messages for the variants."""

from __future__ import annotations

import struct

from applayer.smb.flows import chunks
from tocsin.applayer.base import TO_SERVER
from tocsin.applayer.smb.auth import kerberos_ticket, ntlmssp_auth, parse_blob
from tocsin.applayer.smb.smb1 import string


def client_stream(name: str) -> bytes:
    return b"".join(b for d, b in chunks(name)[0] if d == TO_SERVER)


def authenticate(domain: bytes, user: bytes, host: bytes, flags: int, version: bytes) -> bytes:
    """An NTLMSSP AUTHENTICATE message, fields laid out after a 72-byte header."""
    body = b""
    fields = []
    base = 72 + 16  # header, version, MIC
    for value in (b"", b"", domain, user, host, b""):
        fields.append(struct.pack("<HHI", len(value), len(value), base + len(body)))
        body += value
    return (
        b"NTLMSSP\x00"
        + struct.pack("<I", 3)
        + b"".join(fields)
        + struct.pack("<I", flags)
        + version
        + bytes(16)
        + body
    )


def test_ntlmssp_from_real_session_setup() -> None:
    """smb-named-pipe-ascii (tshark: ntlmssp.auth.username Administrateur, domain WORKGROUP,
    host HOST; version 6.1.0 rev 15)."""
    stream = client_stream("smb1_named_pipe_ascii")
    i = stream.find(b"NTLMSSP\x00\x03\x00\x00\x00")
    auth = ntlmssp_auth(stream[i:])
    assert auth is not None
    assert (auth.user, auth.domain, auth.host, auth.version) == (
        "Administrateur",
        "WORKGROUP",
        "HOST",
        "6.1 build 0 rev 15",
    )


def test_ntlmssp_fields_by_offset_and_encoding() -> None:
    version = bytes([10, 0]) + struct.pack("<H", 19041) + b"\x00\x00\x00\x0f"
    uni = authenticate(
        "CORP".encode("utf-16-le"),
        "jdoé".encode("utf-16-le"),
        "WS01".encode("utf-16-le"),
        0x02000001,  # NEGOTIATE_VERSION | NEGOTIATE_UNICODE
        version,
    )
    auth = ntlmssp_auth(uni)
    assert auth is not None
    assert (auth.domain, auth.user, auth.host, auth.version) == (
        "CORP",
        "jdoé",
        "WS01",
        "10.0 build 19041 rev 15",
    )
    oem = ntlmssp_auth(authenticate(b"CORP", b"jdo\xe9", b"WS01", 0, bytes(8)))
    assert oem is not None and (oem.user, oem.version) == ("jdoé", None)


def test_ntlmssp_other_messages_and_bad_offsets() -> None:
    assert ntlmssp_auth(b"NTLMSSP\x00\x01\x00\x00\x00" + bytes(60)) is None  # NEGOTIATE
    bad = bytearray(authenticate(b"D", b"U", b"H", 0, bytes(8)))
    struct.pack_into("<HHI", bad, 36, 200, 200, 90)  # UserName past the end
    assert ntlmssp_auth(bytes(bad)) is None
    assert ntlmssp_auth(b"NTLMSSP\x00\x03") is None
    assert parse_blob(b"\x60\x06garbage") == (None, None)


def test_kerberos_ticket_from_real_session_setup() -> None:
    """PsExec capture: AP-REQ for cifs/dc1.contoso.local in realm CONTOSO.LOCAL (tshark:
    kerberos.realm, kerberos.SNameString)."""
    stream = client_stream("smb2_psexec_svcctl")
    ntlm, krb = parse_blob(stream)
    assert ntlm is None and krb is not None
    assert (krb.realm, krb.snames) == ("CONTOSO.LOCAL", ["cifs", "dc1.contoso.local"])
    j = stream.find(b"\x01\x00\x6e")
    for cut in (j + 10, j + 60, j + 200):  # an AP-REQ cut short is no ticket
        assert kerberos_ticket(stream[:cut], j + 2, 16) is None


def test_smb1_strings() -> None:
    """NUL-terminated strings; UTF-16 ones 2-aligned from the header start."""
    m = b"X\x00" + "Unix".encode("utf-16-le") + b"\x00\x00" + "Samba".encode("utf-16-le") + b"\0"
    os_, pos = string(m, 1, len(m), True)  # byte 1 is the pad
    assert os_ == "Unix"
    assert string(m, pos, len(m), True)[0] == "Samba"
    assert string(b"?????\x00IPC\x00", 0, 10, False) == ("?????", 6)
    assert string(b"abc", 0, 3, False)[0] == "abc"  # unterminated: to the end
