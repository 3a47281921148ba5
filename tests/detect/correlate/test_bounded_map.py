"""`BoundedMap`: per-host state that stays bounded and that a flood of one-off keys (spoofed
sources) cannot flush — the host that came back keeps its history."""

from __future__ import annotations

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
