"""ClientHello / ServerHello / SSLv2 hello readers on real messages, cut and bent."""

from __future__ import annotations

import pytest

from tocsin.applayer.tls.hello import (
    HelloError,
    parse_client_hello,
    parse_server_hello,
    parse_sslv2_client_hello,
    parse_sslv2_server_hello,
)

from ._util import client_server, conversations


def _first_message(name: str, direction: int) -> bytes:
    data = client_server(conversations(name)[0])[direction]
    msg = data[5 : 5 + int.from_bytes(data[3:5], "big")]
    return msg[4 : 4 + int.from_bytes(msg[1:4], "big")]


CLIENT = _first_message("ja4-tls-quic.pcap", 0)
SERVER = _first_message("server-handshake.pcap", 1)


def test_every_cut_of_a_real_client_hello() -> None:
    full = parse_client_hello(CLIENT)
    assert full.sni == "cloudflare-quic.com" and len(full.extensions) == 18
    for k in range(len(CLIENT)):
        cut = CLIENT[:k]
        try:
            h = parse_client_hello(cut)
        except HelloError:
            pass
        else:  # only where the extension block is absent altogether
            assert h.extensions == [] and h.ciphers == full.ciphers
        if k >= 35:  # cut by the memory bound: what fits is read, never an error
            t = parse_client_hello(cut, truncated=True)
            assert t.extensions == full.extensions[: len(t.extensions)]
            assert t.ciphers == full.ciphers[: len(t.ciphers)]


def test_every_cut_of_a_real_server_hello() -> None:
    full = parse_server_hello(SERVER)
    assert (full.ciphers, full.extensions) == ([49200], [65281, 11, 35, 23])
    for k in range(len(SERVER)):
        try:
            h = parse_server_hello(SERVER[:k])
        except HelloError:
            continue
        assert h.extensions == []  # cut before the extension block


def test_odd_and_overlong_fields() -> None:
    odd = bytearray(CLIENT)
    sid = odd[34]
    odd[35 + sid + 1] |= 1  # odd cipher suites length
    with pytest.raises(HelloError, match="odd"):
        parse_client_hello(bytes(odd))
    long_sid = bytearray(CLIENT)
    long_sid[34] = 33
    with pytest.raises(HelloError, match="session id"):
        parse_client_hello(bytes(long_sid))
    # an extension block 1 byte longer than its extensions
    sid = CLIENT[34]
    cs_len = int.from_bytes(CLIENT[35 + sid : 37 + sid], "big")
    at = 37 + sid + cs_len + 1 + CLIENT[37 + sid + cs_len]
    total = int.from_bytes(CLIENT[at : at + 2], "big")
    loose = CLIENT[:at] + (total + 1).to_bytes(2, "big") + CLIENT[at + 2 :] + b"\x00"
    with pytest.raises(HelloError, match="trailing"):
        parse_client_hello(loose)
    assert parse_client_hello(CLIENT + b"\x00").sni == "cloudflare-quic.com"  # after: ignored
    with pytest.raises(HelloError):
        parse_server_hello(SERVER[:34] + b"\x21" + bytes(40))  # 33-byte session id


def _ext(etype: int, value: bytes) -> bytes:
    return etype.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


def _with_extensions(*exts: bytes) -> bytes:
    head = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    block = b"".join(exts)
    return head + len(block).to_bytes(2, "big") + block


def test_extension_values_are_read_leniently() -> None:
    h = parse_client_hello(
        _with_extensions(
            _ext(0, b"\x00\x09\x01\x00\x03abc"),  # a non-host_name entry only
            _ext(16, b"\x00\x08\x02h2\x00\x09http/1"),  # the 2nd name overruns the list
            _ext(43, b"\x04\x0a\x0a\x03\x04"),
            _ext(13, b"\x00\x03\x04\x03\x05"),  # odd length: ignored
            _ext(35, b""),
            _ext(0xFE0D, b"\x00"),
        )
    )
    assert h.extensions == [0, 16, 43, 13, 35, 0xFE0D]
    assert h.sni is None
    assert h.alpns == [b"h2", b""]
    assert h.supported_versions == [0x0A0A, 0x0304]
    assert h.sig_algs == []
    assert h.session_ticket
    sni = parse_client_hello(_with_extensions(_ext(0, b"\x00\x10\x00\x00\x0dwww.\xffxample.o")))
    assert sni.sni == "www.\\xffxample.o"  # not UTF-8: escaped, not lost


def test_sslv2_hellos() -> None:
    hello = b"\x01\x00\x02\x00\x03\x00\x00\x00\x10" + b"\x07\x00\xc0" + bytes(16)
    h = parse_sslv2_client_hello(hello)
    assert (h.version, h.ciphers, h.sslv2) == (0x0002, [0x0700C0], True)
    for bad in (
        hello[:8],
        b"\x02" + hello[1:],  # not a CLIENT-HELLO
        hello[:1] + b"\x07\x07" + hello[3:],  # version 0x0707
        hello[:-1],  # challenge cut short
        hello[:7] + b"\x00\x00" + hello[9:],  # 0-byte challenge length
    ):
        with pytest.raises(HelloError):
            parse_sslv2_client_hello(bad)
    server = b"\x04\x00\x01\x00\x02\x00\x03\x00\x00\x00\x00" + b"DER"
    s = parse_sslv2_server_hello(server)
    assert (s.version, s.certificate, s.session_id_hit) == (2, b"DER", False)
    with pytest.raises(HelloError):
        parse_sslv2_server_hello(server[:-1])
    with pytest.raises(HelloError):
        parse_sslv2_server_hello(b"\x05" + server[1:])
