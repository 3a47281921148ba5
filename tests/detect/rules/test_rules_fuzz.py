"""Property tests: any text gives a Rule or a RuleError, never another exception."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.detect.model import Rule
from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.lexer import scan_rules
from tocsin.detect.rules.parser import RuleParser

PARSER = RuleParser()

SEEDS = [
    'alert tcp $HOME_NET any -> $EXTERNAL_NET [80,443] (msg:"x"; flow:established,to_server; '
    'content:"GET|20|"; depth:4; content:"/a"; distance:0; within:10; pcre:"/a+b/Ri"; '
    "byte_test:2,>,5,0,relative; isdataat:!1,relative; classtype:trojan-activity; sid:1; rev:2;)",
    'alert http any any -> any any (http.uri; content:"/x"; bsize:>2; http.host; '
    'content:"a.b"; endswith; urilen:<100; flowbits:set,a; threshold:type limit, track by_src, '
    "count 1, seconds 60; metadata:a b; sid:2;)",
    'alert tls any any -> any any (tls.sni; content:"x"; nocase; fast_pattern; ja3.hash; '
    'content:"e7d705a3286e19ea42f587b344ee6865"; byte_extract:1,0,v; isdataat:v; sid:3;)',
]

_ALPHABET = st.sampled_from([*'abcdef0123456789:;,"|\\!()[]$ <>-/_.*+=&^', "\n"])


def _check(text: str) -> None:
    try:
        r = PARSER.parse(text)
    except RuleError as e:
        assert isinstance(e.reason, str) and isinstance(e.keyword, str)
        return
    assert isinstance(r, Rule)


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=200))
def test_random_text(text: str) -> None:
    _check(text)
    scan_rules(text)


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.integers(min_value=0, max_value=400),
    st.integers(min_value=0, max_value=8),
    st.text(alphabet=_ALPHABET, max_size=8),
)
def test_mutated_rules(seed: str, at: int, cut: int, insert: str) -> None:
    at %= len(seed) + 1
    _check(seed[:at] + insert + seed[at + cut :])
