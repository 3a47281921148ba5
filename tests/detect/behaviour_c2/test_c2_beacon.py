"""behaviour.beacon: RITA-style scoring of connection rhythm and size, from flows, TLS names
and the synthetic 2-hour capture (and test-cc-capture-2, a real curl loop)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
from c2kit import T0, S, tls_event

from correlate_kit import analyze_alerts, feed, flows, names
from tocsin.detect.behaviour.beacon import Beacon, BeaconConfig, bowley, score
from tocsin.detect.correlate.config import CorrelateConfig, build_detectors, load_config
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.correlate.netclass import HomeNet
from tocsin.model.flows import STATE_CLOSED, FlowRow

FIXTURES = Path(__file__).parents[2] / "fixtures" / "correlate"


def _conn(t: int, *, src: str = "10.0.0.5", dst: str = "203.0.113.9", dport: int = 443,
          up: int = 400, fid: int = 0, proto: int = 6) -> FlowRow:  # fmt: skip
    return FlowRow(src, dst, 40000 + fid % 20000, dport, proto=proto, first_ts=t,
                   last_ts=t + S // 2, pkts_ts=6, pkts_tc=5, bytes_ts=up, bytes_tc=900,
                   state=STATE_CLOSED, app_proto="tls", flow_id=fid)  # fmt: skip


def _beacon(
    n: int = 60, every: int = 60, jitter: int = 2, seed: int = 1, **kw: object
) -> list[FlowRow]:
    rng = random.Random(seed)
    t, out = T0, []
    for k in range(n):
        out.append(_conn(t, up=400 + rng.randint(-5, 5), fid=k + 1, **kw))  # type: ignore[arg-type]
        t += (every + rng.randint(-jitter, jitter)) * S
    return out


def test_regular_connections_alert_with_score_evidence() -> None:
    det = Beacon()
    alerts = feed(det, [flows(*_beacon())])
    assert names(alerts) == ["behaviour.beacon"]
    a = alerts[0]
    assert a.alert.signature_id == 8_000_100 and (a.src_ip, a.dest_ip) == (
        "10.0.0.5",
        "203.0.113.9",
    )
    assert a.alert.metadata is not None and a.alert.metadata["mitre_technique_id"] == ["T1071"]
    ev = a.alert.context["evidence"]  # type: ignore[index]
    assert ev["connections"] >= 10 and 58 <= ev["interval_median_s"] <= 62
    assert ev["score"] >= 0.8 and ev["server"] == "203.0.113.9:443"
    assert {"timing_score", "size_score", "coverage", "interval_mad_s", "first_seen"} <= set(ev)


def test_irregular_browsing_to_one_site_is_not_a_beacon() -> None:
    rng = random.Random(3)
    t, rows = T0, []
    for k in range(120):
        rows.append(_conn(t, up=rng.randint(300, 30000), fid=k + 1))
        t += int(rng.choice([rng.uniform(0.5, 5), rng.uniform(30, 900)]) * S)
    assert feed(Beacon(), [flows(*rows)]) == []


def test_infrastructure_ports_and_internal_servers_are_excluded_by_default() -> None:
    ntp = _beacon(dport=123, proto=17)
    resolver = _beacon(dst="10.0.0.53", dport=853, seed=2)
    assert feed(Beacon(), [flows(*ntp, *resolver)]) == []
    cfg = BeaconConfig(excluded_ports=(), include_internal=True)
    assert len(feed(Beacon(cfg), [flows(*ntp, *resolver)])) == 2  # periodic indeed


def test_too_few_connections_are_not_scored() -> None:
    assert feed(Beacon(), [flows(*_beacon(n=9))]) == []


def test_beacon_named_by_sni_across_rotating_addresses() -> None:
    """A CDN-fronted beacon changes address; its SNI stays: one alert, under the name."""
    rows, items = [], []
    for k, r in enumerate(_beacon(n=40)):
        r = replace(r, dest_ip=f"198.51.100.{k % 8 + 1}")
        rows.append(r)
        items.append(tls_event(r.first_ts, r.flow_id, client=r.src_ip, server=r.dest_ip,
                               sni="updates.example.net"))  # fmt: skip
    alerts = feed(Beacon(), [*items, flows(*rows)])
    assert names(alerts) == ["behaviour.beacon"]
    ev = alerts[0].alert.context["evidence"]  # type: ignore[index]
    assert ev["server_name"] == "updates.example.net" and len(ev["server_addresses"]) == 8


def test_scoring_parts() -> None:
    assert bowley(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))[0] == 0.0
    skew, med, mad = bowley(np.array([1.0, 1.0, 1.0, 2.0, 9.0, 30.0]))
    assert skew > 0 and med == 1.5 and mad > 0
    ts = [T0 + k * 60 * S for k in range(30)]
    s = score(ts, [500] * 30, observed_us=30 * 60 * S)
    assert s is not None and s.score > 0.95 and s.ts_mad == 0
    assert score(ts[:3], [500] * 3, observed_us=S) is None


def test_ticks_score_during_the_run_and_the_state_is_bounded() -> None:
    det = Beacon(BeaconConfig(max_pairs=5))
    corr = Correlator([det], HomeNet())
    out = []
    rows = _beacon(n=30)
    for r in rows:  # one flow at a time, as a worker hands them
        out += corr.flows(flows(r)) + corr.flush()
    assert names(out) == ["behaviour.beacon"]  # found on a tick, before the end
    many = [_conn(T0 + k * S, dst=f"192.0.2.{k}", fid=100 + k) for k in range(1, 20)]
    corr.flows(flows(*many))
    corr.flush()
    assert det.counters()["tracked"] == 5 and det.counters()["evicted"] > 0
    assert corr.errors == {}


def test_synthetic_two_hour_capture(tmp_path: Path) -> None:
    """60 s ± 3 s TLS-like beacon found; the irregular browser, the DNS to the site resolver
    and NTP every 64 s in the same capture are not."""
    alerts = analyze_alerts([FIXTURES / "beacon-60s-2h.pcap"], tmp_path, only=["behaviour.beacon"])
    assert names(alerts) == ["behaviour.beacon"]
    assert (alerts[0]["src_ip"], alerts[0]["dest_ip"]) == ("10.20.0.15", "203.0.113.50")
    assert 57 <= alerts[0]["alert"]["context"]["evidence"]["interval_median_s"] <= 63


def test_slips_curl_loop_capture(tmp_path: Path) -> None:
    """test-cc-capture-2: curl https://testing.com every 2-3 s (source 147.32.80.37)."""
    cfg = CorrelateConfig(home_net=("147.32.0.0/16",))
    alerts = analyze_alerts([FIXTURES / "slips-test-cc-capture-2.pcap"], tmp_path,
                            only=["behaviour.beacon"], config=cfg)  # fmt: skip
    assert names(alerts) == ["behaviour.beacon"]
    ev = alerts[0]["alert"]["context"]["evidence"]
    assert ev["server_name"] == "testing.com" and ev["connections"] >= 20


def test_thresholds_from_the_detect_config(tmp_path: Path) -> None:
    conf = tmp_path / "detect.yaml"
    conf.write_text("detectors:\n  behaviour.beacon: {threshold: 0.9, excluded_ports: [443]}\n")
    (det,) = build_detectors(replace(load_config(conf), enable=("behaviour.beacon",)))
    assert isinstance(det, Beacon) and det.cfg.excluded_ports == (443,)
    assert feed(det, [flows(*_beacon())]) == []  # its port is now excluded
