"""Fast pattern choice (src/detect-engine-mpm.c `RetrieveFPForSig`, the user guide's
"Suricata Fast Pattern Determination Explained")."""

from __future__ import annotations

from detect.match.sigtext import parse
from tocsin.detect.match.fastpattern import (
    choose_fast_pattern,
    fp_bytes,
    mpm_priority,
    pattern_strength,
)
from tocsin.detect.model import ANY_ADDR, ANY_PORT, PAYLOAD, Content, Rule


def rule(**buffers: str) -> Rule:
    r = Rule("alert", "tcp", ANY_ADDR, ANY_PORT, ANY_ADDR, ANY_PORT, False, 1)
    for name, sig in buffers.items():
        r.buffers[name.replace("_", ".") if name != "pkt" else PAYLOAD] = parse(sig)
    return r


def fp(r: Rule) -> tuple[str, bytes] | None:
    got = choose_fast_pattern(r)
    return None if got is None else (got[0], got[1].pattern)


def test_no_content() -> None:
    assert choose_fast_pattern(rule(pkt='pcre:"/abc/"; isdataat:3;')) is None
    assert choose_fast_pattern(rule()) is None


def test_longest() -> None:
    assert fp(rule(pkt='content:"ab"; content:"abcd"; content:"abc";')) == (PAYLOAD, b"abcd")


def test_explicit_fast_pattern_wins() -> None:
    r = rule(pkt='content:"ab"; fast_pattern; content:"abcdef";')
    assert fp(r) == (PAYLOAD, b"ab")
    r = rule(pkt='content:"abcdef";', http_uri='content:"x"; content:"yy"; fast_pattern;')
    assert fp(r) == ("http.uri", b"yy")


def test_negated_only_when_nothing_else() -> None:
    assert fp(rule(pkt='content:!"abcdef"; content:"ab";')) == (PAYLOAD, b"ab")
    assert fp(rule(pkt='content:!"abcdef"; content:!"ab";')) == (PAYLOAD, b"abcdef")


def test_buffer_priority() -> None:
    # app-layer buffers (2) before the payload (3), even when shorter
    r = rule(pkt='content:"a long payload pattern";', http_uri='content:"/x";')
    assert fp(r) == ("http.uri", b"/x")
    # http.method (4) comes after the payload
    r = rule(pkt='content:"ab";', http_method='content:"POST";')
    assert fp(r) == (PAYLOAD, b"ab")
    # within one priority, the longest across buffers
    r = rule(http_uri='content:"/ab";', http_header='content:"Host: x";')
    assert fp(r) == ("http.header", b"Host: x")
    assert mpm_priority("dns.query") == 2
    assert mpm_priority(PAYLOAD) == 3
    assert mpm_priority("http.stat_code") == 4


def test_pattern_strength_breaks_length_ties() -> None:
    # "aaaa" scores 3+1+1+1, "|00 01 02 03|" 4+4+6+6, "abcd" 12
    assert pattern_strength(b"aaaa") == 6
    assert pattern_strength(b"\x00\x01\x02\x03") == 20
    assert pattern_strength(b"abcd") == 12
    assert pattern_strength(b"a.b;") == 14
    r = rule(pkt='content:"aaaa"; content:"|00 01 02 03|"; content:"abcd";')
    assert fp(r) == (PAYLOAD, b"\x00\x01\x02\x03")


def test_full_ties_keep_rule_order() -> None:
    assert fp(rule(pkt='content:"abcd"; content:"efgh";')) == (PAYLOAD, b"abcd")


def test_fp_bytes_chop() -> None:
    assert fp_bytes(Content(b"abcdef")) == b"abcdef"
    assert fp_bytes(Content(b"abcdef", fp_chop=(2, 3))) == b"cde"
    r = rule(pkt='content:"xyz"; content:"abcdef"; fast_pattern:1,2;')
    got = choose_fast_pattern(r)
    assert got is not None and fp_bytes(got[1]) == b"bc"
