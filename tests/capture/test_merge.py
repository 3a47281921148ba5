"""Several files merged in time order: interleaved when they overlap, each file's order kept."""

from __future__ import annotations

import json
from pathlib import Path

from tocsin.capture import open_capture
from tocsin.runtime.analyze import analyze
from tocsin.runtime.pipeline import PipelineConfig

from .builders import collect, frame, pcap, write

T0 = 1_700_000_000
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_overlapping_files_interleave_by_time(tmp_path: Path) -> None:
    a = write(tmp_path / "a.pcap", pcap([(T0 + t, 0, frame(t)) for t in (1, 3, 5, 7)]))
    b = write(tmp_path / "b.pcap", pcap([(T0 + t, 0, frame(t)) for t in (2, 4, 6, 8)]))
    got = collect(open_capture([b, a], batch_packets=3).batches())
    assert [p[1] for p in got] == [frame(t) for t in range(1, 9)]


def test_each_file_keeps_its_own_order_when_its_time_goes_back(tmp_path: Path) -> None:
    # a's packet 3 is stamped before its packet 2 (capture jitter): it stays after 2
    a = write(tmp_path / "a.pcap", pcap([(T0 + 1, 0, frame(1)), (T0 + 5, 0, frame(2)),
                                         (T0 + 4, 0, frame(3))]))  # fmt: skip
    b = write(tmp_path / "b.pcap", pcap([(T0 + 2, 0, frame(10)), (T0 + 6, 0, frame(11))]))
    got = [p[1] for p in collect(open_capture([a, b]).batches())]
    assert got == [frame(1), frame(10), frame(2), frame(3), frame(11)]


def test_rotated_files_simply_follow_each_other(tmp_path: Path) -> None:
    files = [
        write(
            tmp_path / f"rot-{k}.pcap",
            pcap([(T0 + 10 * k + i, 0, frame(10 * k + i)) for i in range(5)]),
        )
        for k in range(4)
    ]
    cs = open_capture(files, batch_packets=2)
    got = collect(cs.batches())
    assert [p[1] for p in got] == [frame(10 * k + i) for k in range(4) for i in range(5)]
    assert cs.packets_read == 20 and cs.bytes_read == cs.bytes_total and cs.errors == []


def test_a_truncated_file_ends_but_the_merge_goes_on(tmp_path: Path) -> None:
    whole = pcap([(T0 + t, 0, frame(t)) for t in (1, 3, 5, 7)])
    a = write(tmp_path / "a.pcap", whole[: len(whole) - 30])  # the last packet is cut
    b = write(tmp_path / "b.pcap", pcap([(T0 + t, 0, frame(t)) for t in (2, 4, 6, 8)]))
    cs = open_capture([a, b])
    got = [p[1] for p in collect(cs.batches())]
    assert got == [frame(t) for t in (1, 2, 3, 4, 5, 6, 8)]
    assert (
        len(cs.errors) == 1 and "truncated" in str(cs.errors[0]) and "a.pcap" in str(cs.errors[0])
    )


def test_a_capture_split_in_two_gives_the_same_flows(tmp_path: Path) -> None:
    """syn-scan's packets dealt alternately into two files (as two SPAN ports would see one
    conversation): analysing both together gives exactly the flows of the original."""
    packets = collect(open_capture([SAMPLES / "syn-scan.pcapng"]).batches())
    halves = [tmp_path / "even.pcap", tmp_path / "odd.pcap"]
    for k, path in enumerate(halves):
        records = [(ts // 1_000_000, ts % 1_000_000, data) for ts, data, _, _ in packets[k::2]]
        write(path, pcap(records))
    original, split = tmp_path / "original.json", tmp_path / "split.json"
    analyze([SAMPLES / "syn-scan.pcapng"], original, PipelineConfig())
    analyze(halves, split, PipelineConfig())

    def flows(path: Path) -> list[dict]:  # type: ignore[type-arg]
        return [e for e in map(json.loads, path.read_text().splitlines())
                if e["event_type"] == "flow"]  # fmt: skip

    assert len(flows(original)) == 1994
    assert flows(split) == flows(original)
