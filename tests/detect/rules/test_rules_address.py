"""Addresses, ports and variables (`detect.rules.address`)."""

from __future__ import annotations

import ipaddress

import pytest

from tocsin.detect.model import ADDR_MAX, V4_BASE, AddrSet, PortSet
from tocsin.detect.rules.address import (
    DEFAULT_ADDRESS_GROUPS,
    HeaderResolver,
    RuleVars,
    parse_address,
    parse_port,
)
from tocsin.detect.rules.errors import RuleError


def v4(a: str) -> int:
    return V4_BASE | int(ipaddress.IPv4Address(a))


def v6(a: str) -> int:
    return int(ipaddress.IPv6Address(a))


def intervals(s: AddrSet | PortSet) -> list[tuple[int, int]]:
    return list(zip(s.lo, s.hi, strict=True))


def test_any_is_the_whole_space() -> None:
    s = parse_address("any")
    assert s.is_any and parse_address("ANY").is_any
    assert s.contains(v4("8.8.8.8")) and s.contains(v6("2001:db8::1"))


def test_single_addresses_and_cidr() -> None:
    s = parse_address("10.1.2.3")
    assert intervals(s) == [(v4("10.1.2.3"), v4("10.1.2.3"))]
    s = parse_address("10.1.2.3/24")  # host bits ignored, as Suricata does
    assert intervals(s) == [(v4("10.1.2.0"), v4("10.1.2.255"))]
    s = parse_address("10.0.0.0/255.255.0.0")
    assert intervals(s) == [(v4("10.0.0.0"), v4("10.0.255.255"))]
    s = parse_address("0.0.0.0/0")  # all of IPv4, and only IPv4
    assert intervals(s) == [(V4_BASE, V4_BASE | 0xFFFFFFFF)]
    s = parse_address("10.0.0.5-10.0.0.9")
    assert intervals(s) == [(v4("10.0.0.5"), v4("10.0.0.9"))]


def test_ipv6() -> None:
    s = parse_address("2001:db8::/32")
    assert s.contains(v6("2001:db8:ffff::1")) and not s.contains(v6("2001:db9::"))
    s = parse_address("[::1, fe80::/10]")
    assert s.contains(v6("::1")) and s.contains(v6("fe80::abcd")) and not s.contains(v6("::2"))


def test_negation_is_the_complement_in_the_whole_space() -> None:
    s = parse_address("!10.0.0.0/8")
    assert not s.contains(v4("10.1.1.1"))
    assert s.contains(v4("11.0.0.0")) and s.contains(v6("2001:db8::1"))
    assert s.contains(0) and s.contains(ADDR_MAX)


def test_list_minus_negated_items() -> None:
    s = parse_address("[1.2.3.0/24,!1.2.3.4]")
    assert intervals(s) == [(v4("1.2.3.0"), v4("1.2.3.3")), (v4("1.2.3.5"), v4("1.2.3.255"))]
    # only negations: everything else
    s = parse_address("[!1.2.3.4, !5.6.7.8]")
    assert not s.contains(v4("1.2.3.4")) and not s.contains(v4("5.6.7.8"))
    assert s.contains(v4("1.2.3.5")) and s.contains(v6("::1"))


def test_nested_lists_and_negated_lists() -> None:
    s = parse_address("[10.0.0.0/8, [192.168.0.0/16, !192.168.1.0/24]]")
    assert s.contains(v4("10.9.9.9")) and s.contains(v4("192.168.2.1"))
    assert not s.contains(v4("192.168.1.1"))
    s = parse_address("![10.0.0.0/8, 192.168.0.0/16]")
    assert not s.contains(v4("10.0.0.1")) and not s.contains(v4("192.168.0.1"))
    assert s.contains(v4("172.16.0.1"))
    s = parse_address("!!10.0.0.0/8")
    assert intervals(s) == [(v4("10.0.0.0"), v4("10.255.255.255"))]


def test_adjacent_ranges_are_merged() -> None:
    s = parse_address("[10.0.0.0/25, 10.0.0.128/25]")
    assert intervals(s) == [(v4("10.0.0.0"), v4("10.0.0.255"))]


def test_variables_default_and_nested() -> None:
    home = parse_address("$HOME_NET")
    assert home.contains(v4("192.168.1.1")) and home.contains(v4("172.20.0.1"))
    assert not home.contains(v4("8.8.8.8"))
    ext = parse_address("$EXTERNAL_NET")
    assert ext.contains(v4("8.8.8.8")) and ext.contains(v6("2001:db8::1"))
    assert not ext.contains(v4("10.0.0.1"))
    # a negated variable resolved first: !$EXTERNAL_NET is HOME_NET
    assert parse_address("!$EXTERNAL_NET") == home
    assert parse_address("$HTTP_SERVERS") == home
    assert parse_address("[$HOME_NET,!10.0.0.0/8]").contains(v4("192.168.0.1"))


