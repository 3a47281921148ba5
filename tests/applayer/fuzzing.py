"""Byte mutations for the parsers' hypothesis fuzz tests: bit flips, cuts and insertions of
real messages, so the parser meets near-valid input, not only noise. `mutate` changes one
message; `mutate_segments` changes a few segments of a real exchange (a cut ends the
exchange there)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def mutate(draw: st.DrawFn, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[pos:]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


def mutate_segments(
    draw: st.DrawFn,
    segs: list[tuple[int, int, bytes]],
    tokens: Sequence[bytes] = (),
) -> list[tuple[int, int, bytes]]:
    """1 to 4 mutations of (direction, ts, bytes) segments: a byte flipped, the segment cut
    (and the exchange with it), bytes inserted (random, or one of the protocol's `tokens`:
    its delimiters), or bytes dropped."""
    segs = list(segs)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(segs) - 1))
        d, ts, data = segs[i]
        op = draw(st.sampled_from(("flip", "truncate", "insert", "drop")))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
        elif op == "truncate":
            data = data[:pos]
            segs = segs[: i + 1]
        elif op == "insert":
            noise = st.binary(min_size=1, max_size=16)
            ins = draw(st.one_of(st.sampled_from(list(tokens)), noise) if tokens else noise)
            data = data[:pos] + ins + data[pos:]
        else:
            data = data[:pos] + data[pos + draw(st.integers(1, 32)) :]
        segs[i] = (d, ts, data)
    return segs
