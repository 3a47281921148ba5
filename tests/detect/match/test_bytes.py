"""byte_test, byte_jump, byte_extract and the number reading behind them.

Ported: src/detect-bytejump.c `DetectByteJumpTestPacket01`..`08`; the byte_test operator
table follows src/detect-bytetest.c `DetectBytetestDoMatch`, the string reading
src/util-byte.c `ByteExtractString` (glibc `strtoull`).
"""

from __future__ import annotations

import pytest

from detect.match.sigtext import parse
from tocsin.detect.match.bytes_ops import (
    bitmask,
    compare,
    parse_op,
    read_binary,
    read_string,
    trailing_zeros,
)
from tocsin.detect.match.inspect import compile_buffer


def m(sig: str, buf: bytes, env: dict[str, int] | None = None) -> bool:
    return compile_buffer(parse(sig)).inspect(buf, env)


# --- bytes_ops --------------------------------------------------------------------------


def test_read_binary() -> None:
    assert read_binary(b"\x01\x02\x03\x04", 0, 4, True) == 0x01020304
    assert read_binary(b"\x01\x02\x03\x04", 0, 4, False) == 0x04030201
    assert read_binary(b"\xff" * 8, 0, 8, True) == (1 << 64) - 1
    assert read_binary(b"xy\x7f", 2, 1, True) == 0x7F


@pytest.mark.parametrize(
    ("data", "nbytes", "base", "want"),
    [
        (b"1234", 4, 10, (1234, 4)),
        (b"12ab", 4, 10, (12, 2)),  # stops at the first non-digit
        (b"12ab", 4, 16, (0x12AB, 4)),
        (b"0x1f", 4, 16, (0x1F, 4)),
        (b"0xzz", 4, 16, (0, 1)),  # "0x" without a hex digit: the 0 alone
        (b"  42", 4, 10, (42, 4)),  # leading white space is consumed
        (b"+7", 2, 10, (7, 2)),
        (b"-1", 2, 10, ((1 << 64) - 1, 2)),  # strtoull negates modulo 2^64
        (b"0777", 4, 8, (0o777, 4)),
        (b"0789", 4, 8, (0o7, 2)),
        (b"0x10", 4, 0, (16, 4)),  # base 0: C's automatic choice
        (b"010", 3, 0, (8, 3)),
        (b"910", 3, 0, (910, 3)),
        (b"12\x0034", 5, 10, (12, 2)),  # a NUL ends the C string
        (b"123456", 3, 10, (123, 3)),  # nbytes bounds the read
        (b"123456", 0, 10, (123456, 6)),  # 0: to the end
        (b"abc", 3, 10, None),
        (b"", 3, 10, None),
        (b"   ", 3, 10, None),
        (b"99999999999999999999999", 23, 10, None),  # above 2^64-1
        (b"18446744073709551615", 20, 10, ((1 << 64) - 1, 20)),
    ],
)
def test_read_string(data: bytes, nbytes: int, base: int, want: tuple[int, int] | None) -> None:
    assert read_string(data, 0, nbytes, base) == want


def test_operators() -> None:
    def t(op: str, val: int, value: int, negated: bool = False) -> bool:
        code, neg = parse_op(op, negated)
        return compare(code, neg, val, value)

    assert t("=", 5, 5) and not t("=", 5, 6)
    assert t("!", 5, 6) and not t("!", 5, 5)
    assert t("!=", 5, 6)
    assert t("=", 5, 6, negated=True)
    assert t("<", 4, 5) and not t("<", 5, 5)
    assert t(">", 6, 5) and not t(">", 5, 5)
    assert t("<=", 5, 5) and not t("<=", 6, 5)
    assert t(">=", 5, 5) and not t(">=", 4, 5)
    assert t("&", 0b0110, 0b0010) and not t("&", 0b0100, 0b0010)
    assert t("^", 0b0110, 0b0010) and not t("^", 0b0010, 0b0010)
    assert t("<", 5, 5, negated=True)
    with pytest.raises(ValueError):
        parse_op("~")


