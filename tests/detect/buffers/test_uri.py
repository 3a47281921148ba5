"""libhtp's request-URI normalisation (`http.uri`), piece by piece.

Expected values are the test vectors of Suricata 8's libhtp (OISF/suricata `rust/htp/src/`:
`uri.rs` `test_parse_uri` / `test_normalize_uri_path`, `utf8_decoder.rs`
`test_decode_and_validate_inplace`) and, for the decoding steps, what its code does with the
IDS personality (`config.rs` `set_server_personality`, `urlencoded.rs`); whole requests
through the HTTP parser are in test_http.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.detect.buffers.uri import (
    RawUri,
    bestfit,
    decode_uri,
    normalize_path,
    normalized_uri,
    parse_uri,
    remove_dot_segments,
)
from tocsin.detect.buffers.uri import _decode_path as decode_path
from tocsin.detect.buffers.uri import _utf8_bestfit as utf8_bestfit


@pytest.mark.parametrize(
    ("target", "parts"),
    [
        # uri.rs test_parse_uri cases
        (
            b"http://user:pass@www.example.com:1234/path1/path2?a=b&c=d#frag",
            RawUri(
                b"http",
                b"user",
                b"pass",
                b"www.example.com",
                b"1234",
                b"/path1/path2",
                b"a=b&c=d",
                b"frag",
            ),
        ),
        (b"http://host.com/path", RawUri(b"http", hostname=b"host.com", path=b"/path")),
        (b"http://host.com", RawUri(b"http", hostname=b"host.com")),
        (b"http://", RawUri(b"http", path=b"//")),
        (b"/path", RawUri(path=b"/path")),
        (b"://", RawUri(b"", path=b"//")),
        (b"", RawUri()),
        (b"http://user@host.com", RawUri(b"http", username=b"user", hostname=b"host.com")),
        # parsers.rs: ipv6() keeps the brackets; is_not("#?") ends the path
        (b"http://[::1]:8080/x", RawUri(b"http", hostname=b"[::1]", port=b"8080", path=b"/x")),
        (b"/a?b#c?d", RawUri(path=b"/a", query=b"b", fragment=b"c?d")),
        (b"/?", RawUri(path=b"/", query=b"")),
    ],
)
def test_parse_uri_as_libhtp(target: bytes, parts: RawUri) -> None:
    assert parse_uri(target) == parts


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # uri.rs test_normalize_uri_path (RFC 3986 5.2.4 examples and libhtp's own)
        (b"/a/b/c/./../../g", b"/a/g"),
        (b"mid/content=5/../6", b"mid/6"),
        (b"./one", b"one"),
        (b"../one", b"one"),
        (b".", b""),
        (b"..", b""),
        (b"one/.", b"one"),
        (b"one/..", b""),
        (b"/", b"/"),
        (b"one/../", b""),
        (b"/../../../images.gif", b"/images.gif"),
        # the state machine: "/x/.." and "/x/./" end without a slash
        (b"/a/b/..", b"/a"),
        (b"/a/./", b"/a"),
        (b"/a/.../b", b"/a/.../b"),
    ],
)
def test_remove_dot_segments(path: bytes, expected: bytes) -> None:
    assert remove_dot_segments(path) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # utf8_decoder.rs test_decode_and_validate_inplace
        (b"\xf1.\xf1\xef\xbd\x9dabcd", b"?.?}abcd"),
        (b"\xf0\x90\x8d\xff", b"??"),
        (b"\xe2\x82", b"?"),
        (b"\xc2\xff\xf0", b"??"),
        (b"\xf0\x90\x28\xbc", b"?(?"),
        # code points below 256 become that byte; overlong forms are accepted
        (b"caf\xc3\xa9", b"caf\xe9"),
        (b"\xc0\xaf", b"/"),
        # U+FF21 FULLWIDTH LATIN CAPITAL LETTER A: bestfit_1252 gives "A"
        (b"\xef\xbc\xa1", b"A"),
    ],
)
def test_utf8_bestfit(data: bytes, expected: bytes) -> None:
    assert utf8_bestfit(data) == expected


def test_bestfit_map() -> None:
    # unicode_bestfit_map.rs: U+0100 -> "A", U+2044 FRACTION SLASH -> "/", U+FF0F -> "/",
    # unmapped -> the replacement byte "?"
    assert (bestfit(0x100), bestfit(0x2044), bestfit(0xFF0F)) == (0x41, 0x2F, 0x2F)
    assert bestfit(0x4E2D) == 0x3F
    assert bestfit(0xE9) == 0xE9


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (b"/a%2fb", b"/a/b"),  # path-separators-decode
        (b"/a%2F%2fb", b"/a/b"),  # ...and path-separators-compress on decoded slashes
        (b"/a\\b%5cc", b"/a/b/c"),  # backslash-convert-slashes, raw and encoded
        (b"/%2e%2e/%2E/x", b"/x"),  # decoded before the dot segments go
        (b"/a%00b", b"/a\x00b"),  # encoded NUL kept (nul-encoded-terminates off)
        (b"/%u0041%U0062", b"/Ab"),  # %u decoded (u-encoding-decode), either case
        (b"/a%uff0fb", b"/a/b"),  # %u through the best-fit map
        (b"/a%u2215b", b"/a/b"),  # U+2215 DIVISION SLASH
        (b"/a%u4e2db", b"/a?b"),  # unmapped code point: "?"
        (b"/a%zz%4", b"/a%zz%4"),  # invalid escapes keep their "%" (PRESERVE_PERCENT)
        (b"/a%u12g4", b"/a%u12g4"),
        (b"/a%252e", b"/a%2e"),  # decoded once (double-decode-path off)
        (b"/A+B", b"/A+B"),  # "+" is not a space in the path; case kept
        (b"/caf%c3%a9", b"/caf\xe9"),  # UTF-8 to single bytes
        (b"/x%ff", b"/x?"),  # invalid UTF-8
        (b"/x%e9", b"/x"),  # an unfinished sequence's lead byte at the end vanishes
    ],
)
def test_path_decoding(path: bytes, expected: bytes) -> None:
    assert normalize_path(path) == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"a=%41%2f%2F&b", b"a=A//&b"),  # %XX decoded, "/" not compressed
        (b"q=a+b", b"q=a+b"),  # query-plusspace-decode is off by default in Suricata
        (b"u=%u0042%uff0f", b"u=B/"),  # one decoder configuration: %u decoded here too
        (b"x=../y/./z", b"x=../y/./z"),  # no dot segment removal
        (b"p=%zz%", b"p=%zz%"),
        (b"n=%00", b"n=\x00"),
    ],
)
def test_query_decoding(query: bytes, expected: bytes) -> None:
    assert decode_uri(query) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/index.html", b"/index.html"),
        (b"/a/../b?x=%41#f%42", b"/b?x=A#fB"),
        # an absolute target gives path + query (uri-include-all off)
        (b"http://Host.Example:8080/p/../q?z=1", b"/q?z=1"),
        (b"http://host.example", None),  # no path, no query: no http.uri
        (b"/?", b"/?"),
        (b"..", None),  # nothing left
        (b"*", b"*"),
    ],
)
def test_normalized_uri(target: bytes, expected: bytes | None) -> None:
    assert normalized_uri(target) == expected


def test_connect_has_no_normalized_uri() -> None:
    # transaction.rs parse_request_line: a CONNECT target is an authority (no path)
    assert normalized_uri(b"example.com:443", connect=True) is None
    assert normalized_uri(None) is None


@given(st.binary(max_size=64))
def test_any_target_normalises(target: bytes) -> None:
    out = normalized_uri(target)
    assert out is None or (isinstance(out, bytes) and out)


@given(st.lists(st.sampled_from([b"a", b".", b"/", b"\\", b"b"]), max_size=24))
def test_no_dot_segment_or_double_slash_survives(parts: list[bytes]) -> None:
    """Without escapes or non-ASCII bytes, nothing can bring back a "//" or a dot segment."""
    path = b"/" + b"".join(parts)
    out = normalize_path(path)
    assert b"//" not in out and b"\\" not in out
    assert b"/./" not in out and b"/../" not in out
    assert not out.endswith((b"/.", b"/.."))


@given(
    st.binary(max_size=40)
    | st.lists(st.sampled_from([b"/", b".", b"%2e", b"a", b"\\"])).map(b"".join)
)
def test_shortcuts_change_nothing(path: bytes) -> None:
    """normalize_path skips steps that cannot change the path; doing all three agrees."""
    assert normalize_path(path) == remove_dot_segments(utf8_bestfit(decode_path(path)))
