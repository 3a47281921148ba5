"""`DnsUdpParser` and `DnsTcpParser`: message numbering, TCP framing, bounds, errors, gaps.

Messages are real (the `dig` exchange of suricata-verify's cond-log-dns-dig capture); the TCP
streams are those messages with their 2-byte length prefix, cut in every way.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from applayer.dns.capture import FIXTURES, payloads
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.dns import DnsTcpParser, DnsUdpParser
from tocsin.model.dns import DnsEvent

REQ, RESP = payloads(FIXTURES / "sv-dig-cname-a.pcap")
JUNK = b"\x00\x07garbage"  # a 7-byte "message": shorter than a DNS header


def framed(msg: bytes) -> bytes:
    return len(msg).to_bytes(2, "big") + msg


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[type[msgspec.Struct], Any, int, int, int | None]] = []

    def __call__(
        self,
        event_cls: type[msgspec.Struct],
        body: msgspec.Struct,
        direction: int,
        ts_us: int,
        tx_id: int | None = None,
    ) -> None:
        self.events.append((event_cls, body, direction, ts_us, tx_id))

    def summary(self) -> list[tuple[str, int, int | None]]:
        return [(b.type, d, t) for _, b, d, _, t in self.events]


def test_udp_numbers_messages_across_directions() -> None:
    sink = Sink()
    p = DnsUdpParser(sink, AppLimits())
    assert p.name == "dns" and p.datagram is True
    p.feed(TO_SERVER, REQ, 10)
    p.feed(TO_CLIENT, RESP, 20)
    p.feed(TO_SERVER, REQ, 30)
    assert sink.summary() == [("request", 0, 0), ("response", 1, 1), ("request", 0, 2)]
    cls, body, _, ts, tx = sink.events[1]
    assert cls is DnsEvent and ts == 20 and body.tx_id == tx == 1


def test_udp_error_leaves_parser_usable() -> None:
    """A datagram that does not parse raises; it takes no number; the next one is parsed."""
    sink = Sink()
    p = DnsUdpParser(sink, AppLimits())
    p.feed(TO_SERVER, REQ, 1)
    with pytest.raises(ParseError):
        p.feed(TO_CLIENT, RESP[:-3], 2)
    p.feed(TO_CLIENT, RESP, 3)
    assert sink.summary() == [("request", 0, 0), ("response", 1, 1)]


def test_udp_response_in_initiator_direction() -> None:
    """A capture starting with a response: the QR bit decides the type, the event keeps the
    direction it came in (its addresses follow the packet)."""
    sink = Sink()
    DnsUdpParser(sink, AppLimits()).feed(TO_SERVER, RESP, 1)
    assert sink.summary() == [("response", TO_SERVER, 0)]


def test_tcp_one_chunk_two_messages_both_directions() -> None:
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    assert p.datagram is False
    p.feed(TO_SERVER, framed(REQ) + framed(REQ), 5)
    p.feed(TO_CLIENT, framed(RESP), 6)
    assert sink.summary() == [("request", 0, 0), ("request", 0, 1), ("response", 1, 2)]


@pytest.mark.parametrize("step", [1, 2, 3, 13, 50])
def test_tcp_any_split(step: int) -> None:
    stream = framed(REQ) + b"\x00\x00" + framed(RESP)  # a zero length is skipped
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    for i in range(0, len(stream), step):
        p.feed(TO_SERVER, stream[i : i + step], i)
    assert sink.summary() == [("request", 0, 0), ("response", 0, 1)]
    whole = Sink()
    DnsUdpParser(whole, AppLimits()).feed(TO_CLIENT, RESP, 0)
    assert sink.events[1][1].answers == whole.events[0][1].answers


def test_tcp_message_over_limit_is_skipped() -> None:
    big = framed(RESP)
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits(max_message=len(RESP) - 1))
    p.feed(TO_CLIENT, big[:30], 1)
    assert p.skip[TO_CLIENT] == len(big) - 30 and sink.events == []
    p.skip[TO_CLIENT] = 0  # the dispatcher drops those bytes
    p.feed(TO_CLIENT, framed(REQ), 2)
    assert sink.summary() == [("request", TO_CLIENT, 0)]
    # whole in one chunk: passed over in place
    sink2 = Sink()
    p2 = DnsTcpParser(sink2, AppLimits(max_message=len(RESP) - 1))
    p2.feed(TO_SERVER, big + framed(REQ), 1)
    assert p2.skip[TO_SERVER] == 0 and sink2.summary() == [("request", 0, 0)]


def test_tcp_bad_message_raises_after_the_good_ones() -> None:
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    with pytest.raises(ParseError, match="shorter than its header"):
        p.feed(TO_SERVER, framed(REQ) + JUNK + framed(REQ), 1)
    assert sink.summary() == [("request", 0, 0), ("request", 0, 1)]
    p.feed(TO_SERVER, framed(REQ), 2)  # framing intact: the next message parses
    assert sink.summary()[-1] == ("request", 0, 2)


def test_tcp_gap_resynchronises_on_a_message_start() -> None:
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    p.feed(TO_CLIENT, framed(RESP)[:40], 1)  # a message cut by the loss
    p.gap(TO_CLIENT, 2)
    assert p.done[TO_CLIENT] is False
    p.feed(TO_CLIENT, framed(RESP)[60:], 3)  # the tail of a message: not a start, dropped
    p.feed(TO_CLIENT, framed(RESP)[:5], 4)  # too short to tell: held
    p.feed(TO_CLIENT, framed(RESP)[5:], 5)
    assert sink.summary() == [("response", TO_CLIENT, 0)]


def test_tcp_gap_then_clean_stream() -> None:
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    p.gap(TO_SERVER, 1)
    p.feed(TO_SERVER, framed(REQ) + framed(REQ), 2)
    assert len(sink.events) == 2


def test_tcp_gap_plausible_header_but_bad_message_dropped() -> None:
    sink = Sink()
    p = DnsTcpParser(sink, AppLimits())
    p.gap(TO_CLIENT, 1)
    p.feed(TO_CLIENT, framed(RESP[:-3]), 2)  # header fine, last record cut: not a start
    p.feed(TO_CLIENT, framed(RESP), 3)
    assert sink.summary() == [("response", TO_CLIENT, 0)]
