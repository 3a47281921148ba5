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


def test_plain_content() -> None:
    assert m('content:"abc";', b"xxabcxx")
    assert not m('content:"abc";', b"xxabxcx")
    assert m('content:"|00 01|ab|0d 0a|";', b"\x00\x01ab\r\n")


def test_nocase() -> None:
    assert m('content:"ABC"; nocase;', b"xxaBcxx")
    assert not m('content:"ABC";', b"xxaBcxx")
    # ASCII only: no case folding of bytes above 0x7f
    assert not m('content:"|c9|"; nocase;', b"\xe9")


def test_offset_depth_docs() -> None:
    # docs: depth counts from the start of the buffer, offset moves the start, and with both
    # the window is [offset, offset + depth)
    assert m('content:"abc"; depth:3;', b"abcdef")
    assert not m('content:"def"; depth:3;', b"abcdef")
    assert m('content:"def"; offset:3;', b"abcdef")
    assert not m('content:"abc"; offset:1;', b"abcdef")
    assert m('content:"cde"; offset:2; depth:3;', b"abcdef")
    assert not m('content:"cde"; offset:2; depth:2;', b"abcdef")
    assert not m('content:"cde"; offset:3; depth:3;', b"abcdef")


def test_depth_shorter_than_pattern_never_matches() -> None:
    assert not m('content:"abc"; depth:2;', b"abc")


def test_offset_past_end() -> None:
    assert not m('content:"a"; offset:10;', b"abc")
    assert m('content:!"a"; offset:10;', b"abc")


def test_startswith_endswith() -> None:
    assert m('content:"GET"; startswith;', b"GET /")
    assert not m('content:"GET"; startswith;', b" GET /")
    assert m('content:".exe"; endswith;', b"/a.exe")
    assert not m('content:".exe"; endswith;', b"/a.exe?x")
    # endswith tries every occurrence until one ends the buffer
    assert m('content:"ab"; endswith;', b"abxxab")


def test_distance_within_docs() -> None:
    # docs: distance is counted from the end of the previous match, within limits the window
    assert m('content:"one"; content:"two"; distance:0;', b"one two")
    assert not m('content:"one"; content:"two"; distance:0;', b"two one")
    assert m('content:"one"; content:"two"; distance:1;', b"one two")
    assert not m('content:"one"; content:"two"; distance:2;', b"one two")
    assert m('content:"one"; content:"two"; within:4;', b"one two")
    assert not m('content:"one"; content:"two"; within:3;', b"one two")
    assert m('content:"one"; content:"two"; distance:1; within:3;', b"one two")


def test_negative_distance() -> None:
    # a relative content may start before the end of the previous match
    assert m('content:"bcd"; content:"abc"; distance:-4; within:3;', b"abcd")
    assert not m('content:"bcd"; content:"abc"; distance:-3; within:3;', b"abcd")
    # a distance reaching before the buffer start starts at 0 (the window end does not move)
    assert m('content:"bc"; content:"a"; distance:-10;', b"abc")
    assert m('content:"bc"; content:"a"; distance:-10; within:8;', b"abc")  # [0, 1)
    assert not m('content:"bc"; content:"a"; distance:-10; within:7;', b"abc")  # [0, 0)
    # an end below 0 wraps to a huge unsigned depth in Suricata: the window opens again
    assert m('content:"bc"; content:"a"; distance:-10; within:6;', b"abc")


def test_backtracking_within() -> None:
    # the first "a" has no "b" right after it: the second "a" is tried
    assert m('content:"a"; content:"b"; within:1;', b"axab")
    assert not m('content:"a"; content:"b"; within:1;', b"axaxb")


def test_backtracking_through_a_chain() -> None:
    sig = 'content:"GET"; content:"/"; within:2; content:"HTTP"; distance:0; within:10;'
    assert m(sig, b"GET x GET /index HTTP/1.0")
    assert not m(sig, b"GET x GET /index.html.php HTTP/1.0")


def test_absolute_content_not_found_stops_retries() -> None:
    assert not m('content:"a"; content:"b"; within:1; content:"zzz";', b"abab")


