"""DNS parsers on whole captures (fixtures, see PROVENANCE.md).

Captures go through `applayer.replay.replay`; those that need more than it does (a lost
segment reported as a gap, the errors of a UDP flow counted and passed over, header fields)
through `capture.run`. Expected values are those of the suricata-verify test each capture
comes from (Suricata 8), unless stated.
"""

from __future__ import annotations

from collections import Counter

from applayer.dns.capture import FIXTURES, run
from applayer.replay import Emitted, replay
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits
from tocsin.applayer.dns import DnsTcpParser, DnsUdpParser
from tocsin.model.dns import DnsEvent, DnsInfo


def events(name: str, *, tcp: bool = False, port: int = 53) -> list[Emitted]:
    parser = DnsTcpParser if tcp else DnsUdpParser
    out = replay(parser, FIXTURES / f"{name}.pcap", port=port)
    assert all(e.event_cls is DnsEvent and e.tx_id == e.body.tx_id for e in out)
    return out


def udp(name: str) -> list[DnsInfo]:
    return [e.body for e in events(name)]


def test_udp_exchange_numbering() -> None:
    """bug-856: two queries (A, AAAA) from one socket, then their answers: one flow, messages
    numbered 0..3 in arrival order."""
    bodies = udp("sv-teredo-aaaa")
    assert [(b.type, b.tx_id) for b in bodies[:4]] == [
        ("request", 0),
        ("response", 1),
        ("request", 2),
        ("response", 3),
    ]
    assert bodies[0].queries is not None and bodies[0].queries[0].rrname == "ipv6.google.com"


def test_udp_answers_per_capture() -> None:
    emitted = events("sv-dig-cname-a")
    assert [e.direction for e in emitted] == [TO_SERVER, TO_CLIENT]
    dig = [e.body for e in emitted]
    assert [b.type for b in dig] == ["request", "response"]
    assert dig[1].answers is not None
    assert [(a.rrtype, a.rdata) for a in dig[1].answers] == [
        ("CNAME", "suricata-ids.org"),
        ("A", "192.0.78.24"),
        ("A", "192.0.78.25"),
    ]
    txt = udp("sv-txt")  # two flows: google.com TXT, then an A query
    assert [(b.type, b.tx_id) for b in txt] == [
        ("request", 0),
        ("response", 1),
        ("request", 0),
        ("response", 1),
    ]
    assert txt[3].answers is not None and txt[3].answers[0].rdata == "34.197.178.240"


def test_udp_junk_datagram_first() -> None:
    """dns-udp-junkrequest-first: an SNMP datagram to port 53 is refused (ParseError, not
    numbered), the server's FORMERR reply and the real exchange are parsed."""
    res = run(FIXTURES / "sv-junk-first.pcap")
    assert len(res.errors) == 1 and "announces" in res.errors[0]
    assert [(e.body.type, e.body.rcode, e.tx_id) for e in res.events] == [
        ("response", "FORMERR", 0),
        ("request", "NOERROR", 1),
        ("response", "NOERROR", 2),
    ]
    assert res.events[1].body.queries[0].rrname == "catenacyber.Fr"  # case kept


def test_iodine_tunnel_volume() -> None:
    """nDPI's iodine capture: as tshark counts them, 222 queries and 212 responses, all of
    type NULL with binary labels; none lost to an error."""
    bodies = udp("ndpi-iodine")
    assert Counter(b.type for b in bodies) == Counter(request=222, response=212)
    assert Counter(q.rrtype for b in bodies for q in b.queries or []) == Counter(NULL=434)


def test_tcp_request_response() -> None:
    """dns-tcp-www-google-com: one request, one response with 12 answers; addresses follow
    the packet."""
    res = run(FIXTURES / "sv-tcp-google.pcap")
    assert res.errors == []
    req, resp = res.events
    assert (req.body.type, req.header["src_ip"], req.header["dest_ip"]) == (
        "request",
        "10.16.1.11",
        "8.8.4.4",
    )
    assert (resp.body.type, resp.header["src_ip"], resp.header["dest_ip"]) == (
        "response",
        "8.8.4.4",
        "10.16.1.11",
    )
    assert resp.body.answers is not None and len(resp.body.answers) == 12
    assert (resp.tx_id, resp.header["proto"]) == (1, "TCP")


def test_tcp_three_exchanges_on_one_connection() -> None:
    """task-7018: three queries on one TCP connection, message numbers 0..5."""
    emitted = events("sv-tcp-three-queries", tcp=True)
    assert [(e.body.type, e.direction, e.tx_id) for e in emitted] == [
        ("request", TO_SERVER, 0),
        ("response", TO_CLIENT, 1),
        ("request", TO_SERVER, 2),
        ("response", TO_CLIENT, 3),
        ("request", TO_SERVER, 4),
        ("response", TO_CLIENT, 5),
    ]
    last = emitted[5].body
    assert last.answers is not None
    assert [a.rdata for a in last.answers] == ["15.197.148.33", "3.33.130.190"]
    assert last.grouped is not None and last.grouped.A == ["15.197.148.33", "3.33.130.190"]


def test_tcp_pipelined_requests() -> None:
    """dns-tcp-multirequest-buffer: 20 requests sent back to back, then 20 responses."""
    emitted = events("sv-tcp-multirequest", tcp=True)
    assert len(emitted) == 40
    reqs = [e.body for e in emitted if e.body.type == "request"]
    assert [b.queries[0].rrname for b in reqs[:3]] == [f"{i}.google.com" for i in range(3)]


def test_tcp_name_truncated_at_1025() -> None:
    """dns-truncated-rname (Suricata 8): a 16 KiB request over two segments whose names are
    cut to 1025 bytes and flagged; queries bounded by max_items."""
    emitted = events("sv-tcp-truncated-rname", tcp=True, port=1053)
    assert len(emitted) == 1
    queries = emitted[0].body.queries
    assert len(queries) == AppLimits().max_items
    assert len(queries[0].rrname) == 1025 and queries[0].rrname_truncated is True


def test_tcp_gap_in_request_direction() -> None:
    """dns-tcp-ts-gap: a to-server segment is missing; Suricata logs 2 requests and 3
    responses of 12 answers each. The lost request is not seen, its response still is."""
    res = run(FIXTURES / "sv-tcp-gap.pcap")
    kinds = Counter(e.body.type for e in res.events)
    assert kinds == Counter(request=2, response=3)
    assert all(len(e.body.answers) == 12 for e in res.events if e.body.type == "response")
