"""suricata-verify check semantics (`tocsin.detect.verify.checks`): each rule positive and
negative, and the messages a rule author reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tocsin.detect.verify.checks import (
    EveError,
    describe_match,
    evaluate,
    event_matches,
    find_value,
    read_eve,
)
from tocsin.detect.verify.testcase import Check, plan_checks

from .svkit import alert

DNS = {
    "event_type": "dns",
    "dns": {
        "type": "answer",
        "rrname": "www.example.com",
        "answers": [{"rrname": "www.example.com", "rdata": "192.0.2.1", "ttl": 300}],
        "flags": "8180",
    },
    "flow_id": 7,
    "ftp": {"reply": ["Opening BINARY mode data connection.", "Transfer complete."]},
}


def filt(count: int, index: int = 1, **spec: Any) -> Check:
    match = spec.pop("match")
    return Check(index, "filter", {"count": count, "match": match, **spec})


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"event_type": "dns"}, True),
        ({"event_type": "alert"}, False),
        ({"dns.rrname": "www.example.com"}, True),
        ({"dns.rrname": "example.com"}, False),
        ({"dns.answers[0].rdata": "192.0.2.1"}, True),  # list index
        ({"dns.answers[0].ttl": 300}, True),
        ({"dns.answers[0].ttl": "300"}, False),  # JSON types compare: 300 != "300"
        ({"dns.answers[1].rdata": "192.0.2.1"}, False),  # index out of range: absent
        ({"dns.flags[0]": "8"}, True),  # a string indexes too, as in suricata-verify
        ({"dns.answers.__len": 1}, True),  # __len
        ({"dns.answers.__len": 2}, False),
        ({"dns.missing.__len": -1}, False),  # absent: no length at all
        ({"dns.missing.__len": 0}, False),
        ({"flow_id.__len": -1}, True),  # so does a number
        ({"has-key": "dns.answers"}, True),
        ({"has-key": "dns.authorities"}, False),
        ({"has-key": ["dns.type", "flow_id"]}, True),
        ({"has-key": ["dns.type", "nope"]}, False),
        ({"not-has-key": "dns.authorities"}, True),
        ({"not-has-key": "dns.rrname"}, False),
        ({"dns.rrname.__find": "example"}, True),  # substring
        ({"dns.rrname.__find": "exemple"}, False),
        ({"flow_id.__find": "7"}, False),  # not a string: no match, no exception
        ({"ftp.reply.__contains": "Transfer complete."}, True),  # list member
        ({"ftp.reply.__contains": "Transfer"}, False),  # a member, not a substring of one
        ({"dns.rrname.__contains": "www"}, True),  # substring of a string
        ({"flow_id.__contains": 7}, False),  # a number contains nothing
        ({"dns.rrname.__startswith": "www."}, True),
        ({"dns.rrname.__startswith": "example"}, False),
        ({"dns.rrname.__endswith": ".com"}, True),
        ({"dns.rrname.__endswith": ".org"}, False),
        ({"dns.answers[0].ttl.__gt": 299}, True),
        ({"dns.answers[0].ttl.__gt": 300}, False),
        ({"dns.answers[0].ttl.__gte": 300}, True),
        ({"dns.answers[0].ttl.__lt": 301}, True),
        ({"dns.answers[0].ttl.__lte": 299}, False),
        ({"dns.rrname.__gt": 0}, False),  # a string is not a number
        ({"event_type": "dns", "dns.type": "answer", "flow_id": 7}, True),  # all keys
        ({"event_type": "dns", "dns.type": "query"}, False),  # one key off
    ],
)
def test_match_semantics(match: dict[str, Any], expected: bool) -> None:
    assert event_matches(DNS, match) is expected


def test_booleans_are_not_numbers_in_comparisons() -> None:
    assert not event_matches({"flow": {"alerted": True}}, {"flow.alerted.__gte": 1})
    assert event_matches({"flow": {"alerted": True}}, {"flow.alerted": True})


def test_find_value_paths() -> None:
    assert find_value("dns.answers[0].rrname", DNS) == "www.example.com"
    assert find_value("dns.answers[0].rrname.__endswith", DNS) == "www.example.com"
    assert find_value("dns.nope.deeper", DNS) is None
    assert find_value("dns.rrname.deeper", DNS) is None  # through a string
    assert find_value("event_type", {"event_type": None}) is None


def test_filter_count_pass_and_mismatch_message() -> None:
    events = [alert(1), alert(1), alert(2)]
    ok, bad, zero_ok, zero_bad = evaluate(
        [
            filt(2, 1, match={"event_type": "alert", "alert.signature_id": 1}),
            filt(1, 2, match={"event_type": "alert", "alert.signature_id": 3}),
            filt(0, 3, match={"event_type": "alert", "alert.signature_id": 4}),
            filt(0, 4, match={"event_type": "alert", "alert.signature_id": 2}),
        ],
        events,
    )
    assert ok.status == "pass" and ok.got == 2
    assert bad.status == "fail" and bad.got == 0
    assert bad.message == "check 2: alert sid 3: expected 1, got 0"
    assert "alert.signature_id: want 3, got 1" in bad.detail  # the nearest alert
    assert zero_ok.status == "pass"
    assert zero_bad.status == "fail"
    assert zero_bad.message == "check 4: alert sid 2: expected 0, got 1"
    assert zero_bad.detail.startswith("matched at 10.0.0.1:1024 -> 10.0.0.2:80")


def test_message_names_other_keys_and_comment() -> None:
    check = filt(
        1,
        5,
        match={"event_type": "alert", "alert.signature_id": 1, "pcap_cnt": 4},
        comment="second request",
    )
    (r,) = evaluate([check], [alert(1, pcap_cnt=5)])
    assert r.message == "check 5 (second request): alert sid 1 [pcap_cnt=4]: expected 1, got 0"
    assert "pcap_cnt: want 4, got 5" in r.detail
    assert describe_match({"event_type": "dns", "dns.rrname": "x.org"}) == "dns [dns.rrname=x.org]"
    assert describe_match({"has-key": "tls.ja4"}) == "any [has-key=tls.ja4]"


def test_no_event_of_the_type() -> None:
    (r,) = evaluate([filt(1, match={"event_type": "tls"})], [alert(1)])
    assert r.status == "fail" and r.detail == "no tls event"


def test_filter_without_count_fails() -> None:
    (r,) = evaluate([Check(1, "filter", {"match": {"event_type": "alert"}})], [alert(1)])
    assert r.status == "fail" and "count" in r.message


def test_ignore_keys_and_alerts_only() -> None:
    checks = [
        filt(1, 1, match={"event_type": "alert", "alert.signature_id": 1, "pcap_cnt": 4}),
        filt(1, 2, match={"event_type": "dns"}),
        filt(1, 3, match={"alert.signature_id": 1}),  # no event type, alert keys: an alert check
        Check(4, "stats", {"decoder.pkts": 1}),
    ]
    events = [alert(1, pcap_cnt=5)]
    assert [r.status for r in evaluate(checks, events)] == ["fail", "fail", "pass", "fail"]
    relaxed = evaluate(checks, events, ignore_keys={"pcap_cnt"}, alerts_only=True)
    assert [r.status for r in relaxed] == ["pass", "skip", "pass", "skip"]
    assert relaxed[1].message == "check 2: not an alert check (alerts only)"


def test_stats_uses_the_last_stats_event() -> None:
    events: list[dict[str, Any]] = [
        {"event_type": "stats", "stats": {"decoder": {"pkts": 1, "bytes": 60}}},
        alert(1),
        {"event_type": "stats", "stats": {"decoder": {"pkts": 5, "bytes": 300}}},
    ]
    ok = Check(1, "stats", {"decoder.pkts": 5, "decoder.bytes.__gte": 128})
    stale = Check(2, "stats", {"decoder.pkts": 1})
    cmp_bad = Check(3, "stats", {"decoder.bytes.__lt": 100, "decoder.missing": 0})
    r_ok, r_stale, r_cmp = evaluate([ok, stale, cmp_bad], events)
    assert r_ok.status == "pass"
    assert r_stale.status == "fail"
    assert r_stale.message == "check 2: stats: decoder.pkts expected 1, got 5"
    assert r_cmp.message == (
        "check 3: stats: decoder.bytes.__lt expected 100, got 300; "
        "decoder.missing expected 0, got None"
    )
    (none,) = evaluate([ok], [alert(1)])
    assert none.status == "fail" and none.message == "check 1: stats: no stats event"


def test_per_check_requires_and_suricata_specific_checks_are_skipped() -> None:
    checks = plan_checks(
        [
            {"filter": {"count": 1, "match": {"event_type": "alert"}}},
            {"filter": {"requires": {"min-version": 9}, "count": 5, "match": {}}},
            {"filter": {"lt-version": "8", "count": 5, "match": {}}},  # shorthand key
            {"filter": {"requires": {"features": ["HAVE_LUA"]}, "count": 5, "match": {}}},
            {"filter": {"requires": {"features": ["HAVE_JA4"]}, "count": 1, "match": {}}},
            {"filter": {"requires": {"lt-version": "8.0.7"}, "count": 1, "match": {}}},
            {"filter": {"filename": "suricata.json", "count": 1, "match": {}}},
            {"filter": {"count": 1, "match": {"engine.message": "x"}}},
            {"shell": {"args": "grep -c x fast.log", "expect": 1}},
            {"file-compare": {"filename": "a.csv", "expected": "expected/a.csv"}},
            {"stats": {"decoder.pkts": 1}},
            {"lua": {}},
        ]
    )
    skips = [c.skip for c in checks]
    assert skips[0] is None and skips[4] is None and skips[5] is None and skips[10] is None
    assert skips[1] == "requires min-version 9 (Tocsin is judged as Suricata 8.0.0)"
    assert skips[2] == "requires lt-version 8 (Tocsin is judged as Suricata 8.0.0)"
    assert skips[3] == "requires Suricata features Tocsin lacks: HAVE_LUA"
    assert skips[6] == "filter on Suricata's suricata.json"
    assert "engine events" in str(skips[7])
    assert str(skips[8]).startswith("shell check") and str(skips[9]).startswith("file-compare")
    assert skips[11] == "unknown check type `lua`"
    # judged as a later version, the other side of the version split applies
    later = plan_checks(
        [
            {"filter": {"requires": {"min-version": 9}, "count": 1, "match": {}}},
            {"filter": {"lt-version": "8", "count": 1, "match": {}}},
        ],
        version="9.0.0",
    )
    assert later[0].skip is None and later[1].skip is not None
    results = evaluate(checks, [alert(1)])
    assert results[1].status == "skip"
    assert results[1].message.startswith("check 2: requires min-version 9")


def test_read_eve(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_text('{"event_type": "alert"}\n\n{"event_type": "flow"}\n')
    assert [e["event_type"] for e in read_eve(eve)] == ["alert", "flow"]
    eve.write_text('{"event_type": "alert"}\n{"event_type": \n')
    with pytest.raises(EveError, match="line 2"):
        read_eve(eve)
    eve.write_text("[1, 2]\n")
    with pytest.raises(EveError, match="not a JSON object"):
        read_eve(eve)
