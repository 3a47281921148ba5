"""open_capture: several files and directories in time order, gzip, counters, error collection."""

from __future__ import annotations

import gzip
from pathlib import Path

from tocsin.capture import CaptureSet, TruncatedCapture, open_capture

from .builders import collect, epb, frame, idb, pcap, shb, write

T0 = 1_700_000_000
US = T0 * 1_000_000


def one(t: int, i: int, size: int = 60) -> bytes:
    return pcap([(T0 + t, 0, frame(i, size))])


def test_files_are_read_in_first_packet_order(tmp_path: Path) -> None:
    a = write(tmp_path / "a.pcap", pcap([(T0 + 300, 0, frame(3)), (T0 + 301, 0, frame(4))]))
    b = write(tmp_path / "b.pcap", one(100, 1))
    c = write(tmp_path / "c.pcapng", shb() + idb(1) + epb(0, US + 200_000_000, frame(2)))
    cs = open_capture([a, b, c])
    assert cs.files == [b, c, a]
    assert [p[1] for p in collect(cs.batches())] == [frame(i) for i in (1, 2, 3, 4)]
    assert cs.errors == []


def test_ties_and_empty_files_are_ordered_by_path(tmp_path: Path) -> None:
    z = write(tmp_path / "z.pcap", one(5, 1))
    y = write(tmp_path / "y.pcap", one(5, 2))
    empty = write(tmp_path / "0-empty.pcap", pcap([]))
    assert open_capture([z, empty, y]).files == [y, z, empty]


def test_directory_is_expanded_recursively(tmp_path: Path) -> None:
    d = tmp_path / "captures"
    write(d / "2024" / "late.pcap", one(30, 3))
    write(d / "early.pcapng.gz", gzip.compress(shb() + idb(1) + epb(0, US + 10_000_000, frame(1))))
    write(d / "2023" / "middle.cap", one(20, 2))
    write(d / "README.md", b"# not a capture")
    write(d / "eve.json.gz", gzip.compress(b'{"event_type": "alert"}'))
    write(d / "tiny", b"\xd4")
    single = write(tmp_path / "first.pcap", one(0, 0))
    cs = open_capture([d, single, d / "2024" / "late.pcap"])  # late.pcap named twice: read once
    assert [f.name for f in cs.files] == [
        "first.pcap",
        "early.pcapng.gz",
        "middle.cap",
        "late.pcap",
    ]
    assert [p[1] for p in collect(cs.batches())] == [frame(i) for i in range(4)]


def test_a_single_path_string_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path / "one.pcap", one(0, 0))
    assert open_capture(str(path)).files == [path]


def test_gzip_pcap_and_multi_member_gzip(tmp_path: Path) -> None:
    records = [(T0, i, frame(i)) for i in range(100)]
    data = pcap(records)
    members = gzip.compress(data[:1000]) + gzip.compress(data[1000:])
    path = write(tmp_path / "m.pcap.gz", members)
    cs = open_capture([path], block_size=256, batch_packets=7)
    assert [p[1] for p in collect(cs.batches())] == [frame(i) for i in range(100)]
    assert cs.errors == []
    assert cs.bytes_read == cs.bytes_total == len(members)


def test_truncation_ends_the_file_and_reading_goes_on(tmp_path: Path) -> None:
    cut = write(tmp_path / "cut.pcap", (one(0, 0) + one(1, 1)[24:])[:-10])
    nxt = write(tmp_path / "next.pcap", one(5, 2))
    cs = open_capture([nxt, cut])
    assert [p[1] for p in collect(cs.batches())] == [frame(0), frame(2)]
    assert len(cs.errors) == 1
    assert isinstance(cs.errors[0], TruncatedCapture)
    assert cs.errors[0].path == cut


def test_progress_counters(tmp_path: Path) -> None:
    a = write(tmp_path / "a.pcap", pcap([(T0, i, frame(i)) for i in range(10)]))
    b = write(tmp_path / "b.pcapng", shb() + idb(1) + idb(147) + epb(1, US, frame(0)))
    cs = open_capture([a, b], batch_packets=4)
    assert cs.bytes_total == a.stat().st_size + b.stat().st_size
    assert (cs.bytes_read, cs.packets_read, cs.current_file) == (0, 0, None)
    seen = []
    for batch in cs.batches():
        seen.append((cs.current_file, cs.packets_read, batch.n))
        assert 0 < cs.bytes_read <= cs.bytes_total
    assert seen == [(a, 4, 4), (a, 8, 4), (a, 10, 2)]
    assert cs.bytes_read == cs.bytes_total
    assert cs.packets_read == 10
    assert cs.skipped_packets == {"unsupported linktype 147": 1}
    assert cs.current_file is None
    assert len(cs.errors) == 1


def test_batches_restart_and_context_manager(tmp_path: Path) -> None:
    path = write(tmp_path / "a.pcap", pcap([(T0, i, frame(i)) for i in range(5)]))
    with open_capture([path], batch_packets=2) as cs:
        assert isinstance(cs, CaptureSet)
        first = next(cs.batches())
        assert first.n == 2
        assert len(collect(cs.batches())) == 5
        assert cs.packets_read == 5
    assert cs.current_file is None
