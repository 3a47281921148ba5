"""Runs a capture through the real pipeline with rules, returns the EVE events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgspec
import pytest

from detect.engine.pcapkit import Capture
from tocsin.detect.engine import DetectEngine
from tocsin.detect.rules.loader import load_rules
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

Run = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    counter = [0]

    def _run(rules: str, cap: Capture | Path, sub_batch: int | None = None) -> list[dict[str, Any]]:
        counter[0] += 1
        k = counter[0]
        rf = tmp_path / f"r{k}.rules"
        rf.write_text(rules)
        rs = load_rules([rf])
        assert not rs.skipped, [(s.keyword, s.reason) for s in rs.skipped]
        pcap = cap if isinstance(cap, Path) else cap.write(tmp_path / f"c{k}.pcap")
        config = PipelineConfig(writer_thread=False)
        if sub_batch is not None:
            config = replace(config, app=replace(config.app, sub_batch=sub_batch))
        eve = tmp_path / f"e{k}.json"
        analyze([pcap], eve, config, detect=DetectEngine(rs.rules))
        return [msgspec.json.decode(line) for line in eve.read_bytes().splitlines()]

    return _run


def alerts(events: list[dict[str, Any]], sid: int | None = None) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["event_type"] == "alert"
        and e["alert"]["gid"] != 9
        and (sid is None or e["alert"]["signature_id"] == sid)
    ]
