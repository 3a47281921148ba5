"""`content`, its modifiers, legacy modifiers and sticky buffers (`builder`, `content`)."""

from __future__ import annotations

import pytest

from tocsin.detect.model import PAYLOAD, Content, Pcre
from tocsin.detect.rules.content import decode_content
from tocsin.detect.rules.errors import RuleError

from .ruletext import HTTP, fails, parse


def content(opts: str, buf: str = PAYLOAD, i: int = 0, header: str = "") -> Content:
    r = parse(opts, header) if header else parse(opts)
    c = r.buffers[buf][i]
    assert isinstance(c, Content)
    return c


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("abc", b"abc"),
        ("|41 42|C", b"ABC"),
        ("a|0d0a|b", b"a\r\nb"),
        ("|41,42|", b"AB"),
        (r"a\"b\;c\:d\\e", b'a"b;c:d\\e'),
        ("é", "é".encode()),
        ("x|00|", b"x\x00"),
    ],
)
def test_decode_content(text: str, expected: bytes) -> None:
    assert decode_content(text) == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("|4G|", "invalid hex"),
        ("|41 4|", "incomplete hex"),
        ("|41", "unbalanced"),
        (r"a\x", "not a valid escape"),
        ('a"b', "unescaped double quote"),
        ("||", "empty"),
        ("", "empty"),
    ],
)
def test_decode_content_errors(text: str, needle: str) -> None:
    with pytest.raises(RuleError) as e:
        decode_content(text)
    assert needle in e.value.reason and e.value.keyword == "content"


def test_content_and_modifiers() -> None:
    c = content('content:"abc"; nocase; offset:2; depth:10; fast_pattern;')
    assert (c.pattern, c.nocase, c.offset, c.depth, c.fast_pattern) == (b"abc", True, 2, 10, True)
    c = content('content:!"abc"; content:"d"; distance:-3; within:5;', i=1)
    assert (c.distance, c.within, c.relative) == (-3, 5, True)
    assert content('content:!"abc";').negated
    c = content('content:"abc"; startswith; endswith; rawbytes;')
    assert c.startswith and c.endswith and c.rawbytes and c.depth is None
    c = content('content:"abc"; depth:0x10;')  # numbers as strtoul reads them
    assert c.depth == 16


def test_fast_pattern_forms() -> None:
    c = content('content:"abcdef"; fast_pattern:only;')
    assert c.fast_pattern and c.fast_pattern_only
    c = content('content:"abcdef"; fast_pattern:1,3;')
    assert c.fast_pattern and c.fp_chop == (1, 3)


