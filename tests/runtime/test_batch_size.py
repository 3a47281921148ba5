"""The output does not depend on how packets are cut into batches: the same captures give the
same events (less the periodic counters) read 65,536 packets at a time with sub-batches of
1,024, and 50 at a time with sub-batches of 7 — parsers' skip decisions reach the flow kernel
at different packets, and no event may change for it (it did: out-of-order bytes inside a
skipped HTTP body left a hole, and the next transaction was logged at the flow's end)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from tocsin.runtime.analyze import analyze
from tocsin.runtime.applayer import AppConfig
from tocsin.runtime.pipeline import PipelineConfig

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = [
    ROOT / "samples" / "web-browsing.pcap",
    ROOT / "samples" / "smb2-file-share.pcap",
    ROOT / "samples" / "pacs-dicom-store.pcap",
    ROOT / "samples" / "hl7-feed.pcap",
    ROOT / "tests" / "fixtures" / "golden" / "http-dvwa-pcapng" / "input.pcapng",
    # an HTTP body whose segment overtook its start, then a second transaction
    ROOT / "tests" / "fixtures" / "runtime" / "http-ooo-in-skipped-body.pcap",
]


def _events(path: Path) -> Counter[str]:
    out: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        ev = json.loads(line)
        if ev["event_type"] == "stats" or ev.get("sensor", {}).get("kind") == "counters":
            continue
        out[json.dumps(ev, sort_keys=True)] += 1
    return out


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.parent.name + "/" + p.name)
def test_events_do_not_depend_on_the_batch_size(capture: Path, tmp_path: Path) -> None:
    base = PipelineConfig(writer_thread=False)
    analyze([capture], tmp_path / "big.json", base)
    small = replace(base, app=AppConfig(sub_batch=7))
    analyze([capture], tmp_path / "small.json", small, batch_packets=50)
    big, tiny = _events(tmp_path / "big.json"), _events(tmp_path / "small.json")
    assert big and big == tiny, (list((big - tiny).items())[:1], list((tiny - big).items())[:1])
