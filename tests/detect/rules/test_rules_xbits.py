"""The xbits keyword: Suricata's syntax (detect-xbits.c), and what it refuses."""

from __future__ import annotations

import pytest

from tocsin.detect.model import XBITS_EXPIRE_DEFAULT, Xbit
from tocsin.detect.rules.errors import NOT_SUPPORTED

from .ruletext import HTTP, fails, parse


@pytest.mark.parametrize(
    ("opt", "want"),
    [
        ("set,abc,track ip_pair", Xbit("set", "abc", "ip_pair", XBITS_EXPIRE_DEFAULT)),
        ("set,abc,track ip_pair, expire 3600", Xbit("set", "abc", "ip_pair", 3600)),
        ("set,abc,track ip_src, expire 1234", Xbit("set", "abc", "ip_src", 1234)),
        ("isset,bit2,track ip_dst", Xbit("isset", "bit2", "ip_dst")),
        ("isnotset, bit3,  track ip_pair", Xbit("isnotset", "bit3", "ip_pair")),
        ("toggle,bit4, track   ip_pair", Xbit("toggle", "bit4", "ip_pair")),
        ("  unset ,bit5,track ip_src", Xbit("unset", "bit5", "ip_src")),
        ("set,bit6 ,track ip_src, expire 10 ", Xbit("set", "bit6", "ip_src", 10)),
        ("set,b,expire 5,track ip_dst", Xbit("set", "b", "ip_dst", 5)),
        ("set, ET.PROPFIND, track ip_src, expire 360", Xbit("set", "ET.PROPFIND", "ip_src", 360)),
    ],
)
def test_xbits_forms(opt: str, want: Xbit) -> None:
    r = parse(f"xbits:{opt};")
    assert r.xbits == [want]
    assert r.flowbits == [] and not r.noalert


def test_xbits_default_expire_is_suricatas() -> None:
    assert XBITS_EXPIRE_DEFAULT == 30  # DETECT_XBITS_EXPIRE_DEFAULT


def test_xbits_noalert_and_several_xbits() -> None:
    r = parse(
        "xbits:isset,ET.2020_8260.1,track ip_src,expire 10; "
        "xbits:set,ET.2020_8260.2,track ip_src,expire 10; xbits:noalert;",
        HTTP,
    )
    assert r.noalert
    assert [(x.cmd, x.name) for x in r.xbits] == [
        ("isset", "ET.2020_8260.1"),
        ("set", "ET.2020_8260.2"),
    ]


def test_no_xbits_by_default() -> None:
    assert parse('content:"a";').xbits == []


@pytest.mark.parametrize(
    ("opt", "needle"),
    [
        ("alert", "not a valid setting"),
        ("n0alert", "not a valid setting"),
        ("!set,abc,track ip_dst", "invalid xbits action"),
        ("bit6,set,track ip_src,expire 10", "invalid xbits action"),
        ("set,abc", "needs track"),
        ("isnotset,track ip_pair", "invalid xbit name"),
        ("set,abc,expire 10", "needs track"),
        ("set,abc,track nonsense, expire 3600", "invalid track"),
        ("set,abc,track ip_source", "invalid track"),
        ("unset,bit5,track ipsrc", "invalid track"),
        ("set,abc,track ip_src, expire -1", "invalid expire"),
        ("set,abc,track ip_src, expire 0", "invalid expire"),
        ("set,bit7,track ip_pair,expire", "invalid or repeated"),
        ("isset,bit2,track ip_dst,asdf", "invalid or repeated"),
        ("set,bit1,noalert,track ip_src", "invalid or repeated"),
        ("set,b,track ip_src,track ip_dst", "invalid or repeated"),
        ("set,b,track ip_src,expire 5,expire 6", "invalid or repeated"),
        ("set,a b,track ip_src", "spaces"),
        ("set,xxx,track tx", NOT_SUPPORTED),
        ("noalert,set,bit1,track ip_src", "invalid xbits action"),
    ],
)
def test_xbits_errors_name_the_keyword(opt: str, needle: str) -> None:
    fails(f"xbits:{opt};", "xbits", needle)
