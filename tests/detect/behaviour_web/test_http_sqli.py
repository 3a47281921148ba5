"""behaviour.http_sqli: Zeek's URI regex, attacker/victim counts, attempts; real captures."""

from __future__ import annotations

from pathlib import Path

import pytest

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour.web_attack import (
    SID_ATTACKER,
    SID_ATTEMPT,
    SID_VICTIM,
    HttpSqli,
    HttpSqliConfig,
    is_sqli_uri,
)
from tocsin.detect.correlate.config import CorrelateConfig
from tocsin.model.http import HttpEvent, HttpInfo
from tocsin.model.ids import FlowId
from tocsin.output.timefmt import eve_timestamp

FIX = Path(__file__).parents[2] / "fixtures" / "correlate"
SAMPLES = Path(__file__).parents[3] / "samples"
S = 1_000_000
T0 = 1_700_000_000 * S


def _req(url: str, t: int, src: str = "10.0.0.66", dst: str = "10.0.0.80") -> HttpEvent:
    return HttpEvent(
        timestamp=eve_timestamp(t),
        flow_id=FlowId(7),
        src_ip=src,
        src_port=50000,
        dest_ip=dst,
        dest_port=80,
        proto="TCP",
        app_proto="http",
        http=HttpInfo(hostname=dst, url=url, http_method="GET", http_user_agent="sqlmap/1.7"),
    )


@pytest.mark.parametrize(
    "url",
    [
        "/dvwa/vulnerabilities/sqli/?id=1%27+OR+%271%27%3D%271&Submit=Submit",
        "/item.php?id=-1+UNION+SELECT+1,2,3--",
        "/index.asp?ID='+convert(int,convert(varchar,0x7b5d))+'",
        "/page.php?id=10%20and%20ascii(substring(version(),1,1))>52",
        "/index.php?id=22 /*!49999 and 1=2*/-- and 1=1",
        "/list.cfm?cat=7;declare%20@x%20int;--",
        "/news.php?sort=no%27+and+1%3D2+union+select+1,2/*",
    ],
)
def test_injection_uris_match(url: str) -> None:
    assert is_sqli_uri(url)


@pytest.mark.parametrize(
    "url",
    [
        "/search?q=union+select+committee+minutes",  # SQL words in a search: Zeek matches this
        "/search?q=how+to+select+a+union+representative&page=2",
        "/people?name=O%27Brien&ward=cardiology",
        "/docs/select/union/drop.html",
        "/api/v1/orders?status=open&sort=created&limit=50",
        "/index.asp?db=a9h&jid=JHE&scope=site",
    ],
)
def test_ordinary_uris_do_not_match(url: str) -> None:
    assert not is_sqli_uri(url)


def test_pathological_uri_is_bounded() -> None:
    assert not is_sqli_uri("/?a=1" + "+" * 20_000 + "x")
    assert not is_sqli_uri("/?" + "a=" * 5000)


def test_zeek_threshold_gives_attacker_and_victim() -> None:
    evs = [_req(f"/p.php?id={i}+union+select+1,2--", T0 + i * S) for i in range(60)]
    alerts = feed(HttpSqli(), evs)
    sids = sorted(a.alert.signature_id for a in alerts)
    assert sids == [SID_ATTEMPT, SID_ATTACKER, SID_VICTIM]
    attacker = next(a for a in alerts if a.alert.signature_id == SID_ATTACKER)
    assert (attacker.src_ip, attacker.dest_ip) == ("10.0.0.66", "10.0.0.80")
    ev = attacker.alert.context["evidence"]  # type: ignore[index]
    assert ev["requests"] == 50 and ev["victims"] == ["10.0.0.80"]
    assert "50 injection requests in 300 s" in ev["threshold"]


def test_slow_injection_stays_below_the_zeek_threshold() -> None:
    """60 requests, one every 10 s: never 50 in one 5-minute epoch (only the attempt)."""
    evs = [_req(f"/p.php?id={i}+union+select+1--", T0 + i * 10 * S) for i in range(60)]
    alerts = feed(HttpSqli(), evs)
    assert [a.alert.signature_id for a in alerts] == [SID_ATTEMPT]


