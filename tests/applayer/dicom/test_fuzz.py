"""Property: whatever the bytes, the DICOM parser gives events or ParseError, nothing else.

Inputs: the real exchanges of the fixture captures (pynetdicom SCU/SCP), mutated (byte flips,
truncation, insertion), and random bytes behind a valid PDU header. Every event must encode,
and neither events nor error messages may carry a fixture's patient value.
"""

from __future__ import annotations

from functools import cache

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.dicom import DicomParser

from ..fuzzing import mutate_segments
from .build import FIXTURES, FORBIDDEN, Driver, streams

SCENARIOS = ("echo", "store", "find", "move", "get", "reject", "abort")


@cache
def exchange(name: str) -> tuple[tuple[int, int, bytes], ...]:
    return tuple(streams(FIXTURES / "dicom" / f"dicom-{name}.pcap", 11112))


def run(segments: list[tuple[int, int, bytes]], chunk: int, limits: AppLimits) -> None:
    drv = Driver(DicomParser, limits, chunk=chunk)
    try:
        for d, ts, payload in segments:
            drv.send(d, payload, ts)
        drv.parser.close(0)
    except ParseError as exc:
        msg = str(exc)
        assert not any(v.lower() in msg.lower() for v in FORBIDDEN), msg
    for body in drv.bodies():
        text = msgspec.json.encode(body).decode()
        assert not any(v.lower() in text.lower() for v in FORBIDDEN), text
    assert len(drv.parser._tx.pending) <= limits.max_pending


@st.composite
def mutated(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    return mutate_segments(draw, list(exchange(draw(st.sampled_from(SCENARIOS)))))


LIMITS = st.sampled_from([AppLimits(), AppLimits(max_message=512, max_pending=2, max_items=3)])


@settings(max_examples=200, deadline=None)
@given(mutated(), st.sampled_from([1, 7, 100, 1460, 1 << 20]), LIMITS)
def test_mutated_real_exchanges(
    segments: list[tuple[int, int, bytes]], chunk: int, limits: AppLimits
) -> None:
    run(segments, chunk, limits)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.one_of(
                st.binary(max_size=300),
                # a plausible PDU header in front of random bytes
                st.builds(
                    lambda t, body: bytes([t, 0]) + len(body).to_bytes(4, "big") + body,
                    st.integers(1, 7),
                    st.binary(max_size=300),
                ),
            ),
        ),
        max_size=8,
    ),
    st.sampled_from([1, 13, 1 << 20]),
)
def test_random_bytes(chunks: list[tuple[int, bytes]], chunk: int) -> None:
    run([(d, i, data) for i, (d, data) in enumerate(chunks)], chunk, AppLimits())
