"""Property: whatever the bytes, the HL7 parser gives events or ParseError, nothing else.

Inputs: the real MLLP exchanges of the fixture captures (the `hl7` library's and nDPI's),
mutated (byte flips, truncation, insertion, deletion), and random bytes, plain or framed.
Every event must encode, and neither events nor error messages may carry a patient value.
"""

from __future__ import annotations

from functools import cache

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.hl7 import HL7Parser

from ..dicom.build import FIXTURES, FORBIDDEN, Driver, streams
from ..fuzzing import mutate_segments

PCAPS = ("hl7-aa", "hl7-errors", "hl7-noack", "hl7-ndpi")


@cache
def exchange(name: str) -> tuple[tuple[int, int, bytes], ...]:
    return tuple(streams(FIXTURES / "hl7" / f"{name}.pcap"))


def run(segments: list[tuple[int, int, bytes]], chunk: int, limits: AppLimits) -> None:
    drv = Driver(HL7Parser, limits, chunk=chunk)
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
    for d in (0, 1):
        assert len(drv.parser._dirs[d].buf) <= limits.max_message
        assert len(drv.parser._pending[d]) <= limits.max_pending


@st.composite
def mutated(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    return mutate_segments(
        draw,
        list(exchange(draw(st.sampled_from(PCAPS)))),
        [b"\x0b", b"\x1c", b"\r", b"|", b"^", b"MSA|AA|"],
    )


LIMITS = st.sampled_from([AppLimits(), AppLimits(max_message=64, max_pending=1, max_items=2)])


@settings(max_examples=200, deadline=None)
@given(mutated(), st.sampled_from([1, 5, 100, 1 << 20]), LIMITS)
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
                st.binary(max_size=200),
                st.builds(lambda b: b"\x0bMSH|^~\\&|" + b + b"\x1c\x0d", st.binary(max_size=200)),
            ),
        ),
        max_size=8,
    ),
    st.sampled_from([1, 13, 1 << 20]),
)
def test_random_bytes(chunks: list[tuple[int, bytes]], chunk: int) -> None:
    run([(d, i, data) for i, (d, data) in enumerate(chunks)], chunk, AppLimits())
