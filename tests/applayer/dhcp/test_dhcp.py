"""DHCP parser: real messages from the fixtures, Suricata's expected values, malformed input.

Expected values come from the suricata-verify tests the fixtures are copied from
(`dhcp-eve-extended`, `dhcp-option-52-overload`, `dhcp-option-52-overload-both`,
`dhcp-eve-extended-option-60`) and from tshark on the same packets.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.dhcp import DhcpParser
from tocsin.applayer.dhcp.parser import decode
from tocsin.model.dhcp import DhcpEvent, DhcpInfo
from tocsin.model.ids import FlowId

from ..fuzzing import mutate
from ..replay import packets, replay

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "fixtures" / "applayer" / "dhcp"
GOLDEN = ROOT / "fixtures" / "golden" / "dhcp" / "input.pcap"


def payloads(name: str) -> list[bytes]:
    """UDP payloads of a fixture, in capture order."""
    return [p[-1] for p in packets(FIX / name) if p[1][4] == 17]


def test_request_and_ack_match_suricata_verify() -> None:
    events = replay(DhcpParser, FIX / "sv-dhcp-eve-extended.pcap")
    assert [e.event_cls for e in events] == [DhcpEvent, DhcpEvent]
    req, ack = events
    assert req.direction == TO_SERVER and ack.direction == TO_CLIENT
    assert (req.tx_id, ack.tx_id) == (0, 1)
    assert req.body == DhcpInfo(
        type="request",
        id=4016330564,
        client_mac="00:11:32:17:49:f0",
        assigned_ip="0.0.0.0",
        client_ip="10.16.1.4",
        dhcp_type="request",
        client_id="00:11:32:17:49:f0",
        hostname="nas1\x00",
        # the request list is 1,28,2,3,15,6,12: codes Suricata does not name are left out
        params=["subnet_mask", "router", "domain", "dns_server"],
    )
    b = ack.body
    assert (b.type, b.dhcp_type, b.id) == ("reply", "ack", 4016330564)
    assert (b.assigned_ip, b.client_ip, b.relay_ip, b.next_server_ip) == (
        "10.16.1.4",
        "10.16.1.4",
        "0.0.0.0",
        "10.16.1.1",
    )
    assert (b.lease_time, b.renewal_time, b.rebinding_time) == (3600, 1681, 3031)
    assert b.subnet_mask == "255.255.0.0"
    assert b.routers == b.dns_servers == ["10.16.1.1"]
    assert b.params is None and b.client_id is None


def test_relay_and_next_server_only_on_replies() -> None:
    req = decode(payloads("sv-dhcp-eve-extended.pcap")[0], 256)
    assert req.relay_ip is None and req.next_server_ip is None


def test_vendor_class_and_requested_ip() -> None:
    (ev,) = replay(DhcpParser, FIX / "sv-option-60.pcap")
    assert ev.body.vendor_class_identifier == "MSFT 5.0"
    assert ev.body.requested_ip == "192.168.1.111"
    assert ev.body.hostname == "NicksMacBook"
    assert ev.body.params == ["subnet_mask", "domain", "router", "dns_server"]


def test_overload_sname_holds_router_and_dns() -> None:
    events = replay(DhcpParser, FIX / "sv-option-52-overload.pcap")
    offers = [e.body for e in events if e.body.dhcp_type in ("offer", "ack")]
    # packets 3 and 8: options inline; 4 and 7: router and DNS only in the overloaded sname
    servers = sorted((b.dhcp_type, b.routers[0], b.dns_servers[0]) for b in offers)  # type: ignore[index]
    assert servers == [
        ("ack", "10.100.0.1", "10.100.0.1"),
        ("ack", "10.100.0.2", "10.100.0.2"),
        ("offer", "10.100.0.1", "10.100.0.1"),
        ("offer", "10.100.0.2", "10.100.0.2"),
    ]


def test_overload_both_fields() -> None:
    (ev,) = replay(DhcpParser, FIX / "sv-option-52-overload-both.pcap")
    b = ev.body
    assert (b.type, b.dhcp_type, b.id, b.client_mac, b.lease_time) == (
        "request",
        "discover",
        2888761343,
        "00:00:6c:82:dc:4e",
        3600,
    )


def test_bootp_without_magic_cookie_has_header_fields_only() -> None:
    events = replay(DhcpParser, FIX / "zeek-bad-cookie.pcap")
    assert [e.body.dhcp_type for e in events] == ["discover", None, None, None, "discover"]
    plain = events[1].body
    assert (plain.type, plain.id, plain.client_mac) == ("request", 8192, "00:11:22:33:44:55")


def test_inform_and_client_id_of_hardware_type_0() -> None:
    inform, ack = (e.body for e in replay(DhcpParser, FIX / "zeek-inform.pcap"))
    assert (inform.dhcp_type, inform.client_ip, ack.dhcp_type) == ("inform", "128.2.6.122", "ack")
    assert ack.next_server_ip == "172.19.230.7" and ack.subnet_mask == "255.255.255.0"
    (req,) = (e.body for e in replay(DhcpParser, FIX / "zeek-hw-type0.pcap"))
    # option 61 is type 0 + "cisco-cc00.0ac4.0000-Fa0/0": the type byte is not part of the id
    assert req.client_id == b"cisco-cc00.0ac4.0000-Fa0/0".hex(":")
    assert req.params == ["subnet_mask", "dns_server", "domain", "router", "tftp_server_ip"]


def test_golden_capture_two_one_way_flows() -> None:
    events = replay(DhcpParser, GOLDEN)
    assert [(e.direction, e.body.type, e.body.dhcp_type) for e in events] == [
        (TO_SERVER, "request", "request"),
        (TO_SERVER, "reply", "ack"),
    ]
    assert events[0].body.hostname == "pop-os"
    assert events[1].body.lease_time == 86093


# --- hand-made variations of a real message ---------------------------------------------


def _request() -> bytes:
    return payloads("sv-dhcp-eve-extended.pcap")[0]


def _with_options(options: bytes) -> bytes:
    msg = _request()
    return msg[:240] + options


def test_pad_end_and_bytes_after_end() -> None:
    info = decode(_with_options(b"\x00\x00\x35\x01\x01\x00\xff" + b"\x0c\xff"), 256)
    assert info.dhcp_type == "discover" and info.hostname is None


def test_missing_end_is_accepted_truncated_option_is_not() -> None:
    assert decode(_with_options(b"\x35\x01\x05"), 256).dhcp_type == "ack"
    with pytest.raises(ParseError, match="truncated"):
        decode(_with_options(b"\x35\x01\x05\x0c\x08nas"), 256)
    with pytest.raises(ParseError, match="no length"):
        decode(_with_options(b"\x35\x01\x05\x0c"), 256)


def test_truncated_real_message() -> None:
    msg = _request()
    hostname = msg.index(b"nas1")
    with pytest.raises(ParseError):
        decode(msg[: hostname + 2], 256)


def test_header_too_short_and_bad_op() -> None:
    with pytest.raises(ParseError, match="236"):
        decode(_request()[:200], 256)
    with pytest.raises(ParseError, match="op 3"):
        decode(b"\x03" + _request()[1:], 256)


def test_repeated_option_is_concatenated() -> None:
    info = decode(_with_options(b"\x37\x02\x01\x03\x37\x01\x06\x0c\x02ab\x0c\x01c\xff"), 256)
    assert info.params == ["subnet_mask", "router", "dns_server"]
    assert info.hostname == "abc"


def test_text_and_odd_lengths() -> None:
    opts = b"\x0c\x03a\xffb" + b"\x01\x03\xff\xff\xff" + b"\x33\x02\x00\x01" + b"\x3d\x01\x01\xff"
    info = decode(_with_options(opts), 256)
    assert info.hostname == "a\\xffb"  # invalid UTF-8: bytes written \xNN, as Suricata
    assert info.subnet_mask is None and info.lease_time is None and info.client_id is None


def test_unknown_message_type_and_long_hlen() -> None:
    msg = bytearray(_with_options(b"\x35\x01\x0d\xff"))
    msg[2] = 40  # hlen over the 16-byte chaddr
    info = decode(bytes(msg), 256)
    assert info.dhcp_type == "unknown" and len(info.client_mac) == 16 * 3 - 1


def test_lists_bounded_by_max_items() -> None:
    servers = b"".join(bytes([10, 0, 0, k]) for k in range(10))
    info = decode(_with_options(b"\x06\x28" + servers + b"\x37\x03\x01\x03\x06\xff"), 3)
    assert info.dns_servers == ["10.0.0.0", "10.0.0.1", "10.0.0.2"]
    assert info.params == ["subnet_mask", "router", "dns_server"]


def test_parser_counts_transactions_and_keeps_direction() -> None:
    seen: list[tuple[int, int | None]] = []
    parser = DhcpParser(lambda cls, body, d, ts, tx=None: seen.append((d, tx)), AppLimits())
    for k, msg in enumerate(payloads("sv-dhcp-eve-extended.pcap")):
        parser.feed(k, msg, 0)
    assert seen == [(TO_SERVER, 0), (TO_CLIENT, 1)]
    assert parser.done == [False, False]


SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "suricata" / "schema.json").read_text()
)


def test_bodies_validate_against_suricata_schema() -> None:
    """Every body the fixtures give fits `properties.dhcp` of Suricata's EVE schema
    (`additionalProperties` false: no field Suricata does not have)."""
    schema = SCHEMA["properties"]["dhcp"]
    bodies = [e.body for f in sorted(FIX.glob("*.pcap")) for e in replay(DhcpParser, f)]
    assert bodies
    for body in bodies:
        jsonschema.validate(json.loads(msgspec.json.encode(body)), schema)


def test_event_record() -> None:
    """The event class: tag `dhcp`, addresses by packet, body under `dhcp`."""
    event = DhcpEvent(
        timestamp="2026-01-01T00:00:00.000000+0000",
        flow_id=FlowId(1),
        src_ip="10.0.0.1",
        dest_ip="10.0.0.2",
        proto="UDP",
        dhcp=decode(_request(), 256),
    )
    line = json.loads(msgspec.json.encode(event))
    assert line["event_type"] == "dhcp" and line["dhcp"] == json.loads(
        msgspec.json.encode(event.dhcp)
    )
    assert DhcpEvent.by_packet is True


# --- fuzz ---------------------------------------------------------------------------------

REAL = [p for name in sorted(f.name for f in FIX.glob("*.pcap")) for p in payloads(name)]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    return mutate(draw, draw(st.sampled_from(REAL)))


@settings(max_examples=200, deadline=None)
@given(st.one_of(mutated(), st.binary(max_size=600)))
def test_fuzz_events_or_parse_error(data: bytes) -> None:
    got: list[object] = []
    parser = DhcpParser(lambda cls, body, d, ts, tx=None: got.append(body), AppLimits())
    try:
        parser.feed(TO_SERVER, data, 0)
    except ParseError:
        return
    (body,) = got
    assert isinstance(body, DhcpInfo)
    assert body.type in ("request", "reply")


def test_struct_header_layout() -> None:
    """The xid sits at offset 4, yiaddr at 16: check against a struct read of the bytes."""
    msg = _request()
    assert decode(msg, 256).id == struct.unpack_from("!I", msg, 4)[0]
