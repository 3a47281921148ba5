"""The pcre keyword: PCRE2 compilation as Suricata does it, modifiers, relative matching.

Ported: src/detect-pcre.c `DetectPcreTestSig01`..`03`, src/detect-within.c
`DetectWithinTestPacket01`.
"""

from __future__ import annotations

import pytest

from detect.match.sigtext import parse
from tocsin.detect.match.inspect import compile_buffer
from tocsin.detect.match.pcre import compile_pcre, rewrite_escapes
from tocsin.detect.model import Pcre


def s(pattern: str, flags: str, buf: bytes, pos: int = 0) -> tuple[int, int] | None:
    return compile_pcre(Pcre(pattern, flags)).search(buf, pos)


def m(sig: str, buf: bytes) -> bool:
    return compile_buffer(parse(sig)).inspect(buf)


def test_hex_escapes() -> None:
    # the binding's PCRE2_ALT_BSUX would read these as letters; Suricata's PCRE2 does not
    assert s(r"\x{41}", "", b"zA") == (1, 2)
    assert s(r"\x{ 41 }", "", b"zA") == (1, 2)
    assert s(r"\x41", "", b"zA") == (1, 2)
    assert s(r"\x4", "", b"z\x04") == (1, 2)
    assert s(r"\x4", "", b"x4") is None
    assert s(r"\xg", "", b"\x00g") == (0, 2)  # \x with no digit is NUL
    assert s(r"[\x{41}-\x{43}]+", "", b"zABCD") == (1, 4)
    assert s(r"\x{ff}", "", b"\xff") == (0, 1)


def test_escape_rewrite_leaves_quotes_and_comments() -> None:
    assert rewrite_escapes(r"\Q\x{41}\E") == r"\Q\x{41}\E"
    assert rewrite_escapes(r"a(?#\u)b") == r"a(?#\u)b"
    assert rewrite_escapes("a # \\u\nb", extended=True) == "a # \\u\nb"
    assert rewrite_escapes(r"\\x{41}") == r"\\x{41}"  # an escaped backslash, then text
    assert rewrite_escapes(r"[]\x4]") == r"[]\x04]"
    assert s(r"\Qa.b\E", "", b"axb") is None
    assert s(r"\Qa.b\E", "", b"a.b") == (0, 3)


def test_backslash_c_is_one_byte() -> None:
    assert s(r"a\Cb", "", b"a\nb") == (0, 3)
    assert s(r"a\C{2}b", "", b"a\xff\x00b") == (0, 4)


@pytest.mark.parametrize(
    "pattern",
    [r"\u0041", r"\U", r"\x{100}", r"\x{zz}", r"\x{41", "(", "a{2,1}", "[a"],
)
def test_rejected(pattern: str) -> None:
    with pytest.raises(ValueError, match="pcre"):
        compile_pcre(Pcre(pattern))


def test_unknown_modifier() -> None:
    with pytest.raises(ValueError, match="modifier"):
        compile_pcre(Pcre("a", "k"))


def test_ignored_modifiers() -> None:
    assert s("a", "ORB", b"a") == (0, 1)
    assert s("a", "U", b"a") == (0, 1)  # buffer letters are the parser's


def test_caseless() -> None:
    assert s("abc", "i", b"xABC") == (1, 4)
    assert s("abc", "", b"xABC") is None
    assert s("\\xe9", "i", b"\xc9") is None  # bytes, not Latin-1 or UTF-8 letters


def test_dotall_multiline_extended() -> None:
    assert s("a.b", "", b"a\nb") is None
    assert s("a.b", "s", b"a\nb") == (0, 3)
    assert s("^b", "", b"a\nb") is None
    assert s("^b", "m", b"a\nb") == (2, 3)
    assert s("a b # comment", "x", b"ab") == (0, 2)


def test_anchored() -> None:
    assert s("b", "A", b"ab") is None
    assert s("b", "A", b"ab", 1) == (1, 2)
    assert s("a", "A", b"ab") == (0, 1)


def test_dollar_endonly_and_ungreedy() -> None:
    assert s("c$", "", b"abc\n") == (2, 3)
    assert s("c$", "E", b"abc\n") is None
    assert s("a.*c", "", b"abcbc") == (0, 5)
    assert s("a.*c", "G", b"abcbc") == (0, 3)
    assert s("a.*?c", "G", b"abcbc") == (0, 5)  # G inverts ?


def test_bytes_not_utf8() -> None:
    assert s(".", "", b"\xff") == (0, 1)
    assert s(r"\w", "", b"\xe9") is None
    assert s("é", "", "é".encode()) == (0, 2)  # the rule's UTF-8 bytes, literally


def test_search_position() -> None:
    assert s("a", "", b"aba", 1) == (2, 3)
    assert s("(?<=b)a", "", b"ba", 1) == (1, 2)  # lookbehind sees before pos
    assert s("^a", "", b"ba", 1) is None
    assert s("x*", "", b"ab", 3) is None  # past the end


def test_suricata_pcre_packet_tests() -> None:
    # DetectPcreTestSig01: pattern ending in an escaped backslash
    assert m('pcre:"/ lalala\\\\/";', b"lalala lalala\\ lala\n")
    # DetectPcreTestSig02/03: anchored at both ends, with and without a final newline
    assert m('pcre:"/^(la)+$/";', b"lalala\n")
    assert m('pcre:"/^(la)+$/";', b"lalala")


def test_within_after_pcre() -> None:
    # src/detect-within.c DetectWithinTestPacket01 (bug 145)
    buf = (
        b"GET /AllWorkAndNoPlayMakesWillADullBoy HTTP/1.0User-Agent: Wget/1.11.4Accept: */*"
        b"Host: www.google.comConnection: Keep-AliveDate: Mon, 04 Jan 2010 17:29:39 GMT"
    )
    assert m('pcre:"/AllWorkAndNoPlayMakesWillADullBoy/"; content:"HTTP"; within:5;', buf)
    assert not m('pcre:"/AllWorkAndNoPlayMakesWillADullBoy/"; content:"HTTP"; within:4;', buf)


def test_relative_pcre_subject_starts_at_previous_match() -> None:
    assert m('content:"GET "; pcre:"/^\\/admin/R";', b"GET /admin")
    assert not m('content:"GET "; pcre:"/^\\/admin/R";', b"GET /x/admin")
    # a lookbehind cannot see before the relative start
    assert not m('content:"ab"; pcre:"/(?<=b)c/R";', b"abc")
    assert m('content:"ab"; pcre:"/(?<=b)c/";', b"abc")


def test_pcre_end_is_the_new_position() -> None:
    assert m('pcre:"/a+/"; content:"b"; within:1;', b"aaab")
    assert not m('pcre:"/a+/"; content:"b"; within:1;', b"aaaxb")
    # retried at the next start when a relative keyword fails
    assert m('pcre:"/a./"; content:"Z"; within:1;', b"axbayZ")


def test_negated_pcre() -> None:
    assert m('pcre:!"/evil/";', b"good")
    assert not m('pcre:!"/evil/";', b"so evil")
    # /R makes the content retry: the second "x" is not followed by "y"
    assert m('content:"x"; pcre:!"/^y/R";', b"xyxz")
    assert not m('content:"x"; pcre:!"/^y/R";', b"xyxy")
    assert m('content:"x"; pcre:!"/^y/R"; content:"z";', b"xz z")
