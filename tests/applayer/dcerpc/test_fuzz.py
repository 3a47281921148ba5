"""Property: whatever the bytes, `DcerpcParser` gives `dcerpc` events that fit Suricata's
schema, or `ParseError`, and nothing else; `close` never fails.

Inputs: runs of the real PDUs of the DCERPC fixture flows (in arrival order, both directions),
mutated (byte flips, truncation, insertion; fragment length fixed up or not), cut into random
chunks; and random bytes behind a plausible header.
"""

from __future__ import annotations

import struct
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from applayer.smb.flows import FIXTURES, Collector, check_schema, chunks
from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.dcerpc import DcerpcParser
from tocsin.model.dcerpc import DcerpcEvent

LIMITS = AppLimits(max_message=2048, max_pending=4, max_items=4)


def pdus(stream: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 16 <= len(stream):
        little = stream[pos + 4] & 0x10
        (n,) = struct.unpack_from("<H" if little else ">H", stream, pos + 8)
        if n < 16:
            break
        out.append(stream[pos : pos + n])
        pos += n
    return out


@cache
def runs() -> list[list[tuple[int, bytes]]]:
    out = []
    for path in sorted(FIXTURES.glob("dcerpc_*.pcap")):
        for flow in chunks(path, None):
            if not flow or flow[0][1][:1] != b"\x05":
                continue
            seq: list[tuple[int, bytes]] = []
            for d, data in flow:  # these captures send whole PDUs per segment or so
                seq.extend((d, p) for p in pdus(data))
            if seq:
                out.append(seq[:40])
    return out


@st.composite
def mutated_run(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    flow = draw(st.sampled_from(runs()))
    start = draw(st.integers(0, len(flow) - 1))
    seq: list[tuple[int, bytes]] = list(flow[start : start + draw(st.integers(1, 12))])
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(seq) - 1))
        d, raw = seq[i]
        b = bytearray(raw)
        kind = draw(st.sampled_from(["flip", "truncate", "insert"]))
        if kind == "flip" and b:
            for _ in range(draw(st.integers(1, 6))):
                b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del b[draw(st.integers(0, len(b))) :]
        else:
            pos = draw(st.integers(0, len(b)))
            b[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        if len(b) >= 10 and draw(st.booleans()):
            struct.pack_into("<H" if b[4] & 0x10 else ">H", b, 8, len(b) & 0xFFFF)
        seq[i] = (d, bytes(b))
    return seq


def feed(seq: list[tuple[int, bytes]], cut: int) -> None:
    col = Collector()
    p = DcerpcParser(col, LIMITS)
    try:
        for d, data in seq:
            for pos in range(0, len(data), cut):
                if p.skip[d]:
                    p.skip[d] = max(0, p.skip[d] - len(data[pos : pos + cut]))
                    continue
                p.feed(d, data[pos : pos + cut], 0)
    except ParseError:
        pass
    p.close(0)
    for cls, body, _, _ in col.events:
        assert cls is DcerpcEvent
        check_schema("dcerpc", body)


@settings(max_examples=200, deadline=None)
@given(mutated_run(), st.sampled_from([1, 3, 16, 100, 1 << 20]))
def test_mutated_pdus(seq: list[tuple[int, bytes]], cut: int) -> None:
    feed(seq, cut)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.binary(max_size=200).map(
                lambda b: (
                    bytes([5, 0, b[0] % 21 if b else 0, 3, 0x10, 0, 0, 0])
                    + struct.pack("<HHI", 16 + len(b), 0, 1)
                    + b
                )
            ),
        ),
        max_size=8,
    ),
    st.sampled_from([1, 7, 1 << 20]),
)
def test_random_bodies(seq: list[tuple[int, bytes]], cut: int) -> None:
    feed(seq, cut)
