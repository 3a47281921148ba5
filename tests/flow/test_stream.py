"""TCP stream reassembly (`flow.stream`): in-order delivery, first-wins overlaps, bounded
out-of-order buffering, gaps reported."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.flow.stream import GAP, Stream, StreamCounters


def joined(pieces: list[bytes | tuple[int, int]]) -> bytes:
    return b"".join(p for p in pieces if isinstance(p, bytes))


def test_in_order_segments_are_delivered_at_once() -> None:
    s = Stream(StreamCounters(), isn=999)
    assert s.add(1000, b"GET ") == [b"GET "]
    assert s.add(1004, b"/ HTTP/1.1\r\n") == [b"/ HTTP/1.1\r\n"]
    assert s.next_seq == 1016


def test_out_of_order_waits_for_the_hole() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    assert s.add(4, b"defg") == []
    assert ctr.total == 4
    assert s.add(1, b"abc") == [b"abc", b"defg"]
    assert ctr.total == 0 and ctr.reassembly_gap == 0


def test_overlap_first_wins_and_is_counted() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(3, b"CD")  # buffered first
    out = s.add(1, b"abXY")  # overlaps the buffered "CD" with other bytes
    assert joined(out) == b"abCD"
    assert ctr.overlap >= 1 and ctr.overlap_diff_data == 1


def test_retransmission_is_ignored() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(1, b"hello")
    assert s.add(1, b"hello") == []
    assert s.add(3, b"llo world") == [b" world"]
    assert ctr.overlap == 2


def test_sequence_numbers_wrap() -> None:
    s = Stream(StreamCounters(), isn=0xFFFFFFFD)
    out = s.add(0xFFFFFFFE, b"ab") + s.add(0, b"cd") + s.add(2, b"ef")
    assert joined(out) == b"abcdef"


def test_hole_given_up_past_the_bound_is_a_gap() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0, max_ooo=8)
    s.add(1, b"ab")
    out = s.add(10, b"0123456789")  # 7 bytes missing, 10 waiting > bound
    assert out[0] == (GAP, 7) and out[1] == b"0123456789"
    assert ctr.reassembly_gap == 1 and ctr.total == 0


def test_flush_gives_up_remaining_holes() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(5, b"xyz")
    assert s.flush() == [(GAP, 4), b"xyz"]
    assert ctr.reassembly_gap == 1


def test_global_bound_drops_and_counts() -> None:
    ctr = StreamCounters(max_total=10)
    a, b = Stream(ctr, isn=0), Stream(ctr, isn=0)
    a.add(100, b"x" * 8)
    b.add(100, b"y" * 8)  # does not fit: dropped, hole permanent
    assert ctr.segment_memcap_drop == 1
    a.release()
    assert ctr.total == 0


def test_midstream_starts_at_first_segment() -> None:
    s = Stream(StreamCounters(), isn=None)
    assert s.next_seq is None
    assert s.add(5000, b"abc") == [b"abc"]
    assert s.next_seq == 5003


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=400), st.integers(0, 2**32 - 1), st.randoms())
def test_any_segmentation_and_order_gives_the_stream(
    payload: bytes, isn: int, rnd: random.Random
) -> None:
    """Cut the stream anywhere, shuffle, duplicate some segments: the bytes come out whole."""
    cuts = sorted(rnd.sample(range(1, len(payload)), min(len(payload) - 1, 6)))
    bounds = [0, *cuts, len(payload)]
    segs = [(bounds[k], payload[bounds[k] : bounds[k + 1]]) for k in range(len(bounds) - 1)]
    segs += rnd.sample(segs, min(2, len(segs)))  # retransmissions
    rnd.shuffle(segs)
    s = Stream(StreamCounters(), isn=isn)
    out: list[bytes | tuple[int, int]] = []
    for off, data in segs:
        out += s.add((isn + 1 + off) & 0xFFFFFFFF, data)
    out += s.flush()
    assert joined(out) == payload
    assert not any(isinstance(p, tuple) for p in out)


def test_first_data_far_from_the_syn_restarts_the_stream() -> None:
    """A SYN from an earlier attempt (another ISN): the data is trusted, not held forever."""
    s = Stream(StreamCounters(), isn=1000)
    assert s.add(0x70000000, b"GET / HTTP/1.1\r\n") == [b"GET / HTTP/1.1\r\n"]


def test_thousands_of_segments_behind_a_hole_wait_in_order_and_overlaps_keep_the_first() -> None:
    """A lost segment followed by a long run of small ones (and retransmissions that overlap
    them): everything is held, in order, and delivered once the hole is filled."""
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    body = bytes(random.Random(7).randrange(256) for _ in range(40_000))
    for off in range(100, 40_000, 10):
        assert s.add(1 + off, body[off : off + 10]) == []
    for off in range(105, 40_000, 500):  # overlapping retransmissions, other bytes
        assert s.add(1 + off, b"X" * 10) == []
    assert ctr.overlap_diff_data > 0
    out = s.add(1, body[:100])
    assert joined(out) == body and ctr.total == 0
