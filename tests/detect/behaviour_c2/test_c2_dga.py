"""behaviour.dga: NXDOMAIN storms of random-looking domains, and the near misses."""

from __future__ import annotations

import random
import string

from c2kit import T0, S, dns_response

from correlate_kit import feed, names
from tocsin.detect.behaviour.dga import Dga, DgaConfig, bigram_share, random_signs


def _random_label(rng: random.Random, n: int = 12) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def test_nxdomain_storm_of_generated_domains_alerts() -> None:
    rng = random.Random(5)
    evs = [dns_response(f"{_random_label(rng)}.{rng.choice(['com', 'net', 'info'])}",
                        T0 + k * S) for k in range(40)]  # fmt: skip
    evs += [dns_response("www.example.com", T0 + 41 * S, rcode="NOERROR")]
    alerts = feed(Dga(), evs)
    assert names(alerts) == ["behaviour.dga"]
    a = alerts[0]
    assert a.src_ip == "10.0.0.5" and a.alert.signature_id == 8_000_120
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["failed_names"] == 15 and ev["random_looking"] >= 8 and ev["nxdomain_rate"] == 1.0
    assert len(ev["name_sample"]) == 8


def test_search_domain_suffixes_and_typos_are_not_dga() -> None:
    rng = random.Random(6)
    evs = []
    for k in range(60):  # a host's search list appended to random-ish hosts: one domain
        evs.append(dns_response(f"{_random_label(rng)}.corp.local.hospital.example", T0 + k * S))
    evs += [dns_response(n, T0 + 70 * S) for n in ("gogle.com", "wikipedai.org", "mircosoft.com")]
    evs += [dns_response(f"{k}.2.0.192.zen.spamhaus.org", T0 + (80 + k) * S) for k in range(50)]
    assert feed(Dga(), evs) == []


def test_many_failures_of_pronounceable_names_are_not_dga() -> None:
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
        "mike",
        "november",
        "oscar",
        "papa",
        "quebec",
        "romeo",
        "sierra",
        "tango",
        "uniform",
        "victor",
        "whiskey",
    ]
    evs = [dns_response(f"{w}server.com", T0 + k * S) for k, w in enumerate(words)]
    assert feed(Dga(), evs) == []


def test_low_nxdomain_rate_is_not_dga() -> None:
    rng = random.Random(9)
    evs = []
    for k in range(30):
        evs.append(dns_response(f"{_random_label(rng)}.com", T0 + k * S))
        for j in range(10):
            evs.append(dns_response(f"www{j}.example.com", T0 + k * S, rcode="NOERROR"))
    assert feed(Dga(DgaConfig(min_rate=0.25)), evs) == []


def test_label_signs() -> None:
    cfg = DgaConfig()
    assert random_signs("google", cfg) == []
    assert random_signs("xkqjzvbwpt", cfg) == ["entropy", "consonant_run", "rare_bigrams"]
    assert "digits" in random_signs("a8f3k2l9q1", cfg)
    assert bigram_share("thereinto") == 1.0 and bigram_share("qxzj") == 0.0
