"""pcre, byte_test, byte_jump, byte_extract, isdataat, bsize, urilen, dsize."""

from __future__ import annotations

import pytest

from tocsin.detect.model import (
    PAYLOAD,
    BufferSize,
    ByteExtract,
    ByteJump,
    ByteTest,
    Content,
    IntCmp,
    IsDataAt,
    Pcre,
)

from .ruletext import HTTP, fails, parse


def test_pcre_flags_and_negation() -> None:
    r = parse('content:"x"; pcre:!"/a.c/smiRxAEGO";')
    p = r.buffers[PAYLOAD][1]
    assert isinstance(p, Pcre)
    assert (p.pattern, p.flags, p.negated, p.relative) == ("a.c", "smixAEGO", True, True)


@pytest.mark.parametrize(
    ("letter", "buffer"),
    [
        ("U", "http.uri"),
        ("I", "http.uri.raw"),
        ("P", "http.request_body"),
        ("Q", "http.response_body"),
        ("H", "http.header"),
        ("D", "http.header.raw"),
        ("M", "http.method"),
        ("C", "http.cookie"),
        ("S", "http.stat_code"),
        ("Y", "http.stat_msg"),
        ("V", "http.user_agent"),
        ("W", "http.host"),
        ("Z", "http.host.raw"),
    ],
)
def test_pcre_buffer_modifiers(letter: str, buffer: str) -> None:
    r = parse(f'pcre:"/abc/{letter}i";')
    assert list(r.buffers) == [buffer] and r.app_proto == "http"
    p = r.buffers[buffer][0]
    assert isinstance(p, Pcre) and letter not in p.flags


def test_pcre_capture_targets_are_accepted() -> None:
    p = parse('pcre:"/uid=(\\d+)/, pkt:uid, flow:other";').buffers[PAYLOAD][0]
    assert isinstance(p, Pcre) and p.pattern == "uid=(\\d+)" and p.flags == ""


def test_pcre_semicolon_escaped_in_the_rule() -> None:
    p = parse(r'pcre:"/a\;b/";').buffers[PAYLOAD][0]
    assert isinstance(p, Pcre) and p.pattern == r"a\;b"


def test_pcre_host_modifier_lower_case() -> None:
    p = parse('pcre:"/Example/Wi";').buffers["http.host"][0]
    assert isinstance(p, Pcre) and "i" not in p.flags  # the host buffer is lower case already
    assert parse('pcre:"/\\x41\\S+example/W";').buffers  # escapes are not letters
    fails('pcre:"/Example/W";', "pcre", "upper-case")


@pytest.mark.parametrize(
    ("opts", "needle"),
    [
        ('pcre:"/a(b/";', "missing closing parenthesis"),
        ('pcre:"/a/k";', "unknown regex modifier 'k'"),
        ('pcre:"/a/UH";', "only one"),
        ('pcre:"/a/BU";', "inconsistent with 'B'"),
        ('pcre:"/a/UB";', "inconsistent"),
        ('pcre:"abc";', "pcre parse error"),
        ('pcre:"/a/R";', "relative"),
        ('http.uri; content:"x"; pcre:"/a/H";', "sticky buffer"),
        ('pcre:"/\\u0041/";', "PCRE2 does not support"),
    ],
)
def test_pcre_errors(opts: str, needle: str) -> None:
    fails(opts, "pcre", needle)


def test_pcre_with_the_sticky_buffers_own_modifier() -> None:
    r = parse('http.uri; content:"x"; pcre:"/a/UR";')
    assert list(r.buffers) == ["http.uri"]


def test_byte_test() -> None:
    t = parse("byte_test:4,>,1000,20,relative,little;").buffers[PAYLOAD][0]
    assert t == ByteTest(4, ">", 1000, 20, relative=True, big_endian=False)
    t = parse("byte_test:2,!=,0x10,-2,string,hex,bitmask 0x0F;").buffers[PAYLOAD][0]
    assert t == ByteTest(2, "=", 16, -2, negated=True, base=16, bitmask=0x0F)
    t = parse("byte_test:0,>=,33554431,0,string;").buffers[PAYLOAD][0]
    assert isinstance(t, ByteTest) and t.nbytes == 0 and t.base == 0  # strtoull guesses
    t = parse("byte_test:1,!,5,0,little,big;").buffers[PAYLOAD][0]
    assert isinstance(t, ByteTest) and t.negated and t.op == "=" and t.big_endian
    t = parse("byte_test:4,&,1,0,dce;", "alert dcerpc any any -> any any").buffers[PAYLOAD][0]
    assert isinstance(t, ByteTest) and t.dce


def test_byte_jump() -> None:
    j = parse(
        "byte_jump:4,12,relative,little,multiplier 2,align,from_beginning,post_offset -3;"
    ).buffers[PAYLOAD][0]
    assert j == ByteJump(
        4, 12, relative=True, multiplier=2, big_endian=False, align=True,
        from_beginning=True, post_offset=-3,
    )  # fmt: skip
    j = parse("byte_jump:3,0,string,dec,from_end;").buffers[PAYLOAD][0]
    assert isinstance(j, ByteJump) and j.base == 10 and j.from_end
    j = parse("byte_jump:3,0,string;").buffers[PAYLOAD][0]
    assert isinstance(j, ByteJump) and j.base == 0


