"""`BoundedMap`: per-host state that stays bounded and that a flood of one-off keys (spoofed
sources) cannot flush — the host that came back keeps its history."""

from __future__ import annotations

import pytest

from tocsin.detect.correlate.state import BoundedMap


def test_never_more_than_its_capacity_and_every_loss_counted() -> None:
    m: BoundedMap[int, list[int]] = BoundedMap(100)
    for k in range(1000):
        m.get_or_create(k, list)
    assert len(m) == 100
    assert m.evicted == 900
    assert 999 in m and 0 not in m  # one-off keys: least recently used first


def test_a_flood_of_one_off_keys_does_not_flush_a_host_seen_twice() -> None:
    m: BoundedMap[str, list[int]] = BoundedMap(1000)
    m.get_or_create("implant", list).append(1)
    m.get_or_create("implant", list).append(2)  # seen again: protected
    for k in range(50_000):  # a spoofed-source flood, 50 times the capacity
        m.get_or_create(f"10.{k >> 16}.{(k >> 8) & 255}.{k & 255}", list)
    assert m.get("implant") == [1, 2]
    assert len(m) == 1000
    assert m.evicted == 50_000 - 999


def test_the_protected_part_is_bounded_too_and_gives_back_its_oldest() -> None:
    m: BoundedMap[int, int] = BoundedMap(10, protected_pct=50)
    for k in range(8):  # 8 keys seen twice: 5 fit the protected part
        m.get_or_create(k, lambda: 0)
        m.get_or_create(k, lambda: 0)
    assert len(m) == 8
    for k in range(100, 120):  # one-off keys: the 3 demoted ones go first, then one-offs
        m.get_or_create(k, lambda: 0)
    assert len(m) == 10
    assert all(k in m for k in range(3, 8))  # the 5 most recently protected stay
    assert not any(k in m for k in range(3))


def test_pop_get_and_expiry_see_both_parts() -> None:
    m: BoundedMap[str, int] = BoundedMap(10)
    m.get_or_create("a", lambda: 1)
    m.get_or_create("b", lambda: 2)
    m.get_or_create("b", lambda: 2)
    assert dict(m.items()) == {"a": 1, "b": 2}
    assert m.drop_older(lambda v: v > 1) == 1
    assert m.pop("b") == 2 and m.pop("b") is None and len(m) == 0


S = 1_000_000  # µs


def test_keys_seen_twice_in_a_burst_stay_on_probation_and_cannot_flush_a_persistent_key() -> None:
    """Packet time given: a second touch protects only `persist_us` after the first, so a
    spoofed source probing two ports within a millisecond stays on probation."""
    m: BoundedMap[int, list[int]] = BoundedMap(100)
    m.get_or_create(-1, list, now=0).append(1)
    m.get_or_create(-1, list, now=S // 2).append(2)  # too soon: still on probation
    assert not m.protected(-1)
    m.get_or_create(-1, list, now=2 * S).append(3)  # came back: protected
    assert m.protected(-1)
    for k in range(10_000):  # 100 times the capacity, each key twice 100 µs apart
        t = 3 * S + 1000 * k
        m.get_or_create(k, list, now=t)
        m.get_or_create(k, list, now=t + 100)
        assert len(m) <= 100
    assert m.get(-1) == [1, 2, 3]
    assert not any(m.protected(k) for k in range(10_000))
    assert m.evicted == 10_000 - 99


def test_a_key_churned_out_before_it_came_back_is_protected_on_its_return() -> None:
    m: BoundedMap[int, int] = BoundedMap(10)
    m.get_or_create(-1, lambda: 1, now=0)
    m.get_or_create(-2, lambda: 1, now=0)
    for k in range(50):  # a flood of one-off keys pushes both out
        m.get_or_create(k, lambda: 0, now=k)
    assert -1 not in m and -2 not in m
    assert m.get_or_create(-1, lambda: 2, now=2 * S) == 2  # its state is lost...
    assert m.protected(-1) and m.recalled == 1  # ...but it is kept from now on
    # back too soon: on probation with its first-seen time, so its next return protects it
    m.get_or_create(-2, lambda: 2, now=S // 2)
    assert not m.protected(-2)
    m.get_or_create(-2, lambda: 2, now=S)
    assert m.protected(-2)


def test_persist_0_protects_at_the_second_touch_never_the_first() -> None:
    m: BoundedMap[int, int] = BoundedMap(10, persist_us=0)
    m.get_or_create(1, lambda: 1, now=5)
    assert not m.protected(1)
    for k in range(50):  # churned out, back at the same instant: its ghost protects it
        m.get_or_create(k + 2, lambda: 0, now=5)
    m.get_or_create(1, lambda: 1, now=5)
    assert m.protected(1) and m.recalled == 1
    m.get_or_create(0, lambda: 1, now=5)
    m.get_or_create(0, lambda: 1, now=5)
    assert m.protected(0)


def test_without_ghosts_a_returning_key_starts_over() -> None:
    m: BoundedMap[int, int] = BoundedMap(10, ghost_slots=0)
    m.get_or_create(-1, lambda: 1, now=0)
    for k in range(50):
        m.get_or_create(k, lambda: 0, now=k)
    m.get_or_create(-1, lambda: 1, now=2 * S)
    assert not m.protected(-1) and m.recalled == 0


def test_a_popped_key_is_new_again() -> None:
    m: BoundedMap[str, int] = BoundedMap(10)
    m.get_or_create("a", lambda: 1, now=0)
    assert m.pop("a") == 1
    m.get_or_create("a", lambda: 1, now=5 * S)
    m.get_or_create("a", lambda: 1, now=5 * S + S // 2)  # first seen at 5 s, not 0
    assert not m.protected("a")
    assert m.drop_older(lambda v: False) == 1 and len(m) == 0


@pytest.mark.parametrize(
    "kw", [{"capacity": 0}, {"protected_pct": 100}, {"persist_us": -1}, {"ghost_slots": -1}]
)
def test_bad_arguments_are_refused(kw: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=next(iter(kw))):
        BoundedMap(**{"capacity": 10, **kw})
