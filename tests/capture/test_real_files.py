"""Real captures (tests/fixtures/capture, see PROVENANCE.md) read as dpkt reads them."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import dpkt
import pytest

from tocsin.capture import open_capture

from .builders import collect

FIXTURES = Path(__file__).parent.parent / "fixtures" / "capture"


def ours(path: Path, **kw: int) -> list[tuple[int, bytes, int, int]]:
    cs = open_capture([path], **kw)
    packets = collect(cs.batches())
    assert cs.errors == []
    assert cs.bytes_read == cs.bytes_total == path.stat().st_size
    return packets


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("nfs3-bigendian.pcap", 128),
        ("get-to-ssh-server-nanosecond.pcap", 9),
        ("pe_files_timestamp.pcap.gz", 22),
    ],
)
@pytest.mark.parametrize("block_size", [97, 16 * 1024 * 1024])
def test_classic_pcap_matches_dpkt(name: str, count: int, block_size: int) -> None:
    path = FIXTURES / name
    raw = path.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    theirs = list(dpkt.pcap.Reader(io.BytesIO(raw)))
    got = ours(path, block_size=block_size, batch_packets=7)
    assert len(got) == len(theirs) == count
    for (ts_us, data, _wire, linktype), (ts, buf) in zip(got, theirs, strict=True):
        assert data == buf
        assert linktype == 1
        assert abs(ts_us - float(ts) * 1e6) <= 1  # dpkt: float (µs) or Decimal (ns) seconds


def _pcapng_reference(raw: bytes) -> list[tuple[int, bytes, int, int]]:
    """(ts_us, bytes, wirelen, interface) per EPB, from dpkt's block classes.

    The if_tsresol of each packet's own interface is applied: dpkt's Reader applies the first
    interface's resolution to every packet.
    """
    resol: list[int] = []
    out = []
    pos = 0
    while pos < len(raw):
        btype, blen = struct.unpack_from("<II", raw, pos)
        buf = raw[pos : pos + blen]
        if btype == dpkt.pcapng.PCAPNG_BT_IDB:
            idb = dpkt.pcapng.InterfaceDescriptionBlockLE(buf)
            opts = [o for o in idb.opts if o.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL]
            resol.append(10 ** opts[0].data[0] if opts else 10**6)
        elif btype == dpkt.pcapng.PCAPNG_BT_EPB:
            epb = dpkt.pcapng.EnhancedPacketBlockLE(buf)
            ticks = (epb.ts_high << 32) | epb.ts_low
            ts_us = ticks * 10**6 // resol[epb.iface_id]
            out.append((ts_us, epb.pkt_data, epb.pkt_len, epb.iface_id))
        pos += blen
    return out


@pytest.mark.parametrize("block_size", [64, 16 * 1024 * 1024])
def test_multi_interface_pcapng_matches_dpkt(block_size: int) -> None:
    path = FIXTURES / "pcapng-multi-interface.pcapng"
    raw = path.read_bytes()
    reference = _pcapng_reference(raw)
    reader_view = list(dpkt.pcapng.Reader(io.BytesIO(raw)))
    got = ours(path, block_size=block_size, batch_packets=4)
    assert len(got) == len(reference) == len(reader_view) == 6
    assert [(t, d, w) for t, d, w, _lt in got] == [r[:3] for r in reference]
    assert [d for _t, d, _w, _lt in got] == [buf for _ts, buf in reader_view]
    assert {r[3] for r in reference} == {0, 1}  # both interfaces (ns and µs) contribute
    assert {lt for *_, lt in got} == {1}
