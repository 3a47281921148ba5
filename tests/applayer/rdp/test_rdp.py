"""RDP parser: the connection sequence on real captures, hand-made PDUs, malformed input.

Expected values: suricata-verify `rdp-protocol` (RDP-003: cookie, client core data, channels,
4 events as `output-eve-rdp-01` counts), tshark (`rdp.rt_cookie`, `rdp.client.name`,
`rdp.name`, `rdp.negReq.selectedProtocol`) and Zeek's rdp.log on the Zeek captures (cookie,
client name, channels, desktop size, keyboard layout, digital product id).
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
from tocsin.applayer.rdp import RdpParser
from tocsin.applayer.rdp.pdu import (
    ConnectInitial,
    connect_initial,
    connection_confirm,
    connection_request,
)
from tocsin.applayer.rdp.windows import build_name, lcid_name
from tocsin.model.ids import FlowId
from tocsin.model.rdp import RdpClient, RdpEvent, RdpInfo

from ..fuzzing import mutate
from ..replay import Feeder as _Feeder
from ..replay import chunks, replay

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "rdp"


class Feeder(_Feeder):
    def __init__(self, limits: AppLimits | None = None) -> None:
        super().__init__(RdpParser, limits)


def tpkt(tpdu: bytes) -> bytes:
    return struct.pack("!BBH", 3, 0, len(tpdu) + 4) + tpdu


def cr(variable: bytes) -> bytes:
    """X.224 Connection Request TPDU (class 0) with its variable part."""
    return bytes([6 + len(variable), 0xE0, 0, 0, 0x12, 0x34, 0]) + variable


def cc(variable: bytes) -> bytes:
    return bytes([6 + len(variable), 0xD0, 0, 0, 0x12, 0x34, 0]) + variable


def neg(kind: int, value: int, flags: int = 0) -> bytes:
    return struct.pack("<BBHI", kind, flags, 8, value)


def test_standard_security_matches_suricata_verify() -> None:
    events = replay(RdpParser, FIX / "sv-rdp-003.pcap", port=3389)
    assert all(e.event_cls is RdpEvent for e in events)
    assert [(e.body.event_type, e.direction, e.tx_id, e.body.tx_id) for e in events] == [
        ("initial_request", TO_SERVER, 1, 1),
        ("initial_response", TO_CLIENT, 2, 2),
        ("connect_request", TO_SERVER, 3, 3),
        ("connect_response", TO_CLIENT, 4, 4),
    ]
    assert events[0].body == RdpInfo(tx_id=1, event_type="initial_request", cookie="A70067")
    request = events[2].body
    assert request.client == RdpClient(
        version="v5",
        desktop_width=1152,
        desktop_height=864,
        color_depth=15,
        keyboard_layout="en-US",
        build="Windows XP",
        client_name="ISD2-KM84178",
        keyboard_type="enhanced",
        function_keys=12,
        product_id=1,
        capabilities=["support_errinfo_pdf"],
        id="55274-OEM-0011903-00107",
    )
    assert request.channels == ["rdpdr", "cliprdr", "rdpsnd"]


def test_credssp_then_tls() -> None:
    events = replay(RdpParser, FIX / "zeek-rdp-to-ssl.pcap", port=3389)
    per_flow: dict[int, list[tuple[str, str | None]]] = {}
    for e in events:
        per_flow.setdefault(e.flow[1], []).append((e.body.event_type, e.body.cookie))
    steps = [("initial_request", "AWAKECODI"), ("initial_response", None), ("tls_handshake", None)]
    assert per_flow == {49206: steps, 49207: steps}


def test_tls_switch_sets_done_both_ways() -> None:
    (flow,) = chunks(FIX / "zeek-rdp-no-cookie-mstshash.pcap", port=3389)
    f = Feeder()
    for d, data in flow:
        f.feed(d, data)
    assert f.types() == ["initial_request", "initial_response", "tls_handshake"]
    assert f.events[0][1].cookie is None
    assert f.parser.done == [True, True]


def test_negotiation_failure_ends_the_flow() -> None:
    events = replay(RdpParser, FIX / "zeek-rdp-proprietary-encryption.pcap", port=3389)
    first = [e.body for e in events if e.flow[1] == 1311]
    assert [b.event_type for b in first] == ["initial_request", "initial_response"]
    assert first[0].cookie == "FTBCO\\A70"
    second = [e.body for e in events if e.flow[1] == 1312]
    assert [b.event_type for b in second][-1] == "connect_response"
    client = second[2].client
    assert client is not None
    assert (client.build, client.client_name, client.color_depth) == (
        "Windows Vista RTM",
        "FROG-POND",
        24,
    )
    assert second[2].channels == ["rdpdr", "rdpsnd", "drdynvc", "cliprdr"]


def test_windows_8_1_client_and_product_id() -> None:
    events = replay(RdpParser, FIX / "zeek-rdp-x509.pcap", port=3389)
    (request,) = [e.body for e in events if e.body.event_type == "connect_request"]
    assert events[0].body.cookie == "JOHN-PC  "
    c = request.client
    assert c is not None
    assert (c.build, c.client_name, c.desktop_width, c.desktop_height) == (
        "Windows 8.1",
        "JOHN-PC-LAPTOP",
        1920,
        1080,
    )
    assert c.id == "3c571ed0-3415-474b-ae94-74e151b"
    assert c.capabilities is not None and "support_heartbeat_pdu" in c.capabilities
    assert "want_32bpp_session" not in c.capabilities


def test_not_a_tpkt_is_an_error() -> None:
    with pytest.raises(ParseError, match="tpkt"):
        replay(RdpParser, FIX / "zeek-rdp-invalid-length.pcap")


def test_hand_made_request_and_confirm() -> None:
    req = connection_request(cr(b"Cookie: mstshash=bob\r\n" + neg(1, 0x0B)))
    assert req is not None and (req.cookie, req.requested) == ("bob", 0x0B)
    token = connection_request(cr(b"Cookie: msts=3640205228.15629.0000\r\n" + neg(1, 3)))
    assert token is not None and (token.cookie, token.requested) == (None, 3)
    bare = connection_request(cr(b""))
    assert bare is not None and (bare.cookie, bare.requested) == (None, None)
    ok = connection_confirm(cc(neg(2, 2)))
    assert ok is not None and (ok.selected, ok.failure) == (2, None)
    fail = connection_confirm(cc(neg(3, 5)))
    assert fail is not None and (fail.selected, fail.failure) == (None, 5)
    assert connection_request(cc(b"")) is None and connection_confirm(cr(b"")) is None


def test_malformed_x224() -> None:
    with pytest.raises(ParseError, match="length indicator"):
        connection_request(bytes([40]) + cr(b"")[1:])
    with pytest.raises(ParseError, match="class"):
        connection_request(cr(b"")[:6] + b"\x20")


def _user_data(*blocks: bytes) -> bytes:
    body = b"".join(blocks)
    assert len(body) < 0x3FFF
    length = struct.pack("!H", 0x8000 | len(body))
    mcs = b"\x7f\x65\x82\x01\x00" + b"\x04\x01\x01" * 3 + b"Duca" + length + body
    return b"\x02\xf0\x80" + mcs


def _core(build: int = 7601, layout: int = 0x407) -> bytes:
    name = "PC-7".encode("utf-16-le").ljust(32, b"\0")
    data = struct.pack("<IHHHHII", 0x8000C, 1280, 1024, 0xCA01, 0xAA03, layout, build)
    data += name + struct.pack("<III", 4, 0, 12) + b"\0" * 64
    data += struct.pack("<HHIHHH", 0xCA01, 1, 0, 0x18, 0x0F, 0x0801)
    return struct.pack("<HH", 0xC001, len(data) + 4) + data


def _net(*names: bytes) -> bytes:
    data = struct.pack("<I", len(names)) + b"".join(n.ljust(8, b"\0") + b"\0" * 4 for n in names)
    return struct.pack("<HH", 0xC003, len(data) + 4) + data


def test_hand_made_connect_initial() -> None:
    security = b"\x02\xc0\x0c\x00" + b"\0" * 8  # an unknown block between the two read
    initial = connect_initial(_user_data(_core(), security, _net(b"rdpdr")), 9)
    assert initial is not None and initial.channels == ["rdpdr"]
    c = initial.client
    assert c == RdpClient(
        version="v10.7",
        desktop_width=1280,
        desktop_height=1024,
        color_depth=24,  # high color depth wins over the 8 bpp post-beta2 value
        keyboard_layout="de-DE",
        build="Windows 7 SP1",
        client_name="PC-7",
        keyboard_type="enhanced",
        function_keys=12,
        product_id=1,
        capabilities=["support_errinfo_pdf"],  # 0x800 is not a flag Suricata names
    )
    two = connect_initial(_user_data(_net(b"a", b"b", b"c")), 2)
    assert two is not None and two.channels == ["a", "b"] and two.client is None
    with pytest.raises(ParseError, match="channels"):
        connect_initial(_user_data(struct.pack("<HHI", 0xC003, 8, 5)), 9)
    with pytest.raises(ParseError, match="overruns"):
        connect_initial(_user_data(struct.pack("<HH", 0xC001, 400)), 9)


def test_windows_names() -> None:
    assert (lcid_name(0x409), lcid_name(0x40C), lcid_name(0x20409)) == ("en-US", "fr-FR", "unknown")
    assert (build_name(2600), build_name(17763), build_name(22631), build_name(1)) == (
        "Windows XP",
        "Windows 10 RS5",
        "Windows 11 23H2",
        "unknown",
    )


def test_unwanted_tpkt_is_skipped_and_client_tls_is_done() -> None:
    f = Feeder()
    f.feed(TO_SERVER, tpkt(cr(b"Cookie: mstshash=x\r\n")))
    other = tpkt(b"\x02\xf0\x80" + b"\x64" + b"\0" * 2000)  # a data TPDU that is not MCS connect
    f.feed(TO_SERVER, other[:100])
    assert f.parser.skip[TO_SERVER] == len(other) - 100
    f.feed(TO_SERVER, other[100:])
    assert f.parser.skip[TO_SERVER] == 0
    f.feed(TO_SERVER, b"\x16\x03\x01\x00\x05hello")
    assert f.parser.done == [True, False] and f.types() == ["initial_request"]


def test_tpkt_bounds() -> None:
    f = Feeder(AppLimits(max_message=1000))
    with pytest.raises(ParseError, match="out of bounds"):
        f.feed(TO_SERVER, b"\x03\x00\x10\x00")
    with pytest.raises(ParseError, match="out of bounds"):
        Feeder().feed(TO_SERVER, b"\x03\x00\x00\x02")


SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "suricata" / "schema.json").read_text()
)


def test_bodies_validate_against_suricata_schema() -> None:
    """Every body the fixtures give fits `properties.rdp` of Suricata's EVE schema
    (`additionalProperties` false: no field Suricata does not have)."""
    schema = SCHEMA["properties"]["rdp"]
    good = [f for f in sorted(FIX.glob("*.pcap")) if "invalid" not in f.name]
    bodies = [e.body for f in good for e in replay(RdpParser, f, port=3389)]
    assert bodies
    for body in bodies:
        jsonschema.validate(json.loads(msgspec.json.encode(body)), schema)


def test_event_record() -> None:
    """The event class: tag `rdp`, addresses by flow, body under `rdp`."""
    event = RdpEvent(
        timestamp="2026-01-01T00:00:00.000000+0000",
        flow_id=FlowId(1),
        src_ip="10.0.0.1",
        dest_ip="10.0.0.2",
        proto="TCP",
        rdp=RdpInfo(tx_id=1, event_type="initial_request"),
    )
    line = json.loads(msgspec.json.encode(event))
    assert line["event_type"] == "rdp" and line["rdp"] == json.loads(msgspec.json.encode(event.rdp))
    assert RdpEvent.by_packet is False


def test_odd_connection_pdus() -> None:
    broken = connection_request(cr(b"Cookie: mstshash=no-line-end"))
    assert broken is not None and (broken.cookie, broken.requested) == (None, None)
    latin = connection_request(cr(b"Cookie: mstshash=jos\xe9\r\n"))
    assert latin is not None and latin.cookie == "jos\\xe9"
    assert connect_initial(b"\x02\xf0\x80\x7f\x65" + b"\0" * 20, 9) == ConnectInitial(None, [])
    assert connect_initial(b"\x02\xf0\x80\x7f\x66\0", 9) is None
    with pytest.raises(ParseError, match="not supported"):
        connect_initial(b"\x02\xf0\x80\x7f\x65Duca\xc0\x01", 9)
    with pytest.raises(ParseError, match="missing"):
        connect_initial(b"\x02\xf0\x80\x7f\x65Duca", 9)
    with pytest.raises(ParseError, match="overruns the pdu"):
        connect_initial(b"\x02\xf0\x80\x7f\x65Duca\x10\x01\xc0", 9)


def test_old_and_unknown_client_versions() -> None:
    old = bytearray(_core(build=2195, layout=0x809)[4:])
    old[0:4] = (0x80001).to_bytes(4, "little")
    short = connect_initial(_user_data(struct.pack("<HH", 0xC001, 4 + 128) + bytes(old[:128])), 9)
    assert short is not None and short.client is not None
    c = short.client
    assert (c.version, c.build, c.keyboard_layout, c.color_depth) == (
        "v4",
        "Windows 2000",
        "en-GB",
        8,
    )
    assert c.product_id is None and c.capabilities is None and c.id is None
    old[0:4] = (0x90000).to_bytes(4, "little")
    odd = connect_initial(_user_data(struct.pack("<HH", 0xC001, 4 + 128) + bytes(old[:128])), 9)
    assert odd is not None and odd.client is not None and odd.client.version == "unknown"
    tiny = connect_initial(_user_data(struct.pack("<HH", 0xC001, 4 + 20) + bytes(20)), 9)
    assert tiny is not None and tiny.client is None


# --- fuzz ---------------------------------------------------------------------------------

STREAMS = [
    bytes(b"".join(x for d, x in flow if d == direction))[:3000]
    for name in ("sv-rdp-003.pcap", "zeek-rdp-x509.pcap", "zeek-rdp-no-cookie-mstshash.pcap")
    for flow in chunks(FIX / name, port=3389)
    for direction in (TO_SERVER, TO_CLIENT)
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    return mutate(draw, draw(st.sampled_from(STREAMS)))


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(mutated(), st.binary(max_size=400)),
    st.one_of(mutated(), st.binary(max_size=400)),
    st.integers(1, 500),
)
def test_fuzz_events_or_parse_error(client: bytes, server: bytes, size: int) -> None:
    f = Feeder()
    try:
        for k in range(0, max(len(client), len(server)), size):
            f.feed(TO_SERVER, client[k : k + size])
            f.feed(TO_CLIENT, server[k : k + size])
    except ParseError:
        pass
    f.parser.close(0)
    assert [e[1].tx_id for e in f.events] == list(range(1, len(f.events) + 1))
    assert all(isinstance(e[1], RdpInfo) for e in f.events)
