"""content and its modifiers, isdataat, bsize, variables: positive and negative cases.

Cases marked "docs" follow the examples of Suricata's user guide (rules/payload-keywords.rst);
the others check the reading of src/detect-engine-content-inspection.c documented in
`tocsin.detect.match.inspect`.
"""

from __future__ import annotations

import pytest

from detect.match.sigtext import parse
from tocsin.detect.match.inspect import compile_buffer, inspect
from tocsin.detect.model import BufferSize, Content, IntCmp, IsDataAt


def m(sig: str, buf: bytes, env: dict[str, int] | None = None, buffer: str = "pkt") -> bool:
    return compile_buffer(parse(sig), buffer=buffer).inspect(buf, env)


HTTP = (
    b"GET /AllWorkAndNoPlayMakesWillADullBoy HTTP/1.0User-Agent: Wget/1.11.4Accept: */*"
    b"Host: www.google.comConnection: Keep-AliveDate: Mon, 04 Jan 2010 17:29:39 GMT"
)
CHAIN = 'content:"GET"; content:"/"; within:2; content:"HTTP"; distance:0; within:10;'
SKIP = 'content:"L"; byte_extract:1,0,skip,relative; content:"Z"; distance:skip; within:1;'

# (options, packet payload, match)
CASES: list[tuple[str, bytes, bool]] = [
    # plain content, hex bytes
    ('content:"abc";', b"xxabcxx", True),
    ('content:"abc";', b"xxabxcx", False),
    ('content:"|00 01|ab|0d 0a|";', b"\x00\x01ab\r\n", True),
    # nocase: ASCII only, no case folding of bytes above 0x7f
    ('content:"ABC"; nocase;', b"xxaBcxx", True),
    ('content:"ABC";', b"xxaBcxx", False),
    ('content:"|c9|"; nocase;', b"\xe9", False),
    # docs: depth counts from the start of the buffer, offset moves the start, and with both
    # the window is [offset, offset + depth)
    ('content:"abc"; depth:3;', b"abcdef", True),
    ('content:"def"; depth:3;', b"abcdef", False),
    ('content:"def"; offset:3;', b"abcdef", True),
    ('content:"abc"; offset:1;', b"abcdef", False),
    ('content:"cde"; offset:2; depth:3;', b"abcdef", True),
    ('content:"cde"; offset:2; depth:2;', b"abcdef", False),
    ('content:"cde"; offset:3; depth:3;', b"abcdef", False),
    # a depth shorter than the pattern never matches; an offset past the end neither
    ('content:"abc"; depth:2;', b"abc", False),
    ('content:"a"; offset:10;', b"abc", False),
    ('content:!"a"; offset:10;', b"abc", True),
    # startswith / endswith; endswith tries every occurrence until one ends the buffer
    ('content:"GET"; startswith;', b"GET /", True),
    ('content:"GET"; startswith;', b" GET /", False),
    ('content:".exe"; endswith;', b"/a.exe", True),
    ('content:".exe"; endswith;', b"/a.exe?x", False),
    ('content:"ab"; endswith;', b"abxxab", True),
    # docs: distance is counted from the end of the previous match, within limits the window
    ('content:"one"; content:"two"; distance:0;', b"one two", True),
    ('content:"one"; content:"two"; distance:0;', b"two one", False),
    ('content:"one"; content:"two"; distance:1;', b"one two", True),
    ('content:"one"; content:"two"; distance:2;', b"one two", False),
    ('content:"one"; content:"two"; within:4;', b"one two", True),
    ('content:"one"; content:"two"; within:3;', b"one two", False),
    ('content:"one"; content:"two"; distance:1; within:3;', b"one two", True),
    # src/detect-within.c DetectWithinTestPacket02
    ('content:"Five"; content:"Ten"; within:3; distance:1;', b"Zero Five Ten Fourteen", True),
    # a relative content may start before the end of the previous match
    ('content:"bcd"; content:"abc"; distance:-4; within:3;', b"abcd", True),
    ('content:"bcd"; content:"abc"; distance:-3; within:3;', b"abcd", False),
    # a distance reaching before the buffer start starts at 0 (the window end does not move)
    ('content:"bc"; content:"a"; distance:-10;', b"abc", True),
    ('content:"bc"; content:"a"; distance:-10; within:8;', b"abc", True),  # [0, 1)
    ('content:"bc"; content:"a"; distance:-10; within:7;', b"abc", False),  # [0, 0)
    # an end below 0 wraps to a huge unsigned depth in Suricata: the window opens again
    ('content:"bc"; content:"a"; distance:-10; within:6;', b"abc", True),
    # backtracking: the first "a" has no "b" right after it, the second "a" is tried
    ('content:"a"; content:"b"; within:1;', b"axab", True),
    ('content:"a"; content:"b"; within:1;', b"axaxb", False),
    (CHAIN, b"GET x GET /index HTTP/1.0", True),
    (CHAIN, b"GET x GET /index.html.php HTTP/1.0", False),
    # an absolute content not found stops the retries
    ('content:"a"; content:"b"; within:1; content:"zzz";', b"abab", False),
    # src/tests/detect-engine-content-inspection.c style: several blocks
    ('content:"x"; content:"y"; distance:0; content:"x";', b"yx", False),
    # negated content; a relative one retries the previous content at its next occurrence;
    # one outside its window is fine
    ('content:!"evil";', b"good", True),
    ('content:!"evil";', b"so evil", False),
    ('content:"a"; content:!"b"; within:1;', b"ac", True),
    ('content:"a"; content:!"b"; within:1;', b"ab", False),
    ('content:"a"; content:!"b"; within:1;', b"abac", True),
    ('content:!"evil"; depth:3;', b"xx evil", True),
    # negated endswith: Suricata compares the *first* occurrence's end with the window length
    ('content:!"abc"; endswith;', b"xxabc", False),
    ('content:!"abc"; endswith;', b"abcxabc", True),
    # byte_extract variables as offset, depth, distance and within
    ('byte_extract:1,0,off; content:"X"; offset:off; depth:1;', b"\x03abX", True),
    ('byte_extract:1,0,off; content:"X"; offset:off; depth:1;', b"\x02abX", False),
    ('byte_extract:1,0,len,string; content:"X"; depth:len;', b"5abX", True),
    ('byte_extract:1,0,len,string; content:"X"; depth:len;', b"2abX", False),
    (SKIP, b"L\x02abZ", True),
    (SKIP, b"L\x01abZ", False),
    ('content:"L"; byte_extract:1,0,w,relative; content:"Z"; within:w;', b"L\x03abZ", True),
    ('content:"L"; byte_extract:1,0,w,relative; content:"Z"; within:w;', b"L\x02abZ", False),
    # a variable not assigned is no match
    ('content:"a"; offset:nowhere;', b"abc", False),
    ("isdataat:nowhere;", b"abc", False),
    ("byte_test:1,=,nowhere,0;", b"abc", False),
    ("byte_jump:1,nowhere;", b"abc", False),
    # docs: isdataat:512 checks there is a byte at offset 512
    ("isdataat:3;", b"abcd", True),
    ("isdataat:4;", b"abcd", False),
    ("isdataat:!4;", b"abcd", True),
    ('content:"ab"; isdataat:2,relative;', b"abcd", True),
    ('content:"ab"; isdataat:3,relative;', b"abcd", False),
    ('content:"ab"; isdataat:!3,relative;', b"abcd", True),
    # src/detect-isdataat.c DetectIsdataatTestPacket01
    ("isdataat:6;", b"Hi all!", True),
    ('content:"all"; isdataat:1, relative; isdataat:6;', b"Hi all!", True),
    ("isdataat:8;", b"Hi all!", False),
    ('content:"Hi"; isdataat:5, relative;', b"Hi all!", True),
    ('content:"Hi"; isdataat:6, relative;', b"Hi all!", False),
    # DetectIsdataatTestPacket02: relative to a pcre
    ('pcre:"/A(ll|pp)WorkAndNoPlayMakesWillADullBoy/"; isdataat:96,relative;', HTTP, True),
]


