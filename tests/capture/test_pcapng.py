"""pcapng reading: interfaces, timestamp resolutions, SPB, PB, mid-file SHB, skipped blocks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.capture import UnsupportedLinkType, open_capture

from .builders import block, collect, epb, frame, idb, pb, shb, spb, write

T0 = 1_700_000_000
US = T0 * 1_000_000


def read(path: Path, **kw: int) -> list[tuple[int, bytes, int, int]]:
    cs = open_capture([path], **kw)
    packets = collect(cs.batches())
    assert cs.errors == []
    return packets


@pytest.mark.parametrize("big", [False, True])
def test_two_interfaces_of_different_linktype_and_tsresol(tmp_path: Path, big: bool) -> None:
    data = (
        shb(big=big)
        + idb(1, big=big)  # Ethernet, default µs
        + idb(101, tsresol=9, big=big)  # raw IP, ns
        + epb(0, US + 5, frame(0), 1514, big=big)
        + epb(1, T0 * 10**9 + 6_789, frame(1, 40), big=big)
        + epb(0, US + 7, frame(2), big=big)
    )
    path = write(tmp_path / "two.pcapng", data)
    assert read(path) == [
        (US + 5, frame(0), 1514, 1),
        (US + 6, frame(1, 40), 40, 101),
        (US + 7, frame(2), 60, 1),
    ]


def test_tsresol_power_of_two_power_of_ten_and_tsoffset(tmp_path: Path) -> None:
    data = (
        shb()
        + idb(1, tsresol=0x80 | 10)  # 1/1024 s
        + idb(1, tsresol=3, tsoffset=T0)  # ms, plus offset in seconds
        + idb(1, tsresol=12, tsoffset=T0)  # ps (u64 ps only span 213 days: offset needed)
        + epb(0, 1024 * 10 + 512, frame(0))
        + epb(1, 1_500, frame(1))
        + epb(2, 7_000_999, frame(2))
    )
    path = write(tmp_path / "res.pcapng", data)
    assert [p[0] for p in read(path)] == [10_500_000, US + 1_500_000, US + 7]


def test_simple_packet_block_caplen_and_timestamp(tmp_path: Path) -> None:
    data = (
        shb()
        + idb(1, snaplen=40)
        + epb(0, US + 9, frame(0, 20))
        + spb(frame(1, 60), wirelen=100)  # snaplen wins: 40
        + spb(frame(2, 18), wirelen=18)  # padded to 20 in the block: original length wins
        + spb(frame(3, 30), wirelen=30)
    )
    path = write(tmp_path / "spb.pcapng", data)
    assert read(path) == [
        (US + 9, frame(0, 20), 20, 1),
        (US + 9, frame(1, 40), 100, 1),
        (US + 9, frame(2, 18), 18, 1),
        (US + 9, frame(3, 30), 30, 1),
    ]


def test_obsolete_packet_block(tmp_path: Path) -> None:
    data = shb() + idb(113) + pb(0, US + 3, frame(0))
    assert read(write(tmp_path / "pb.pcapng", data)) == [(US + 3, frame(0), 60, 113)]


def test_mid_file_shb_switches_byte_order_and_resets_interfaces(tmp_path: Path) -> None:
    data = (
        shb()
        + idb(1)
        + epb(0, US + 1, frame(0))
        + shb(big=True)
        + idb(101, tsresol=9, big=True)
        + epb(0, (T0 + 1) * 10**9, frame(1), big=True)
    )
    path = write(tmp_path / "sections.pcapng", data)
    assert read(path) == [(US + 1, frame(0), 60, 1), (US + 1_000_000, frame(1), 60, 101)]


def test_other_blocks_are_skipped(tmp_path: Path) -> None:
    nrb = block(4, b"\x01\x00\x08\x00" + bytes([10, 0, 0, 1]) + b"host\0\0\0\0" + b"\0" * 4)
    custom = block(0x00000BAD, b"\x00\x00\x7f\xff" + b"whatever")
    data = shb() + nrb + idb(1) + custom + epb(0, US, frame(0)) + block(5, b"\0" * 12)
    assert read(write(tmp_path / "other.pcapng", data)) == [(US, frame(0), 60, 1)]


@pytest.mark.parametrize("block_size", [1, 5, 13, 28, 64, 99, 4096])
def test_block_boundaries(tmp_path: Path, block_size: int) -> None:
    data = shb() + idb(1) + idb(228, tsresol=9)
    for i in range(9):
        data += epb(i % 2, US + i if i % 2 == 0 else (US + i) * 1000, frame(i, 20 + 11 * i))
        if i == 4:
            data += spb(frame(99, 33)) + shb() + idb(228) + idb(1)
    path = write(tmp_path / "bs.pcapng", data)
    expected = read(path)
    assert len(expected) == 10
    assert read(path, block_size=block_size, batch_packets=3) == expected


def test_unsupported_interface_is_skipped_and_reported(tmp_path: Path) -> None:
    data = (
        shb()
        + idb(1)
        + idb(147)  # LINKTYPE_USER0
        + idb(147)  # the same link type again: no second error
        + epb(1, US, frame(0))
        + epb(0, US + 1, frame(1))
        + epb(2, US + 2, frame(2))
    )
    path = write(tmp_path / "user0.pcapng", data)
    cs = open_capture([path])
    assert [p[1] for p in collect(cs.batches())] == [frame(1)]
    assert cs.skipped_packets == {"unsupported linktype 147": 2}
    assert [str(e) for e in cs.errors] == [
        f"{path}: interface 1 (block at byte 48) has unsupported link type 147 (supported: 0, 1, "
        "12, 14, 101, 108, 113, 228, 229, 276); packets of interfaces with this link type are "
        "skipped"
    ]
    assert isinstance(cs.errors[0], UnsupportedLinkType)


def test_no_usable_interface_raises_at_open(tmp_path: Path) -> None:
    data = shb() + idb(147) + idb(148) + epb(0, US, frame(0))
    path = write(tmp_path / "user.pcapng", data)
    with pytest.raises(UnsupportedLinkType) as info:
        open_capture([path])
    assert str(info.value) == (
        f"{path}: no usable interface: interface 0 (block at byte 28) has unsupported link type "
        "147 (supported: 0, 1, 12, 14, 101, 108, 113, 228, 229, 276)"
    )


def test_section_without_packets(tmp_path: Path) -> None:
    path = write(tmp_path / "nopk.pcapng", shb() + idb(1))
    cs = open_capture([path])
    assert list(cs.batches()) == []
    assert cs.errors == []
