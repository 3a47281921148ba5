"""The sensor's outbox: most valuable first out, least valuable first shed, every line counted
once as sent, shed or queued, and its cursor and epoch survive a reopen."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.output.outbox import Outbox, OutboxError, rank


def _line(kind: str, n: int, size: int = 100) -> bytes:
    """An EVE-looking line of exactly `size` bytes."""
    head = b'{"event_type":"%s","n":%d,"pad":"' % (kind.encode(), n)
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _items(kind: str, start: int, count: int, size: int = 100) -> list[tuple[str, bytes]]:
    return [(kind, _line(kind, i, size)) for i in range(start, start + count)]


def _stored(path: Path) -> list[tuple[int, str, int]]:
    """(seq, event type, line bytes) of every line in the file, read beside the outbox."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT seq, event_type, length(line) FROM events ORDER BY seq")
        return [(int(s), str(t), int(n)) for s, t, n in rows]


def _numbers(batch: list[tuple[int, str, bytes]], kind: str) -> list[int]:
    return [json.loads(line)["n"] for _, t, line in batch if t == kind]


def test_rank_alerts_then_protocol_then_metadata() -> None:
    assert rank("alert") == rank("sensor") == 0
    assert rank("dns") == rank("http") == rank("smb") == 1
    assert rank("flow") == rank("netflow") == rank("stats") == 2