@pytest.mark.parametrize(("sig", "buf", "want"), CASES)
def test_payload(sig: str, buf: bytes, want: bool) -> None:
    assert m(sig, buf) is want


def test_variables_persist_in_env() -> None:
    env: dict[str, int] = {}
    assert m("byte_extract:2,0,size;", b"\x01\x02", env)
    assert env == {"size": 0x102}
    # another buffer of the same rule reads it
    assert m("isdataat:size;", b"x" * 0x103, env)
    assert not m("isdataat:size;", b"x" * 0x102, env)


def test_isdataat_not1_relative_is_endswith() -> None:
    cb = compile_buffer([Content(b"ab"), IsDataAt(1, relative=True, negated=True)])
    assert cb.inspect_steps(b"xxab") == (True, 1)  # one keyword left
    assert not cb.inspect(b"xxabc")


def test_bsize() -> None:
    assert m('bsize:5; content:"a";', b"abcde", buffer="http.uri")
    assert not m('bsize:4; content:"a";', b"abcde", buffer="http.uri")
    assert m('content:"de"; bsize:>4;', b"abcde", buffer="http.uri")
    assert m("bsize:2<>6;", b"abcde", buffer="http.uri")
    assert not m("bsize:5<>6;", b"abcde", buffer="http.uri")
    assert inspect(b"", [BufferSize(IntCmp("=", 0))])


def test_empty_list_matches() -> None:
    assert inspect(b"anything", [])


def test_sticky_vs_payload_relative_base() -> None:
    # a relative byte_test after an absolute isdataat: in the payload Suricata attaches it to
    # the isdataat (no retry of the content), in a sticky buffer to the content (retry)
    sig = 'content:"a"; isdataat:1; byte_test:1,=,0x32,0,relative;'
    assert not m(sig, b"a1a2", buffer="pkt")
    assert m(sig, b"a1a2", buffer="http.uri")


def test_recursion_limit() -> None:
    # a long chain that backtracks a lot ends as no match within the budget
    sig = (
        'content:"a"; content:"a"; distance:0; within:50; content:"a"; distance:0; within:50; '
        'content:"a"; distance:0; within:50; content:"b"; distance:0; within:1;'
    )
    ok, steps = compile_buffer(parse(sig)).inspect_steps(b"a" * 200)
    assert not ok
    assert steps == 3000


def test_compiled_buffer_pickles() -> None:
    # worker processes may receive compiled rules
    import pickle

    cb = compile_buffer(
        parse('content:"a"; nocase; pcre:"/\\x{62}c/Ri"; byte_test:1,=,0x21,0,relative;')
    )
    clone = pickle.loads(pickle.dumps(cb))
    assert clone.inspect(b"xAbC!")
    assert not clone.inspect(b"xAbC?")


def test_bad_pcre_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="pcre"):
        compile_buffer(parse('content:"a"; pcre:"/(/";'))