def test_byte_extract_and_variables() -> None:
    r = parse(
        'content:"len"; byte_extract:2,0,size,relative,little,multiplier 4,align 4; '
        'content:"x"; distance:size; within:size; byte_test:2,>,size,size,relative; '
        "byte_jump:2,size,relative; isdataat:size,relative;"
    )
    items = r.buffers[PAYLOAD]
    e = items[1]
    assert e == ByteExtract(2, 0, "size", True, 4, False, None, 4)
    c = items[2]
    assert isinstance(c, Content) and c.distance == "size" and c.within == "size"
    t = items[3]
    assert isinstance(t, ByteTest) and t.value == "size" and t.offset == "size"
    j = items[4]
    assert isinstance(j, ByteJump) and j.offset == "size"
    i = items[5]
    assert isinstance(i, IsDataAt) and i.offset == "size" and i.relative
    e = parse("byte_extract:3,1,n,string,hex;").buffers[PAYLOAD][0]
    assert isinstance(e, ByteExtract) and e.base == 16 and e.big_endian
    e = parse("byte_extract:3,1,n,string;").buffers[PAYLOAD][0]
    assert isinstance(e, ByteExtract) and e.base == 10


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("byte_test:9,=,1,0;", "byte_test", "8 bytes"),
        ("byte_test:24,=,1,0,string;", "byte_test", "23 bytes"),
        ("byte_test:2,=,1,0,dec;", "byte_test", "needs 'string'"),
        ("byte_test:2,~,1,0;", "byte_test", "invalid operator"),
        ("byte_test:2,=,1;", "byte_test", "invalid value"),
        ("byte_test:2,=,1,0,relative,wat;", "byte_test", "unknown option"),
        ("byte_test:2,=,1,70000;", "byte_test", "invalid offset"),
        ("byte_test:2,=,nope,0;", "byte_test", "unknown byte_extract variable"),
        ("byte_test:2,=,1,0,string,dec,dce;", "byte_test", "dce"),
        ("byte_extract:1,0,n; byte_test:n,=,1,0;", "byte_test", "keyword not supported"),
        ("byte_jump:4,0,from_beginning,from_end;", "byte_jump", "can't be used together"),
        ("byte_jump:4,0,multiplier 0;", "byte_jump", "multiplier"),
        ("byte_jump:x,0;", "byte_jump", "unknown byte_extract variable"),
        ("byte_extract:2,0,n,align 3;", "byte_extract", "align"),
        ("byte_extract:2,0,n,string,little;", "byte_extract", "string"),
        ("byte_extract:2,0,n,relative,relative;", "byte_extract", "twice"),
        ("byte_extract:9,0,n;", "byte_extract", "8 bytes"),
        ("byte_extract:2,x,n;", "byte_extract", "invalid offset"),
        ("isdataat:70000;", "isdataat", "invalid offset"),
        ("isdataat:5,rawbytes,relative;", "isdataat", "invalid value"),
        ("isdataat:n;", "isdataat", "unknown byte_extract variable"),
    ],
)
def test_byte_keyword_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_isdataat() -> None:
    i = parse('content:"x"; isdataat:!1,relative;').buffers[PAYLOAD][1]
    assert i == IsDataAt(1, relative=True, negated=True)
    i = parse("isdataat:10,relative,rawbytes;").buffers[PAYLOAD][0]
    assert i == IsDataAt(10, relative=True, rawbytes=True)


def test_relative_keywords_follow_the_previous_payload_keyword_buffer() -> None:
    r = parse('content:"a"; http_uri; byte_test:1,=,1,0,relative; isdataat:1;')
    assert [type(m) for m in r.buffers["http.uri"]] == [Content, ByteTest]
    assert [type(m) for m in r.buffers[PAYLOAD]] == [IsDataAt]
    r = parse('http.uri; content:"a"; isdataat:1;', HTTP)  # the sticky buffer wins
    assert [type(m) for m in r.buffers["http.uri"]] == [Content, IsDataAt]


def test_bsize_and_urilen() -> None:
    r = parse('tls.sni; bsize:32; content:"example.com";', "alert tls any any -> any any")
    size = r.buffers["tls.sni"][0]
    assert size == BufferSize(IntCmp("=", 32))
    r = parse('http.uri; content:"abc"; bsize:>2;', HTTP)
    assert r.buffers["http.uri"][1] == BufferSize(IntCmp(">", 2))
    r = parse("urilen:5<>10;")
    assert r.buffers["http.uri"] == [BufferSize(IntCmp("<>", 5, 10))]
    assert r.app_proto == "http"
    r = parse("urilen:>5, raw;")
    assert r.buffers["http.uri.raw"] == [BufferSize(IntCmp(">", 5))]
    r = parse("urilen:<20,norm;")
    assert r.buffers["http.uri"] == [BufferSize(IntCmp("<", 20))]


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("bsize:5;", "bsize", "sticky buffer"),
        ('http.uri; content:"abcdef"; bsize:3;', "bsize", "contents need 6"),
        ('http.uri; content:"abc"; offset:3; bsize:4;', "bsize", "contents need 6"),
        ("urilen:5,foo;", "urilen", "norm or raw"),
        ("urilen:x;", "urilen", "invalid value"),
        ('dsize:<4; content:"abcde";', "dsize", "contents need 5"),  # Suricata: < 4 allows 4
        ('dsize:10; content:"ab"; content:"cd"; distance:8;', "dsize", "contents need 12"),
        ("dsize:70000;", "dsize", "out of range"),
        ("dsize:5; dsize:6;", "dsize", "more than one dsize"),
        ("dsize:&0xf0=0x10;", "dsize", "keyword not supported"),
    ],
)
def test_size_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_dsize_ignores_contents_that_need_no_room() -> None:
    # only the first content and relative ones count; a negated relative one by its window
    assert parse('dsize:10; content:"abcdefgh"; content:!"zzzzzzzz";').dsize == IntCmp("=", 10)
    assert parse('dsize:>10; content:"abcdefghijklmnop";').dsize == IntCmp(">", 10)
    fails('dsize:10; content:"abcdefgh"; content:!"z"; distance:0; within:5;', "dsize", "13")
