"""Property: any bytes give batches (each valid) and/or CaptureError, never anything else."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.capture import CaptureError, open_capture

from .builders import epb, frame, idb, pb, pcap, shb, spb

T0 = 1_700_000_000
_names = itertools.count()

MAGICS = [
    b"",
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x34\xcd\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",
    b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a",
    b"\x1f\x8b",
]
block_sizes = st.sampled_from([1, 3, 16, 64, 65536])
fuzz = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(workdir: Path, data: bytes, block_size: int) -> None:
    """Read `data` as a capture: only batches that validate, or CaptureError."""
    path = workdir / f"f{next(_names)}.pcap"
    path.write_bytes(data)
    try:
        cs = open_capture([path], block_size=block_size, batch_packets=5)
    except CaptureError:
        return
    for batch in cs.batches():
        batch.validate()
        assert 0 < batch.n <= 5
    assert all(isinstance(e, CaptureError) for e in cs.errors)
    assert cs.bytes_read <= cs.bytes_total
    path.unlink()


@st.composite
def valid_pcap(draw: st.DrawFn) -> bytes:
    sizes = draw(st.lists(st.integers(0, 120), max_size=8))
    records = [(T0 + i, i, frame(i, s)) for i, s in enumerate(sizes)]
    return pcap(records, big=draw(st.booleans()), nano=draw(st.booleans()))


@st.composite
def valid_pcapng(draw: st.DrawFn) -> bytes:
    big = draw(st.booleans())
    data = shb(big=big) + idb(1, big=big) + idb(101, tsresol=9, snaplen=64, big=big)
    for i, kind in enumerate(draw(st.lists(st.sampled_from("eps"), max_size=8))):
        size = draw(st.integers(0, 100))
        if kind == "e":
            data += epb(i % 2, T0 * 10**6 + i, frame(i, size), big=big)
        elif kind == "p":
            data += pb(0, T0 * 10**6 + i, frame(i, size), big=big)
        else:
            data += spb(frame(i, size), big=big)
    return data


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    data = bytearray(draw(base))
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] ^= draw(st.integers(1, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    out = bytes(data)
    return gzip.compress(out) if draw(st.booleans()) else out


@fuzz
@given(magic=st.sampled_from(MAGICS), body=st.binary(max_size=600), block_size=block_sizes)
def test_random_bytes(workdir: Path, magic: bytes, body: bytes, block_size: int) -> None:
    check(workdir, magic + body, block_size)


@fuzz
@given(data=mutated(valid_pcap()), block_size=block_sizes)
def test_mutated_pcap(workdir: Path, data: bytes, block_size: int) -> None:
    check(workdir, data, block_size)


@fuzz
@given(data=mutated(valid_pcapng()), block_size=block_sizes)
def test_mutated_pcapng(workdir: Path, data: bytes, block_size: int) -> None:
    check(workdir, data, block_size)


@fuzz
@given(data=valid_pcapng(), cut=st.integers(0, 10_000), block_size=block_sizes)
def test_truncated_gzip(workdir: Path, data: bytes, cut: int, block_size: int) -> None:
    packed = gzip.compress(data)
    check(workdir, packed[: cut % (len(packed) + 1)], block_size)
