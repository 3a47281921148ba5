"""Indicator loaders (plain, maltrail, CSV, abuse.ch, MISP, STIX), allow-lists, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.detect.intel import IntelError, intel_summary, load_intel
from tocsin.detect.intel._load_stix import parse_pattern
from tocsin.detect.intel._model import LoadStats, classify, parse_time_us
from tocsin.detect.intel._set import load_path

FIX = Path(__file__).parents[2] / "fixtures" / "intel"


def _load(*names: str, allow: tuple[str, ...] = (), warn: bool = False):  # type: ignore[no-untyped-def]
    return load_intel([FIX / n for n in names], [FIX / a for a in allow], warn)


def test_classify_types_bare_values() -> None:
    assert classify("198.51.100.7") == ("ip", "198.51.100.7", None)
    assert classify("198.51.100.7:8080") == ("ip", "198.51.100.7", 8080)
    assert classify("[2001:db8::1]:443") == ("ip", "2001:db8::1", 443)
    assert classify("203.0.113.0/24") == ("cidr", "203.0.113.0/24", None)
    assert classify("Evil.Example.") == ("domain", "evil.example", None)
    assert classify("http://Bad.Example:80/x?y=1") == ("url", "bad.example/x?y=1", None)
    assert classify("http://198.51.100.7") == ("ip", "198.51.100.7", None)
    assert classify("/trail/path.php") == ("url", "/trail/path.php", None)
    assert classify("d41d8cd98f00b204e9800998ecf8427e")[0] == "md5"  # type: ignore[index]
    assert classify("t13d1516h2_8daaf6152771_02713d6af862")[0] == "ja4"  # type: ignore[index]
    for bad in ("", "not a value", "1.2.3.4:99999", "1.2.3.4:33:1099", "C91.196.152.28"):
        assert classify(bad) is None, bad


def test_plain_list_types_skips_and_counts_bad_lines() -> None:
    s = _load("plain.txt")
    assert s.stats.by_kind == {"domain": 1, "ip": 2, "cidr": 1, "url": 2, "sha256": 1}
    assert s.stats.skipped == 1
    assert s.stats.problems == [f"{FIX / 'plain.txt'}:9: not an indicator: 'bad value here!'"]
    (ind,) = s.exact("domain", "evil.example")
    assert (ind.source, ind.threat, ind.confidence, ind.tlp) == ("plain.txt", "plain", 50, "clear")
    assert [i.port for i in s.ips.lookup("192.0.2.9")] == [8443]
    assert [i.value for i in s.ips.lookup("203.0.113.200")] == ["203.0.113.0/24"]


def test_maltrail_trail_file_name_is_the_threat_and_references_are_comments() -> None:
    s = _load("maltrail")
    (c2,) = s.exact("domain", "c2.fakebot.example")
    assert (c2.source, c2.threat, c2.category, c2.confidence) == (
        "maltrail",
        "fakebot",
        "malware",
        80,
    )
    assert s.exact("url", "fakebot.example/gate.php")
    emotet = s.ips.lookup("66.210.228.178")
    assert {i.port for i in emotet} == {443, 80} and emotet[0].threat == "emotet"
    assert s.stats.skipped == 0 and s.stats.sources == 2


def test_csv_columns_confidence_tlp_expiry_and_bad_rows() -> None:
    s = _load("feed.csv")
    (d,) = s.exact("domain", "csv-evil.example")
    assert (d.threat, d.confidence, d.tlp) == ("CsvBot", 90, "amber")
    assert d.expires_us == parse_time_us("2099-01-01T00:00:00Z")
    assert s.exact("cert_sha1", "aabbccddeeff00112233445566778899aabbccdd")[0].tlp == "red"
    assert s.exact("user_agent", "FakeBot-UA/1.0")
    assert s.exact("ja4", "t13d1516h2_8daaf6152771_02713d6af862")
    (old,) = s.exact("domain", "expired.example")
    assert old.expires_us is not None and old.expires_us < parse_time_us("2002-01-01")  # type: ignore[operator]
    assert s.stats.skipped == 3
    joined = "\n".join(s.stats.problems)
    assert "feed.csv:10: unknown indicator type 'bogus-type'" in joined
    assert "feed.csv:11: not a valid ip: '999.1.1.1'" in joined
    assert "feed.csv:12: confidence 'high' is not a number" in joined


def test_abuse_ch_sslbl_csv_header_in_a_comment() -> None:
    s = _load("abuse.ch/sslbl_ja3_sample.csv")
    assert s.count("ja3") == 4
    (i,) = s.exact("ja3", "b386946a5a44d1ddcc843bc75336dfce")
    assert (i.source, i.threat, i.confidence) == ("abuse.ch", "Dridex", 75)


def test_misp_event_to_ids_tlp_objects_and_composites() -> None:
    s = _load("misp_event.json")
    (d,) = s.exact("domain", "misp-c2.example")
    assert (d.threat, d.tlp, d.confidence) == ("FakeBot", "amber", 90)
    assert s.exact("user_agent", "MispBot/2.0")[0].tlp == "green"  # the attribute's own tag
    assert s.exact("domain", "obj.misp-c2.example") and s.exact("domain", "pair.example")
    assert [i.port for i in s.ips.lookup("198.51.100.78")] == [8080]
    assert s.ips.lookup("198.51.100.79") and s.exact("url", "misp-c2.example/panel/gate")
    assert s.exact("ja3", "11112222333344445555666677778888")
    assert s.exact("cert_sha1", "0123456789abcdef0123456789abcdef01234567")
    assert s.count("sha256") == 1
    assert not s.exact("domain", "context-only.example")  # to_ids false
    assert s.stats.ignored == 2  # to_ids false + email (not matched on the wire)
    assert s.stats.skipped == 1 and "attribute a11" in s.stats.problems[0]


def test_misp_feed_directory_with_manifest() -> None:
    s = _load("misp_feed")
    (d,) = s.exact("domain", "feed-c2.example")
    assert d.confidence == 70 and d.tlp == "clear"


def test_stix_bundle_patterns_expiry_markings_and_relationships() -> None:
    s = _load("stix_bundle.json")
    (d,) = s.exact("domain", "stix-c2.example")
    assert (d.threat, d.confidence, d.tlp) == ("StixBot", 85, "amber")
    assert d.expires_us == parse_time_us("2099-01-01T00:00:00Z")
    assert s.ips.lookup("198.51.100.88")[0].threat == "StixBot"
    assert s.exact("sha256", "b" * 64)[0].tlp == "amber"  # the standard TLP:AMBER id
    assert s.exact("cert_sha1", "c" * 40) and s.exact("url", "stix-c2.example/a")
    assert s.exact("domain", "stix-old.example")[0].expires_us == parse_time_us("2001-01-01")
    assert s.stats.ignored == 1  # the AND pattern
    assert s.stats.skipped == 1 and "300.1.2.3" in s.stats.problems[0]


def test_stix_pattern_subset() -> None:
    assert parse_pattern("[domain-name:value = 'a.example']") == [("domain", "a.example")]
    assert parse_pattern("([ipv4-addr:value = '1.2.3.4'] OR [url:value = 'http://x/'])") == [
        ("ip", "1.2.3.4"),
        ("url", "http://x/"),
    ]
    assert parse_pattern("[domain-name:value = 'a'] AND [ipv4-addr:value = '1.2.3.4']") is None
    assert parse_pattern("[domain-name:value != 'a']") is None
    assert parse_pattern("[domain-name:value = 'a'] WITHIN 5 SECONDS") is None
    assert parse_pattern("[email-addr:value = 'x@y']") is None


def test_site_allowlist_drops_domains_below_it_and_addresses(tmp_path: Path) -> None:
    s = _load("plain.txt", allow=("allow.txt",))
    assert not s.ips.lookup("198.51.100.7")
    assert s.stats.allowlisted == 1
    assert s.stats.allow_by_list == {f"site:{FIX / 'allow.txt'}": 1}
    f = tmp_path / "f.txt"
    f.write_text("a.partner.example\npartner.example.evil.example\n")
    s2 = load_intel([f], [FIX / "allow.txt"], False)
    assert not s2.domain("a.partner.example")
    assert s2.domain("partner.example.evil.example")  # a look-alike is not the site's own


def test_warninglists_suppress_top_sites_but_not_their_subdomains(tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_text("google.com\nwindowsupdate.com\n8.8.8.8\nevil.duckdns.org\nevil.example\n")
    s = load_intel([feed])
    assert not s.domain("www.google.com") and not s.domain("windowsupdate.com")
    assert not s.ips.lookup("8.8.8.8")
    assert s.domain("evil.duckdns.org") and s.domain("evil.example")
    assert s.stats.allowlisted == 3
    assert any(k.startswith("misp-warninglist:") for k in s.stats.allow_by_list)
    off = load_intel([feed], use_warninglists=False)
    assert off.domain("www.google.com") and off.stats.allowlisted == 0


def test_errors_name_the_source(tmp_path: Path) -> None:
    with pytest.raises(IntelError, match=r"nope\.txt: indicator source not found"):
        load_intel([tmp_path / "nope.txt"], use_warninglists=False)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(IntelError, match=r"bad.json: not valid JSON"):
        load_intel([bad], use_warninglists=False)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    with pytest.raises(IntelError, match=r"neither a STIX 2\.1 bundle nor a MISP event"):
        load_intel([other], use_warninglists=False)
    weird = tmp_path / "x.xlsx"
    weird.write_text("")
    with pytest.raises(IntelError, match="unknown indicator format"):
        load_intel([weird], use_warninglists=False)
    nohead = tmp_path / "h.csv"
    nohead.write_text("a,b\n1,2\n")
    with pytest.raises(IntelError, match=r"h.csv:1: CSV header has no value column"):
        load_intel([nohead], use_warninglists=False)
    with pytest.raises(IntelError, match="allow-list not found"):
        load_intel([], [tmp_path / "none.txt"])


def test_directory_loads_every_format_and_summary_line() -> None:
    stats = LoadStats()
    inds = load_path(FIX, stats)
    assert len(inds) > 40 and stats.sources == 10
    s = _load(".")
    line = intel_summary(s.stats)
    assert line.startswith(f"{len(s)} indicators from 10 sources (")
    assert "sha256 " in line and "not matched" not in line
