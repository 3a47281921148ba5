"""Transforms (`detect.transforms`): each one on Suricata's documented examples and the test
vectors of its unit tests (rust/src/detect/transforms/*.rs, src/detect-transform-base64.c),
buffer keys, option parsing and content validation."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.detect import transforms as tf


def run(spec: str, value: bytes, option: str | None = None) -> bytes:
    return tf.apply((tf.parse_spec(spec, option),), value)


# --- buffer keys ------------------------------------------------------------------------------


def test_split_and_join_keys() -> None:
    assert tf.split_key("dns.query") == ("dns.query", ())
    assert tf.split_key("http.uri|url_decode|to_lowercase") == (
        "http.uri",
        ("url_decode", "to_lowercase"),
    )
    key = tf.join_key("http.request_body", ["xor:0d0ac8ff", "from_base64:offset 6"])
    assert key == "http.request_body|xor:0d0ac8ff|from_base64:offset 6"
    assert tf.split_key(key) == ("http.request_body", ("xor:0d0ac8ff", "from_base64:offset 6"))


def test_transforms_chain_in_rule_order() -> None:
    # doc: "compress_whitespace; to_sha256" on the request line
    line = b"GET  /index.html   HTTP/1.0"
    specs = ("compress_whitespace", "to_sha256")
    assert tf.apply(specs, line) == hashlib.sha256(b"GET /index.html HTTP/1.0").digest()
    assert tf.apply(("to_lowercase", "dotprefix"), b"WWW.Example.COM") == b".www.example.com"
    assert tf.apply(("dotprefix", "to_uppercase"), b"a.b") == b".A.B"


@pytest.mark.parametrize("spec", sorted(tf.NAMES - {"xor", "from_base64"}))
def test_an_empty_buffer_stays_empty(spec: str) -> None:
    assert run(spec, b"") == b""
    assert tf.apply(("xor:0d0a", "from_base64"), b"") == b""


# --- each transform ---------------------------------------------------------------------------


def test_dotprefix() -> None:
    # doc: "hello.google.com" becomes ".hello.google.com"
    assert run("dotprefix", b"hello.google.com") == b".hello.google.com"
    assert run("dotprefix", b"example.com") == b".example.com"
    # doc: content ".microsoft.com" matches windows.update.microsoft.com, not fakemicrosoft.com
    assert b".microsoft.com" in run("dotprefix", b"windows.update.microsoft.com")
    assert b".microsoft.com" not in run("dotprefix", b"windows.update.fakemicrosoft.com")
    assert run("dotprefix", b"microsoft.com").endswith(b".microsoft.com")


def test_strip_whitespace() -> None:
    assert run("strip_whitespace", b" A B C D ") == b"ABCD"
    assert run("strip_whitespace", b"EFGH") == b"EFGH"
    assert run("strip_whitespace", b"I  \t J") == b"IJ"
    # doc example: window.navigate ( ... )
    assert b"window.navigate(" in run("strip_whitespace", b"window.navigate \r\n (x)")
    # Rust's is_ascii_whitespace: space, tab, LF, FF, CR, not VT
    assert run("strip_whitespace", b"a\x0b\x0cb") == b"a\x0bb"


def test_compress_whitespace() -> None:
    assert run("compress_whitespace", b" A B C D ") == b" A B C D "
    assert run("compress_whitespace", b"EFGH") == b"EFGH"
    assert run("compress_whitespace", b"I  \t J") == b"I J"
    # a run becomes its first byte (which need not be a space), VT included
    assert run("compress_whitespace", b"a\t \x0b\nb\r\n c") == b"a\tb\rc"


def test_case_changes() -> None:
    assert run("to_lowercase", b" A b C D ") == b" a b c d "
    assert run("to_uppercase", b" A b C D ") == b" A B C D "
    assert run("to_lowercase", b"\xc3\x89T\xe9") == b"\xc3\x89t\xe9"  # ASCII letters only


def test_url_decode() -> None:
    v = b"Suricata%20is+%27%61wesome%21%27%25%30%30%ZZ%4"
    assert run("url_decode", v) == b"Suricata is 'awesome!'%00%ZZ%4"
    # the byte after a bad escape is kept as it is and starts nothing
    assert run("url_decode", b"%%41") == b"%%41"
    assert run("url_decode", b"%4%41") == b"%4%41"
    assert run("url_decode", b"%+a+b") == b"%+a b"
    assert run("url_decode", b"%2B%2b") == b"++"
    assert run("url_decode", b"/evil%27sqli") == b"/evil'sqli"


def test_hashes() -> None:
    # rust/src/detect/transforms/hash.rs test vectors
    v = b" A B C D "
    assert run("to_md5", v).hex() == "e059f830436958b645828cc233c24713"
    assert run("to_sha1", v).hex() == "c8dc4497f7e055f86b889052082c0c7bdcc9c889"
    assert run("to_sha256", v).hex() == (
        "d6bf7d8d6953024d0d845c999bae93ccac68eaab9ac977d0fd306af59a3de43a"
    )


def test_header_lowercase() -> None:
    v = b"Header1: Value1\nheader2:Value2\n"
    assert run("header_lowercase", v) == b"header1: Value1\nheader2:Value2\n"
    v = b"Accept-Ranges: Bytes\r\nX-Thing: ABC: DEF\r\nNOCOLON\r\n"
    assert run("header_lowercase", v) == b"accept-ranges: Bytes\r\nx-thing: ABC: DEF\r\nnocolon\r\n"


def test_strip_pseudo_headers() -> None:
    v = b"Header1: Value1\n:method:get\nheader2:Value2\n"
    assert run("strip_pseudo_headers", v) == b"Header1: Value1\nheader2:Value2\n"
    assert run("strip_pseudo_headers", b":method:get") == b""
    assert run("strip_pseudo_headers", b"Header1: Value1\n:method:get") == b"Header1: Value1\n"
    assert run("strip_pseudo_headers", b":method:get\nheader2:Value2") == b"header2:Value2"
    v = b"Header1: Value1\n:method:get\nheader2:Value2\n:scheme:https\nheader3:Value3\n"
    assert run("strip_pseudo_headers", v) == b"Header1: Value1\nheader2:Value2\nheader3:Value3\n"


def test_xor() -> None:
    assert tf.parse_spec("xor", "0a0DC8ff") == "xor:0a0dc8ff"
    assert run("xor", b"example.com", "0a0DC8ff") == b"ou\xa9\x92za\xad\xd1ib\xa5"
    assert run("xor", b"ou\xa9\x92za\xad\xd1ib\xa5", "0a0DC8ff") == b"example.com"
    assert run("xor", b"\x00\x00\x00", "ff") == b"\xff\xff\xff"


@given(st.binary(max_size=300), st.binary(min_size=1, max_size=255))
def test_xor_is_its_own_inverse(data: bytes, key: bytes) -> None:
    spec = tf.parse_spec("xor", key.hex())
    once = tf.apply((spec,), data)
    assert len(once) == len(data)
    assert tf.apply((spec, spec), data) == data
    assert once == bytes(b ^ key[i % len(key)] for i, b in enumerate(data))


@pytest.mark.parametrize(
    ("options", "value", "out"),
    [
        # src/detect-transform-base64.c unit tests and rust/src/detect/transforms/base64.rs
        ("", b"VGhpcyBpcyBTdXJpY2F0YQ==", b"This is Suricata"),
        ("mode rfc2045", b"Zm 9v Ym Fy", b"foobar"),
        ("mode strict", b"This is Suricata\n", b"This is Suricata\n"),  # fails: unchanged
        ("bytes 25", b"VGhpcyBpcyBTdXJpY2F0YQ==", b"VGhpcyBpcyBTdXJpY2F0YQ=="),
        ("offset 25", b"VGhpcyBpcyBTdXJpY2F0YQ==", b"VGhpcyBpcyBTdXJpY2F0YQ=="),
        ("bytes 12", b"VGhpcyBpcyBTdXJpY2F0YQ==", b"This is S"),
        ("offset 4", b"VGhpcyBpcyBTdXJpY2F0YQ==", b"s is Suricata"),
        ("mode rfc2045, bytes 15", b"SGVs bG8 gV29y bGQ=", b"Hello Wor"),
        ("mode rfc2045", b"ABCD!!!!", b"\x00\x10\x83"),
        # suricata-verify from_base64-01 / -02
        ("offset 6", b"/?arg=dGhpc2lzYXRlc3QK", b"thisisatest\n"),
        ("offset 10", b"/?arg=dGhpc2lzYXRlc3QK", b"sisatest\n"),
        ("bytes 6, offset 6", b"/?arg=dGhpc2lzYXRlc3QK", b"this"),
        ("offset 6, mode strict", b"/?arg=dGhpc2lzYXRlc3QK", b"thisisatest\n"),
        ("offset 6, mode rfc4648", b"/?arg=Zm 9v Ym Fy", b"f"),  # stops at the space
        ("offset 6, mode strict", b"/?arg=Zm 9v Ym Fy", b"/?arg=Zm 9v Ym Fy"),
        ("", b"Zg==Zm8=", b"ffo"),  # rfc4648 goes on after a padded group
        ("", b"====", b"===="),  # padding first: nothing decoded, unchanged
        (
            "mode rfc2045",
            b"This is not base64-encoded",
            bytes.fromhex("4e18ac8ac9e8b5b6ac7bae1e9dca1d"),
        ),
    ],
)
def test_from_base64(options: str, value: bytes, out: bytes) -> None:
    assert run("from_base64", value, options) == out


def test_from_base64_partial_last_group() -> None:
    assert run("from_base64", b"Zm9vYg") == b"foob"  # padded
    assert run("from_base64", b"Zm9vYmE") == b"fooba"
    assert run("from_base64", b"Zm9vZ") == b"foo"  # no room left to pad: dropped
    assert run("from_base64", b"Zm9vYg", "mode rfc2045") == b"foo"  # rfc2045: dropped


# --- parsing and validation -------------------------------------------------------------------


def test_spec_canonical_forms() -> None:
    assert tf.parse_spec("from_base64", None) == "from_base64"
    assert tf.parse_spec("from_base64", " mode rfc4648 ") == "from_base64"
    assert tf.parse_spec("from_base64", "mode strict ,offset 6, bytes 4") == (
        "from_base64:bytes 4,offset 6,mode strict"
    )
    assert tf.parse_spec("dotprefix", None) == "dotprefix"
    assert all(tf.SEP not in tf.parse_spec("from_base64", o) for o in ("bytes 1", "offset 2"))


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("xor", "abc", "even"),
        ("xor", "zz", "hexadecimal"),
        ("xor", "00" * 256, "too long"),
        ("from_base64", "mode unknown", "invalid mode"),
        ("from_base64", "bytes 4, offset 70000, mode strict", "between 0 and 65535"),
        ("from_base64", "bytes 4, offset 3933, mode strict, mode rfc2045", "at most 3"),
        ("from_base64", "mode strict, mode rfc2045", "already set"),
        ("from_base64", "bytes var", "number"),
        ("from_base64", "size 4", "unknown base64 keyword"),
        ("dotprefix", "x", "takes no value"),
        ("pcrexform", "/a(b)/", "unknown transform"),
    ],
)
def test_bad_options(name: str, value: str, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        tf.parse_spec(name, value)


def test_contents_a_transform_can_never_produce() -> None:
    assert tf.incompatible(("strip_whitespace",), b"window.navigate (") == "strip_whitespace"
    assert tf.incompatible(("strip_whitespace",), b"a\x0bb") is None  # VT survives
    assert tf.incompatible(("compress_whitespace",), b" A B C D ") is None
    assert tf.incompatible(("compress_whitespace",), b" A B C D  ") == "compress_whitespace"
    assert tf.incompatible(("to_lowercase",), b"AT PATPOOPY") == "to_lowercase"
    assert tf.incompatible(("to_uppercase",), b"abc") == "to_uppercase"
    assert tf.incompatible(("dotprefix", "to_lowercase"), b".abc") is None
    assert tf.incompatible(("dotprefix", "to_lowercase", "to_uppercase"), b"A") == "to_lowercase"


def _suricata_b64(data: bytes, rfc2045: bool) -> bytes | None:
    """rust/src/utils/scbase64.rs's decode_rfc4648 / decode_rfc2045, literally (None: Err)."""
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    maxlen = len(data) * 3 // 4
    out: list[int] = []
    tmp: list[int] = []
    i, stop = 0, False
    while i < len(data):
        while len(tmp) < 4:
            if i < len(data) and (data[i] in alphabet or data[i] == 0x3D):
                tmp.append(data[i])
            elif rfc2045:
                if i >= len(data):
                    break
            else:
                while 0 < len(tmp) < 4 and len(out) < maxlen:
                    tmp.append(0x3D)
                stop = True
                break
            i += 1
        if len(tmp) == 4:
            if 0x3D in tmp[:2]:
                return None
            a, b = alphabet.index(tmp[0]), alphabet.index(tmp[1])
            out.append((a << 2 | b >> 4) & 0xFF)
            if tmp[2] != 0x3D:
                c = alphabet.index(tmp[2])
                out.append((b << 4 | c >> 2) & 0xFF)
                if tmp[3] != 0x3D:
                    out.append((c << 6 | alphabet.index(tmp[3])) & 0xFF)
            tmp = []
        if stop:
            break
    return bytes(out)


@given(st.binary(max_size=40) | st.text("AZaz09+/= !-", max_size=40).map(str.encode))
def test_from_base64_decoders_follow_suricata(data: bytes) -> None:
    for options, rfc2045 in (("", False), ("mode rfc2045", True)):
        want = _suricata_b64(data, rfc2045)
        assert run("from_base64", data, options) == (want or data)