def test_attempt_confidence_grows_with_distinct_uris() -> None:
    one = feed(HttpSqli(), [_req("/p.php?id=1%27+or+%271%27%3D%271", T0)])
    assert [a.alert.metadata["confidence"] for a in one] == [["low"]]  # type: ignore[index]
    three = [_req(f"/p.php?id={i}%27+or+%271%27%3D%271", T0 + i * S) for i in range(3)]
    alerts = feed(HttpSqli(), three)
    assert [a.alert.metadata["confidence"] for a in alerts] == [["medium"]]  # type: ignore[index]


def test_ordinary_traffic_gives_nothing() -> None:
    urls = ["/search?q=union+select+committee", "/?page=2&sort=date", "/a?name=O%27Neil"] * 30
    assert feed(HttpSqli(), [_req(u, T0 + i * S) for i, u in enumerate(urls)]) == []


def test_zeek_baseline_dvwa2(tmp_path: Path) -> None:
    """Zeek's `sql-injection-plus-dvwa2` test (threshold 3): notices SQL_Injection_Attacker
    and SQL_Injection_Victim, attacker 192.168.111.148, victim 192.168.111.154."""
    cfg = CorrelateConfig(detectors={"behaviour.http_sqli": {"min_requests": 3}})
    alerts = analyze_alerts(
        [FIX / "sqli-cooper-grill-dvwa.pcapng"], tmp_path, only=["behaviour.http_sqli"], config=cfg
    )
    by_sid = {a["alert"]["signature_id"]: a for a in alerts}
    assert sorted(by_sid) == [SID_ATTEMPT, SID_ATTACKER, SID_VICTIM]
    for sid in (SID_ATTACKER, SID_VICTIM):
        assert (by_sid[sid]["src_ip"], by_sid[sid]["dest_ip"]) == (
            "192.168.111.148",
            "192.168.111.154",
        )
        assert by_sid[sid]["alert"]["context"]["evidence"]["requests"] == 3
    # the three URIs Zeek tags URI_SQLI (http.log.cut), decoded as Zeek's unescape_URI
    assert by_sid[SID_ATTEMPT]["alert"]["context"]["evidence"]["uri_sample"] == [
        "/dvwa/vulnerabilities/sqli/?id=1'+OR+'1'='1&Submit=Submit",
        "/dvwa/vulnerabilities/sqli/?id=1'+UNION+SELECT+NULL,+version()+#&Submit=Submit",
        "/dvwa/vulnerabilities/sqli/?id=2'+OR+'2'='2&Submit=Submit",
    ]


@pytest.mark.parametrize(
    ("capture", "src", "requests", "confidence"),
    [
        ("sqli-cooper-grill-dvwa.pcapng", "192.168.111.148", 3, "medium"),
        ("sqli-http_dvwa_sqlinjection.pcapng", "10.2.2.101", 3, "medium"),
        ("sqli-ndpi-sql_injection.pcap", "192.168.3.109", 1, "low"),
        ("sqli-ndpi-WebattackSQLinj.pcap", "172.16.0.1", 7, "medium"),
    ],
)
def test_real_captures_raise_an_attempt(
    tmp_path: Path, capture: str, src: str, requests: int, confidence: str
) -> None:
    alerts = analyze_alerts([FIX / capture], tmp_path, only=["behaviour.http_sqli"])
    assert names(alerts) == ["behaviour.http_sqli"]
    a = alerts[0]
    assert a["alert"]["signature_id"] == SID_ATTEMPT and a["src_ip"] == src
    assert a["alert"]["context"]["evidence"]["requests"] == requests
    assert a["alert"]["metadata"]["confidence"] == [confidence]


def test_web_browsing_sample_is_quiet(tmp_path: Path) -> None:
    assert (
        analyze_alerts([SAMPLES / "web-browsing.pcap"], tmp_path, only=["behaviour.http_sqli"])
        == []
    )


def test_config_disables_attempts() -> None:
    det = HttpSqli(HttpSqliConfig(report_attempts=False))
    assert feed(det, [_req("/p.php?id=1%27+or+%271%27%3D%271", T0)]) == []
