"""Protocol detection by content (`applayer.probe`): real first messages of each protocol are
recognised on any port; other traffic is not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_CODE, ALPROTO_NAMES, PROBE_MORE, PROBE_NO


def detect(data: bytes, proto: int = 6, direction: int = 0, sport: int = 49152, dport: int = 80):
    arr = np.frombuffer(data, dtype=np.uint8)
    r = int(probe(arr, 0, len(arr), proto, direction, sport, dport))
    if r == PROBE_MORE:
        return "more"
    return ALPROTO_NAMES[r] if r != PROBE_NO else None


DNS_QUERY = bytes.fromhex("a64100000001000000000001036e7331087765626572646e730264650000010001")
DHCP_DISCOVER = (
    bytes([1, 1, 6, 0])
    + b"\x39\x03\xf3\x26"
    + bytes(20)
    + bytes.fromhex("000b8201fc42")
    + bytes(10 + 192)
    + b"\x63\x82\x53\x63"
    + b"\x35\x01\x01\xff"
)


@pytest.mark.parametrize(
    ("payload", "direction", "port", "want"),
    [
        (b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 0, 8080, "http"),
        (b"PROPFIND /dav HTTP/1.1\r\n", 0, 5000, "http"),
        (b"HTTP/1.1 200 OK\r\n", 1, 8080, "http"),
        (bytes.fromhex("16030100c8010000c40303") + bytes(60), 0, 8443, "tls"),
        (bytes.fromhex("160303005a020000560303") + bytes(60), 1, 443, "tls"),
        (b"SSH-2.0-OpenSSH_9.6\r\n", 1, 2222, "ssh"),
        (b"\x00\x00\x00\x44\xfeSMB" + bytes(60), 0, 445, "smb"),
        (b"\x00\x00\x00\x2f\xffSMBr" + bytes(40), 0, 139, "smb"),
        (b"\x0bMSH|^~\\&|LAB|HOSP|EHR|HOSP|20260101||ORU^R01|1|P|2.5\r\x1c\r", 0, 6661, "hl7"),
        (
            bytes.fromhex("030000130ee000000000000100080003000000"),
            0,
            3389,
            "rdp",
        ),
        (
            b"\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00Cookie: mstshash=bob\r\n" + bytes(8),
            0,
            5000,
            "rdp",
        ),
        (
            bytes.fromhex("05000b03100000004800000001000000") + bytes(56),
            0,
            135,
            "dcerpc",
        ),
    ],
)
def test_first_messages_are_recognised_on_any_port(
    payload: bytes, direction: int, port: int, want: str
) -> None:
    assert detect(payload, direction=direction, dport=port) == want


def test_dicom_associate_request_on_any_port() -> None:
    body = b"\x00\x01\x00\x00" + b"PACS_SCP".ljust(16) + b"MODALITY_CT".ljust(16) + bytes(32)
    pdu = b"\x01\x00" + (len(body) + 20).to_bytes(4, "big") + body + bytes(20)
    assert detect(pdu, dport=11112) == "dicom"
    assert detect(pdu, dport=104) == "dicom"
    reject = b"\x03\x00\x00\x00\x00\x04\x00\x01\x01\x07"
    assert detect(reject, direction=1, dport=104) == "dicom"


def test_udp_protocols() -> None:
    assert detect(DNS_QUERY, proto=17, dport=53) == "dns"
    assert detect(DNS_QUERY, proto=17, dport=10053) == "dns"  # a well-formed query anywhere
    assert detect(DHCP_DISCOVER, proto=17, sport=68, dport=67) == "dhcp"
    assert detect(b"\x00" * 40, proto=17, dport=5000) is None


def test_short_prefixes_ask_for_more() -> None:
    assert detect(b"G") == "more"
    assert detect(b"SS", direction=1) == "more"
    assert detect(b"\x16\x03", dport=443) == "more"


@pytest.mark.parametrize(
    "payload",
    [
        b"220 mail.example.org ESMTP Postfix\r\n",
        b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc1\x02\x01\x00\xc2\x02\x01\x02\xc0\x01\x0a",
        b"\x00\x00\x00\x10hello world!!!!!",
        b"\xff" * 64,
    ],
)
def test_other_traffic_is_not_claimed(payload: bytes) -> None:
    """SMTP, an S7comm (ISO-TSAP) connection request, random bytes (FTP: `tests/applayer/ftp`)."""
    assert detect(payload, dport=102) is None


def test_every_protocol_has_a_name() -> None:
    assert set(ALPROTO_CODE) >= {"http", "tls", "dns", "smb", "dhcp", "ssh", "rdp", "dicom", "hl7"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([6, 17]), st.integers(0, 1), st.integers(0, 65535))
def test_probe_reads_only_its_bytes(data: bytes, proto: int, direction: int, port: int) -> None:
    """Any bytes: a protocol, no, or more — and never a read past the payload (the payload is
    placed at the end of its buffer, so an over-read would raise or read garbage)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    r = int(probe(arr, 0, len(arr), proto, direction, 40000, port))
    assert r in (PROBE_NO, PROBE_MORE) or 1 < r < len(ALPROTO_NAMES)
