"""`tocsin.capture.tail.Follower` on real files in tmp_path: appends, partial lines, rename
rotation, copytruncate, absent files, resumed positions, over-long lines."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.capture.tail import Follower, Position


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def drain(f: Follower, batch: int = 1000) -> list[bytes]:
    out: list[bytes] = []
    while True:
        lines, _ = f.read(batch)
        out += lines
        if len(lines) < batch:
            return out


def test_complete_lines_only_partial_waits(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    p.write_bytes(b"one\ntwo\nthr")
    with Follower(p) as f:
        lines, pos = f.read(10)
        assert lines == [b"one", b"two"]
        assert pos.offset == 8
        assert f.read(10)[0] == []
        append(p, b"ee\r\nfour")
        lines, pos = f.read(10)
        assert lines == [b"three\r"]  # only \n ends a line; \r is kept
        assert pos.offset == 15
        assert f.lines == 3


def test_max_lines_and_position_points_at_next_line(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"".join(b"line%d\n" % i for i in range(10)))
    st = p.stat()
    with Follower(p) as f:
        lines, pos = f.read(3)
        assert lines == [b"line0", b"line1", b"line2"]
        assert pos == Position(st.st_dev, st.st_ino, 18)
        assert f.read(0) == ([], pos)
        lines, _ = f.read(100)
        assert len(lines) == 7


def test_resume_from_saved_position(tmp_path: Path) -> None:
    p = tmp_path / "a.log"
    p.write_bytes(b"a\nb\nc")
    f = Follower(p)
    assert f.read(10)[0] == [b"a", b"b"]
    saved = f.position.to_json()
    f.close()
    append(p, b"\nd\n")
    with Follower(p, Position.from_json(saved)) as g:
        assert g.read(10)[0] == [b"c", b"d"]
        assert g.truncations == g.lost_positions == 0


def test_position_json_roundtrip_and_errors() -> None:
    pos = Position(1, 2, 3)
    assert Position.from_json(pos.to_json()) == pos
    assert Position.from_json(pos.to_json().decode()) == pos
    for bad in (b"", b"{}", b'{"dev":1,"ino":2,"offset":-1}', b"[1,2]", b'{"dev":"x"}'):
        with pytest.raises(ValueError, match="not a tail position"):
            Position.from_json(bad)


def test_absent_file_then_created(tmp_path: Path) -> None:
    p = tmp_path / "later.log"
    with Follower(p) as f:
        assert f.read(10) == ([], Position(0, 0, 0))
        p.write_bytes(b"x\n")
        assert f.read(10)[0] == [b"x"]


def test_rotation_by_rename_loses_nothing(tmp_path: Path) -> None:
    p = tmp_path / "conn.log"
    p.write_bytes(b"1\n2\n3\n")
    with Follower(p) as f:
        assert f.read(1)[0] == [b"1"]
        # the writer appends, logrotate renames, the writer goes on in the old file a moment...
        append(p, b"4\n")
        p.rename(tmp_path / "conn.log.1")
        assert f.read(1)[0] == [b"2"]  # path absent between the rotation's steps: old file read
        append(tmp_path / "conn.log.1", b"5\n")
        p.write_bytes(b"")  # new file created, still empty: the writer may still use the old one
        assert f.read(10)[0] == [b"3", b"4", b"5"]
        append(tmp_path / "conn.log.1", b"6\n")
        append(p, b"new1\nnew2\n")
        lines, pos = f.read(10)
        assert lines == [b"6", b"new1", b"new2"]
        assert pos.ino == p.stat().st_ino and pos.offset == 10
        assert f.rotations == 1 and f.truncations == 0


def test_rotation_with_unread_lines_in_one_read(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    p.write_bytes(b"a\nb\n")
    with Follower(p) as f:
        assert f.read(1)[0] == [b"a"]
        append(p, b"c\npartial")
        p.rename(tmp_path / "eve.json.1")
        p.write_bytes(b"d\n")
        assert f.read(100)[0] == [b"b", b"c", b"d"]
        assert f.partials_dropped == 1


def test_rotation_bounded_by_max_lines(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    p.write_bytes(b"a\nb\nc\n")
    with Follower(p) as f:
        f.read(1)
        p.rename(tmp_path / "old")
        p.write_bytes(b"d\ne\n")
        assert f.read(2)[0] == [b"b", b"c"]
        assert f.read(2)[0] == [b"d", b"e"]


def test_two_rotations_between_reads(tmp_path: Path) -> None:
    p = tmp_path / "dns.log"
    p.write_bytes(b"a\n")
    with Follower(p) as f:
        assert f.read(10)[0] == [b"a"]
        append(p, b"b\n")
        p.rename(tmp_path / "dns.log.2")
        p.write_bytes(b"")
        assert f.read(10)[0] == [b"b"]  # the new, empty file is anchored
        append(p, b"c\n")
        p.rename(tmp_path / "dns.log.1")
        p.write_bytes(b"d\n")
        assert f.read(10)[0] == [b"c", b"d"]
        assert f.rotations == 2


def test_many_rotations_of_empty_files_hold_few_fds(tmp_path: Path) -> None:
    p = tmp_path / "x.log"
    p.write_bytes(b"")
    with Follower(p) as f:
        for i in range(20):
            p.rename(tmp_path / f"x.log.{i}")
            p.write_bytes(b"")
            f.read(10)
        assert len(f._hs) <= 9
        append(p, b"last\n")
        assert f.read(10)[0] == [b"last"]


def test_copytruncate(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    p.write_bytes(b"aaaa\nbbbb\n")
    with Follower(p) as f:
        assert f.read(10)[0] == [b"aaaa", b"bbbb"]
        with p.open("r+b") as w:
            w.truncate(0)
        append(p, b"c\n")
        assert f.read(10)[0] == [b"c"]
        assert f.truncations == 1
        # truncated, then rewritten past the old position before the next poll
        with p.open("r+b") as w:
            w.truncate(0)
        append(p, b"dddddddd\n")
        assert f.read(10)[0] == [b"dddddddd"]
        assert f.truncations == 2


def test_resumed_position_truncated_meanwhile(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    p.write_bytes(b"aaaa\nbbbb\n")
    st = p.stat()
    p.write_bytes(b"c\n")  # same inode, shorter
    with Follower(p, Position(st.st_dev, st.st_ino, 10)) as f:
        assert f.read(10)[0] == [b"c"]
        assert f.truncations == 1


def test_resumed_inode_found_under_rotated_name(tmp_path: Path) -> None:
    p = tmp_path / "conn.log"
    p.write_bytes(b"1\n2\n")
    f = Follower(p)
    assert f.read(1)[0] == [b"1"]
    saved = f.position
    f.close()
    append(p, b"3\n")
    p.rename(tmp_path / "conn.log.1")
    p.write_bytes(b"4\n")
    with Follower(p, saved) as g:
        assert drain(g) == [b"2", b"3", b"4"]
        assert g.rotations == 1 and g.lost_positions == 0


def test_resumed_inode_gone(tmp_path: Path) -> None:
    p = tmp_path / "conn.log"
    p.write_bytes(b"1\n2\n")
    st = p.stat()
    p.unlink()
    (tmp_path / "filler").write_bytes(b"keeps the inode from being reused at once")
    p.write_bytes(b"new\n")
    if p.stat().st_ino == st.st_ino:
        pytest.skip("the filesystem reused the inode")
    with Follower(p, Position(st.st_dev, st.st_ino, 2)) as f:
        assert f.read(10)[0] == [b"new"]
        assert f.lost_positions == 1


def test_resumed_position_file_absent_keeps_position(tmp_path: Path) -> None:
    p = tmp_path / "conn.log"
    saved = Position(1, 99999999, 40)
    with Follower(p, saved) as f:
        assert f.read(10) == ([], saved)
        p.write_bytes(b"x\n")
        assert f.read(10)[0] == [b"x"]
        assert f.lost_positions == 1


def test_long_lines_skipped_not_held(tmp_path: Path) -> None:
    p = tmp_path / "eve.json"
    long = b"x" * 300_000
    p.write_bytes(b"short\n" + long + b"\nafter\n" + b"y" * 101 + b"\nend\n")
    with Follower(p, max_line=100) as f:
        assert drain(f, 10) == [b"short", b"after", b"end"]
        assert f.skipped_long == 2
    # a long line still being written: skipped when its newline comes, position stays at it
    q = tmp_path / "q.json"
    q.write_bytes(b"ok\n" + long)
    with Follower(q, max_line=1000) as f:
        lines, pos = f.read(10)
        assert lines == [b"ok"] and pos.offset == 3
        append(q, b"tail\nnext\n")
        lines, pos = f.read(10)
        assert lines == [b"next"] and f.skipped_long == 1
        assert pos.offset == q.stat().st_size


def test_exactly_cap_length_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "e"
    p.write_bytes(b"a" * 100 + b"\n" + b"b" * 101 + b"\n")
    with Follower(p, max_line=100) as f:
        assert f.read(10)[0] == [b"a" * 100]
        assert f.skipped_long == 1


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(st.binary(max_size=100).map(lambda b: b.replace(b"\n", b"")), max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
    batches=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8),
)
def test_random_appends_give_back_the_lines(
    tmp_path: Path, lines: list[bytes], cuts: list[int], batches: list[int]
) -> None:
    """Lines appended in pieces cut at random points come back whole, in order, once; those
    over the cap (64 bytes) are skipped and counted."""
    data = b"".join(line + b"\n" for line in lines)
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    p = tmp_path / f"h{os.getpid()}-{len(os.listdir(tmp_path))}.log"
    p.write_bytes(b"")
    got: list[bytes] = []
    with Follower(p, max_line=64) as f:
        for i, (a, b) in enumerate(itertools.pairwise(points)):
            append(p, data[a:b])
            got += f.read(batches[i % len(batches)])[0]
        got += drain(f, 3)
        assert f.position.offset == len(data)
        assert f.skipped_long == sum(len(line) > 64 for line in lines)
    assert got == [line for line in lines if len(line) <= 64]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    chunks=st.lists(
        st.tuples(st.binary(min_size=1, max_size=30), st.booleans()), min_size=1, max_size=20
    )
)
def test_random_rotations_lose_nothing(tmp_path: Path, chunks: list[tuple[bytes, bool]]) -> None:
    d = tmp_path / f"r{len(os.listdir(tmp_path))}"
    d.mkdir()
    p = d / "eve.json"
    p.write_bytes(b"")
    written: list[bytes] = []
    got: list[bytes] = []
    with Follower(p) as f:
        for n, (chunk, rotate) in enumerate(chunks):
            line = chunk.replace(b"\n", b"")
            append(p, line + b"\n")
            written.append(line)
            if rotate:
                p.rename(d / f"eve.json.{n}")
                p.write_bytes(b"")
            got += f.read(2)[0]
        got += drain(f, 2)
    assert got == written