def test_modifiers_apply_to_the_last_content() -> None:
    r = parse('content:"a"; content:"bc"; nocase;')
    first, second = r.buffers[PAYLOAD]
    assert isinstance(first, Content) and isinstance(second, Content)
    assert not first.nocase and second.nocase


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("nocase;", "nocase", "preceding content"),
        ('content:"a"; nocase; nocase;', "nocase", "multiple nocase"),
        ('content:"abc"; depth:2;', "depth", "smaller than the content"),
        ('content:"a"; depth:5; depth:6;', "depth", "multiple"),
        ('content:"a"; offset:1; offset:2;', "offset", "multiple offsets"),
        ('content:"a"; depth:5; distance:0;', "distance", "relative keyword"),
        ('content:"a"; offset:5; within:5;', "within", "relative keyword"),
        ('content:"a"; within:5; depth:5;', "depth", "relative keyword"),
        ('content:"a"; distance:1; offset:1;', "offset", "relative keyword"),
        ('content:"a"; distance:1; distance:2;', "distance", "multiple distances"),
        ('content:"a"; within:1; within:2;', "within", "multiple withins"),
        ('content:"abc"; within:2;', "within", "less than the content length"),
        ('content:"abc"; within:2000000;', "within", "invalid value"),
        ('content:"a"; distance:-2000000;', "distance", "invalid value"),
        ('content:"a"; depth:70000;', "depth", "invalid value"),
        ('content:"a"; depth:-5;', "depth", "invalid value"),
        ('content:"a"; offset:x;', "offset", "unknown byte_extract variable"),
        ('content:"a"; startswith; offset:1;', "offset", "startswith"),
        ('content:"a"; offset:1; startswith;', "startswith", "offset"),
        ('content:"a"; startswith; depth:3;', "depth", "multiple depth/startswith"),
        ('content:"a"; distance:0; startswith;', "startswith", "relative keyword"),
        ('content:!"a"; fast_pattern; distance:1;', "distance", "negated"),
        ('content:!"a"; fast_pattern; offset:1;', "offset", "negated"),
        ('content:!"a"; depth:4; fast_pattern;', "fast_pattern", "negated"),
        ('content:"a"; fast_pattern:only; within:4;', "within", "fast_pattern:only"),
        ('content:"a"; distance:0; fast_pattern:only;', "fast_pattern", "only cannot be used"),
        ('content:!"a"; fast_pattern:only;', "fast_pattern", "only cannot be used"),
        ('content:"a"; fast_pattern:only; content:"b"; distance:0;', "distance", "previous"),
        ('content:"a"; fast_pattern; fast_pattern;', "fast_pattern", "multiple fast_pattern"),
        ('content:"a"; fast_pattern; content:"b"; fast_pattern;', "fast_pattern", "only one"),
        ('content:"abc"; fast_pattern:2,3;', "fast_pattern", "exceeds the content length"),
        ('content:"abc"; fast_pattern:foo;', "fast_pattern", "invalid value"),
        ('content:"a"; nocase:1;', "nocase", "takes no value"),
        ("content:abc;", "content", "double quoted"),
        ('content:"abc" depth:4;', "content", "possible missing semicolon"),
        ('content:"";', "content", "empty"),
        ("content:;", "content", "needs a value"),
    ],
)
def test_content_modifier_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_legacy_modifiers_move_the_last_payload_content() -> None:
    r = parse('content:"GET"; http_method; content:"/a"; http_uri; nocase; content:"x";')
    assert r.app_proto == "http"
    assert [c.pattern for c in r.buffers["http.method"]] == [b"GET"]  # type: ignore[union-attr]
    uri = r.buffers["http.uri"][0]
    assert isinstance(uri, Content) and uri.pattern == b"/a" and uri.nocase
    assert [c.pattern for c in r.buffers[PAYLOAD]] == [b"x"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("modifier", "buffer"),
    [
        ("http_uri", "http.uri"),
        ("http_raw_uri", "http.uri.raw"),
        ("http_method", "http.method"),
        ("http_header", "http.header"),
        ("http_raw_header", "http.header.raw"),
        ("http_cookie", "http.cookie"),
        ("http_user_agent", "http.user_agent"),
        ("http_host", "http.host"),
        ("http_raw_host", "http.host.raw"),
        ("http_client_body", "http.request_body"),
        ("http_server_body", "http.response_body"),
        ("http_stat_code", "http.stat_code"),
        ("http_stat_msg", "http.stat_msg"),
    ],
)
def test_every_legacy_modifier(modifier: str, buffer: str) -> None:
    r = parse(f'content:"x"; {modifier};')
    assert list(r.buffers) == [buffer]


def test_uricontent() -> None:
    r = parse('uricontent:"/x"; nocase;')
    c = r.buffers["http.uri"][0]
    assert isinstance(c, Content) and c.nocase and r.app_proto == "http"


@pytest.mark.parametrize(
    ("opts", "keyword", "needle"),
    [
        ("http_uri;", "http_uri", "preceding content"),
        ('content:"a"; http_uri; http_header;', "http_header", "preceding content"),
        ('http.uri; content:"a"; http_header;', "http_header", "sticky buffer"),
        ('http.uri; uricontent:"a";', "uricontent", "sticky buffer"),
        ('content:"a"; rawbytes; http_uri;', "http_uri", "rawbytes"),
        ('http.uri; content:"a"; rawbytes;', "rawbytes", "sticky buffer"),
        ("rawbytes;", "rawbytes", "preceding content"),
    ],
)
def test_legacy_modifier_errors(opts: str, keyword: str, needle: str) -> None:
    fails(opts, keyword, needle)


def test_sticky_buffers_and_pkt_data() -> None:
    r = parse(
        'http.method; content:"GET"; http.uri; content:"/x"; nocase; pkt_data; content:"y"; '
        'http.uri; content:"z"; distance:0;',
        HTTP,
    )
    assert list(r.buffers) == ["http.method", "http.uri", PAYLOAD]
    a, b = r.buffers["http.uri"]
    assert isinstance(a, Content) and isinstance(b, Content)
    assert a.nocase and b.distance == 0 and not b.nocase


