"""Helpers for the rule parser tests: one rule from its options."""

from __future__ import annotations

import pytest

from tocsin.detect.model import Rule
from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.parser import parse_rule

TCP = "alert tcp any any -> any any"
HTTP = "alert http any any -> any any"


def parse(opts: str, header: str = TCP) -> Rule:
    """The rule `header (opts sid:1;)`."""
    return parse_rule(f"{header} ({opts} sid:1;)")


def fails(opts: str, keyword: str, needle: str = "", header: str = TCP) -> RuleError:
    """Assert that `header (opts sid:1;)` does not load, blaming `keyword`."""
    with pytest.raises(RuleError) as e:
        parse(opts, header)
    assert e.value.keyword == keyword, (e.value.keyword, e.value.reason)
    assert needle in e.value.reason, e.value.reason
    return e.value
