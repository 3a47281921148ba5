"""DCERPC PDUs and the call state machine (`DceConn`, `DcerpcParser`) on hand-built PDUs
(C706 / MS-RPCE layouts), for what the captures do not show: fragments, faults, lost
requests, big-endian data representation, bounds, skipping stub data."""

from __future__ import annotations

import struct
import uuid

import pytest

from applayer.smb.flows import Collector, check_schema
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.dcerpc import DcerpcParser, pdu
from tocsin.applayer.dcerpc.conn import DceConn
from tocsin.model.dcerpc import DcerpcEvent, DcerpcInfo

SVCCTL = "367abb81-9844-35f1-ad32-98f038001003"
DRSUAPI = "e3514235-4b06-11d1-ab04-00c04fc2dcd2"
NDR = uuid.UUID("8a885d04-1ceb-11c9-9fe8-08002b104860").bytes_le + b"\x02\x00\x00\x00"


def header(ptype: int, call_id: int, length: int, flags: int = 3, little: bool = True) -> bytes:
    e = "<" if little else ">"
    drep = b"\x10\x00\x00\x00" if little else b"\x00\x00\x00\x00"
    return bytes([5, 0, ptype, flags]) + drep + struct.pack(e + "HHI", length, 0, call_id)


def make(ptype: int, call_id: int, body: bytes, flags: int = 3, little: bool = True) -> bytes:
    return header(ptype, call_id, 16 + len(body), flags, little) + body


def bind(call_id: int, *ifaces: tuple[int, str, int, int], alter: bool = False) -> bytes:
    body = struct.pack("<HHIB3x", 4280, 4280, 0, len(ifaces))
    for ctx, uid, major, minor in ifaces:
        body += struct.pack("<HBx", ctx, 1) + uuid.UUID(uid).bytes_le
        body += struct.pack("<HH", major, minor) + NDR
    return make(pdu.ALTER_CONTEXT if alter else pdu.BIND, call_id, body)


def bind_ack(call_id: int, *results: tuple[int, int], sec: bytes = b"\\PIPE\\svcctl\x00") -> bytes:
    body = struct.pack("<HHIH", 4280, 4280, 0x1234, len(sec)) + sec
    body += bytes(-(16 + len(body)) % 4)
    body += struct.pack("<B3x", len(results))
    for r, reason in results:
        body += struct.pack("<HH", r, reason) + NDR
    return make(pdu.BIND_ACK, call_id, body)


def request(call_id: int, ctx: int, opnum: int, stub: bytes, flags: int = 3) -> bytes:
    return make(pdu.REQUEST, call_id, struct.pack("<IHH", len(stub), ctx, opnum) + stub, flags)


def response(call_id: int, stub: bytes, flags: int = 3) -> bytes:
    return make(pdu.RESPONSE, call_id, struct.pack("<IHBx", len(stub), 0, 0) + stub, flags)


def parse(*steps: tuple[int, bytes], limits: AppLimits | None = None) -> list[DcerpcInfo]:
    col = Collector()
    p = DcerpcParser(col, limits or AppLimits())
    for d, data in steps:
        p.feed(d, data, 0)
        p.skip = [0, 0]  # these tests hand whole PDUs: nothing left to skip
    p.close(0)
    for b in col.bodies(DcerpcEvent):
        check_schema("dcerpc", b)
    out: list[DcerpcInfo] = col.bodies(DcerpcEvent)
    return out


def test_bind_then_fragmented_call() -> None:
    """BIND of two contexts (one rejected), then CreateServiceW in 3 request fragments and a
    2-fragment response: one call, fragments and stub bytes counted."""
    ev = parse(
        (TO_SERVER, bind(1, (0, SVCCTL, 2, 0), (1, DRSUAPI, 4, 0))),
        (TO_CLIENT, bind_ack(1, (0, 0), (2, 2))),
        (TO_SERVER, request(2, 0, 12, b"a" * 100, flags=pdu.PFC_FIRST_FRAG)),
        (TO_SERVER, request(2, 0, 12, b"b" * 100, flags=0)),
        (TO_SERVER, request(2, 0, 12, b"c" * 50, flags=pdu.PFC_LAST_FRAG)),
        (TO_CLIENT, response(2, b"x" * 30, flags=pdu.PFC_FIRST_FRAG)),
        (TO_CLIENT, response(2, b"y" * 10, flags=pdu.PFC_LAST_FRAG)),
    )
    b, call = ev
    assert (b.request, b.response, b.call_id, b.rpc_version) == ("BIND", "BINDACK", 1, "5.0")
    assert b.interfaces is not None
    assert [(i.uuid, i.version, i.ack_result, i.service) for i in b.interfaces] == [
        (SVCCTL, "2.0", 0, "svcctl"),
        (DRSUAPI, "4.0", 2, "drsuapi"),
    ]
    assert (call.request, call.response, call.call_id) == ("REQUEST", "RESPONSE", 2)
    assert call.req is not None and call.res is not None
    assert (call.req.opnum, call.req.frag_cnt, call.req.stub_data_size) == (12, 3, 250)
    # Suricata's response count: everything after the 16-byte header (8 + stub per fragment)
    assert (call.res.frag_cnt, call.res.stub_data_size) == (2, 56)
    assert call.interfaces is not None
    assert (call.interfaces[0].service, call.interfaces[0].procedure) == (
        "svcctl",
        "CreateServiceW",
    )


