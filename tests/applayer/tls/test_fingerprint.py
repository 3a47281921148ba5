"""JA3, JA3S, JA4 and version names, on real hellos and on the specs' own examples."""

from __future__ import annotations

import hashlib
import struct

import pytest

from tocsin.applayer.tls.fingerprint import is_grease, ja3, ja3s, ja4, version_name
from tocsin.applayer.tls.hello import Hello, parse_client_hello, parse_server_hello

from ._util import client_server, conversations


def _first_hello(name: str, direction: int, conn: int = 0) -> Hello:
    """The first hello a direction of a fixture connection sent (one record, one message)."""
    data = client_server(conversations(name)[conn])[direction]
    assert data[0] == 22
    rec_len = int.from_bytes(data[3:5], "big")
    msg = data[5 : 5 + rec_len]
    body = msg[4 : 4 + int.from_bytes(msg[1:4], "big")]
    return parse_client_hello(body) if direction == 0 else parse_server_hello(body)


def test_ja4_of_chrome_hello_matches_suricata_and_foxio_example() -> None:
    # suricata-verify ja4-tls-quic: tls.ja4 t13d1516h2_8daaf6152771_e5627efa2ab1; it is also
    # the example of FoxIO's JA4.md
    h = _first_hello("ja4-tls-quic.pcap", 0)
    assert ja4(h) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert h.alpns[:2] == [b"h2", b"http/1.1"]


def test_ja3_of_draft_hellos_match_suricata_verify() -> None:
    # suricata-verify tls13-draft28: a full handshake, then a resumption offering psk (41)
    head = (
        "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-49172-"
        "49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,"
        "5-10-11-13-22-23-35-51-43-65281-0-45"
    )
    assert ja3(_first_hello("tls13-draft28.pcap", 0, conn=0)) == (
        head + ",23,0",
        "43202faa1c8c1760d6f7f4bd9adde4ab",
    )
    assert ja3(_first_hello("tls13-draft28.pcap", 0, conn=1)) == (
        head + "-41,23,0",
        "d00857e0c8e7a7f35e446508c6233460",
    )
    s14, md5_14 = ja3(_first_hello("tls13-draft14.pcap", 0))
    assert s14.startswith("772,49195-49199-52393-52392-49196-49200-49162-")
    assert md5_14 == "65825469c473e48f3ee2571129256ab0"


def test_ja3_removes_grease_everywhere() -> None:
    # Chrome's hello carries GREASE ciphers, extensions and groups: none survive
    h = _first_hello("ja4-tls-quic.pcap", 0)
    assert any(is_grease(c) for c in h.ciphers) or any(is_grease(e) for e in h.extensions)
    s, _ = ja3(h)
    for part in s.split(",")[1:]:
        for v in filter(None, part.split("-")):
            assert not is_grease(int(v))


def test_ja3s_matches_suricata_verify() -> None:
    # suricata-verify tls-ja3s (tls-certs-alert pcap) expects "771,49199,65281-0-11-16-23";
    # here the server of ja4-sv-handshake: tshark's ja3s_full is "771,49200,65281-11-35-23"
    h = _first_hello("server-handshake.pcap", 1)
    s, md5 = ja3s(h)
    assert s == "771,49200,65281-11-35-23"
    assert md5 == hashlib.md5(s.encode()).hexdigest()


def _hello(ciphers: list[int], exts: list[int], sigs: list[int], alpn: bytes | None) -> Hello:
    h = Hello(version=0x0303, ciphers=ciphers, extensions=exts, sig_algs=sigs)
    h.supported_versions = [0x0A0A, 0x0304, 0x0303]
    if alpn is not None:
        h.alpns = [alpn]
    return h


# FoxIO JA4.md example lists (in wire order, as JA4_ro shows them)
_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013]
_CIPHERS += [0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
_EXTS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023]
_EXTS += [0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
_SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601]


def test_ja4_spec_example_and_no_signature_algorithms_case() -> None:
    assert ja4(_hello(_CIPHERS, _EXTS, _SIGS, b"h2")) == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    # "If there are no signature algorithms ... the string ends without an underscore":
    # 0005,...,ff01 = 6d807ffa2a79 per JA4.md (Suricata 8 would hash a trailing "_")
    assert ja4(_hello(_CIPHERS, _EXTS, [], b"h2")).endswith("_6d807ffa2a79")
    # GREASE anywhere is ignored
    greasy = _hello([0x3A3A, *_CIPHERS], [0xFAFA, *_EXTS], [0x8A8A, *_SIGS], b"h2")
    assert ja4(greasy) == "t13d1516h2_8daaf6152771_e5627efa2ab1"


@pytest.mark.parametrize(
    ("alpn", "code"),
    [
        (None, "00"),
        (b"", "00"),
        (b"http/1.1", "h1"),
        (b"h", "hh"),
        (b"\xab", "ab"),
        (b"\xab\xcd", "ad"),
        (b"\x30\xab", "3b"),
        (b"\x30\x31\xab\xcd", "3d"),
        (b"\x30\xab\xcd\x31", "01"),
    ],
)
def test_ja4_alpn_characters_follow_the_spec(alpn: bytes | None, code: str) -> None:
    exts = _EXTS if alpn is not None else [e for e in _EXTS if e != 0x10]
    assert ja4(_hello(_CIPHERS, exts, _SIGS, alpn))[8:10] == code


def test_ja4_empty_lists_and_counts_capped() -> None:
    h = Hello(version=0x0301)
    assert ja4(h) == "t10i000000_000000000000_000000000000"
    many = Hello(version=0x0303, ciphers=list(range(1, 200)), extensions=list(range(1, 200)))
    assert ja4(many).startswith("t12i9999")
    # SNI and ALPN count in ja4_a but are not hashed in ja4_c
    only_sni = Hello(version=0x0303, ciphers=[0x1301], extensions=[0x0000])
    assert ja4(only_sni).startswith("t12d0101") and ja4(only_sni).endswith("_000000000000")


def test_grease_values() -> None:
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A1A, 0x00FF, 0x1301, 0x0A0B))


@pytest.mark.parametrize(
    ("v", "name"),
    [
        (0x0000, "UNDETERMINED"),
        (0x0200, "SSLv2"),
        (0x0300, "SSLv3"),
        (0x0301, "TLSv1"),
        (0x0302, "TLS 1.1"),
        (0x0303, "TLS 1.2"),
        (0x0304, "TLS 1.3"),
        (0x7F12, "TLS 1.3 draft-18"),
        (0x7F1C, "TLS 1.3 draft-28"),
        (0x7F01, "TLS 1.3 draft-<16"),
        (0xFB1A, "TLS 1.3 draft-26-fb"),
        (0x7E01, "32257"),
    ],
)
def test_version_names_are_suricatas(v: int, name: str) -> None:
    assert version_name(v) == name


def test_hello_fields_from_real_client_hello() -> None:
    h = _first_hello("server-handshake.pcap", 0)
    assert h.sni == "dogfish"
    assert h.version == 0x0303
    assert h.groups == [29, 23, 30, 25, 24]
    assert h.point_formats == [0, 1, 2]
    assert h.sig_algs[:3] == [1027, 1283, 1539]
    # the cipher list is the wire list, as 16-bit values
    assert struct.pack(">H", h.ciphers[0]) == b"\xc0\x2c"
