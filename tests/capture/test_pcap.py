"""Classic pcap reading: byte orders, resolutions, link-type field, batch and block boundaries."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tocsin.capture import open_capture

from .builders import Record, collect, frame, pcap, pcap_header, pcap_record, write

T0 = 1_700_000_000


def read(path: Path, **kw: int) -> list[tuple[int, bytes, int, int]]:
    cs = open_capture([path], **kw)
    packets = collect(cs.batches())
    assert cs.errors == []
    return packets


@pytest.mark.parametrize("big", [False, True])
def test_microsecond_both_byte_orders(tmp_path: Path, big: bool) -> None:
    records: list[Record] = [
        (T0, 1, frame(0)),
        (T0, 999_999, frame(1, 100), 1514),
        (T0 + 5, 0, b""),
    ]
    path = write(tmp_path / "a.pcap", pcap(records, big=big))
    assert read(path) == [
        (T0 * 1_000_000 + 1, frame(0), 60, 1),
        (T0 * 1_000_000 + 999_999, frame(1, 100), 1514, 1),
        ((T0 + 5) * 1_000_000, b"", 0, 1),
    ]


@pytest.mark.parametrize("big", [False, True])
def test_nanosecond_both_byte_orders(tmp_path: Path, big: bool) -> None:
    records = [(T0, 1_999, frame(0)), (T0 + 1, 999_999_999, frame(1))]
    path = write(tmp_path / "ns.pcap", pcap(records, big=big, nano=True, linktype=101))
    got = read(path)
    assert [p[0] for p in got] == [T0 * 1_000_000 + 1, (T0 + 1) * 1_000_000 + 999_999]
    assert [p[3] for p in got] == [101, 101]


def test_linktype_upper_bits_are_fcs_information(tmp_path: Path) -> None:
    data = bytearray(pcap([(T0, 0, frame(0))], linktype=113))
    struct.pack_into("<I", data, 20, 0x1000_0000 | (4 << 29) | 113)  # F bit + FCS length
    path = write(tmp_path / "fcs.pcap", bytes(data))
    assert read(path)[0][3] == 113


def test_kuznetzov_patched_format(tmp_path: Path) -> None:
    head = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    rec = struct.pack("<IIII", T0, 7, 4, 4) + b"\0" * 8 + b"abcd"
    path = write(tmp_path / "kuz.pcap", head + rec)
    assert read(path) == [(T0 * 1_000_000 + 7, b"abcd", 4, 1)]


def test_header_only_file_has_zero_packets(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.pcap", pcap_header())
    cs = open_capture([path])
    assert list(cs.batches()) == []
    assert cs.errors == []
    assert cs.packets_read == 0


def test_batches_are_bounded_by_batch_packets(tmp_path: Path) -> None:
    records = [(T0, i, frame(i)) for i in range(10)]
    path = write(tmp_path / "ten.pcap", pcap(records))
    cs = open_capture([path], batch_packets=3)
    sizes = []
    for b in cs.batches():
        b.validate()
        sizes.append(b.n)
    assert sizes == [3, 3, 3, 1]
    assert cs.packets_read == 10


@pytest.mark.parametrize("block_size", [1, 7, 16, 23, 50, 76, 77, 100, 4096])
def test_block_boundary_inside_a_record(tmp_path: Path, block_size: int) -> None:
    records = [(T0, i, frame(i, 30 + 7 * i)) for i in range(12)]
    path = write(tmp_path / "b.pcap", pcap(records))
    expected = read(path)
    assert len(expected) == 12
    assert read(path, block_size=block_size, batch_packets=5) == expected


def test_record_larger_than_the_block_grows_the_buffer(tmp_path: Path) -> None:
    big = bytes(range(256)) * 260  # 66560 bytes
    path = write(tmp_path / "jumbo.pcap", pcap([(T0, 0, big), (T0, 1, b"x")]))
    assert [p[1] for p in read(path, block_size=64)] == [big, b"x"]


def test_caplen_at_the_limit_is_accepted(tmp_path: Path) -> None:
    data = b"\xab" * 262144
    path = write(tmp_path / "max.pcap", pcap_header() + pcap_record(T0, 0, data))
    assert read(path)[0][1] == data
