"""Transforms in the parser (buffer keys `"<buffer>|<transform>|..."`, where transforms may
stand, validation), `prefilter`, and the `http.request_header` / `http.response_header` sticky
buffers."""

from __future__ import annotations

import pytest

from tocsin.detect.model import BufferSize, Content, Pcre

from .ruletext import HTTP, fails, parse

DNS = "alert dns any any -> any any"


def test_dotprefix_keys_the_transformed_buffer() -> None:
    # ET Open 2034747
    r = parse('dns.query; dotprefix; content:".rce.ee"; nocase; endswith;', DNS)
    assert list(r.buffers) == ["dns.query|dotprefix"] and r.app_proto == "dns"
    (c,) = r.buffers["dns.query|dotprefix"]
    assert isinstance(c, Content) and c.pattern == b".rce.ee" and c.nocase and c.endswith


def test_chained_transforms_in_rule_order() -> None:
    r = parse('http.uri; url_decode; to_lowercase; content:"select"; pcre:"/union/R";', HTTP)
    assert list(r.buffers) == ["http.uri|url_decode|to_lowercase"]
    c, p = r.buffers["http.uri|url_decode|to_lowercase"]
    assert isinstance(c, Content) and isinstance(p, Pcre) and p.relative


def test_legacy_sticky_names_and_options_are_canonical() -> None:
    r = parse('dns_query; dotprefix; content:".a";', DNS)
    assert list(r.buffers) == ["dns.query|dotprefix"]
    r = parse('http.request_body; xor:"0D0AC8FF"; content:"pass";', HTTP)
    assert list(r.buffers) == ["http.request_body|xor:0d0ac8ff"]
    r = parse('http.uri; xor:0d0a; content:"x";', HTTP)
    assert list(r.buffers) == ["http.uri|xor:0d0a"]
    r = parse('http.uri; from_base64: offset 6 , mode rfc2045 ; content:"foobar";', HTTP)
    assert list(r.buffers) == ["http.uri|from_base64:offset 6,mode rfc2045"]
    r = parse('http.uri; from_base64; content:"foobar";', HTTP)
    assert list(r.buffers) == ["http.uri|from_base64"]


def test_keywords_before_the_transforms_stay_on_the_plain_buffer() -> None:
    # suricata-verify from_base64-01 (Suricata 8)
    r = parse(
        'http.uri; content:"/?arg=dGhpc2lzYXRlc3QK"; from_base64: bytes 6, offset 6; '
        'content:"this"; fast_pattern; bsize:4;',
        HTTP,
    )
    assert list(r.buffers) == ["http.uri", "http.uri|from_base64:bytes 6,offset 6"]
    c, b = r.buffers["http.uri|from_base64:bytes 6,offset 6"]
    assert isinstance(c, Content) and c.fast_pattern and isinstance(b, BufferSize)


def test_a_buffer_with_and_without_transforms_in_one_rule() -> None:
    r = parse(
        'http.host; content:"example"; http.host; dotprefix; content:".example.com"; endswith; '
        'http.uri; content:"/a";',
        HTTP,
    )
    assert list(r.buffers) == ["http.host", "http.host|dotprefix", "http.uri"]


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ('content:"x"; dotprefix; content:"y";', "dotprefix", "directly follow stickybuffers"),
        ('dotprefix; content:"y";', "dotprefix", "directly follow stickybuffers"),
        ('file_data; content:"x"; pkt_data; to_lowercase; content:"y";', "to_lowercase", "follow"),
        (  # once transforms are used, no more until the next sticky buffer
            'http.uri; to_lowercase; content:"a"; to_uppercase; content:"B";',
            "to_uppercase",
            "directly follow",
        ),
        ('http.uri; to_lowercase; pkt_data; content:"x";', "to_lowercase", "no match follows"),
        ('http.uri; to_lowercase; http.host; content:"x";', "to_lowercase", "no match follows"),
        ('http.uri; content:"a"; to_lowercase;', "to_lowercase", "no match follows"),
        ('http.uri; to_lowercase; content:"ABC";', "content", "incompatible with to_lowercase"),
        ('http.uri; to_uppercase; content:"abc";', "content", "incompatible with to_uppercase"),
        ('file_data; strip_whitespace; content:"a b";', "content", "strip_whitespace"),
        ('file_data; compress_whitespace; content:"a  b";', "content", "compress_whitespace"),
        ('http.uri; xor:"abc"; content:"a";', "xor", "even"),
        ('http.uri; xor:"zz"; content:"a";', "xor", "hexadecimal"),
        ('http.uri; xor; content:"a";', "xor", "needs a value"),
        ('http.uri; from_base64: mode foo; content:"a";', "from_base64", "invalid mode"),
        ('http.uri; from_base64:"offset 6"; content:"a";', "from_base64", "quoted"),
        ('http.uri; dotprefix:x; content:"a";', "dotprefix", "takes no value"),
        ('http.uri; pcrexform:"/(.*)/"; content:"a";', "pcrexform", "keyword not supported"),
        # the buffer's own checks apply to its transformed forms
        ('http.host; dotprefix; content:".Example.com";', "http.host", "upper-case"),
        (
            'http.host; dotprefix; content:".a"; http.stat_code; to_lowercase; content:"2";',
            "http.stat_code",
            "mixes request-only",
        ),
    ],
)
def test_transform_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle, HTTP)


def test_negated_contents_are_not_checked_against_transforms() -> None:
    r = parse('http.uri; to_lowercase; content:!"ABC";', HTTP)
    assert list(r.buffers) == ["http.uri|to_lowercase"]


def test_at_most_16_transforms() -> None:
    parse("http.uri; " + "to_lowercase; " * 16 + 'content:"a";', HTTP)
    fails("http.uri; " + "to_lowercase; " * 17 + 'content:"a";', "to_lowercase", "16", HTTP)


def test_prefilter_is_accepted_and_ignored() -> None:
    r = parse('content:"abc"; prefilter; dsize:>3;')
    assert r.buffers == parse('content:"abc"; dsize:>3;').buffers
    parse("flowbits:isset,a; prefilter; itype:8;", "alert icmp any any -> any any")
    fails("prefilter:1;", "prefilter", "takes no value")


@pytest.mark.parametrize(
    ("keyword", "flow"),
    [("http.request_header", "to_server"), ("http.response_header", "to_client")],
)
def test_request_and_response_header_buffers(keyword: str, flow: str) -> None:
    r = parse(f'flow:established,{flow}; {keyword}; content:"Connection|3a 20|";', HTTP)
    assert list(r.buffers) == [keyword] and r.app_proto == "http"
    other = "to_client" if flow == "to_server" else "to_server"
    fails(f'flow:{other}; {keyword}; content:"x";', "flow", "only seen to", HTTP)


def test_request_and_response_header_do_not_mix() -> None:
    fails(
        'http.request_header; content:"a"; http.response_header; content:"b";',
        "http.response_header",
        "mixes request-only",
        HTTP,
    )