@pytest.mark.parametrize(
    ("keyword", "buffer", "proto"),
    [
        ("file_data", "file.data", None),
        ("file.data", "file.data", None),
        ("dns_query", "dns.query", "dns"),
        ("dns.query", "dns.query", "dns"),
        ("tls_sni", "tls.sni", "tls"),
        ("tls.cert_subject", "tls.cert_subject", "tls"),
        ("tls_cert_issuer", "tls.cert_issuer", "tls"),
        ("tls.cert_serial", "tls.cert_serial", "tls"),
        ("tls.certs", "tls.certs", "tls"),
        ("ja3.string", "ja3.string", "tls"),
        ("ja3s.string", "ja3s.string", "tls"),
        ("ssh.proto", "ssh.proto", "ssh"),
        ("ssh_software", "ssh.software", "ssh"),
        ("ssh.hassh.string", "ssh.hassh.string", "ssh"),
        ("smb.named_pipe", "smb.named_pipe", "smb"),
        ("smb.share", "smb.share", "smb"),
        ("http_request_line", "http.request_line", "http"),
        ("http.response_line", "http.response_line", "http"),
        ("http.header_names", "http.header_names", "http"),
        ("http.accept_lang", "http.accept_lang", "http"),
        ("http.content_len", "http.content_len", "http"),
        ("http.start", "http.start", "http"),
        ("http.protocol", "http.protocol", "http"),
        ("http.host.raw", "http.host.raw", "http"),
    ],
)
def test_sticky_buffer_names(keyword: str, buffer: str, proto: str | None) -> None:
    r = parse(f'{keyword}; content:"x";')
    assert list(r.buffers) == [buffer] and r.app_proto == proto


def test_hash_buffers_take_hashes() -> None:
    h32 = "a" * 32
    for kw in ("ja3.hash", "ja3_hash", "ja3s.hash", "ssh.hassh", "ssh.hassh.server"):
        assert parse(f'{kw}; content:"{h32}";').buffers
    assert parse(f'ja4.hash; content:"{"t" * 36}";').buffers["ja4.hash"]
    fails('ja3.hash; content:"abc";', "ja3.hash", "32 characters")
    fails('ja4.hash; content:"abc";', "ja4.hash", "36 characters")
    fp = ":".join(["ab"] * 20)
    assert parse(f'tls.cert_fingerprint; content:"{fp}";').buffers
    fails(f'tls.cert_fingerprint; content:"{fp.upper()}";', "tls.cert_fingerprint", "59")


@pytest.mark.parametrize(
    ("opts", "keyword", "needle", "header"),
    [
        ('http.uri; http.header; content:"a";', "http.header", "has no matches", HTTP),
        ("http.uri;", "http.uri", "no keyword follows it", HTTP),
        ("http.uri:x;", "http.uri", "takes no value", HTTP),
        ('dns.query; content:"a";', "dns.query", "rule for http", HTTP),
        ('content:"a"; http_uri;', "http_uri", "rule for dns", "alert dns any any -> any any"),
        ('http.host; content:"Example.com";', "http.host", "upper-case", HTTP),
        ('http.method; content:"GET ";', "http.method", "space", HTTP),
        ('http.uri; content:"a"; http.stat_code; content:"200";', "http.stat_code", "mixes", HTTP),
        ('flow:to_client; http.uri; content:"a";', "flow", "to_client", HTTP),
        ('flow:to_server; http.stat_code; content:"200";', "flow", "to_server", HTTP),
        ('dsize:>10; http.uri; content:"a";', "dsize", "packet keywords", HTTP),
        ('http.uri; content:"a"; bsize:0;', "bsize", "more than bsize", HTTP),
    ],
)
def test_buffer_errors(opts: str, keyword: str, needle: str, header: str) -> None:
    fails(opts, keyword, needle, header)


def test_host_patterns_are_lower_case_unless_nocase() -> None:
    assert parse('http.host; content:"Example.com"; nocase;', HTTP).buffers
    assert parse('http.host.raw; content:"Example.com";', HTTP).buffers


def test_pcre_is_placed_in_the_current_buffer() -> None:
    r = parse('http.uri; content:"a"; pcre:"/b/R";', HTTP)
    p = r.buffers["http.uri"][1]
    assert isinstance(p, Pcre) and p.relative
