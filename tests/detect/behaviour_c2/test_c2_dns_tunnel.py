"""behaviour.dns_tunnel: tunnels, encoded names, payload in a name, DoH around the resolver —
from DNS records as the parser writes them, and from nDPI's captures."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from c2kit import T0, S, dns_request, tls_event

from correlate_kit import analyze_alerts, feed, names
from tocsin.detect.behaviour._names import is_reverse_or_listing, registered_domain
from tocsin.detect.behaviour.dns_tunnel import DnsTunnel, DnsTunnelConfig
from tocsin.model.events import AlertEvent

FIXTURES = Path(__file__).parents[2] / "fixtures" / "correlate"


def _hex(k: int, n: int = 40) -> str:
    return hashlib.sha256(str(k).encode()).hexdigest()[:n]


def _b32(k: int, n: int = 50) -> str:
    return base64.b32encode(hashlib.sha512(str(k).encode()).digest()).decode().lower()[:n]


def _sids(alerts: list[AlertEvent]) -> list[int]:
    return [a.alert.signature_id for a in alerts]


def test_many_random_subdomains_of_one_domain_is_a_tunnel() -> None:
    evs = [dns_request(f"{_b32(k)}.{_b32(k + 1000, 20)}.t.evil.example.co.uk", T0 + k * S,
                       qtype="TXT") for k in range(60)]  # fmt: skip
    alerts = feed(DnsTunnel(), evs)
    assert 8_000_110 in _sids(alerts)
    a = next(a for a in alerts if a.alert.signature_id == 8_000_110)
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["domain"] == "example.co.uk" and ev["unique_subdomains"] == 40
    assert ev["entropy"] >= 3.8 and ev["query_types"] == {"TXT": 40}
    assert a.src_ip == "10.0.0.5"


def test_hex_names_without_a_domain_are_encoded_names() -> None:
    """dnscat2 without a domain: every name is its own "domain", counted per client."""
    evs = [dns_request(f"dnscat.{_hex(k, 60)}.{_hex(k + 1, 30)}", T0 + k * S, qtype="MX")
           for k in range(15)]  # fmt: skip
    alerts = feed(DnsTunnel(), evs)
    assert _sids(alerts) == [8_000_111]
    assert alerts[0].alert.context["evidence"]["encoded_names"] == 10  # type: ignore[index]


def test_one_query_with_base64_is_enough() -> None:
    name = base64.b64encode(b"patient-list.csv gzip chunk 0001 xx").decode() + ".x.example.org"
    alerts = feed(DnsTunnel(), [dns_request(name, T0)])
    assert _sids(alerts) == [8_000_112]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["domain"] == "example.org" and "=" in ev["non_hostname_chars"]


def test_cdn_reverse_mdns_dkim_and_blocklist_lookups_are_not_tunnels() -> None:
    evs = []
    for k in range(200):
        t = T0 + k * S
        evs.append(dns_request(f"d{_hex(k % 5, 13)}.cloudfront.net", t))  # 5 uniques
        evs.append(dns_request(f"e{k % 7}.dscb.akamaiedge.net", t))
        evs.append(dns_request(f"{k % 250}.{k // 250}.16.172.in-addr.arpa", t, qtype="PTR"))
        evs.append(dns_request(f"Printer {k}._ipp._tcp.local", t, dport=5353, sport=5353))
        evs.append(dns_request(f"s{k}._domainkey.mail{k}.example.com", t, qtype="TXT"))
        evs.append(dns_request(f"example{k}.org", t, qtype="TXT"))  # SPF, many domains
        evs.append(dns_request(f"{k % 250}.{k // 250}.113.203.zen.spamhaus.org", t))
    assert feed(DnsTunnel(), evs) == []


def test_long_hashed_cdn_labels_from_a_few_names_stay_below_the_count() -> None:
    evs = [dns_request(f"{_hex(k % 4, 32)}.blob.core.windows.net", T0 + k * S)
           for k in range(300)]  # fmt: skip
    assert feed(DnsTunnel(), evs) == []


def test_doh_to_a_public_resolver() -> None:
    hit = tls_event(T0, 1, client="10.0.0.7", server="1.1.1.1", sni=None)
    miss = tls_event(T0, 2, client="10.0.0.7", server="93.184.216.34", sni="example.com")
    alerts = feed(DnsTunnel(), [hit, miss, tls_event(T0 + S, 3, client="10.0.0.7",
                                                      server="1.1.1.1", sni=None)])  # fmt: skip
    assert _sids(alerts) == [8_000_113] and alerts[0].alert.severity == 3


def test_registered_domain_and_exclusions() -> None:
    assert registered_domain("a.b.trust.nhs.uk") == ("trust.nhs.uk", "a.b")
    assert registered_domain("x.chu-lyon.gouv.fr") == ("chu-lyon.gouv.fr", "x")
    assert registered_domain("www.example.com.") == ("example.com", "www")
    assert is_reverse_or_listing("4.3.2.1.zen.spamhaus.org")
    assert is_reverse_or_listing("1.0.168.192.in-addr.arpa")
    assert not is_reverse_or_listing("www.example.com")


def test_ndpi_captures(tmp_path: Path) -> None:
    only = ["behaviour.dns_tunnel"]
    caps = {
        "ndpi-dns-tunnel-iodine.pcap": {8_000_110, 8_000_112},
        "ndpi-dns-exfiltration.pcap": {8_000_111},
        "ndpi-dns-exf.pcap": {8_000_112},
        "ndpi-dns2tcp-tunnel.pcap": {8_000_113},
    }
    for cap, sids in caps.items():
        alerts = analyze_alerts([FIXTURES / cap], tmp_path, only=only, eve_name=f"{cap}.json")
        assert {a["alert"]["signature_id"] for a in alerts} == sids, cap
        assert set(names(alerts)) == {"behaviour.dns_tunnel"}


def test_dnsbl_lookups_of_a_mail_server_are_quiet(tmp_path: Path) -> None:
    """test-cc-capture-2's host resolves ~100 DNSBL names (zen.spamhaus.org)."""
    alerts = analyze_alerts([FIXTURES / "slips-test-cc-capture-2.pcap"], tmp_path,
                            only=["behaviour.dns_tunnel", "behaviour.dga"])  # fmt: skip
    assert alerts == []


def test_reputation_lookups_by_hash_are_ignored_and_the_list_is_configurable() -> None:
    evs = [dns_request(f"{_b32(k, 52)}.hbl.spamhaus.org", T0 + k * S) for k in range(60)]
    assert feed(DnsTunnel(), evs) == []
    assert 8_000_110 in _sids(feed(DnsTunnel(DnsTunnelConfig(ignore_domains=())), evs))
