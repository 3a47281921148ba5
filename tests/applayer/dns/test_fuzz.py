"""Property: whatever the bytes, the DNS parsers give events that fit Suricata's EVE schema,
or `ParseError`, and nothing else (no IndexError, struct.error, UnicodeDecodeError...).

Inputs: the real messages of every fixture capture, mutated (byte flips, truncation,
insertion, duplicated slices that make compression pointers land anywhere), and random bytes;
for TCP, mutated framed streams cut into random chunks.
"""

from __future__ import annotations

import contextlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from applayer.dns.capture import FIXTURES, payloads
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.dns import DnsTcpParser, DnsUdpParser
from tocsin.applayer.dns.message import decode
from tocsin.model.dns import DnsEvent

SCHEMA = Path(__file__).resolve().parents[2] / "fixtures" / "suricata" / "schema.json"
LIMITS = AppLimits(max_items=16)


@cache
def seeds() -> list[bytes]:
    out: list[bytes] = []
    for pcap in sorted(FIXTURES.glob("*.pcap")):
        out.extend(payloads(pcap)[:12])
    return out


@cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    sub = dict(schema["properties"]["dns"])
    sub["$defs"] = schema["$defs"]
    return jsonschema.Draft202012Validator(sub)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    msg = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("flip", "cut", "insert", "dup", "set")))
        at = draw(st.integers(0, max(len(msg) - 1, 0)))
        if op == "flip" and msg:
            msg[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and msg:
            special = (0x00, 0x3F, 0x40, 0xC0, 0xFF, draw(st.integers(0, 255)))
            msg[at] = draw(st.sampled_from(special))
        elif op == "cut":
            del msg[at:]
        elif op == "insert":
            msg[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            size = draw(st.integers(1, 24))
            msg[at:at] = msg[draw(st.integers(0, max(len(msg) - 1, 0))) :][:size]
    return bytes(msg)


def check(events: list[tuple[Any, Any]]) -> None:
    for cls, body in events:
        assert cls is DnsEvent
        errors = list(validator().iter_errors(msgspec.to_builtins(body)))
        assert not errors, errors[0].message
        msgspec.json.encode(body)


def collect() -> tuple[list[tuple[Any, Any]], Any]:
    events: list[tuple[Any, Any]] = []

    def emit(cls: Any, body: Any, direction: int, ts_us: int, tx_id: int | None = None) -> None:
        assert tx_id == body.tx_id
        events.append((cls, body))

    return events, emit


@settings(max_examples=200, deadline=None)
@given(st.one_of(mutated(), st.binary(max_size=600)))
def test_udp_messages(data: bytes) -> None:
    events, emit = collect()
    parser = DnsUdpParser(emit, LIMITS)
    try:
        parser.feed(TO_CLIENT, data, 1)
    except ParseError:
        assert events == []
    else:
        assert len(events) == 1
        assert decode(data, 0, LIMITS.max_items) == events[0][1]
    parser.feed(TO_SERVER, seeds()[0], 2)  # still usable
    check(events)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(mutated(), st.binary(max_size=80)), min_size=1, max_size=4),
    st.lists(st.integers(1, 400), min_size=1, max_size=12),
    st.booleans(),
)
def test_tcp_streams(messages: list[bytes], cuts: list[int], gap: bool) -> None:
    stream = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
    events, emit = collect()
    parser = DnsTcpParser(emit, LIMITS)
    pos = 0
    for i, size in enumerate(cuts * (1 + len(stream) // sum(cuts))):
        chunk = stream[pos : pos + size]
        pos += size
        if not chunk:
            break
        if gap and i == 1:
            parser.gap(TO_SERVER, i)
        skip = min(parser.skip[TO_SERVER], len(chunk))
        parser.skip[TO_SERVER] -= skip
        if skip == len(chunk):
            continue
        # on ParseError the dispatcher would stop; the parser must stay consistent anyway
        with contextlib.suppress(ParseError):
            parser.feed(TO_SERVER, chunk[skip:], i)
    assert len(events) <= len(messages)
    check(events)
