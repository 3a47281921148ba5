"""intel.* detectors: from flows and events (hits, near misses, folding, expiry, allow-lists),
and end to end on samples/web-browsing.pcap with an indicator file naming one of its hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.detect.intel import IntelSet, load_intel
from tocsin.detect.intel._model import Indicator
from tocsin.detect.intel.domain import IntelDomain
from tocsin.detect.intel.http_user_agent import IntelUserAgent
from tocsin.detect.intel.ip import IntelIp
from tocsin.detect.intel.tls import IntelTls
from tocsin.detect.intel.url import IntelUrl
from tocsin.model.dns import DnsAnswer, DnsEvent, DnsInfo, DnsQuery
from tocsin.model.flows import FlowRow
from tocsin.model.http import HttpEvent, HttpInfo
from tocsin.model.ids import FlowId
from tocsin.model.tls import Ja3Info, TlsEvent, TlsInfo
from tocsin.output.timefmt import eve_timestamp

ROOT = Path(__file__).parents[3]
FIX = ROOT / "tests" / "fixtures" / "intel"
S = 1_000_000
T0 = 1_700_000_000 * S


def _set(*inds: Indicator) -> IntelSet:
    return IntelSet(inds)


def _ind(value: str, kind: str, **kw: Any) -> Indicator:
    base: dict[str, Any] = {"source": "maltrail", "threat": "emotet", "confidence": 80}
    base["category"] = "malware"
    return Indicator(value=value, kind=kind, **{**base, **kw})


def _dns(name: str, t: int = T0, src: str = "10.0.0.5", response: bool = False) -> DnsEvent:
    info = DnsInfo(
        version=3,
        type="response" if response else "request",
        tx_id=0,
        id=1,
        flags="8180" if response else "100",
        opcode=0,
        rcode="NOERROR",
        queries=[DnsQuery(rrname=name, rrtype="A")],
        answers=[DnsAnswer(rrname=name, rrtype="A", ttl=60, rdata="198.51.100.1")]
        if response
        else None,
    )
    a, b = ("10.0.0.53", src) if response else (src, "10.0.0.53")
    return DnsEvent(
        timestamp=eve_timestamp(t), flow_id=FlowId(1), src_ip=a, dest_ip=b, proto="UDP", dns=info
    )


def _http(host: str, url: str = "/", ua: str = "Mozilla/5.0", t: int = T0) -> HttpEvent:
    return HttpEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(2),
        src_ip="10.0.0.5",
        src_port=50000,
        dest_ip="198.51.100.1",
        dest_port=80,
        proto="TCP",
        http=HttpInfo(hostname=host, url=url, http_user_agent=ua),
    )


def _tls(**kw: Any) -> TlsEvent:
    return TlsEvent(
        timestamp=eve_timestamp(T0),
        flow_id=FlowId(3),
        src_ip="10.0.0.5",
        src_port=50001,
        dest_ip="198.51.100.1",
        dest_port=443,
        proto="TCP",
        tls=TlsInfo(**kw),
    )


def _ev(alert: Any) -> dict[str, Any]:
    return alert.alert.context["evidence"]  # type: ignore[no-any-return]


def test_domain_matches_subdomains_not_siblings() -> None:
    det = IntelDomain(intel=_set(_ind("evil.com", "domain")))
    alerts = feed(det, [_dns("a.b.evil.com"), _dns("notevil.com"), _dns("evil.com.example.org")])
    assert names(alerts) == ["intel.domain"]
    a = alerts[0]
    assert a.alert.signature == "TOCSIN INTEL domain listed by maltrail (emotet)"
    assert a.alert.signature_id == 8_100_002 and a.alert.severity == 1
    assert (a.src_ip, a.dest_ip) == ("10.0.0.5", "10.0.0.53")
    ev = _ev(a)
    assert ev["indicator"] == "evil.com" and ev["observed"] == "a.b.evil.com"
    assert (ev["seen_in"], ev["field"], ev["direction"]) == (
        "dns",
        "dns.queries.rrname",
        "outbound",
    )
    assert (ev["source"], ev["threat"], ev["confidence"], ev["tlp"]) == (
        "maltrail",
        "emotet",
        80,
        "clear",
    )


def test_query_response_http_and_tls_of_one_host_fold_into_one_alert() -> None:
    det = IntelDomain(intel=_set(_ind("evil.com", "domain")))
    items = [
        _dns("c2.evil.com"),
        _dns("c2.evil.com", T0 + 1000, response=True),
        _http("c2.evil.com", t=T0 + 2000),
        _tls(sni="c2.evil.com"),
    ]
    alerts = feed(det, items)
    assert len(alerts) == 1
    assert det.counters()["matched"] == 4
    other = feed(
        IntelDomain(intel=_set(_ind("evil.com", "domain"))),
        [_dns("x.evil.com"), _dns("x.evil.com", src="10.0.0.6")],
    )
    assert len(other) == 2  # two hosts: two alerts


def test_suspicious_listing_is_lower_severity_and_expired_indicators_never_match() -> None:
    sus = _ind(
        "dyn.example", "domain", category="suspicious", confidence=40, threat="dynamic_domain"
    )
    old = _ind("old.example", "domain", expires_us=T0 - S)
    det = IntelDomain(intel=_set(sus, old))
    alerts = feed(det, [_dns("x.dyn.example"), _dns("old.example")])
    assert len(alerts) == 1 and alerts[0].alert.severity == 3
    assert alerts[0].alert.metadata["confidence"] == ["low"]  # type: ignore[index]
    assert det.counters()["expired"] == 1


def test_ip_on_flows_folds_many_flows_to_one_alert_per_host() -> None:
    det = IntelIp(intel=_set(_ind("198.51.100.7", "ip")))
    rows = [
        FlowRow("10.0.0.5", "198.51.100.7", 40000 + i, 443, first_ts=T0 + i * S, last_ts=T0 + i * S)
        for i in range(500)
    ]
    rows += [FlowRow("10.0.0.5", "198.51.100.8", 40000, 443, first_ts=T0, last_ts=T0)]  # near miss
    alerts = feed(det, [flows(*rows[:250]), flows(*rows[250:])])
    assert names(alerts) == ["intel.ip"]
    a = alerts[0]
    assert (a.src_ip, a.dest_ip, a.dest_port) == ("10.0.0.5", "198.51.100.7", 443)
    assert a.alert.metadata["mitre_technique_id"] == ["T1071"]  # type: ignore[index]
    assert det.counters()["matched"] == 500


def test_cidr_ipv6_port_trails_and_inbound_scanners() -> None:
    intel = _set(
        _ind("203.0.113.0/24", "cidr"),
        _ind("2001:db8::/32", "cidr"),
        _ind("192.0.2.9", "ip", port=8443),
        _ind("198.51.100.66", "ip", category="scanner", confidence=30, threat="mass_scanner"),
    )
    rows = [
        FlowRow("10.0.0.5", "203.0.113.200", 40000, 80, first_ts=T0, last_ts=T0),
        FlowRow("fd00::5", "2001:db8::1", 40000, 80, first_ts=T0, last_ts=T0),
        FlowRow("10.0.0.5", "192.0.2.9", 40000, 8443, first_ts=T0, last_ts=T0),
        FlowRow("10.0.0.5", "192.0.2.9", 40001, 443, first_ts=T0, last_ts=T0),  # other port
        FlowRow("198.51.100.66", "10.0.0.7", 55555, 22, first_ts=T0, last_ts=T0),
        FlowRow("10.0.0.5", "203.0.114.1", 40000, 80, first_ts=T0, last_ts=T0),  # outside
    ]
    alerts = feed(IntelIp(intel=intel), [flows(*rows)])
    got = {(a.src_ip, a.dest_ip, a.dest_port) for a in alerts}
    assert got == {
        ("10.0.0.5", "203.0.113.200", 80),
        ("fd00::5", "2001:db8::1", 80),
        ("10.0.0.5", "192.0.2.9", 8443),
        ("198.51.100.66", "10.0.0.7", 22),
    }
    scan = next(a for a in alerts if a.src_ip == "198.51.100.66")
    assert _ev(scan)["direction"] == "inbound" and _ev(scan)["internal_host"] == "10.0.0.7"
    assert scan.alert.metadata["mitre_technique_id"] == ["T1595"]  # type: ignore[index]
    assert scan.alert.severity == 3


def test_listed_internal_address_and_allowlisted_resolver_in_listed_range_are_ignored() -> None:
    feedfile = [_ind("10.0.0.9", "ip"), _ind("8.8.8.0/24", "cidr")]
    intel = IntelSet(feedfile, allow=load_intel([], use_warninglists=True).allow)
    det = IntelIp(intel=intel)
    rows = [
        FlowRow("10.0.0.5", "10.0.0.9", 40000, 445, first_ts=T0, last_ts=T0),
        FlowRow("10.0.0.5", "8.8.8.8", 40000, 53, proto=17, first_ts=T0, last_ts=T0),
    ]
    assert feed(det, [flows(*rows)]) == []
    assert det.counters()["internal_listed"] == 1 and det.counters()["allowlisted"] == 1


def test_warninglist_domain_listed_in_a_feed_does_not_alert(tmp_path: Path) -> None:
    f = tmp_path / "feed.txt"
    f.write_text("microsoft.com\nevil.example\n")
    det = IntelDomain(intel=load_intel([f]))
    alerts = feed(det, [_dns("microsoft.com"), _dns("evil.example")])
    assert [_ev(a)["indicator"] for a in alerts] == ["evil.example"]


def test_url_with_and_without_query_and_path_trails() -> None:
    intel = _set(_ind("bad.example/payload.exe", "url"), _ind("/x-trail/loader.php", "url"))
    det = IntelUrl(intel=intel)
    alerts = feed(
        det,
        [
            _http("bad.example", "/payload.exe?id=1"),
            _http("any.example", "/x-trail/loader.php"),
            _http("bad.example", "/other.exe"),  # near miss: another path on that host
            _http("good.example", "/x-trail/loader.php.bak"),  # near miss: longer path
        ],
    )
    assert [_ev(a)["indicator"] for a in alerts] == [
        "bad.example/payload.exe",
        "/x-trail/loader.php",
    ]
    assert alerts[0].alert.signature_id == 8_100_003


def test_tls_ja3_ja4_cert_and_sni() -> None:
    intel = _set(
        _ind(
            "e7d705a3286e19ea42f587b344ee6865",
            "ja3",
            source="abuse.ch",
            threat="Dridex",
            confidence=75,
        ),
        _ind("t13d1516h2_8daaf6152771_02713d6af862", "ja4"),
        _ind("aabbccddeeff00112233445566778899aabbccdd", "cert_sha1"),
        _ind("c2.example", "sni"),
    )
    det = IntelTls(intel=intel)
    alerts = feed(
        det,
        [
            _tls(
                ja3=Ja3Info(hash="E7D705A3286E19EA42F587B344EE6865"),
                ja4="t13d1516h2_8daaf6152771_02713d6af862",
                fingerprint="aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd",
                sni="c2.example",
            ),
            _tls(sni="www.c2.example", ja3=Ja3Info(hash="0" * 32)),  # near misses: exact only
        ],
    )
    sigs = sorted(a.alert.signature for a in alerts)
    assert sigs == [
        "TOCSIN INTEL JA3 listed by abuse.ch (Dridex)",
        "TOCSIN INTEL JA4 listed by maltrail (emotet)",
        "TOCSIN INTEL TLS SNI listed by maltrail (emotet)",
        "TOCSIN INTEL certificate SHA-1 listed by maltrail (emotet)",
    ]


def test_user_agent_exact() -> None:
    det = IntelUserAgent(intel=_set(_ind("FakeBot-UA/1.0", "user_agent")))
    alerts = feed(
        det, [_http("x.example", ua="FakeBot-UA/1.0"), _http("x.example", ua="FakeBot-UA/1.01")]
    )
    assert len(alerts) == 1 and alerts[0].alert.signature_id == 8_100_005


def test_fixture_formats_drive_the_detectors() -> None:
    intel = load_intel([FIX], use_warninglists=False)
    alerts = feed(
        IntelDomain(intel=intel),
        [_dns("misp-c2.example"), _dns("stix-c2.example"), _dns("stix-old.example")],
    )
    assert sorted(_ev(a)["tlp"] for a in alerts) == ["amber", "amber"]  # stix-old expired


def test_end_to_end_web_browsing_listed_host_and_sibling(tmp_path: Path) -> None:
    """web-browsing.pcap: 29 requests to bro.org and 2 to www.bro.org (192.150.187.43).
    Listing www.bro.org alerts once (HTTP host) and never for its parent bro.org; listing
    the address alerts once for the client, however many flows."""
    cfg = CorrelateConfig(intel=(str(FIX / "web-browsing-intel.txt"),), enable=("intel",))
    alerts = analyze_alerts([ROOT / "samples" / "web-browsing.pcap"], tmp_path, config=cfg)
    by = {}
    for a in alerts:
        by.setdefault(a["alert"]["metadata"]["detector"][0], []).append(a)
    assert sorted(by) == ["intel.domain", "intel.ip"]
    (dom,) = by["intel.domain"]
    ev = dom["alert"]["context"]["evidence"]
    assert ev["observed"] == "www.bro.org" and ev["field"] == "http.hostname"
    assert dom["src_ip"] == "10.0.2.15" and dom["dest_ip"] == "192.150.187.43"
    (ip,) = by["intel.ip"]
    assert ip["alert"]["context"]["evidence"]["indicator"] == "192.150.187.43"


def test_no_intel_given_means_no_intel_detectors(tmp_path: Path) -> None:
    from tocsin.detect.correlate.config import build_detectors

    assert not [d for d in build_detectors(CorrelateConfig()) if d.info.name.startswith("intel.")]
    dets = build_detectors(CorrelateConfig(intel=(str(FIX / "plain.txt"),), warninglists=False))
    assert {d.info.name for d in dets if d.info.name.startswith("intel.")} == {
        "intel.domain",
        "intel.file_hash",
        "intel.http_user_agent",
        "intel.ip",
        "intel.tls",
        "intel.url",
    }


def test_address_listed_twice_and_name_under_two_listings_give_one_alert_each() -> None:
    """emotet.pcap had 138.197.147.101 listed by emotet and inside two mass-scanner ranges:
    one alert, the exact listing as the indicator, the ranges named as other listings."""
    intel = _set(
        _ind("138.197.147.101", "ip"),
        _ind("138.197.147.0/24", "cidr", category="scanner", confidence=30),
        _ind("138.197.144.0/20", "cidr", category="scanner", confidence=30),
    )
    row = FlowRow("10.0.0.5", "138.197.147.101", 40000, 443, first_ts=T0, last_ts=T0)
    (a,) = feed(IntelIp(intel=intel), [flows(row)])
    ev = _ev(a)
    assert ev["indicator"] == "138.197.147.101" and len(ev["also_listed_by"]) == 2
    det = IntelDomain(intel=_set(_ind("evil.com", "domain"), _ind("b.evil.com", "domain")))
    (d,) = feed(det, [_dns("a.b.evil.com")])
    assert _ev(d)["indicator"] == "b.evil.com"


def test_yaml_keys_resolve_relative_paths(tmp_path: Path) -> None:
    from tocsin.detect.correlate.config import build_detectors, load_config

    (tmp_path / "feed.txt").write_text("evil.example\n")
    (tmp_path / "ok.txt").write_text("partner.example\n")
    y = tmp_path / "d.yaml"
    y.write_text("intel: [feed.txt]\nallowlists: ok.txt\nwarninglists: false\n")
    cfg = load_config(y)
    assert cfg.intel == (str(tmp_path / "feed.txt"),) and cfg.warninglists is False
    assert cfg.allowlists == (str(tmp_path / "ok.txt"),)
    dets = [d for d in build_detectors(cfg) if d.info.name == "intel.domain"]
    assert len(dets) == 1 and len(dets[0].intel) == 1  # type: ignore[attr-defined]


def _smb(share: str, t: int = T0) -> Any:
    from tocsin.model.smb import SmbEvent, SmbInfo

    return SmbEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(4),
        src_ip="10.0.0.5",
        src_port=50002,
        dest_ip="198.51.100.9",
        dest_port=445,
        proto="TCP",
        smb=SmbInfo(
            id=3, dialect="3.11", session_id=1, tree_id=1,
            command="SMB2_COMMAND_TREE_CONNECT", share=share,
        ),
    )  # fmt: skip


def test_domain_matches_an_smb_share_named_by_a_listed_server() -> None:
    det = IntelDomain(intel=_set(_ind("evil.com", "domain")))
    alerts = feed(
        det,
        [
            _smb("\\\\files.evil.com\\docs"),  # hit: a listed domain's server
            _smb("\\\\FS001\\Soins"),  # NetBIOS name: never a domain
            _smb("\\\\198.51.100.9\\IPC$"),  # an address: intel.ip's business
            _smb("\\\\files.notevil.com\\docs"),  # a sibling name
        ],
    )
    assert names(alerts) == ["intel.domain"]
    ev = _ev(alerts[0])
    assert (ev["seen_in"], ev["field"], ev["observed"]) == ("smb", "smb.share", "files.evil.com")
