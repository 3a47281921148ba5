"""`SmbParser` fed directly: real streams cut anywhere, NetBIOS control messages, what is left
unanswered at close, bounds, and hand-built SMB2 messages for the corner cases."""

from __future__ import annotations

import struct

import pytest

from applayer.smb.flows import Collector, chunks, drive
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.smb import SmbParser
from tocsin.applayer.smb.smb2 import fuid_text, parse_header, unix_time
from tocsin.model.smb import SmbEvent, SmbInfo


def smb2(
    cmd: int,
    msg_id: int,
    body: bytes = b"",
    *,
    response: bool = False,
    status: int = 0,
    flags: int = 0,
    tree: int = 0,
    session: int = 0,
) -> bytes:
    flags |= 1 if response else 0
    hdr = struct.pack(
        "<4sHHIHHIIQIIQ16s",
        b"\xfeSMB",
        64,
        0,
        status,
        cmd,
        1,
        flags,
        0,
        msg_id,
        0,
        tree,
        session,
        bytes(16),
    )
    return hdr + body


def nbss(msg: bytes) -> bytes:
    return b"\x00" + len(msg).to_bytes(3, "big") + msg


ECHO = b"\x04\x00\x00\x00"


@pytest.mark.parametrize("name", ["smb2_at_schedule", "smb1_osx", "smb2_async_rename"])
def test_any_cut_gives_the_same_events(name: str) -> None:
    """A stream given byte by byte, or 7 bytes at a time, or whole, gives the same events."""
    flows = chunks(name)
    whole, _, _ = drive(SmbParser, flows, 1 << 20)
    assert whole.events
    for size in (1, 7, 100):
        cut, _, _ = drive(SmbParser, flows, size)
        assert cut.events == whole.events


def test_netbios_session_messages_are_tolerated() -> None:
    """Port 139: a session request, its positive response and keepalives before SMB."""
    flows = chunks("smb2_at_schedule")
    plain, _, _ = drive(SmbParser, flows, 1 << 20)
    request = b"\x81\x00\x00\x44" + b"\x20" + b"A" * 32 + b"\x00" + b"\x20" + b"B" * 32 + b"\x00"
    extra = [(TO_SERVER, request), (TO_CLIENT, b"\x82\x00\x00\x00"), (TO_SERVER, b"\x85\0\0\0")]
    framed, _, _ = drive(SmbParser, [extra + flows[0]], 1 << 20)
    assert framed.events == plain.events


@pytest.mark.parametrize(
    "data",
    [
        b"\x90\x00\x00\x10" + bytes(16),  # not a NetBIOS session message type
        b"\x81\x00\x08\x00" + bytes(2048),  # a session request of 2 KiB
        nbss(b"GET / HTTP/1.1\r\n" * 12),  # not SMB
        nbss(b"\xfeSMB" + bytes(40)),  # SMB2 header cut short
    ],
)
def test_malformed_framing_raises_parse_error(data: bytes) -> None:
    p = SmbParser(Collector(), AppLimits())
    with pytest.raises(ParseError):
        p.feed(TO_SERVER, data, 0)


def test_unanswered_requests_are_logged_at_close() -> None:
    """Only the client's half (one-sided capture): every request is logged at close with no
    status; the pipe, never seen opened, is recognised by its DCERPC content, and its calls
    are logged UNREPLIED: NetrJobAdd is still visible."""
    flows = chunks("smb2_at_schedule")
    half = [[(d, b) for d, b in flows[0] if d == TO_SERVER]]
    col, _, _ = drive(SmbParser, half, 1 << 20)
    ev: list[SmbInfo] = col.bodies()
    assert [e.command for e in ev] == [
        "SMB2_COMMAND_CREATE",
        "SMB2_COMMAND_CLOSE",
        "SMB2_COMMAND_TREE_DISCONNECT",
        "SMB2_COMMAND_SESSION_LOGOFF",
        "SMB2_COMMAND_WRITE",
        "SMB2_COMMAND_IOCTL",
    ]
    assert all(e.status is None and e.status_code is None for e in ev)
    bind, call = ev[4].dcerpc, ev[5].dcerpc
    assert bind is not None and (bind.request, bind.response) == ("BIND", "UNREPLIED")
    assert call is not None and call.interfaces is not None
    assert (call.response, call.interfaces[0].procedure) == ("UNREPLIED", "NetrJobAdd")


