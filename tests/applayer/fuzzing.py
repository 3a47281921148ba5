"""Byte mutations for the parsers' hypothesis fuzz tests: up to 4 bit flips, cuts and
insertions of a real message, so the parser meets near-valid input, not only noise."""

from __future__ import annotations

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