def test_lost_request_fault_and_unreplied() -> None:
    fault = make(pdu.FAULT, 9, struct.pack("<IHBxI4x", 0, 0, 0, 0x1C010003))
    ev = parse(
        (TO_CLIENT, response(7, b"z" * 8)),  # its request came before the capture
        (TO_SERVER, request(9, 0, 3, b"q" * 8)),
        (TO_CLIENT, fault),
        (TO_SERVER, request(11, 0, 3, b"q" * 8)),  # never answered
    )
    assert [(e.request, e.response, e.call_id) for e in ev] == [
        ("REQUEST_LOST", "RESPONSE", 7),
        ("REQUEST", "FAULT", 9),
        ("REQUEST", "UNREPLIED", 11),
    ]
    assert ev[1].res is None and ev[0].req is None and ev[2].interfaces is None


def test_alter_context_adds_a_context() -> None:
    ev = parse(
        (TO_SERVER, bind(1, (0, SVCCTL, 2, 0))),
        (TO_CLIENT, bind_ack(1, (0, 0))),
        (TO_SERVER, bind(2, (1, DRSUAPI, 4, 0), alter=True)),
        (TO_CLIENT, make(pdu.ALTER_CONTEXT_RESP, 2, bind_ack(2, (0, 0))[16:])),
        (TO_SERVER, request(3, 1, 3, b"")),
        (TO_CLIENT, response(3, b"")),
    )
    assert [e.request for e in ev] == ["BIND", "ALTER_CONTEXT", "REQUEST"]
    assert ev[1].response == "ALTER_CONTEXT_RESP"
    assert ev[2].interfaces is not None
    assert ev[2].interfaces[0].procedure == "DRSGetNCChanges"


def test_big_endian_pdus() -> None:
    body = struct.pack(">IHH", 4, 0, 15) + b"abcd"
    ev = parse((TO_SERVER, make(pdu.REQUEST, 0x01020304, body, little=False)))
    assert ev[0].call_id == 0x01020304 and ev[0].req is not None and ev[0].req.opnum == 15
    assert pdu.uuid_text(uuid.UUID(SVCCTL).bytes, 0, little=False) == SVCCTL


def test_stub_data_goes_to_skip() -> None:
    """After the 24-byte REQUEST header the stub is not needed: the parser asks the dispatcher
    to skip it."""
    col = Collector()
    p = DcerpcParser(col, AppLimits())
    req = request(5, 0, 3, b"s" * 5000)
    p.feed(TO_SERVER, req[:100], 0)
    assert p.skip[TO_SERVER] == len(req) - 100
    p.skip[TO_SERVER] = 0
    p.feed(TO_CLIENT, response(5, b"r" * 3000)[:24], 0)
    assert p.skip[TO_CLIENT] == 3000
    (e,) = col.bodies(DcerpcEvent)
    assert e.req is not None and e.req.stub_data_size == 5000


def test_pending_calls_are_bounded() -> None:
    ev = parse(
        *[(TO_SERVER, request(i, 0, 0, b"")) for i in range(10)], limits=AppLimits(max_pending=3)
    )
    assert [e.call_id for e in ev] == list(range(10))  # 7 evicted early, 3 at close
    assert {e.response for e in ev} == {"UNREPLIED"}


@pytest.mark.parametrize(
    "data",
    [
        b"\x04\x00" + bytes(14),  # connectionless version
        b"\x05\x03" + bytes(14),  # minor version 3
        header(0, 1, 10),  # fragment shorter than its header
        header(0, 1, 20),  # REQUEST shorter than 24 bytes
        header(40, 1, 16),  # unknown PTYPE
        make(pdu.BIND, 1, struct.pack("<HHIB3x", 1, 1, 0, 3) + bytes(10)),  # contexts cut
        make(pdu.BIND_ACK, 1, struct.pack("<HHIH", 1, 1, 0, 200)),  # sec address overruns
    ],
)
def test_malformed_pdus_raise(data: bytes) -> None:
    p = DcerpcParser(Collector(), AppLimits())
    with pytest.raises(ParseError):
        p.feed(TO_SERVER if data[2] != pdu.BIND_ACK else TO_CLIENT, data, 0)


def test_oversized_pdu_is_passed_over() -> None:
    """A BIND larger than the limit is not held: skipped and counted; its BIND_ACK is then an
    answer to a lost request, and the stream goes on."""
    big = bind(1, *[(i, SVCCTL, 2, 0) for i in range(40)])
    col = Collector()
    p = DcerpcParser(col, AppLimits(max_message=512))
    p.feed(TO_SERVER, big[:300], 0)
    assert p.skip[TO_SERVER] == len(big) - 300 and p.conn.oversized == 1
    p.skip[TO_SERVER] = 0
    p.feed(TO_CLIENT, bind_ack(1, (0, 0)), 0)
    p.feed(TO_SERVER, request(2, 0, 0, b""), 0)
    p.feed(TO_CLIENT, response(2, b""), 0)
    ev = col.bodies(DcerpcEvent)
    assert [(e.request, e.response) for e in ev] == [
        ("REQUEST_LOST", "BINDACK"),
        ("REQUEST", "RESPONSE"),
    ]


def test_conn_skip_ahead_and_reset() -> None:
    c = DceConn(4096, 8, 8)
    req = request(1, 0, 0, b"s" * 1000)
    assert c.feed(TO_SERVER, req[:50]) == []
    c.skip_ahead(TO_SERVER, 500)  # inside the stub: absorbed
    assert c.feed(TO_SERVER, req[550:]) == []
    assert c.idle(TO_SERVER) and list(c.pending) == [(1, pdu.REQUEST)]
    c.feed(TO_SERVER, req[:10])
    c.skip_ahead(TO_SERVER, 5)  # inside a header: the stream restarts
    assert c.idle(TO_SERVER)
    assert len(c.feed(TO_CLIENT, response(1, b""))) == 1
