"""Property: mutated real TLS conversations and random bytes give `tls` events or a
ParseError, never another exception; what is emitted always encodes; state stays bounded."""

from __future__ import annotations

import base64

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import AppLimits, ParseError
from tocsin.applayer.tls.x509 import CertError, read_certificate
from tocsin.model.tls import TlsInfo

from ._util import Chunk, conversations, run

_NAMES = [
    "client-auth.pcap",
    "client-hello-frag.pcap",
    "hrr.pcap",
    "ja4-tls-quic.pcap",
    "sslv2.pcap",
    "sslv2-hello-tls-server.pcap",
    "tls13-draft14.pcap",
    "tls1_1.pcap",
    "pre-1970.pcap",
]
# the cleartext part of each connection: the first chunks of each, where the handshake is
_CONVS: list[list[Chunk]] = [c[:8] for n in _NAMES for c in conversations(n)]
_LIMITS = AppLimits(max_message=4096, max_items=16)


def _check(chunks: list[Chunk], cut: int) -> None:
    r = run(chunks, limits=_LIMITS, split=lambda b: [b[i : i + cut] for i in range(0, len(b), cut)])
    assert r.error is None or isinstance(r.error, ParseError)
    assert len(r.events) <= 1
    for info, _d, _ts in r.events:
        assert isinstance(info, TlsInfo)
        msgspec.json.encode(info)
        if info.subjectaltname is not None:
            assert len(info.subjectaltname) <= _LIMITS.max_items
    for side in r.parser._sides:  # bounded memory: a record header / one v2 hello, one message
        assert len(side.pending) <= _LIMITS.max_message + 2
        assert len(side.asm._body) <= _LIMITS.max_message


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[list[Chunk], int]:
    conv = list(draw(st.sampled_from(_CONVS)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(conv) - 1))
        d, data = conv[i]
        op = draw(st.sampled_from(["flip", "truncate", "insert", "drop"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data = data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
        elif op == "truncate":
            data = data[:pos]
        elif op == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]
        else:
            conv.pop(i)
            if not conv:
                conv = [(0, b"")]
            continue
        conv[i] = (d, data)
    return conv, draw(st.sampled_from([1, 3, 64, 100_000]))


@settings(max_examples=200, deadline=None)
@given(_mutated())
def test_mutated_real_conversations(case: tuple[list[Chunk], int]) -> None:
    _check(*case)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=300)), max_size=6),
    st.sampled_from([1, 7, 100_000]),
)
def test_random_bytes(chunks: list[Chunk], cut: int) -> None:
    _check(chunks, cut)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([b"\x16\x03\x01", b"\x16\x03\x03", b"\x80", b"\x15\x03\x03", b"\x14\x03\x03"]),
    st.binary(max_size=400),
)
def test_plausible_record_headers(head: bytes, tail: bytes) -> None:
    # random bodies behind real-looking record headers reach the hello and DER readers
    _check([(0, head + tail), (1, head + tail[::-1])], 50)


def _leaves() -> list[bytes]:
    out = []
    for name in ("glupteba-san.pcap", "client-auth.pcap", "x509-generalizedtime.pcap"):
        info = run(conversations(name)[0], certificates=True).events[0][0]
        out += [base64.b64decode(c) for c in info.chain or []]
    return out


_CERTS = _leaves()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_CERTS), st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 255))))
def test_mutated_certificates(der: bytes, flips: list[tuple[int, int]]) -> None:
    b = bytearray(der)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    try:
        info = read_certificate(bytes(b), max_san=8)
    except CertError:
        return
    assert len(info.subjectaltname) <= 8
    msgspec.json.encode([info.subject, info.issuerdn, info.serial, info.notbefore])
