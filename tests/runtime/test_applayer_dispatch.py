"""The app-layer dispatcher end to end (capture → kernel probes → reassembly → parser → EVE),
with small test parsers standing in for the real ones, so each contract point is checked on
its own: ordering, batch independence, skip/done reaching the kernel, errors contained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tocsin.applayer.base import AppParser, ParseError
from tocsin.applayer.protos import ALPROTO_DNS, ALPROTO_HTTP
from tocsin.applayer.registry import Registry
from tocsin.model.app import AppEvent
from tocsin.runtime.analyze import analyze
from tocsin.runtime.applayer import AppConfig
from tocsin.runtime.pipeline import PipelineConfig

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
HTTP_PCAP = GOLDEN / "sll-http" / "input.pcap"
DNS_PCAP = GOLDEN / "dns-ipv4-ipv6" / "input.pcap"


class ProbeInfo(msgspec.Struct, frozen=True):
    n: int
    head: str


class ProbeEvent(AppEvent, frozen=True, kw_only=True, tag="probe"):
    probe: ProbeInfo


class Echo(AppParser):
    """Emits one event per chunk: its length and first bytes."""

    name = "probe"

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        self.emit(ProbeEvent, ProbeInfo(len(data), data[:12].decode("latin-1")), direction, ts_us)


class EchoUdp(Echo):
    datagram = True


class HeadOnly(AppParser):
    """Reads the first chunk of each direction, then asks to skip 1 MB."""

    name = "probe"

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        self.emit(ProbeEvent, ProbeInfo(len(data), data[:4].decode("latin-1")), direction, ts_us)
        self.skip[direction] = 1 << 20


class Broken(AppParser):
    name = "probe"

    def feed(self, direction: int, data: bytes, ts_us: int) -> None:
        if data.startswith(b"GET"):
            raise ParseError("not what I expected")
        raise KeyError("a bug")


def run(
    tmp_path: Path, pcap: Path, reg: Registry, batch: int = 65536, **app: Any
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    eve = tmp_path / f"eve-{batch}.json"
    res = analyze(
        [pcap], eve, PipelineConfig(app=AppConfig(**app)), batch_packets=batch, registry=reg
    )
    return [json.loads(x) for x in eve.read_text().splitlines()], res.counters


def test_events_carry_the_flow_header_and_come_before_their_flow(tmp_path: Path) -> None:
    evs, _ = run(tmp_path, HTTP_PCAP, Registry({ALPROTO_HTTP: Echo}))
    probes = [e for e in evs if e["event_type"] == "probe"]
    assert probes[0]["probe"]["head"].startswith("POST /log4sh")
    first = probes[0]
    assert (first["dest_port"], first["proto"], first["pcap_cnt"]) == (8080, "TCP", 4)
    assert first["community_id"].startswith("1:")
    order = [(e["event_type"], e.get("flow_id")) for e in evs]
    for e in probes:  # every app event precedes its flow's flow event
        assert order.index(("probe", e["flow_id"])) < order.index(("flow", e["flow_id"]))
    http = [e for e in evs if e["event_type"] == "flow" and e.get("app_proto") == "http"]
    assert {e["flow_id"] for e in http} == {e["flow_id"] for e in probes}


def test_output_does_not_depend_on_batch_boundaries(tmp_path: Path) -> None:
    reg = Registry({ALPROTO_HTTP: Echo}, {ALPROTO_DNS: EchoUdp})
    for pcap in (HTTP_PCAP, DNS_PCAP):
        big, _ = run(tmp_path, pcap, reg)
        small, _ = run(tmp_path, pcap, reg, batch=3)
        keep = ("probe", "flow")
        assert [e for e in big if e["event_type"] in keep] == [
            e for e in small if e["event_type"] in keep
        ]


def test_udp_datagrams_are_fed_one_by_one_and_by_packet(tmp_path: Path) -> None:
    evs, counters = run(tmp_path, DNS_PCAP, Registry({}, {ALPROTO_DNS: EchoUdp}))
    probes = [e for e in evs if e["event_type"] == "probe"]
    assert len(probes) >= 4
    assert all(e["proto"] == "UDP" for e in probes)
    assert counters["app_layer.flow.dns_udp"] >= 2
    assert counters["app_layer.tx.dns_udp"] == len(probes)


def test_skipped_bytes_never_reach_python(tmp_path: Path) -> None:
    _, echo = run(tmp_path, HTTP_PCAP, Registry({ALPROTO_HTTP: Echo}), batch=2)
    evs, head = run(tmp_path, HTTP_PCAP, Registry({ALPROTO_HTTP: HeadOnly}), batch=2)
    assert head["app_layer.packets_parsed"] < echo["app_layer.packets_parsed"]
    assert head["app_layer.packets_python"] < echo["app_layer.packets_python"]
    assert head["app_layer.skipped_bytes"] > 0
    heads = [e["probe"]["head"] for e in evs if e["event_type"] == "probe"]
    assert "POST" in heads and "HTTP" in heads


def test_parser_errors_are_counted_and_contained(tmp_path: Path) -> None:
    evs, counters = run(tmp_path, HTTP_PCAP, Registry({ALPROTO_HTTP: Broken}))
    anomalies = [e for e in evs if e["event_type"] == "anomaly"]
    assert anomalies and all(a["anomaly"]["type"] == "applayer" for a in anomalies)
    assert anomalies[0]["anomaly"]["app_proto"] == "http"
    assert counters["app_layer.error.http.parser"] == len(anomalies)
    assert counters["app_layer.error.http.internal"] >= 1
    assert any(e["event_type"] == "flow" and e.get("app_proto") == "http" for e in evs)


def test_without_midstream_connections_without_handshake_are_not_parsed(
    tmp_path: Path,
) -> None:
    reg = Registry({ALPROTO_HTTP: Echo})
    with_mid, _ = run(tmp_path, HTTP_PCAP, reg)
    without, _ = run(tmp_path, HTTP_PCAP, reg, midstream=False)
    n_with = sum(e["event_type"] == "probe" for e in with_mid)
    n_without = sum(e["event_type"] == "probe" for e in without)
    assert 0 < n_without <= n_with


@pytest.mark.parametrize("enabled", [False])
def test_app_layer_off_costs_nothing(tmp_path: Path, enabled: bool) -> None:
    evs, counters = run(tmp_path, HTTP_PCAP, Registry({ALPROTO_HTTP: Echo}), enabled=enabled)
    assert not any(e["event_type"] == "probe" for e in evs)
    assert not any("app_proto" in e for e in evs if e["event_type"] == "flow")
    assert "app_layer.packets_python" not in counters