def test_bitmask() -> None:
    assert trailing_zeros(0xF8) == 3  # src/detect-bytetest.c DetectBytetestTestParse23
    assert trailing_zeros(1) == 0
    assert bitmask(0xFF, 0xF8, 3) == 0x1F
    assert bitmask(0x07, 0xF8, 3) == 0


# --- byte_test --------------------------------------------------------------------------


def test_byte_test_docs() -> None:
    # docs: byte_test:2,=,0x01,0 etc. on a binary header
    buf = b"\x00\x01\x00\x02"
    assert m("byte_test:2,=,0x01,0;", buf)
    assert m("byte_test:2,=,0x02,2;", buf)
    assert not m("byte_test:2,=,0x01,2;", buf)
    assert m("byte_test:2,!=,0x01,2;", buf)
    assert m("byte_test:4,=,0x02000100,0,little;", buf)
    assert m("byte_test:2,>,0,0;", buf)
    assert m("byte_test:2,<=,1,0;", buf)
    assert m("byte_test:1,&,0x01,1;", buf)
    assert not m("byte_test:1,&,0x02,1;", buf)


def test_byte_test_relative_and_bounds() -> None:
    buf = b"LEN\x00\x10rest"
    assert m('content:"LEN"; byte_test:2,=,16,0,relative;', buf)
    assert not m('content:"LEN"; byte_test:2,=,16,1,relative;', buf)
    assert m('content:"rest"; byte_test:1,=,0x74,-1,relative;', buf)  # 't'
    # past the end, before the start: no match
    assert not m("byte_test:4,>,0,7;", buf)
    assert not m('content:"LEN"; byte_test:1,>,0,-4,relative;', buf)
    assert not m("byte_test:1,>,0,0;", b"")


def test_byte_test_string() -> None:
    assert m("byte_test:3,>,99,0,string,dec;", b"100x")
    assert not m("byte_test:3,>,100,0,string,dec;", b"100x")
    assert m("byte_test:2,=,255,0,string,hex;", b"ff")
    assert m("byte_test:3,=,8,0,string,oct;", b"010")
    assert m("byte_test:4,=,16,0,string;", b"0x10")  # no base: automatic
    assert not m("byte_test:3,=,0,0,string,dec;", b"abc")  # no digits: no match


def test_byte_test_bitmask() -> None:
    # value 0xABCD, mask 0xFF00 -> 0xAB after shifting out 8 zero bits
    assert m("byte_test:2,=,0xab,0,bitmask 0xff00;", b"\xab\xcd")
    assert not m("byte_test:2,=,0xabcd,0,bitmask 0xff00;", b"\xab\xcd")


def test_byte_test_variable_value_and_offset() -> None:
    sig = "byte_extract:1,0,want; byte_extract:1,1,where; byte_test:1,=,want,where;"
    assert m(sig, b"\x07\x03x\x07")
    assert not m(sig, b"\x07\x03x\x08")


# --- byte_jump --------------------------------------------------------------------------

HTTP = (
    b"GET /AllWorkAndNoPlayMakesWillADullBoy HTTP/1.0User-Agent: Wget/1.11.4Accept: */*"
    b"Host: www.google.comConnection: Keep-AliveDate: Mon, 04 Jan 2010 17:29:39 GMT"
)


