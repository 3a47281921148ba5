"""Load shedding (`runtime.shed`): under overload a live sensor stops, in a fixed order,
scanning bulk payloads with signatures, then parsing web, mail and FTP — and says so: every
shed counted, a self-alert on entering a level, a `sensor` event on leaving it. Flows,
other protocols and alerts never stop. Driven here through the pipeline a live sensor runs,
on the bundled web-browsing sample."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from tocsin.capture import open_capture
from tocsin.detect.cache import load_engine
from tocsin.output.sink import EveSink
from tocsin.runtime.pipeline import Pipeline, PipelineConfig
from tocsin.runtime.shed import Shedder

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "web-browsing.pcap"
# one rule on a byte every HTML page carries: it fires on bulk packets deep in a flow
RULES = 'alert tcp any 80 -> any any (msg:"html in a response"; content:"<"; sid:1;)\n'


def run(tmp_path: Path, level: int, *, until_packet: int | None = None) -> list[dict[str, Any]]:
    """The sample through a pipeline shedding `level` from its first packet (and back to
    0 at packet `until_packet`); the EVE events."""
    rules = tmp_path / "r.rules"
    rules.write_text(RULES)
    engine = load_engine([rules], use_cache=False).engine
    eve = tmp_path / f"eve-{level}-{until_packet}.json"
    sink = EveSink(eve)
    pipeline = Pipeline(PipelineConfig(writer_thread=False), sink, detect=engine)
    with open_capture([SAMPLE], batch_packets=50) as cap:
        for batch in cap.batches():
            if pipeline.packets == 0:
                pipeline.shed(level, int(batch.ts_us[0]))
            if until_packet is not None and pipeline.packets >= until_packet:
                pipeline.shed(0, int(batch.ts_us[0]))
            pipeline.process(batch)
        pipeline.finish()
    sink.close()
    return [json.loads(line) for line in eve.read_text().splitlines()]


def _sids(events: list[dict[str, Any]]) -> Counter[int]:
    return Counter(e["alert"]["signature_id"] for e in events if e["event_type"] == "alert")


def _last_counters(events: list[dict[str, Any]]) -> dict[str, int]:
    counters: dict[str, int] = [
        e["sensor"]["counters"]
        for e in events
        if e["event_type"] == "sensor" and e["sensor"]["kind"] == "counters"
    ][-1]
    return counters


def test_the_level_follows_the_lag_and_gives_a_level_back_only_well_under_it() -> None:
    s = Shedder()
    lags = [0.1, 1.5, 3.5, 2.0, 0.7, 0.3, 0.2, 0.1]
    assert [s.level_for(x) for x in lags] == [0, 1, 2, 2, 1, 1, 0, 0]


def test_payload_inspection_goes_first_counted_and_said(tmp_path: Path) -> None:
    full = run(tmp_path, 0)
    shed = run(tmp_path, 1)
    assert 0 < _sids(shed)[1] < _sids(full)[1]  # flows' first packets are still scanned
    c = _last_counters(shed)
    assert c["shed.level"] == 1 and c["shed.payload_packets"] > 0
    assert _last_counters(full)["shed.payload_packets"] == 0
    assert _sids(shed)[9_000_004] == 1  # the self-alert, once
    said = [e for e in shed if e["event_type"] == "sensor" and e["sensor"]["kind"] == "shedding"]
    assert len(said) == 1 and "overloaded since" in said[0]["sensor"]["message"]
    flows = [e for e in shed if e["event_type"] == "flow"]
    assert len(flows) == len([e for e in full if e["event_type"] == "flow"])  # never shed


def test_then_web_parsing_and_everything_comes_back(tmp_path: Path) -> None:
    full = run(tmp_path, 0)
    shed = run(tmp_path, 2)
    kinds = Counter(e["event_type"] for e in shed)
    ref = Counter(e["event_type"] for e in full)
    assert ref["http"] > 0 and kinds["http"] == 0
    assert kinds["dns"] == ref["dns"] and kinds["flow"] == ref["flow"]
    assert _last_counters(shed)["shed.app_layer_flows"] > 0
    assert _sids(shed)[9_000_004] == 1 and _sids(shed)[9_000_005] == 1
    back = run(tmp_path, 2, until_packet=100)
    over = [e["sensor"] for e in back if e["event_type"] == "sensor"]
    assert [s["kind"] for s in over if s["kind"].startswith("shedding")] == [
        "shedding",
        "shedding",
        "shedding_over",
        "shedding_over",
    ]
    assert Counter(e["event_type"] for e in back)["http"] > 0  # parsed again
    assert _last_counters(back)["shed.level"] == 0
