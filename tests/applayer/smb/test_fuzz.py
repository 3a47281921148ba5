"""Property: whatever the bytes, `SmbParser` gives events that fit Suricata's schema (`smb`) or
Tocsin's (`smb_file`), or `ParseError`, and nothing else (no IndexError, struct.error,
UnicodeDecodeError, KeyError...), and `close` never fails.

Inputs: runs of real NetBIOS messages of every fixture flow (both directions, in order), with
messages mutated (byte flips, truncation, insertion; the NetBIOS length fixed up or not), cut
into random chunks; and random bytes.
"""

from __future__ import annotations

from functools import cache

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from applayer.smb.flows import FIXTURES, Collector, check_schema, chunks, nbss_messages
from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.smb import SmbParser
from tocsin.model.smb import SmbEvent, SmbFileEvent, SmbFileInfo

LIMITS = AppLimits(max_message=4096, max_pending=4, max_items=8)


@cache
def runs() -> list[list[tuple[int, bytes]]]:
    """Per flow, its messages in arrival order (direction, message), at most 60."""
    out = []
    for path in sorted(FIXTURES.glob("smb*.pcap")):
        port = 139 if "lsarpc" in path.name else 445
        for flow in chunks(path, port):
            streams = [b"", b""]
            order: list[tuple[int, int]] = []  # (direction, end offset of the chunk)
            for d, data in flow:
                streams[d] += data
                order.append((d, len(streams[d])))
            msgs = [nbss_messages(streams[0]), nbss_messages(streams[1])]
            seq: list[tuple[int, bytes]] = []
            taken = [0, 0]
            ends = [0, 0]
            for d, end in order:  # interleave messages as their bytes arrived
                while taken[d] < len(msgs[d]) and ends[d] + len(msgs[d][taken[d]]) <= end:
                    ends[d] += len(msgs[d][taken[d]])
                    seq.append((d, msgs[d][taken[d]]))
                    taken[d] += 1
            out.append(seq[:60])
    return out


@st.composite
def mutated_run(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    flow = draw(st.sampled_from(runs()))
    start = draw(st.integers(0, max(0, len(flow) - 1)))
    seq: list[tuple[int, bytes]] = list(flow[start : start + draw(st.integers(1, 16))])
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(seq) - 1))
        d, raw = seq[i]
        msg = bytearray(raw)
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "flip"]))
        if kind == "flip" and msg:
            for _ in range(draw(st.integers(1, 8))):
                pos = draw(st.integers(0, len(msg) - 1))
                msg[pos] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del msg[draw(st.integers(0, len(msg))) :]
        else:
            pos = draw(st.integers(0, len(msg)))
            msg[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        if len(msg) >= 4 and draw(st.booleans()):  # keep the framing consistent
            msg[1:4] = (len(msg) - 4).to_bytes(3, "big")
        seq[i] = (d, bytes(msg))
    return seq


def feed(seq: list[tuple[int, bytes]], cut: int) -> None:
    col = Collector()
    p = SmbParser(col, LIMITS)
    try:
        for d, data in seq:
            for pos in range(0, len(data), cut):
                if p.done[d]:
                    break
                if p.skip[d]:  # the dispatcher drops skipped bytes; here: drop this piece
                    p.skip[d] = max(0, p.skip[d] - len(data[pos : pos + cut]))
                    continue
                p.feed(d, data[pos : pos + cut], 1_700_000_000_000_000)
    except ParseError:
        pass
    p.close(1_700_000_000_000_000)
    for cls, body, _, _ in col.events:
        if cls is SmbEvent:
            check_schema("smb", body)
        else:
            assert cls is SmbFileEvent
            msgspec.json.decode(msgspec.json.encode(body), type=SmbFileInfo, strict=True)


@settings(max_examples=200, deadline=None)
@given(mutated_run(), st.sampled_from([1, 5, 64, 1460, 1 << 20]))
def test_mutated_messages(seq: list[tuple[int, bytes]], cut: int) -> None:
    feed(seq, cut)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.one_of(
                st.binary(max_size=300),
                st.binary(max_size=200).map(lambda b: b"\x00\x00\x00" + bytes([len(b)]) + b),
                st.binary(max_size=200).map(
                    lambda b: b"\x00\x00" + (len(b) + 4).to_bytes(2, "big") + b"\xfeSMB" + b
                ),
                st.binary(max_size=200).map(
                    lambda b: b"\x00\x00" + (len(b) + 4).to_bytes(2, "big") + b"\xffSMB" + b
                ),
            ),
        ),
        max_size=8,
    )
)
def test_random_bytes(seq: list[tuple[int, bytes]]) -> None:
    feed(seq, 1 << 20)