def test_byte_jump_suricata_packet_tests() -> None:
    # DetectByteJumpTestPacket01: relative to a pcre
    assert m(
        'pcre:"/AllWorkAndNoPlayMakesWillADullBoy/"; byte_jump:1,6,relative,string,dec; '
        'content:"0";',
        HTTP,
    )
    # DetectByteJumpTestPacket02: relative to a byte_jump
    smb = bytes.fromhex(
        "00000077ff534d422f0000000018"
        "0120000000000000000000000000"
        "000892a40108175c0eff00000001"
        "4048000000ff"
    )
    assert m('byte_jump:1,13; byte_jump:4,0,relative; content:"|48 00 00|"; within:3;', smb)
    # DetectByteJumpTestPacket03: an offset far past the end
    assert not m("byte_jump:1,214748364;", b"boom")
    # DetectByteJumpTestPacket04/05: the jump is past the digits read
    buf = b"XYZ04abcdABCD"
    assert m(
        'content:"XYZ"; byte_jump:2,0,relative,string,dec; content:"ABCD"; distance:0; within:4;',
        buf,
    )
    assert not m(
        'content:"XYZ"; byte_jump:2,0,relative,string,dec; content:"cdABCD"; within:6;', buf
    )
    # DetectByteJumpTestPacket06/07: from_beginning
    buf = b"XX04abcdABCD"
    assert m(
        'content:"XX"; byte_jump:2,0,relative,string,dec,from_beginning; content:"ABCD"; '
        "distance:4; within:4;",
        buf,
    )
    assert m(
        'content:"XX"; byte_jump:2,0,relative,string,dec,from_beginning; '
        'content:"abcdABCD"; distance:0; within:8;',
        buf,
    )
    # DetectByteJumpTestPacket08: from_end with a negative post_offset
    assert m(
        'content:"XX"; byte_jump:2,0,relative,string,dec,from_end, post_offset -8; content:"ABCD";',
        buf,
    )


def test_byte_jump_multiplier_align_post_offset() -> None:
    # length 3 words of 2 bytes: jump 6 bytes past the length field
    assert m('byte_jump:1,0,multiplier 2; content:"Z"; within:1;', b"\x03abcdefZ")
    # align: 5 -> 8, from the end of the length field
    assert m('byte_jump:1,0,align; content:"Z"; within:1;', b"\x05abcdefghZ")
    assert not m('byte_jump:1,0; content:"Z"; within:1;', b"\x05abcdefghZ")
    assert m('byte_jump:1,0,post_offset 2; content:"Z"; within:1;', b"\x01aXXZ")
    assert m('byte_jump:1,0,post_offset -1; content:"a"; within:1;', b"\x01aZ")
    assert m('byte_jump:2,0,little; content:"Z"; within:1;', b"\x02\x00abZ")


def test_byte_jump_bounds() -> None:
    # to the very end: allowed; one past: no match; before the start: clamped to 0
    assert m("byte_jump:1,0; isdataat:!1,relative;", b"\x02ab")
    assert not m("byte_jump:1,0;", b"\x03ab")
    assert m('byte_jump:1,0,post_offset -10; content:"|01|"; within:1;', b"\x01ab")
    assert not m("byte_jump:2,0;", b"\x01")


# --- byte_extract -----------------------------------------------------------------------


def test_byte_extract_moves_position() -> None:
    # the relative position is right after the extracted bytes
    assert m('byte_extract:2,0,x; content:"ab"; within:2;', b"\x00\x01abc")
    assert m('byte_extract:2,1,x,string,dec; content:"ab"; within:2;', b"_12abc")


def test_byte_extract_options() -> None:
    env: dict[str, int] = {}
    assert m("byte_extract:2,0,v,little;", b"\x01\x02", env)
    assert env["v"] == 0x0201
    assert m("byte_extract:1,0,v,multiplier 4;", b"\x03", env)
    assert env["v"] == 12
    assert m("byte_extract:1,0,v,align 4;", b"\x05", env)
    assert env["v"] == 8
    assert m("byte_extract:1,0,v,align 2;", b"\x05", env)
    assert env["v"] == 6
    assert m("byte_extract:3,0,v,string,hex;", b"1fZ", env)
    assert env["v"] == 0x1F
    assert not m("byte_extract:2,0,v;", b"\x01")
    assert not m("byte_extract:2,0,v,string;", b"zz")
