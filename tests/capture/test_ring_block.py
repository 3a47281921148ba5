"""The compiled walk of a TPACKET_V3 ring block (`capture.live.read_block`): every frame with
its lengths and time, and a VLAN tag the NIC stripped put back after the MAC addresses, as a
pcap of the same wire would show it. Built here byte by byte, as the kernel lays a block out."""

from __future__ import annotations

import struct

import numpy as np

from tocsin.capture.live import (
    TP_STATUS_VLAN_TPID_VALID,
    TP_STATUS_VLAN_VALID,
    read_block,
)

_PKT = struct.Struct("<IIIIIIHHIIH")
_HDR = 48  # room for tpacket3_hdr and padding before the frame


def _block(frames: list[tuple[bytes, int, int, int, int]]) -> np.ndarray:
    """A block: (frame, status, tci, tpid, wire length) per packet, one after the other."""
    buf = bytearray(64)
    first = len(buf)
    for k, (frame, status, tci, tpid, wire) in enumerate(frames):
        at = len(buf)
        size = (_HDR + len(frame) + 15) // 16 * 16
        nxt = size if k + 1 < len(frames) else 0
        hdr = _PKT.pack(nxt, 1_700_000_000 + k, 250_000_000, len(frame), wire, status, _HDR, 0,
                        0, tci, tpid)  # fmt: skip
        buf += hdr + bytes(_HDR - len(hdr)) + frame + bytes(size - _HDR - len(frame))
        del at
    struct.pack_into("<IIIIII", buf, 0, 3, 0, 1, len(frames), first, len(buf))
    return np.frombuffer(bytes(buf), dtype=np.uint8)


def test_frames_lengths_times_and_a_stripped_vlan_tag_put_back() -> None:
    eth = bytes(range(12)) + b"\x08\x00" + b"IP-PAYLOAD"
    arp = bytes(range(100, 112)) + b"\x08\x06" + b"ARP"
    ring = _block(
        [
            (eth, TP_STATUS_VLAN_VALID, 0x2064, 0, 1514),  # tag 100, PCP 1, TPID not given
            (arp, 0, 0, 0, len(arp)),
            (eth, TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 7, 0x88A8, len(eth)),
        ]
    )
    batch = read_block(ring, 0, ring.shape[0])
    assert batch is not None and batch.n == 3
    assert batch.packet(0) == eth[:12] + b"\x81\x00\x20\x64" + eth[12:]
    assert batch.packet(1) == arp
    assert batch.packet(2) == eth[:12] + b"\x88\xa8\x00\x07" + eth[12:]
    assert batch.caplen.tolist() == [len(eth) + 4, len(arp), len(eth) + 4]
    assert batch.wirelen.tolist() == [1518, len(arp), len(eth) + 4]
    assert batch.ts_us.tolist() == [(1_700_000_000 + k) * 1_000_000 + 250_000 for k in range(3)]


def test_an_empty_block_is_nothing() -> None:
    ring = _block([])
    assert read_block(ring, 0, ring.shape[0]) is None