def test_negated_content() -> None:
    assert m('content:!"evil";', b"good")
    assert not m('content:!"evil";', b"so evil")
    assert m('content:"a"; content:!"b"; within:1;', b"ac")
    assert not m('content:"a"; content:!"b"; within:1;', b"ab")
    # relative negation retries the previous content at its next occurrence
    assert m('content:"a"; content:!"b"; within:1;', b"abac")
    # a negated content outside its window is fine
    assert m('content:!"evil"; depth:3;', b"xx evil")


def test_negated_endswith_quirk() -> None:
    # Suricata compares the *first* occurrence's end with the window length
    assert not m('content:!"abc"; endswith;', b"xxabc")
    assert m('content:!"abc"; endswith;', b"abcxabc")


def test_byte_extract_drives_offset_and_depth() -> None:
    sig = 'byte_extract:1,0,off; content:"X"; offset:off; depth:1;'
    assert m(sig, b"\x03abX")
    assert not m(sig, b"\x02abX")
    sig = 'byte_extract:1,0,len,string; content:"X"; depth:len;'
    assert m(sig, b"5abX")
    assert not m(sig, b"2abX")


def test_byte_extract_drives_distance_and_within() -> None:
    sig = 'content:"L"; byte_extract:1,0,skip,relative; content:"Z"; distance:skip; within:1;'
    assert m(sig, b"L\x02abZ")
    assert not m(sig, b"L\x01abZ")
    sig = 'content:"L"; byte_extract:1,0,w,relative; content:"Z"; within:w;'
    assert m(sig, b"L\x03abZ")
    assert not m(sig, b"L\x02abZ")


def test_variables_persist_in_env() -> None:
    env: dict[str, int] = {}
    assert m("byte_extract:2,0,size;", b"\x01\x02", env)
    assert env == {"size": 0x102}
    # another buffer of the same rule reads it
    assert m("isdataat:size;", b"x" * 0x103, env)
    assert not m("isdataat:size;", b"x" * 0x102, env)


def test_unassigned_variable_is_no_match() -> None:
    assert not m('content:"a"; offset:nowhere;', b"abc")
    assert not m("isdataat:nowhere;", b"abc")
    assert not m("byte_test:1,=,nowhere,0;", b"abc")
    assert not m("byte_jump:1,nowhere;", b"abc")


def test_isdataat() -> None:
    # docs: isdataat:512 checks there is a byte at offset 512
    assert m("isdataat:3;", b"abcd")
    assert not m("isdataat:4;", b"abcd")
    assert m("isdataat:!4;", b"abcd")
    assert m('content:"ab"; isdataat:2,relative;', b"abcd")
    assert not m('content:"ab"; isdataat:3,relative;', b"abcd")
    assert m('content:"ab"; isdataat:!3,relative;', b"abcd")


def test_isdataat_suricata_unit_tests() -> None:
    # src/detect-isdataat.c DetectIsdataatTestPacket01
    buf = b"Hi all!"
    assert m("isdataat:6;", buf)
    assert m('content:"all"; isdataat:1, relative; isdataat:6;', buf)
    assert not m("isdataat:8;", buf)
    assert m('content:"Hi"; isdataat:5, relative;', buf)
    assert not m('content:"Hi"; isdataat:6, relative;', buf)
    # DetectIsdataatTestPacket02: relative to a pcre
    http = (
        b"GET /AllWorkAndNoPlayMakesWillADullBoy HTTP/1.0User-Agent: Wget/1.11.4Accept: */*"
        b"Host: www.google.comConnection: Keep-AliveDate: Mon, 04 Jan 2010 17:29:39 GMT"
    )
    assert m('pcre:"/A(ll|pp)WorkAndNoPlayMakesWillADullBoy/"; isdataat:96,relative;', http)


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


@pytest.mark.parametrize(
    ("sig", "buf", "want"),
    [
        # src/detect-within.c DetectWithinTestPacket02
        ('content:"Five"; content:"Ten"; within:3; distance:1;', b"Zero Five Ten Fourteen", True),
        # src/tests/detect-engine-content-inspection.c style: several blocks
        ('content:"x"; content:"y"; distance:0; content:"x";', b"yx", False),
    ],
)
def test_misc(sig: str, buf: bytes, want: bool) -> None:
    assert m(sig, buf) is want


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
