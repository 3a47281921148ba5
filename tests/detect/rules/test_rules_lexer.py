"""Rule files into rules, and rules into header and options (`detect.rules.lexer`)."""

from __future__ import annotations

import pytest

from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.lexer import scan_rules, split_body, split_options, split_rule

R1 = 'alert tcp any any -> any any (msg:"one"; sid:1;)'
R2 = 'alert udp any any -> any any (msg:"two"; sid:2;)'


def test_comments_blank_lines_and_disabled_rules() -> None:
    text = f"# a comment\n\n{R1}\n# {R2}\n#alert tcp any any -> any any (sid:3;)\n   \n#\n{R2}\n"
    scan = scan_rules(text)
    assert [(r.line, r.text) for r in scan.rules] == [(3, R1), (8, R2)]
    assert scan.disabled == 2  # "# alert ..." and "#alert ..."
    assert scan.indented == []


def test_a_comment_that_is_not_a_rule_is_not_counted_disabled() -> None:
    scan = scan_rules("# alert on everything, see README\n# drop this file\n")
    assert scan.disabled == 0 and scan.rules == []


def test_continuations_join_lines_and_keep_the_first_line_number() -> None:
    text = (
        "# header\n"
        'alert tcp any any -> any any (msg:"x"; \\\n'
        '    content:"a"; \\   \n'
        "    sid:1;)\n"
        f"{R2}\r\n"
    )
    scan = scan_rules(text)
    assert [r.line for r in scan.rules] == [2, 5]
    assert (
        scan.rules[0].text == 'alert tcp any any -> any any (msg:"x";     content:"a";     sid:1;)'
    )
    assert scan.rules[1].text == R2  # the \r is dropped


def test_a_continuation_at_the_end_of_the_file_is_still_reported() -> None:
    scan = scan_rules('alert tcp any any -> any any (msg:"x"; \\')
    assert [r.line for r in scan.rules] == [1]


def test_indented_rules_are_reported_not_loaded() -> None:
    scan = scan_rules(f"  {R1}\n\t{R2}\n    not a rule\n")
    assert scan.rules == []
    assert [(r.line, r.text) for r in scan.indented] == [(1, R1), (2, R2)]


def test_split_rule_header_and_body() -> None:
    fields, body = split_rule("alert tcp [1.2.3.4, 5.6.7.8] any -> $HOME_NET [80, 443] (sid:1;)")
    assert fields == ["alert", "tcp", "[1.2.3.4, 5.6.7.8]", "any", "->", "$HOME_NET", "[80, 443]"]
    assert split_body(body) == [("sid", "1")]


@pytest.mark.parametrize(
    "text",
    [
        "alert tcp any any -> any any",  # no options
        "alert tcp any any any -> any any (sid:1;)",  # eight fields
        "alert tcp any -> any any (sid:1;)",  # six fields
    ],
)
def test_split_rule_errors(text: str) -> None:
    with pytest.raises(RuleError) as e:
        split_rule(text)
    assert e.value.keyword == ""


def test_options_must_end_with_a_parenthesis() -> None:
    with pytest.raises(RuleError, match=r"must end with '\)'"):
        split_body("sid:1;")


def test_split_options_names_values_and_escapes() -> None:
    body = r' msg:"a\;b" ; Content:"x\"y" ;nocase; fast_pattern:only ;sid: 7 ;'
    assert split_options(body) == [
        ("msg", r'"a\;b"'),
        ("content", r'"x\"y"'),
        ("nocase", None),
        ("fast_pattern", "only"),
        ("sid", " 7"),
    ]


def test_quotes_do_not_protect_a_semicolon() -> None:
    # as in Suricata: the option ends at the first unescaped ';'
    assert split_options('msg:"a;b"; sid:1;') == [("msg", '"a'), ('b"', None), ("sid", "1")]


def test_the_last_option_needs_its_semicolon() -> None:
    with pytest.raises(RuleError, match="no terminating"):
        split_options("msg:x; sid:1")


def test_empty_options() -> None:
    assert split_options("  ") == []
