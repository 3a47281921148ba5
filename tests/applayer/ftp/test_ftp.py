"""FTP parser: commands and replies as `ftp` transactions, on hand-made bytes and real captures.

Expected values come from the captures' Zeek `ftp.log` baselines (`ftp-ipv4`, `ftp-ipv6`,
`policy/protocols/ftp/bruteforce`) and the suricata-verify tests the fixtures come from
(`output-eve-ftp`, `ftp-epsv`). Suricata logs `PASS`'s argument; Tocsin never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.appmatch import read_eve, run_app
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.ftp import FtpParser
from tocsin.applayer.ftp.parser import port_of_command, port_of_reply
from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_FTP, PROBE_MORE, PROBE_NO
from tocsin.model.ftp import PASSWORD_REDACTED, FtpEvent, FtpInfo

from ..fuzzing import mutate_segments
from ..replay import Feeder, chunks, fed_whole, replay, session

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "ftp"
SECRETS = (b"hunter2-secret", b"S3cr3t!pass")


def test_login_transactions_and_password_redacted() -> None:
    f = session(
        FtpParser,
        (TO_CLIENT, b"220 FTP server ready\r\n"),
        (TO_SERVER, b"USER alice\r\n"),
        (TO_CLIENT, b"331 Password required for alice.\r\n"),
        (TO_SERVER, b"PASS hunter2-secret\r\n"),
        (TO_CLIENT, b"530 Login incorrect.\r\n"),
    )
    greet, user, pw = f.bodies()
    assert greet.command is None and greet.completion_code == ["220"]
    assert greet.reply == ["FTP server ready"]
    assert (user.command, user.command_data, user.completion_code) == ("USER", "alice", ["331"])
    assert (pw.command, pw.command_data, pw.completion_code) == ("PASS", PASSWORD_REDACTED, ["530"])
    assert pw.reply_received == "yes" and pw.reply_truncated is False
    assert [e[4] for e in f.events] == [0, 1, 2]
    assert all(e[0] is FtpEvent and e[2] == TO_SERVER for e in f.events)


def test_multiline_reply_is_one_reply() -> None:
    f = session(
        FtpParser,
        (TO_SERVER, b"PASS x\r\n"),
        (TO_CLIENT, b"230-Welcome\r\n  to the server\r\n230-more\r\n"),
    )
    assert f.events == []  # the reply is not over yet
    f.feed(TO_CLIENT, b"230 Logged in\r\n")
    (info,) = f.bodies()
    assert info.completion_code == ["230", "230", "230"]
    assert info.reply == ["Welcome", "  to the server", "more", "Logged in"]


def test_preliminary_reply_keeps_the_transaction_open() -> None:
    f = session(FtpParser, (TO_SERVER, b"RETR a.txt\r\n"), (TO_CLIENT, b"150 Opening\r\n"))
    assert f.events == []
    f.feed(TO_CLIENT, b"226 Transfer complete.\r\n")
    (info,) = f.bodies()
    assert info.completion_code == ["150", "226"] and info.command_data == "a.txt"


def test_pipelined_commands_pair_in_order_and_unanswered_at_close() -> None:
    f = session(
        FtpParser,
        (TO_SERVER, b"TYPE I\r\nSYST\r\nNOOP\r\n"),
        (TO_CLIENT, b"200 ok\r\n215 UNIX\r\n"),
    )
    f.parser.close(9)
    a, b, c = f.bodies()
    assert (a.command, a.completion_code, b.command, b.completion_code) == (
        "TYPE",
        ["200"],
        "SYST",
        ["215"],
    )
    assert c.command == "NOOP" and c.reply_received == "no" and c.reply is None


def test_data_ports_and_mode() -> None:
    f = session(
        FtpParser,
        (TO_SERVER, b"PORT 10,0,0,1,4,1\r\n"),
        (TO_CLIENT, b"200 PORT command successful.\r\n"),
        (TO_SERVER, b"PASV\r\n"),
        (TO_CLIENT, b"227 Entering Passive Mode (10,0,0,2,221,90).\r\n"),
        (TO_SERVER, b"EPSV\r\n"),
        (TO_CLIENT, b"229 Entering Extended Passive Mode (|||58612|)\r\n"),
        (TO_SERVER, b"EPRT |2|::1|49189|\r\n"),
        (TO_CLIENT, b"200 EPRT command successful.\r\n"),
    )
    port, pasv, epsv, eprt = f.bodies()
    assert (port.dynamic_port, port.mode) == (1025, "active")
    assert (pasv.dynamic_port, pasv.mode) == (56666, None)
    assert (epsv.dynamic_port, eprt.dynamic_port, eprt.mode) == (58612, 49189, "active")
    assert port_of_command("PORT", b"1,2,3,4,300,1") is None
    assert port_of_reply("PASV", b"227 nothing here") is None


def test_lowercase_verbs_telnet_prefix_and_lf_only() -> None:
    f = session(
        FtpParser,
        (TO_SERVER, b"\xff\xf4\xff\xf2abor\nuser bob\n"),
        (TO_CLIENT, b"226 ok\n331 pw\n"),
    )
    assert [(i.command, i.command_data) for i in f.bodies()] == [("ABOR", None), ("USER", "bob")]


def test_long_lines_are_cut_and_marked() -> None:
    f = session(FtpParser, (TO_SERVER, b"STOR " + b"a" * 10_000 + b"\r\n"))
    f.feed(TO_SERVER, b"NOOP\r\n")
    f.feed(TO_CLIENT, b"550 " + b"b" * 9000 + b"\r\n200 ok\r\n")
    stor, noop = f.bodies()
    assert stor.command_truncated is True and len(stor.command_data or "") < 4096
    assert stor.reply_truncated is True
    assert noop.command_truncated is None and noop.reply_truncated is False
    assert len(f.parser._lines[0].buf) == 0  # nothing held


def test_auth_tls_ends_parsing() -> None:
    f = session(FtpParser, (TO_SERVER, b"AUTH TLS\r\n"), (TO_CLIENT, b"234 Proceed\r\n"))
    assert f.parser.done == [True, True]
    assert f.bodies()[0].command == "AUTH"


def test_gap_resynchronises_on_the_next_line() -> None:
    f = session(FtpParser, (TO_SERVER, b"USER al"))
    f.parser.gap(TO_SERVER, 0)
    f.feed(TO_SERVER, b"ice\r\nUSER bob\r\n")
    f.feed(TO_CLIENT, b"331 ok\r\n")
    assert [i.command_data for i in f.bodies()] == ["bob"]


def test_binary_verb_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        session(FtpParser, (TO_SERVER, b"\x00\x01\x02garbage\r\n"))


def test_pending_commands_are_bounded() -> None:
    f = Feeder(FtpParser, AppLimits(max_pending=4))
    f.feed(TO_SERVER, b"NOOP\r\n" * 10)
    assert len(f.events) == 6 and all(i.reply_received == "no" for i in f.bodies())


@pytest.mark.parametrize(
    ("payload", "direction", "port", "want"),
    [
        (b"USER anonymous\r\n", 0, 2121, ALPROTO_FTP),
        (b"user bob\r\n", 0, 80, ALPROTO_FTP),
        (b"AUTH TLS\r\n", 0, 21, ALPROTO_FTP),
        (b"220 ProFTPD Server ready\r\n", 1, 2121, ALPROTO_FTP),
        (b"220-Welcome\r\n", 1, 21, ALPROTO_FTP),
        (b"220 mail.example.org ESMTP Postfix\r\n", 1, 25, PROBE_NO),
        (b"AUTH TLS\r\n", 0, 2121, PROBE_NO),
        (b"US", 0, 2121, PROBE_MORE),
        (b"22", 1, 2121, PROBE_MORE),
    ],
)
def test_probe(payload: bytes, direction: int, port: int, want: int) -> None:
    arr = np.frombuffer(payload, np.uint8)
    assert int(probe(arr, 0, len(arr), 6, direction, 49152, port)) == want  # client, server


def test_bruteforce_capture_every_pass_answered_530() -> None:
    """Zeek's FTP brute-force trace: 30 sessions from 192.168.56.1, each USER bro / PASS /
    530 / QUIT (Zeek's notice fires at its threshold of 20 failed logins)."""
    evs = replay(FtpParser, FIX / "zeek-ftp-bruteforce.pcap", port=21)
    passes = [e for e in evs if e.body.command == "PASS"]
    assert len(passes) == 30
    assert all(e.body.completion_code == ["530"] for e in passes)
    assert all(e.body.command_data == PASSWORD_REDACTED for e in passes)
    users = {e.body.command_data for e in evs if e.body.command == "USER"}
    assert users == {"bro"}
    assert {e.flow[0] for e in evs} == {e.flow[0] for e in passes}  # one client
    assert sum(e.body.command == "QUIT" and e.body.completion_code == ["221"] for e in evs) == 30


def test_ipv4_capture_matches_zeek_ftp_log() -> None:
    evs = [e.body for e in replay(FtpParser, FIX / "zeek-ftp-ipv4.pcap", port=21)]
    cmds = [(b.command, b.completion_code[-1] if b.completion_code else None) for b in evs]
    assert ("PASV", "227") in cmds and ("RETR", "226") in cmds and ("PORT", "200") in cmds
    assert [b.dynamic_port for b in evs if b.command in ("PASV", "PORT")] == [
        56666,
        56667,
        33582,
        37835,
    ]
    assert [b.command_data for b in evs if b.command == "RETR"] == ["robots.txt"] * 2


def test_ipv6_capture_epsv_eprt() -> None:
    evs = [e.body for e in replay(FtpParser, FIX / "zeek-ftp-ipv6.pcap", port=21)]
    assert [b.dynamic_port for b in evs if b.command == "EPSV"] == [57086, 57087, 57088]
    assert [b.dynamic_port for b in evs if b.command == "EPRT"] == [49189, 49190]
    feat = next(b for b in evs if b.command == "FEAT")
    assert feat.completion_code == ["211", "211"] and feat.reply[-1] == "End"


def _all_payload_bytes(pcap: Path) -> bytes:
    return b"".join(data for flow in chunks(pcap) for _, data in flow)


@pytest.mark.parametrize(
    "name", ["zeek-ftp-password-pass-command.pcap", "sv-bug-3519.pcap", "zeek-ftp-ipv4.pcap"]
)
def test_no_password_in_any_event_end_to_end(tmp_path: Path, name: str) -> None:
    """The whole pipeline on captures whose clients send PASS: the argument on the wire is
    in no EVE line (any event type), only `<redacted>` stands for it."""
    pcap = FIX / name
    wire = _all_payload_bytes(pcap)
    lines = wire.split(b"\n")
    users = {ln[5:].rstrip(b"\r") for ln in lines if ln[:5].upper() == b"USER "}
    pw = [ln[5:].rstrip(b"\r") for ln in lines if ln[:5].upper() == b"PASS "]
    assert pw, f"{name} has no PASS command"
    pw = [p for p in pw if p not in users]  # anonymous/anonymous: the user name is logged
    eve = tmp_path / "eve.json"
    run_app(pcap, eve)
    text = eve.read_text()
    events = read_eve(eve)
    ftp = [e["ftp"] for e in events if e["event_type"] == "ftp"]
    assert any(f.get("command") == "PASS" for f in ftp)
    for p in pw:
        if len(p) >= 3:
            assert p.decode("latin-1") not in text
    assert all(f["command_data"] == PASSWORD_REDACTED for f in ftp if f.get("command") == "PASS")


def test_epsv_capture_end_to_end(tmp_path: Path) -> None:
    """suricata-verify `ftp-epsv`: one EPSV event (of 4) with dynamic_port 58612; flows named
    ftp; no parser error."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "sv-ftp-epsv.pcap", eve)
    events = read_eve(eve)
    epsv = [e for e in events if e["event_type"] == "ftp" and e["ftp"].get("command") == "EPSV"]
    assert [e["ftp"]["dynamic_port"] for e in epsv].count(58612) == 1
    assert any(e["event_type"] == "flow" and e.get("app_proto") == "ftp" for e in events)
    assert not [e for e in events if e["event_type"] == "anomaly"]
    json.dumps(events)


SEGS = [
    (TO_CLIENT, 1, b"220 ready\r\n"),
    (TO_SERVER, 2, b"USER alice\r\n"),
    (TO_CLIENT, 3, b"331 pw\r\n"),
    (TO_SERVER, 4, b"PASS " + SECRETS[0] + b"\r\n"),
    (TO_CLIENT, 5, b"230-hello\r\n230 ok\r\n"),
    (TO_SERVER, 6, b"PASV\r\n"),
    (TO_CLIENT, 7, b"227 Entering Passive Mode (1,2,3,4,5,6)\r\n"),
    (TO_SERVER, 8, b"pass " + SECRETS[1] + b"\r\n"),
]


@st.composite
def _mutated(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    return mutate_segments(draw, SEGS, (b"\r\n", b"-", b" ", b"\n"))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_sessions(data: st.DataObject) -> None:
    """Mutated real-looking sessions give `ftp` events or `ParseError`, nothing else; the
    argument of whatever still parses as a PASS command is never kept."""
    segs = data.draw(_mutated())
    f = Feeder(FtpParser, AppLimits(max_pending=4, max_items=8))
    fed_whole(f, segs, 99)
    for _, body, *_ in f.events:
        assert isinstance(body, FtpInfo)
        if body.command == "PASS":
            assert body.command_data in (None, PASSWORD_REDACTED)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=12))
def test_fuzz_random_bytes(parts: list[tuple[int, bytes]]) -> None:
    f = Feeder(FtpParser)
    if not fed_whole(f, parts):
        return
    assert all(isinstance(e[1], FtpInfo) for e in f.events)
