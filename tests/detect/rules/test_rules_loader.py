"""Loading rule files (`detect.rules.loader`): counts, line numbers, skips, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.detect.rules.address import RuleVars
from tocsin.detect.rules.errors import RuleError, RuleFileError
from tocsin.detect.rules.loader import load_rules, parse_rule

GOOD = (
    "# a ruleset\n"
    'alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (msg:"one"; content:"a"; sid:1;)\n'
    "\n"
    '# alert tcp any any -> any any (msg:"disabled"; sid:99;)\n'
    'alert http any any -> any any (msg:"two"; \\\n'
    '    http.uri; content:"/x"; \\\n'
    "    classtype:trojan-activity; sid:2; rev:3;)\n"
    'alert tcp any any -> any any (msg:"bad"; hostbits:set,a,track ip_src; sid:3;)\n'
    'alert tcp any any -> any any (msg:"dup"; sid:1;)\n'
    '  alert tcp any any -> any any (msg:"indented"; sid:4;)\n'
    'alert smtp any any -> any any (msg:"smtp"; sid:5;)\n'
)


def test_counts_lines_and_reasons(tmp_path: Path) -> None:
    f = tmp_path / "a.rules"
    f.write_text(GOOD)
    rs = load_rules([f])
    assert rs.files == [str(f)]
    assert [(r.sid, r.line) for r in rs.rules] == [(1, 2), (2, 5)]
    assert rs.rules[1].text.startswith('alert http any any -> any any (msg:"two"; ')
    assert rs.rules[1].file == str(f) and rs.rules[1].rev == 3
    assert rs.per_file == {str(f): (6, 2)}  # the disabled rule is not counted
    got = sorted((s.line, s.keyword, s.sid) for s in rs.skipped)
    assert got == [(8, "hostbits", 3), (9, "sid", 1), (10, "", 4), (11, "protocol", 5)]
    by_line = {s.line: s for s in rs.skipped}
    assert by_line[8].reason == "keyword not supported"
    assert by_line[9].reason.startswith("duplicate sid 1 (gid 1): first loaded at ")
    assert by_line[9].reason.endswith(f"{f}:2")
    assert "white space" in by_line[10].reason
    assert by_line[11].reason == "protocol not supported: smtp"
    assert by_line[8].text.startswith("alert tcp")


def test_duplicates_across_files_and_gids(tmp_path: Path) -> None:
    a = tmp_path / "a.rules"
    b = tmp_path / "b.rules"
    a.write_text("alert ip any any -> any any (sid:7;)\n")
    b.write_text(
        "alert ip any any -> any any (sid:7;)\nalert ip any any -> any any (gid:2; sid:7;)\n"
    )
    rs = load_rules([a, b])
    assert [(r.gid, r.sid, r.file) for r in rs.rules] == [(1, 7, str(a)), (2, 7, str(b))]
    assert rs.per_file == {str(a): (1, 1), str(b): (2, 1)}
    assert rs.skipped[0].file == str(b) and rs.skipped[0].line == 1


def test_a_malformed_rule_never_stops_the_others(tmp_path: Path) -> None:
    f = tmp_path / "m.rules"
    f.write_bytes(
        b'alert tcp any any -> any any (content:"\xff\xfe"; sid:1;)\n'
        b"garbage\n"
        b"alert tcp any any -> any any (sid:2\n"
        b'alert tcp any any -> any any (content:"|zz|"; sid:3;)\n'
        b"alert tcp any any -> any any (sid:4;)\n"
    )
    rs = load_rules([f])
    assert [r.sid for r in rs.rules] == [4]
    reasons = {s.line: (s.keyword, s.reason) for s in rs.skipped}
    assert reasons[1] == ("", "the rule is not valid UTF-8")
    assert reasons[2][0] == "" and "no rule options" in reasons[2][1]
    assert reasons[3] == ("", "rule options must end with ')'")
    assert reasons[4][0] == "content"
    assert rs.skipped[0].sid == 1 and rs.skipped[1].sid is None


def test_variables_and_classification(tmp_path: Path) -> None:
    f = tmp_path / "v.rules"
    f.write_text(
        "alert tcp $MY_NET any -> any $MY_PORTS (classtype:mine; sid:1;)\n"
        "alert tcp $HOME_NET any -> any any (classtype:trojan-activity; sid:2;)\n"
    )
    c = tmp_path / "classification.config"
    c.write_text("config classification: mine,Mine,4\n")
    rv = RuleVars.from_yaml_dict(
        {"vars": {"address-groups": {"MY_NET": "1.2.3.0/24"}, "port-groups": {"MY_PORTS": "99"}}}
    )
    rs = load_rules([f], rv, c)
    assert [r.sid for r in rs.rules] == [1]
    assert rs.rules[0].priority == 4 and rs.rules[0].dport.contains(99)
    assert rs.skipped[0].keyword == "classtype"
    rs = load_rules([str(f)])
    assert {s.reason for s in rs.skipped} == {"undefined variable $MY_NET"}


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError) as e:
        load_rules([tmp_path / "missing.rules"])
    assert "missing.rules" in str(e.value) and "no such rule file" in str(e.value)
    with pytest.raises(RuleFileError, match="directory"):
        load_rules([tmp_path])
    f = tmp_path / "ok.rules"
    f.write_text("alert ip any any -> any any (sid:1;)\n")
    with pytest.raises(RuleFileError, match="classification"):
        load_rules([f], classification=tmp_path / "nope.config")


def test_empty_file(tmp_path: Path) -> None:
    f = tmp_path / "empty.rules"
    f.write_text("")
    rs = load_rules([f])
    assert rs.rules == [] and rs.skipped == [] and rs.per_file == {str(f): (0, 0)}


def test_parse_rule_sets_where() -> None:
    r = parse_rule("alert ip any any -> any any (sid:1;)", file="x.rules", line=7)
    assert (r.file, r.line, r.text) == ("x.rules", 7, "alert ip any any -> any any (sid:1;)")
    with pytest.raises(RuleError):
        parse_rule("alert ip any any -> any any (sid:1)")