def test_take_gives_alerts_then_protocol_then_flows_each_oldest_first(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db")
    ob.put([("flow", _line("flow", 0)), ("dns", _line("dns", 0)), ("alert", _line("alert", 0))])
    ob.put([("http", _line("http", 1)), ("flow", _line("flow", 1)), ("alert", _line("alert", 1))])
    ob.put([("dns", _line("dns", 2)), ("sensor", _line("sensor", 2))])
    batch = ob.take()
    assert [t for _, t, _ in batch] == ["alert", "alert", "sensor", "dns", "http", "dns",
                                        "flow", "flow"]  # fmt: skip
    seqs = [s for s, _, _ in batch]
    assert seqs[:3] == sorted(seqs[:3]) and seqs[3:6] == sorted(seqs[3:6])
    assert seqs[6:] == sorted(seqs[6:])
    assert len(set(seqs)) == 8
    # not acked: taken again, the same lines in the same order
    assert ob.take() == batch
    ob.ack(batch)
    assert ob.take() == []
    assert ob.depth() == (0, 0)
    assert ob.counts()["sent"] == {"alert": 2, "sensor": 1, "dns": 2, "http": 1, "flow": 2}
    assert ob.counts()["queued"] == {}
    ob.close()


def test_take_respects_its_limits_and_gives_at_least_one_line(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db")
    ob.put(_items("dns", 0, 10))
    first = ob.take(max_events=4)
    assert _numbers(first, "dns") == [0, 1, 2, 3]
    ob.ack(first)
    assert _numbers(ob.take(max_bytes=250), "dns") == [4, 5]
    assert _numbers(ob.take(max_bytes=10), "dns") == [4]  # one line even past the byte limit
    ob.close()


def test_sequence_numbers_grow_and_are_never_reused(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db")
    ob.put(_items("dns", 0, 3))
    batch = ob.take()
    ob.ack(batch)
    ob.close()
    ob = Outbox(tmp_path / "o.db")
    ob.put(_items("dns", 3, 2))
    later = ob.take()
    assert min(s for s, _, _ in later) > max(s for s, _, _ in batch)
    ob.close()


def test_full_outbox_sheds_flows_then_protocol_then_alerts_oldest_first(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db", max_bytes=10_000)
    ob.put(_items("flow", 0, 50) + _items("dns", 0, 20) + _items("http", 20, 10)
           + _items("alert", 0, 20))  # fmt: skip
    assert ob.depth() == (100, 10_000)
    assert ob.counts()["shed"] == {}
    # over the bound: shed back to 90 % (9,000 bytes), oldest flows first
    ob.put(_items("alert", 20, 1))
    assert ob.counts()["shed"] == {"flow": 11}
    assert ob.depth() == (90, 9_000)
    # every flow goes before any protocol event; then dns and http, oldest first
    ob.put(_items("alert", 21, 60))
    assert ob.counts()["shed"] == {"flow": 50, "dns": 20, "http": 1}
    assert ob.depth() == (90, 9_000)
    # nothing else left: alerts go last, oldest first
    ob.put(_items("alert", 81, 100))
    assert ob.counts()["shed"] == {"flow": 50, "dns": 20, "http": 10, "alert": 91}
    assert ob.depth() == (90, 9_000)
    left = ob.take(max_events=1000)
    assert _numbers(left, "alert") == list(range(91, 181))
    assert len(left) == 90
    assert ob.counts()["queued"] == {"alert": 90}
    ob.close()


def test_lines_taken_but_not_acked_are_never_shed(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db", max_bytes=5_000)
    ob.put(_items("flow", 0, 40))
    sending = ob.take(max_events=10)  # flows 0..9, on their way to the hub
    ob.put(_items("alert", 0, 40))  # 8,000 bytes: 35 lines must go, only 30 may
    present = {s for s, _, _ in _stored(tmp_path / "o.db")}
    assert {s for s, _, _ in sending} <= present
    assert ob.counts()["shed"] == {"flow": 30, "alert": 5}
    assert _numbers(sending, "flow") == list(range(10))
    ob.ack(sending)
    assert ob.counts()["sent"] == {"flow": 10}
    assert ob.counts()["queued"] == {"alert": 35}
    assert ob.depth() == (35, 3_500)
    # once acked, nothing is protected any more
    ob.put(_items("flow", 40, 20))
    assert ob.counts()["shed"] == {"flow": 40, "alert": 5}
    ob.close()


def test_depth_bytes_match_the_lines_after_shed_and_ack(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db", max_bytes=20_000)
    sizes = [37, 100, 512, 1_000, 2_500]
    for i in range(40):
        kind = ("flow", "dns", "alert", "tls")[i % 4]
        ob.put(_items(kind, i, 3, sizes[i % len(sizes)]))
        if i % 7 == 3:
            ob.ack(ob.take(max_events=5))
        stored = _stored(tmp_path / "o.db")
        assert ob.depth() == (len(stored), sum(n for _, _, n in stored))
        assert ob.depth()[1] <= 20_000
    ob.close()


def test_cursor_is_saved_with_its_lines_and_survives_reopen(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db")
    assert ob.cursor("spool:a") is None
    ob.put(_items("dns", 0, 2), ("spool:a", b"120"))
    ob.put(_items("dns", 2, 2), ("spool:a", b"240"))
    ob.put([], ("tail:/x", b'{"ino":1}'))
    with pytest.raises(OutboxError, match=r"o\.db: cannot write the outbox"):
        # a line sqlite cannot bind: the whole put fails, its cursor is not recorded
        ob.put([("dns", _line("dns", 4)), ("dns", [1, 2])], ("spool:a", b"999"))  # type: ignore[list-item]
    assert ob.cursor("spool:a") == b"240"
    assert ob.depth()[0] == 4
    ob.close()
    ob = Outbox(tmp_path / "o.db")
    assert ob.cursor("spool:a") == b"240"
    assert ob.cursor("tail:/x") == b'{"ino":1}'
    assert ob.depth() == (4, 400)
    assert ob.counts()["queued"] == {"dns": 4}
    ob.close()


def test_epoch_is_stable_across_reopen_and_new_for_a_new_outbox(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "a.db")
    epoch = first.epoch
    first.close()
    again = Outbox(tmp_path / "a.db")
    assert again.epoch == epoch
    again.close()
    other = Outbox(tmp_path / "b.db")
    assert other.epoch != epoch
    assert 0 <= other.epoch < 1 << 63 and 0 <= epoch < 1 << 63
    other.close()


def test_an_outbox_that_cannot_be_opened_names_its_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match=r"file/o\.db: cannot open the outbox"):
        Outbox(blocker / "o.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match=r"garbage\.db: cannot open the outbox"):
        Outbox(garbage)


def test_rejected_lines_are_counted_apart(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db")
    ob.put(_items("dns", 0, 3))
    ob.ack(ob.take(), rejected=1)
    counts = ob.counts()
    assert counts["sent"] == {"dns": 3}
    assert counts["rejected"] == {"any": 1}
    ob.close()


# -- property: whatever happens, each line is sent, shed or queued, once

_KINDS = ["alert", "dns", "http", "flow", "stats"]

_put = st.tuples(
    st.just("put"),
    st.lists(st.tuples(st.sampled_from(_KINDS), st.integers(30, 900)), max_size=15),
)
_take = st.tuples(st.just("take"), st.integers(1, 12))
_ack = st.tuples(st.just("ack"), st.integers(0, 2))
_reopen = st.tuples(st.just("reopen"), st.just(0))
_ops = st.lists(st.one_of(_put, _put, _take, _ack, _reopen), max_size=30)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops, bound=st.integers(1_000, 8_000))
def test_every_line_is_sent_shed_or_queued_exactly_once(
    ops: list[tuple[str, Any]], bound: int
) -> None:
    """Random puts, takes, acks (the last batch taken, as the courier does) and reopens:
    depth is the queued count, and per type sent + shed + queued == put."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "o.db"
        ob = Outbox(path, max_bytes=bound)
        put: dict[str, int] = {}
        batch: list[tuple[int, str, bytes]] = []
        n = 0
        try:
            for op, arg in ops:
                if op == "put":
                    items = [(kind, _line(kind, n + i, size)) for i, (kind, size) in enumerate(arg)]
                    n += len(items)
                    for kind, _ in items:
                        put[kind] = put.get(kind, 0) + 1
                    ob.put(items)
                    stored = _stored(path)
                    in_flight = {s for s, _, _ in batch}
                    assert ob.depth()[1] <= bound or {s for s, _, _ in stored} <= in_flight
                elif op == "take":
                    batch = ob.take(max_events=arg)
                elif op == "ack" and batch:
                    ob.ack(batch, min(arg, len(batch)))
                    batch = []
                elif op == "reopen":
                    ob.close()
                    ob = Outbox(path, max_bytes=bound)
                    batch = []  # the courier starts again: what it held is taken anew
                stored = _stored(path)
                assert {s for s, _, _ in batch} <= {s for s, _, _ in stored}, "in-flight shed"
                counts = ob.counts()
                depth, size = ob.depth()
                assert depth == sum(counts["queued"].values()) == len(stored)
                assert size == sum(b for _, _, b in stored)
                for kind in _KINDS:
                    got = sum(counts[k].get(kind, 0) for k in ("sent", "shed", "queued"))
                    assert got == put.get(kind, 0), (kind, counts)
                    queued = sum(1 for _, t, _ in stored if t == kind)
                    assert counts["queued"].get(kind, 0) == queued
        finally:
            ob.close()
