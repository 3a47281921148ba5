"""Property: a single content with at most offset/depth/nocase/negation agrees with the
obvious reference, `pattern in buf[offset:offset + depth]`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.detect.match.inspect import inspect
from tocsin.detect.model import Content

_ALPHABET = b"abAB\x00\xff"
_bytes = st.binary(min_size=0, max_size=40).map(lambda b: bytes(_ALPHABET[x % 6] for x in b))


@settings(max_examples=600, deadline=None)
@given(
    buf=_bytes,
    pattern=_bytes.filter(lambda p: 0 < len(p) <= 4),
    offset=st.none() | st.integers(0, 45),
    depth=st.none() | st.integers(1, 45),
    nocase=st.booleans(),
    negated=st.booleans(),
)
def test_single_content_matches_reference(
    buf: bytes,
    pattern: bytes,
    offset: int | None,
    depth: int | None,
    nocase: bool,
    negated: bool,
) -> None:
    c = Content(pattern, negated=negated, nocase=nocase, offset=offset, depth=depth)
    start = offset or 0
    end = len(buf) if depth is None else start + depth
    hay, pat = (buf.lower(), pattern.lower()) if nocase else (buf, pattern)
    found = pat in hay[start:end]
    assert inspect(buf, [c]) is (found != negated)


@settings(max_examples=300, deadline=None)
@given(buf=_bytes, first=_bytes.filter(lambda p: 0 < len(p) <= 3), second=_bytes.filter(len))
def test_within_backtracking_matches_reference(buf: bytes, first: bytes, second: bytes) -> None:
    # content:first; content:second; distance:0; within:len(second) == "second right after
    # some occurrence of first" (every occurrence is retried)
    c1 = Content(first)
    c2 = Content(second, distance=0, within=len(second))
    want = any(
        buf.startswith(first, i) and buf.startswith(second, i + len(first)) for i in range(len(buf))
    )
    assert inspect(buf, [c1, c2]) is want
