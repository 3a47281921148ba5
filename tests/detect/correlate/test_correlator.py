"""The correlator's contract: dispatch, ticks in packet time whatever the batching, folding,
a failing detector counted and isolated, configuration errors that name what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from correlate_kit import flows
from tocsin.detect.correlate.config import (
    ConfigError,
    CorrelateConfig,
    build_detectors,
    load_config,
)
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.correlate.netclass import HomeNet
from tocsin.detect.correlate.plugin import Context, Detector, DetectorInfo, Finding
from tocsin.detect.correlate.registry import available
from tocsin.model.flows import FlowBatch, FlowRow

S = 1_000_000


def _info(name: str) -> DetectorInfo:
    return DetectorInfo(name, 8_999_001, f"TEST {name}", "Misc activity", "T0000", "TA0000")


class Counter(Detector):
    """Counts flows seen between ticks; reports the count at each tick."""

    info = _info("test.counter")
    subscribes = frozenset({"flow"})
    tick_s = 10

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.seen = 0

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        self.seen += flows.n

    def on_tick(self, ctx: Context) -> None:
        ctx.emit(Finding(key=str(ctx.now_us), ts_us=ctx.now_us, evidence={"seen": self.seen}))


class Broken(Detector):
    info = _info("test.broken")
    subscribes = frozenset({"flow"})

    def on_flows(self, flows: FlowBatch, ctx: Context) -> None:
        raise ZeroDivisionError


def _rows(n: int) -> list[FlowRow]:
    return [
        FlowRow("10.0.0.1", "10.0.0.2", 1000 + i, 80, first_ts=i * S, last_ts=i * S)
        for i in range(n)
    ]


def _run(batches: list[list[FlowRow]]) -> list[Any]:
    corr = Correlator([Counter()], HomeNet())
    out = []
    for b in batches:
        out += corr.flows(flows(*b)) + corr.flush()
    out += corr.finish(corr.now_us)
    return [(a.timestamp, a.alert.context["evidence"]["seen"]) for a in out]


def test_ticks_fall_between_the_same_flows_whatever_the_batching() -> None:
    rows = _rows(35)
    whole = _run([rows])
    pieces = _run([rows[:3], rows[3:17], rows[17:18], rows[18:]])
    assert whole == pieces
    # ticks at 10 s, 20 s, 30 s of packet time, each after the flows before it, then the end
    assert [seen for _, seen in whole] == [10, 20, 30, 35]


def test_a_failing_detector_is_counted_and_the_others_go_on() -> None:
    corr = Correlator([Broken(), Counter()], HomeNet())
    corr.flows(flows(*_rows(12)))  # split by the ticks at 10 s: two calls
    corr.flush()
    assert corr.errors == {"test.broken": 2}
    assert corr.counter_dict()["correlate.errors.test.broken"] == 2
    assert corr.alerts.get("test.counter") == 1


def test_builtin_detectors_have_unique_stable_identities() -> None:
    classes = available()
    assert "behaviour.port_scan" in classes
    sids = [c.info.signature_id for c in classes.values()]
    assert len(sids) == len(set(sids))
    for name, cls in classes.items():
        i = cls.info
        assert i.name == name and name.count(".") >= 1
        assert 8_000_000 <= i.signature_id <= 8_999_999
        assert i.technique.startswith("T") and i.tactic.startswith("TA")
        assert 1 <= i.severity <= 3 and i.confidence in ("low", "medium", "high")


def test_config_file_sets_thresholds_and_selection(tmp_path: Path) -> None:
    p = tmp_path / "d.yaml"
    p.write_text(
        "home_net: [10.0.0.0/8]\nrealert_s: 60\ndetectors:\n  behaviour.port_scan: {min_ports: 5}\n"
    )
    cfg = load_config(p)
    dets = {d.info.name: d for d in build_detectors(cfg)}
    assert dets["behaviour.port_scan"].config.min_ports == 5
    assert cfg.home_net == ("10.0.0.0/8",) and cfg.realert_s == 60
    only = build_detectors(CorrelateConfig(enable=("behaviour.port_scan",)))
    assert [d.info.name for d in only] == ["behaviour.port_scan"]
    assert "behaviour.port_scan" not in {
        d.info.name for d in build_detectors(CorrelateConfig(disable=("behaviour",)))
    }


@dataclass
class _Case:
    text: str
    message: str


@pytest.mark.parametrize(
    "case",
    [
        _Case("detectors:\n  behaviour.nope: {}\n", "unknown detector 'behaviour.nope'"),
        _Case(
            "detectors:\n  behaviour.port_scan: {min_portz: 3}\n", "min_portz: unknown threshold"
        ),
        _Case("detectors:\n  behaviour.port_scan: {min_ports: many}\n", "expected int"),
        _Case("colour: blue\n", "unknown key 'colour'"),
        _Case("home_net: [10.0.0.0/33]\n", "home_net: '10.0.0.0/33' is not a network"),
        _Case("disable: [nothing.here]\n", "no detector matches 'nothing.here'"),
        _Case("detectors: [1, 2\n", "not valid YAML"),
    ],
)
def test_config_errors_name_the_file_and_the_key(tmp_path: Path, case: _Case) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(case.text)
    with pytest.raises(ConfigError) as e:
        build_detectors(load_config(p))
    assert str(p) in str(e.value) and case.message in str(e.value)


class DnsWatcher(Detector):
    info = _info("test.dns")
    subscribes = frozenset({"dns"})

    def on_event(self, ev: Any, ctx: Context) -> None:
        ctx.emit(Finding(key=ev.src_ip, ts_us=ctx.now_us, evidence={}, src_ip=ev.src_ip))


def test_app_events_reach_the_detectors_subscribed_to_their_type() -> None:
    from tocsin.model.dns import DnsEvent, DnsInfo
    from tocsin.model.http import HttpEvent, HttpInfo

    common: dict[str, Any] = {
        "timestamp": "2024-01-01T00:00:01.000000+0000",
        "flow_id": 1,
        "src_ip": "10.0.0.1",
        "dest_ip": "10.0.0.53",
        "proto": "UDP",
    }
    corr = Correlator([DnsWatcher()], HomeNet())
    assert corr.event(HttpEvent(**common, http=HttpInfo(hostname="x"))) == []
    info = DnsInfo(version=3, type="request", tx_id=0, id=1, flags="100", opcode=0, rcode="NOERROR")
    dns = DnsEvent(**common, dns=info)
    (alert,) = corr.event(dns)
    assert alert.src_ip == "10.0.0.1"
    assert alert.timestamp == "2024-01-01T00:00:01.000000+0000"  # packet time, not wall clock


def _dns_events(types: list[str]) -> list[Any]:
    from tocsin.model.dns import DnsEvent, DnsInfo

    out = []
    for i, t in enumerate(types):
        info = DnsInfo(version=3, type=t, tx_id=i, id=i, flags="100", opcode=0, rcode="NOERROR")
        out.append(
            DnsEvent(
                timestamp=f"2024-01-01T00:00:{i + 1:02d}.000000+0000",
                flow_id=i + 1,
                src_ip=f"10.0.0.{i + 1}",
                dest_ip="10.0.0.53",
                proto="UDP",
                dns=info,
            )
        )
    return out


calls: list[str] = []


def _is_request(ev: Any) -> bool:
    calls.append("request?")
    return bool(ev.dns.type == "request")


def _broken(ev: Any) -> bool:
    raise KeyError("no such field")


class Requests(DnsWatcher):
    info = _info("test.requests")
    prefilter = {"dns": _is_request}  # noqa: RUF012


class AlsoRequests(DnsWatcher):
    info = _info("test.also_requests")
    prefilter = {"dns": _is_request}  # noqa: RUF012


class Undecided(DnsWatcher):
    info = _info("test.undecided")
    prefilter = {"dns": _broken}  # noqa: RUF012


def test_a_prefilter_keeps_only_its_events_and_runs_once_for_the_detectors_sharing_it() -> None:
    calls.clear()
    corr = Correlator([Requests(), AlsoRequests(), DnsWatcher()], HomeNet(), realert_s=0)
    alerts = corr.events(_dns_events(["request", "response", "request"]))
    by = [(a.alert.metadata["detector"][0], a.src_ip) for a in alerts]
    assert by == [
        ("test.requests", "10.0.0.1"),
        ("test.also_requests", "10.0.0.1"),
        ("test.dns", "10.0.0.1"),
        ("test.dns", "10.0.0.2"),  # the response reaches only the detector without a filter
        ("test.requests", "10.0.0.3"),
        ("test.also_requests", "10.0.0.3"),
        ("test.dns", "10.0.0.3"),
    ]
    assert calls == ["request?"] * 3  # one call per event, not one per detector


def test_an_event_no_prefilter_keeps_is_dropped_before_it_moves_packet_time() -> None:
    corr = Correlator([Requests()], HomeNet(), realert_s=0)
    assert corr.events(_dns_events(["response"])) == []
    assert corr.now_us == 0
    (alert,) = corr.events(_dns_events(["request"]))
    assert corr.now_us > 0 and alert.src_ip == "10.0.0.1"


def test_a_prefilter_that_raises_lets_the_event_through() -> None:
    corr = Correlator([Undecided()], HomeNet(), realert_s=0)
    (alert,) = corr.events(_dns_events(["response"]))
    assert alert.alert.metadata["detector"] == ["test.undecided"]
    assert corr.errors == {}
