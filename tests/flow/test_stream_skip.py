"""`Stream.skip_to`: bytes a parser skips (a file's body it does not read), whose packets the
flow kernel dropped before Python saw them, are passed over without a hole or a gap; a real
hole (data held out of order) is never papered over; no more than the skip is passed over."""

from __future__ import annotations

from tocsin.flow.stream import GAP, Stream, StreamCounters


def test_skipped_bytes_whose_packets_were_dropped_leave_no_hole() -> None:
    """A 3-byte header read, 1000 body bytes skipped (their packets never delivered), the
    next message arrives: it is delivered at once, no gap reported, nothing held."""
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    assert s.add(1, b"hdr") == [b"hdr"]
    assert s.skip_to(1 + 3 + 1000, 1000) == 1000
    assert s.next_seq == 1004
    assert s.add(1004, b"next") == [b"next"]
    assert ctr.reassembly_gap == 0 and ctr.total == 0
    assert s.flush() == []


def test_a_skip_spread_over_dropped_and_delivered_packets_stops_at_its_end() -> None:
    """The next segment starts exactly where the skip ends, in several packets: each skip
    call moves as far as that segment, never past the bytes still to skip."""
    s = Stream(StreamCounters(), isn=0)
    s.add(1, b"ab")
    left = 500
    left -= s.skip_to(3 + 200, left)  # the kernel dropped 200 bytes, a packet is seen next
    assert left == 300 and s.next_seq == 203
    assert s.add(203, b"x" * 100) == [b"x" * 100]  # a packet the kernel let through
    left -= 100  # (the reader consumed it as skipped bytes)
    left -= s.skip_to(303 + 200, left)
    assert left == 0 and s.next_seq == 503


def test_pieces_held_inside_a_skip_are_passed_over_with_it() -> None:
    """A segment that overtook the start of a body the parser skips is as unwanted as the
    body: no gap, the stream goes on at the skip's end — the same whichever batch the skip
    reached the kernel in (a real capture: a 4-byte segment ahead of an HTTP response)."""
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(1, b"ab")
    assert s.add(10, b"later") == []  # held out of order
    assert s.skip_to(20, 100) == 17
    assert s.next_seq == 20
    assert s.add(20, b"next") == [b"next"]
    assert s.flush() == []
    assert ctr.reassembly_gap == 0
    assert ctr.total == 0


def test_a_held_piece_reaching_past_the_skip_keeps_its_tail() -> None:
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(1, b"ab")
    assert s.add(10, b"0123456789") == []  # bytes 10..19, held
    assert s.skip_to(15, 100) == 12
    assert s.next_seq == 15
    assert s.add(20, b"x") == [b"56789", b"x"]
    assert ctr.reassembly_gap == 0
    assert ctr.total == 0


def test_a_seq_beyond_the_limit_is_not_skipped_and_the_hole_stays() -> None:
    """The packet seen is further than the bytes left to skip: the extra bytes were lost,
    not skipped; the stream does not move and the segment waits as any out-of-order one."""
    ctr = StreamCounters()
    s = Stream(ctr, isn=0)
    s.add(1, b"ab")
    assert s.skip_to(3 + 101, 100) == 0
    assert s.next_seq == 3
    assert s.add(3 + 101, b"z") == []
    assert s.flush() == [(GAP, 101), b"z"]


def test_no_skip_backwards_nor_in_place_nor_before_the_first_byte() -> None:
    s = Stream(StreamCounters(), isn=None)
    assert s.skip_to(5000, 100) == 0  # midstream, nothing seen yet: no base to skip from
    s.add(5000, b"abc")
    assert s.skip_to(5003, 100) == 0  # nothing to skip
    assert s.skip_to(4990, 100) == 0  # behind: a retransmission, not a skip
    assert s.next_seq == 5003


def test_skip_across_the_sequence_wrap() -> None:
    s = Stream(StreamCounters(), isn=0xFFFFFF00)
    s.add(0xFFFFFF01, b"x" * 0x10)
    assert s.skip_to(0x20, 0x200) == 0x20 + 0x100 - 0x11
    assert s.next_seq == 0x20
    assert s.add(0x20, b"y") == [b"y"]
