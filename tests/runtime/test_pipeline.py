"""The pipeline's exception paths: fragments, stage errors, periodic stats (packet time)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tocsin.decode.defrag import Defragmenter
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _events(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_fragmented_echo_request_and_its_reply_are_one_flow(tmp_path: Path) -> None:
    """ipv4frags.pcap: a 1,428-byte echo request in fragments, then the reply (also
    fragmented). The reassembled request is accounted where its last fragment arrived, so the
    requester is the flow's source."""
    eve = tmp_path / "eve.json"
    result = analyze([FIXTURES / "defrag" / "ipv4frags.pcap"], eve, PipelineConfig())
    flows = [e for e in _events(eve) if e["event_type"] == "flow"]
    assert len(flows) == 1
    f = flows[0]
    assert (f["src_ip"], f["dest_ip"]) == ("2.1.1.2", "2.1.1.1")
    assert (f["icmp_type"], f["response_icmp_type"]) == (8, 0)
    assert f["flow"]["pkts_toserver"] == 1 and f["flow"]["pkts_toclient"] == 1
    assert result.counters["defrag.ipv4.reassembled"] == 1
    assert result.counters["decoder.pkts"] == 3  # reassembled datagrams are not wire packets


def test_a_failing_stage_is_counted_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Defragmenter, *args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated defragmenter bug")

    monkeypatch.setattr(Defragmenter, "add_ipv4", broken)
    eve = tmp_path / "eve.json"
    result = analyze([FIXTURES / "defrag" / "ipv4frags.pcap"], eve, PipelineConfig())
    assert result.counters["tocsin.internal_errors.defrag"] == 2
    assert any("internal error" in what for what in result.drops)
    sensor = [e for e in _events(eve) if e["event_type"] == "sensor"][-1]
    assert sensor["sensor"]["counters"]["tocsin.internal_errors.defrag"] == 2


def test_stats_follow_packet_time(tmp_path: Path) -> None:
    """syn-scan.pcapng: 2,011 packets, nearly all in its first 5.2 s, the last one at 23 s.
    With 5 s intervals (packet time) and small batches: a stats event once the capture passes
    5 s, one when the last packet jumps to 23 s, and the final one at the end of the run."""
    eve = tmp_path / "eve.json"
    analyze(
        [SAMPLES / "syn-scan.pcapng"], eve, PipelineConfig(stats_interval_s=5), batch_packets=64
    )
    stats = [e for e in _events(eve) if e["event_type"] == "stats"]
    assert [s["stats"]["uptime"] for s in stats] == [5, 23, 23]
    assert stats[-1]["timestamp"] == "2010-07-04T20:24:39.360213+0000"
    assert stats[-1]["stats"]["decoder"]["pkts"] == 2011
    assert stats[-1]["stats"]["flow"]["total"] == 1994
    assert stats[-1]["stats"]["flow"]["active"] == 0  # after the end-of-run flush


def test_same_capture_any_batch_size_same_flows(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    analyze([SAMPLES], a, PipelineConfig())
    analyze([SAMPLES], b, PipelineConfig(), batch_packets=97)
    flows_a = [e for e in _events(a) if e["event_type"] == "flow"]
    flows_b = [e for e in _events(b) if e["event_type"] == "flow"]
    assert len(flows_a) > 2000
    assert flows_a == flows_b


def test_fragment_cache_full_raises_one_self_alert(tmp_path: Path) -> None:
    """A fragment flood past the defragmenter's tracker cap: counted, and one self-alert."""
    import struct

    from tocsin.capture.batch import LINKTYPE_RAW

    def frag(ident: int) -> bytes:  # the first fragment of a datagram that never completes
        payload = b"x" * 16
        hdr = struct.pack(
            "!BBHHHBBH4s4s",
            0x45,
            0,
            20 + 16,
            ident,
            0x2000,
            64,
            17,
            0,
            bytes([10, 0, 0, 1]),
            bytes([10, 0, 0, 2]),
        )
        return hdr + payload

    pcap = tmp_path / "frags.pcap"
    with pcap.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        for k in range(200):
            data = frag(k)
            fh.write(struct.pack("<IIII", 1_700_000_000, k, len(data), len(data)) + data)
    eve = tmp_path / "eve.json"
    result = analyze([pcap], eve, PipelineConfig(defrag_max_trackers=16))
    assert result.counters["defrag.max_trackers_reached"] > 100
    alerts = [e for e in _events(eve) if e["event_type"] == "alert"]
    assert [a["alert"]["signature_id"] for a in alerts] == [9_000_003]
