"""Bad input: the exact one-line message a user sees, and what is still read before it."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import pytest

from tocsin.capture import (
    BadMagic,
    CaptureError,
    CorruptCapture,
    TruncatedCapture,
    UnreadableCapture,
    UnsupportedLinkType,
    open_capture,
)

from .builders import collect, epb, frame, idb, pcap, pcap_header, shb, write

T0 = 1_700_000_000
US = T0 * 1_000_000
TWO = pcap([(T0, 0, frame(0)), (T0, 1, frame(1))])  # 24 + 2 * 76 = 176 bytes
SUPPORTED = "0, 1, 12, 14, 101, 108, 113, 228, 229, 276"


def open_error(path: Path) -> CaptureError:
    with pytest.raises(CaptureError) as info:
        open_capture([path])
    return info.value


def read_error(path: Path, **kw: int) -> tuple[int, list[CaptureError]]:
    """Packets read and errors collected from one file whose header is fine."""
    cs = open_capture([path], **kw)
    return len(collect(cs.batches())), cs.errors


def test_error_attributes() -> None:
    err = TruncatedCapture(Path("x.pcap"), "what")
    assert (err.path, err.problem, str(err)) == (Path("x.pcap"), "what", "x.pcap: what")


def test_wrong_magic(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.pcap", b"hello world, no capture here")
    err = open_error(path)
    assert isinstance(err, BadMagic)
    assert str(err) == f"{path}: not a pcap or pcapng file (magic 0x68656c6c)"


def test_wrong_magic_inside_gzip(tmp_path: Path) -> None:
    path = write(tmp_path / "log.gz", gzip.compress(b"just a log line\n"))
    assert str(open_error(path)) == (
        f"{path}: not a pcap or pcapng file (inside gzip) (magic 0x6a757374)"
    )


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.pcap", b"")
    err = open_error(path)
    assert isinstance(err, TruncatedCapture)
    assert str(err) == f"{path}: empty file: no pcap or pcapng header"


def test_truncated_file_header(tmp_path: Path) -> None:
    path = write(tmp_path / "short.pcap", pcap_header()[:10])
    assert str(open_error(path)) == f"{path}: truncated pcap file header: 10 of 24 bytes present"


def test_header_only_file_is_valid(tmp_path: Path) -> None:
    assert read_error(write(tmp_path / "h.pcap", pcap_header())) == (0, [])


def test_truncated_in_record_header(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.pcap", TWO + struct.pack("<II", T0, 2)[:7])
    count, errors = read_error(path)
    assert count == 2
    assert [str(e) for e in errors] == [
        f"{path}: truncated record header at byte 176 (packet 3): 7 of 16 bytes present"
    ]
    assert isinstance(errors[0], TruncatedCapture)


@pytest.mark.parametrize("block_size", [16, 4096])
def test_truncated_in_packet_data(tmp_path: Path, block_size: int) -> None:
    path = write(tmp_path / "cut.pcap", (TWO + pcap([(T0, 2, b"y" * 1514)])[24:])[:-1474])
    count, errors = read_error(path, block_size=block_size)
    assert count == 2
    assert [str(e) for e in errors] == [
        f"{path}: truncated packet record at byte 176 (packet 3): 40 of 1514 bytes present"
    ]


def test_absurd_caplen(tmp_path: Path) -> None:
    bad = struct.pack("<IIII", T0, 2, 300_000, 300_000) + b"z" * 100
    count, errors = read_error(write(tmp_path / "big.pcap", TWO + bad))
    assert count == 2
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'big.pcap'}: packet record at byte 176 (packet 3) has caplen 300000, "
        "more than the 262144-byte limit (corrupt length field)"
    ]
    assert isinstance(errors[0], CorruptCapture)


def test_unsupported_linktype(tmp_path: Path) -> None:
    path = write(tmp_path / "usb.pcap", pcap([(T0, 0, b"x")], linktype=189))
    err = open_error(path)
    assert isinstance(err, UnsupportedLinkType)
    assert str(err) == f"{path}: unsupported link type 189 (supported: {SUPPORTED})"


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.pcap"
    err = open_error(path)
    assert isinstance(err, UnreadableCapture)
    assert str(err) == f"{path}: cannot read: No such file or directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.pcap", TWO)
    path.chmod(0)
    assert str(open_error(path)) == f"{path}: cannot read: Permission denied"


def test_directory_without_captures(tmp_path: Path) -> None:
    write(tmp_path / "d" / "README.txt", b"notes")
    write(tmp_path / "d" / "sub" / "eve.json", b"{}")
    err = open_error(tmp_path / "d")
    assert isinstance(err, UnreadableCapture)
    assert (
        str(err) == f"{tmp_path / 'd'}: directory holds no pcap or pcapng file (2 files looked at)"
    )


def test_one_bad_file_among_several_raises_before_reading(tmp_path: Path) -> None:
    good = write(tmp_path / "good.pcap", TWO)
    bad = write(tmp_path / "bad.pcap", b"\0" * 40)
    with pytest.raises(BadMagic, match=r"bad\.pcap: not a pcap or pcapng file"):
        open_capture([good, bad])


def test_gzip_truncated(tmp_path: Path) -> None:
    packets = [(T0, i, frame(i, 200)) for i in range(200)]
    whole = gzip.compress(pcap(packets), compresslevel=0)  # stored: bytes map 1:1
    path = write(tmp_path / "cut.pcap.gz", whole[: len(whole) // 2])
    count, errors = read_error(path, block_size=4096)
    assert 90 < count < 100
    assert len(errors) == 1
    assert isinstance(errors[0], TruncatedCapture)
    assert errors[0].problem.startswith("gzip stream truncated: compressed data ends at byte ")


def test_gzip_corrupt(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(pcap([(T0, i, frame(i)) for i in range(50)])))
    whole[len(whole) // 2] ^= 0xFF
    whole[len(whole) // 2 + 1] ^= 0xFF
    path = write(tmp_path / "bad.pcap.gz", bytes(whole))
    try:
        _count, errors = read_error(path)
    except CaptureError as err:  # the flip may hit the first block
        errors = [err]
    assert len(errors) == 1
    assert isinstance(errors[0], CorruptCapture | TruncatedCapture)


def test_pcapng_inconsistent_block_length(tmp_path: Path) -> None:
    bad = bytearray(epb(0, US + 1, frame(1)))
    struct.pack_into("<I", bad, 4, 30)  # not a multiple of 4
    data = shb() + idb(1) + epb(0, US, frame(0)) + bytes(bad)
    count, errors = read_error(write(tmp_path / "len.pcapng", data))
    assert count == 1
    assert [e.problem for e in errors] == [
        "block type 0x6 at byte 140 (packet 2) has an inconsistent block length 30"
    ]


def test_pcapng_trailer_mismatch(tmp_path: Path) -> None:
    bad = bytearray(epb(0, US + 1, frame(1)))
    struct.pack_into("<I", bad, len(bad) - 4, 64)
    data = shb() + idb(1) + epb(0, US, frame(0)) + bytes(bad)
    _count, errors = read_error(write(tmp_path / "trl.pcapng", data))
    assert [e.problem for e in errors] == [
        "block type 0x6 at byte 140 (packet 2): trailing block length 64 differs from the "
        "leading one"
    ]


def test_pcapng_unknown_interface(tmp_path: Path) -> None:
    data = shb() + idb(1) + epb(0, US, frame(0)) + epb(3, US, frame(1))
    _count, errors = read_error(write(tmp_path / "if.pcapng", data))
    assert [e.problem for e in errors] == [
        "block type 0x6 at byte 140 (packet 2) refers to interface 3, but 1 are defined"
    ]


def test_pcapng_truncated_block(tmp_path: Path) -> None:
    data = shb() + idb(1) + epb(0, US, frame(0)) + epb(0, US, frame(1))[:50]
    count, errors = read_error(write(tmp_path / "t.pcapng", data))
    assert count == 1
    assert [e.problem for e in errors] == [
        "truncated block at byte 140 (packet 2): 50 of 92 bytes present"
    ]
