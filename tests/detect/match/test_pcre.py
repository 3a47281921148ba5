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

# (pattern, flags, subject, search start, span found)
SEARCHES: list[tuple[str, str, bytes, int, tuple[int, int] | None]] = [
    # hex escapes: the binding's PCRE2_ALT_BSUX would read these as letters; Suricata's
    # PCRE2 does not
    (r"\x{41}", "", b"zA", 0, (1, 2)),
    (r"\x{ 41 }", "", b"zA", 0, (1, 2)),
    (r"\x41", "", b"zA", 0, (1, 2)),
    (r"\x4", "", b"z\x04", 0, (1, 2)),
    (r"\x4", "", b"x4", 0, None),
    (r"\xg", "", b"\x00g", 0, (0, 2)),  # \x with no digit is NUL
    (r"[\x{41}-\x{43}]+", "", b"zABCD", 0, (1, 4)),
    (r"\x{ff}", "", b"\xff", 0, (0, 1)),
    # \Q..\E quotes
    (r"\Qa.b\E", "", b"axb", 0, None),
    (r"\Qa.b\E", "", b"a.b", 0, (0, 3)),
    # \C is one byte
    (r"a\Cb", "", b"a\nb", 0, (0, 3)),
    (r"a\C{2}b", "", b"a\xff\x00b", 0, (0, 4)),
    # ignored modifiers; buffer letters are the parser's
    ("a", "ORB", b"a", 0, (0, 1)),
    ("a", "U", b"a", 0, (0, 1)),
    # caseless: bytes, not Latin-1 or UTF-8 letters
    ("abc", "i", b"xABC", 0, (1, 4)),
    ("abc", "", b"xABC", 0, None),
    ("\\xe9", "i", b"\xc9", 0, None),
    # dotall, multiline, extended
    ("a.b", "", b"a\nb", 0, None),
    ("a.b", "s", b"a\nb", 0, (0, 3)),
    ("^b", "", b"a\nb", 0, None),
    ("^b", "m", b"a\nb", 0, (2, 3)),
    ("a b # comment", "x", b"ab", 0, (0, 2)),
    # anchored
    ("b", "A", b"ab", 0, None),
    ("b", "A", b"ab", 1, (1, 2)),
    ("a", "A", b"ab", 0, (0, 1)),
    # dollar end-only, ungreedy (G inverts ?)
    ("c$", "", b"abc\n", 0, (2, 3)),
    ("c$", "E", b"abc\n", 0, None),
    ("a.*c", "", b"abcbc", 0, (0, 5)),
    ("a.*c", "G", b"abcbc", 0, (0, 3)),
    ("a.*?c", "G", b"abcbc", 0, (0, 5)),
    # bytes, not UTF-8: the rule's UTF-8 bytes are taken literally
    (".", "", b"\xff", 0, (0, 1)),
    (r"\w", "", b"\xe9", 0, None),
    ("é", "", "é".encode(), 0, (0, 2)),
    # the search start: a lookbehind sees before it, ^ does not match at it, past the end
    ("a", "", b"aba", 1, (2, 3)),
    ("(?<=b)a", "", b"ba", 1, (1, 2)),
    ("^a", "", b"ba", 1, None),
    ("x*", "", b"ab", 3, None),
]


@pytest.mark.parametrize(("pattern", "flags", "subject", "start", "want"), SEARCHES)
def test_search(
    pattern: str, flags: str, subject: bytes, start: int, want: tuple[int, int] | None
) -> None:
    assert compile_pcre(Pcre(pattern, flags)).search(subject, start) == want


def test_escape_rewrite_leaves_quotes_and_comments() -> None:
    assert rewrite_escapes(r"\Q\x{41}\E") == r"\Q\x{41}\E"
    assert rewrite_escapes(r"a(?#\u)b") == r"a(?#\u)b"
    assert rewrite_escapes("a # \\u\nb", extended=True) == "a # \\u\nb"
    assert rewrite_escapes(r"\\x{41}") == r"\\x{41}"  # an escaped backslash, then text
    assert rewrite_escapes(r"[]\x4]") == r"[]\x04]"


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


HTTP = (
    b"GET /AllWorkAndNoPlayMakesWillADullBoy HTTP/1.0User-Agent: Wget/1.11.4Accept: */*"
    b"Host: www.google.comConnection: Keep-AliveDate: Mon, 04 Jan 2010 17:29:39 GMT"
)
BOY = 'pcre:"/AllWorkAndNoPlayMakesWillADullBoy/"; '

# (options, packet payload, match)
RULES: list[tuple[str, bytes, bool]] = [
    # DetectPcreTestSig01: pattern ending in an escaped backslash
    ('pcre:"/ lalala\\\\/";', b"lalala lalala\\ lala\n", True),
    # DetectPcreTestSig02/03: anchored at both ends, with and without a final newline
    ('pcre:"/^(la)+$/";', b"lalala\n", True),
    ('pcre:"/^(la)+$/";', b"lalala", True),
    # src/detect-within.c DetectWithinTestPacket01 (bug 145)
    (BOY + 'content:"HTTP"; within:5;', HTTP, True),
    (BOY + 'content:"HTTP"; within:4;', HTTP, False),
    # a relative pcre's subject starts at the previous match: a lookbehind cannot see before
    ('content:"GET "; pcre:"/^\\/admin/R";', b"GET /admin", True),
    ('content:"GET "; pcre:"/^\\/admin/R";', b"GET /x/admin", False),
    ('content:"ab"; pcre:"/(?<=b)c/R";', b"abc", False),
    ('content:"ab"; pcre:"/(?<=b)c/";', b"abc", True),
    # the pcre's end is the new position; retried at the next start when a relative keyword
    # fails
    ('pcre:"/a+/"; content:"b"; within:1;', b"aaab", True),
    ('pcre:"/a+/"; content:"b"; within:1;', b"aaaxb", False),
    ('pcre:"/a./"; content:"Z"; within:1;', b"axbayZ", True),
    # negated pcre; /R makes the content retry: the second "x" is not followed by "y"
    ('pcre:!"/evil/";', b"good", True),
    ('pcre:!"/evil/";', b"so evil", False),
    ('content:"x"; pcre:!"/^y/R";', b"xyxz", True),
    ('content:"x"; pcre:!"/^y/R";', b"xyxy", False),
    ('content:"x"; pcre:!"/^y/R"; content:"z";', b"xz z", True),
]


@pytest.mark.parametrize(("sig", "buf", "want"), RULES)
def test_rule(sig: str, buf: bytes, want: bool) -> None:
    assert compile_buffer(parse(sig)).inspect(buf) is want