def test_pending_requests_are_bounded() -> None:
    """With max_pending 2, at most 8 SMB2 requests wait; older ones are logged unanswered."""
    col = Collector()
    p = SmbParser(col, AppLimits(max_pending=2))
    p.feed(TO_SERVER, b"".join(nbss(smb2(13, i, ECHO)) for i in range(100)), 0)
    assert len(p.state.pending) == 8
    assert len(col.bodies()) == 92
    p.feed(TO_CLIENT, nbss(smb2(13, 99, ECHO, response=True)), 0)
    echo = col.bodies()[-1]
    assert (echo.command, echo.status, echo.id) == ("SMB2_COMMAND_KEEPALIVE", "STATUS_SUCCESS", 100)


def test_interim_response_keeps_the_request_pending() -> None:
    col = Collector()
    p = SmbParser(col, AppLimits())
    p.feed(TO_SERVER, nbss(smb2(15, 7, bytes(32), tree=1, session=5)), 0)  # CHANGE_NOTIFY
    interim = smb2(15, 7, b"\x09\x00" + bytes(7), response=True, status=0x103, flags=2)
    p.feed(TO_CLIENT, nbss(interim), 0)
    assert col.events == []
    p.feed(TO_CLIENT, nbss(smb2(15, 7, bytes(9), response=True, status=0xC0000120, flags=2)), 0)
    (e,) = col.bodies()
    assert (e.command, e.status, e.status_code, e.tree_id, e.session_id) == (
        "SMB2_COMMAND_CHANGE_NOTIFY",
        "STATUS_CANCELLED",
        "0xc0000120",
        1,
        5,
    )


def test_transform_messages_are_counted_and_skipped() -> None:
    """An encrypted message (its 52-byte transform header, then ciphertext) is skipped; the
    clear message that follows is parsed."""
    col = Collector()
    p = SmbParser(col, AppLimits())
    encrypted = nbss(b"\xfdSMB" + bytes(48) + b"\xaa" * 4000)
    p.feed(TO_SERVER, encrypted[:1000], 0)
    assert p.encrypted == [1, 0] and p.skip[TO_SERVER] == len(encrypted) - 1000
    p.skip[TO_SERVER] = 0  # the dispatcher dropped the ciphertext
    p.feed(TO_SERVER, nbss(smb2(13, 1, ECHO)), 0)
    p.feed(TO_CLIENT, nbss(smb2(13, 1, ECHO, response=True)), 0)
    assert [e.command for e in col.bodies()] == ["SMB2_COMMAND_KEEPALIVE"]


def test_bad_next_command_raises() -> None:
    msg = bytearray(smb2(13, 1, ECHO))
    struct.pack_into("<I", msg, 20, 12)  # NextCommand inside the header
    p = SmbParser(Collector(), AppLimits())
    with pytest.raises(ParseError):
        p.feed(TO_SERVER, nbss(bytes(msg)), 0)


def test_gap_gives_up_the_direction() -> None:
    p = SmbParser(Collector(), AppLimits())
    p.gap(TO_CLIENT, 0)
    assert p.done == [False, True]


def test_header_and_value_helpers() -> None:
    h = parse_header(smb2(5, 42, tree=3, session=9, status=0xC0000022, response=True), 0)
    assert (h.cmd, h.msg_id, h.tree_id, h.session_id, h.status) == (5, 42, 3, 9, 0xC0000022)
    assert parse_header(smb2(5, 1, flags=2), 0).tree_id is None  # async: no tree id
    fid = bytes.fromhex("4d000000000000000500000000000000ffffffff"[:32])
    assert fuid_text(fid) == "0000004d-0000-0000-0005-000000000000"
    assert unix_time(116_444_736_000_000_000 + 10_000_000 * 1_500_000_000) == 1_500_000_000
    assert unix_time(0) == 0
    assert SmbEvent.__struct_config__.tag == "smb"