def test_variables_overridden() -> None:
    rv = RuleVars(address_groups={"HOME_NET": "[10.1.0.0/16]", "EXTERNAL_NET": "!$HOME_NET"})
    r = HeaderResolver(rv)
    assert r.address("$HOME_NET") == parse_address("10.1.0.0/16")
    assert r.address("$EXTERNAL_NET").contains(v4("10.2.0.1"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("$NOPE", "undefined variable $NOPE"),
        ("!any", "leaves nothing"),
        ("[1.2.3.4,!1.2.3.4]", "leaves nothing"),
        ("1.2.3.256", "invalid address"),
        ("1.2.3.4/33", "invalid address"),
        ("[1.2.3.4", "not closed"),
        ("1.2.3.4]", "unbalanced"),
        ("[]", "empty item"),
        ("[1.2.3.4,]", "empty item"),
        ("10.0.0.9-10.0.0.1", "invalid address"),
        ("10.0.0.1-::1", "invalid address"),
    ],
)
def test_address_errors(text: str, needle: str) -> None:
    with pytest.raises(RuleError) as e:
        parse_address(text)
    assert needle in e.value.reason and e.value.keyword == "address"


def test_variable_loops_are_errors() -> None:
    rv = RuleVars(address_groups={"A": "$B", "B": "[1.2.3.4,$A]"})
    with pytest.raises(RuleError, match="refers to itself"):
        parse_address("$A", rv)


def test_errors_are_cached_and_raised_again() -> None:
    r = HeaderResolver()
    for _ in range(2):
        with pytest.raises(RuleError, match="undefined"):
            r.address("$NOPE")


def test_ports() -> None:
    assert parse_port("any").is_any
    p = parse_port("80")
    assert p.contains(80) and not p.contains(81)
    p = parse_port("[80,443, 8000:8080]")
    assert intervals(p) == [(80, 80), (443, 443), (8000, 8080)]
    assert intervals(parse_port("1024:")) == [(1024, 65535)]
    assert intervals(parse_port(":1023")) == [(0, 1023)]
    assert intervals(parse_port("1:5")) == [(1, 5)]
    p = parse_port("!80")
    assert not p.contains(80) and p.contains(0) and p.contains(65535)
    p = parse_port("[1:100,![50:60,70]]")
    assert p.contains(49) and not p.contains(55) and not p.contains(70) and p.contains(71)


def test_port_variables() -> None:
    assert parse_port("$HTTP_PORTS").contains(80)
    p = parse_port("$SHELLCODE_PORTS")
    assert not p.contains(80) and p.contains(81)
    p = parse_port("$FILE_DATA_PORTS")  # [$HTTP_PORTS,110,143]
    assert p.contains(80) and p.contains(110) and p.contains(143) and not p.contains(25)
    with pytest.raises(RuleError, match=r"undefined variable \$HOME_NET"):
        parse_port("$HOME_NET")  # an address variable is not a port variable


@pytest.mark.parametrize("text", ["65536", "10:5", "http", "!any", "[80,!80]", "-1", ":"])
def test_port_errors(text: str) -> None:
    with pytest.raises(RuleError) as e:
        parse_port(text)
    assert e.value.keyword == "port"


def test_rule_vars_from_yaml() -> None:
    doc = {
        "vars": {
            "address-groups": {"HOME_NET": "[10.0.0.0/8]", "EXTRA": ["1.2.3.4", "5.6.7.8"]},
            "port-groups": {"HTTP_PORTS": "[80,8080]", "SSH_PORTS": 2222},
        }
    }
    rv = RuleVars.from_yaml_dict(doc)
    assert rv.address_groups["HOME_NET"] == "[10.0.0.0/8]"
    assert rv.address_groups["EXTRA"] == "[1.2.3.4,5.6.7.8]"
    assert rv.address_groups["SMTP_SERVERS"] == DEFAULT_ADDRESS_GROUPS["SMTP_SERVERS"]
    assert rv.port_groups["SSH_PORTS"] == "2222"
    r = HeaderResolver(rv)
    assert r.port("$HTTP_PORTS").contains(8080)
    assert r.address("$EXTERNAL_NET").contains(v4("192.168.1.1"))  # HOME_NET is now 10/8
    # the vars mapping on its own is accepted too
    assert RuleVars.from_yaml_dict(doc["vars"]) == rv


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"vars": None},
        {"vars": {"address-groups": ["x"]}},
        {"vars": {"address-groups": {"HOME_NET": None}}},
    ],
)
def test_rule_vars_from_yaml_errors(doc: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RuleVars.from_yaml_dict(doc)


def test_defaults_match_suricata_yaml() -> None:
    rv = RuleVars()
    assert rv.address_groups["HOME_NET"] == "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
    assert rv.address_groups["EXTERNAL_NET"] == "!$HOME_NET"
    assert rv.port_groups["FILE_DATA_PORTS"] == "[$HTTP_PORTS,110,143]"
    assert rv.port_groups["TEREDO_PORTS"] == "3544"
