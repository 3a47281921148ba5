"""The unit handed from capture to decode: a block of packets as NumPy arrays.

A reader never builds one Python object per packet. It fills a `PacketBatch`: one byte buffer
holding the packets' captured bytes back to back (or the raw file block they sit in), and one
array per record field. Index ``i`` of every array describes packet ``i`` of the batch, in the
order the packets were captured.

Invariants (checked by `PacketBatch.validate` in tests, relied on by the kernels):

- ``data[offset[i] : offset[i] + caplen[i]]`` are the captured bytes of packet ``i``;
- ``caplen[i] <= wirelen[i]`` is not guaranteed (some writers store wirelen < caplen); decode
  only ever reads ``caplen`` bytes;
- ``ts_us`` is packet time in microseconds since the Unix epoch (UTC), whatever resolution the
  file had;
- ``linktype`` is the pcap LINKTYPE_* value of the interface the packet came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# LINKTYPE_* values (https://www.tcpdump.org/linktypes.html) that the decoder understands.
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW_OPENBSD = 14  # DLT_RAW on OpenBSD; also seen for raw IP
LINKTYPE_RAW_BSD = 12  # DLT_RAW on most BSDs
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

SUPPORTED_LINKTYPES: dict[int, str] = {
    LINKTYPE_NULL: "BSD loopback (NULL)",
    LINKTYPE_ETHERNET: "Ethernet",
    LINKTYPE_RAW_BSD: "raw IP",
    LINKTYPE_RAW_OPENBSD: "raw IP",
    LINKTYPE_RAW: "raw IP",
    LINKTYPE_LOOP: "OpenBSD loopback (LOOP)",
    LINKTYPE_LINUX_SLL: "Linux cooked (SLL)",
    LINKTYPE_IPV4: "raw IPv4",
    LINKTYPE_IPV6: "raw IPv6",
    LINKTYPE_LINUX_SLL2: "Linux cooked v2 (SLL2)",
}


@dataclass(slots=True)
class PacketBatch:
    """A block of captured packets (struct of arrays, all of length `n`)."""

    data: npt.NDArray[np.uint8]
    offset: npt.NDArray[np.int64]
    caplen: npt.NDArray[np.uint32]
    wirelen: npt.NDArray[np.uint32]
    ts_us: npt.NDArray[np.int64]
    linktype: npt.NDArray[np.uint16]

    @property
    def n(self) -> int:
        return int(self.offset.shape[0])

    def packet(self, i: int) -> bytes:
        """The captured bytes of packet `i` (for tests and the rare Python path)."""
        start = int(self.offset[i])
        return bytes(self.data[start : start + int(self.caplen[i])])

    def validate(self) -> None:
        """Raise ValueError if the arrays break the invariants above."""
        n = self.n
        for name in ("caplen", "wirelen", "ts_us", "linktype"):
            if getattr(self, name).shape[0] != n:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} entries, not {n}")
        if n and (int((self.offset + self.caplen).max()) > self.data.shape[0]):
            raise ValueError("a packet extends past the end of the data buffer")
        if n and int(self.offset.min()) < 0:
            raise ValueError("negative packet offset")

    @staticmethod
    def from_packets(
        packets: list[tuple[int, bytes]] | list[tuple[int, bytes, int]],
        linktype: int = LINKTYPE_ETHERNET,
    ) -> PacketBatch:
        """Build a batch from (ts_us, bytes[, wirelen]) tuples: for tests and replayed fragments."""
        n = len(packets)
        sizes = [len(p[1]) for p in packets]
        data = np.frombuffer(b"".join(p[1] for p in packets), dtype=np.uint8).copy()
        offset = np.zeros(n, dtype=np.int64)
        if n:
            offset[1:] = np.cumsum(np.asarray(sizes[:-1], dtype=np.int64))
        caplen = np.asarray(sizes, dtype=np.uint32)
        wirelen = np.asarray(
            [p[2] if len(p) > 2 else len(p[1]) for p in packets],
            dtype=np.uint32,
        )
        return PacketBatch(
            data=data,
            offset=offset,
            caplen=caplen,
            wirelen=wirelen.reshape(n),
            ts_us=np.asarray([p[0] for p in packets], dtype=np.int64).reshape(n),
            linktype=np.full(n, linktype, dtype=np.uint16),
        )
