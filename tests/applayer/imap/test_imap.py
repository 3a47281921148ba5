"""IMAP parser: tagged commands and their answers as Tocsin's `imap` events, on hand-made
bytes and real captures (suricata-verify `imap-detection`, Zeek's `tls/imap-starttls`)."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.appmatch import read_eve, run_app
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.imap import ImapParser
from tocsin.applayer.imap.parser import first_astring, literal_size, plain_identity
from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_IMAP, PROBE_MORE, PROBE_NO
from tocsin.model.imap import ImapEvent, ImapInfo

from ..fuzzing import mutate_segments
from ..replay import Feeder, fed_whole, replay, session

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "imap"
PLAIN = base64.b64encode(b"\x00alice\x00s3cr3t-pw").decode()


def test_login_user_kept_password_never() -> None:
    f = session(
        ImapParser,
        (TO_CLIENT, b"* OK IMAP4rev1 ready\r\n"),
        (TO_SERVER, b'a1 CAPABILITY\r\na2 login "bob \\"b\\"" s3cr3t-pw\r\n'),
        (TO_CLIENT, b"* CAPABILITY IMAP4rev1\r\na1 OK done\r\na2 NO [AUTHENTICATIONFAILED] no\r\n"),
    )
    cap, login = f.bodies()
    assert (cap.command, cap.status, cap.user) == ("CAPABILITY", "OK", None)
    assert (login.command, login.user, login.status) == ("LOGIN", 'bob "b"', "NO")
    assert "s3cr3t" not in repr(f.events)
    assert [e[4] for e in f.events] == [0, 1]
    assert all(e[0] is ImapEvent and e[2] == TO_SERVER for e in f.events)


def test_authenticate_plain_gives_identity_only() -> None:
    f = session(
        ImapParser,
        (TO_SERVER, b"x AUTHENTICATE PLAIN\r\n"),
        (TO_CLIENT, b"+ \r\n"),
        (TO_SERVER, PLAIN.encode() + b"\r\n"),
        (TO_CLIENT, b"x OK welcome\r\n"),
        (TO_SERVER, f"y authenticate plain {PLAIN}\r\n".encode()),
        (TO_CLIENT, b"y OK\r\n"),
        (TO_SERVER, b"z AUTHENTICATE GSSAPI\r\n"),
        (TO_CLIENT, b"+ \r\n"),
        (TO_SERVER, b"YIIBx...\r\n*\r\n"),
        (TO_CLIENT, b"z BAD cancelled\r\n"),
    )
    x, y, z = f.bodies()
    assert (x.mechanism, x.user, x.status) == ("PLAIN", "alice", "OK")
    assert (y.mechanism, y.user, y.status) == ("PLAIN", "alice", "OK")
    assert (z.mechanism, z.user, z.status) == ("GSSAPI", None, "BAD")
    assert "s3cr3t" not in repr(f.events) and PLAIN not in repr(f.events)
    assert plain_identity(b"!!notbase64") is None


def test_login_literals_are_skipped_unread() -> None:
    f = session(
        ImapParser,
        (TO_SERVER, b"a LOGIN {5}\r\n"),
        (TO_CLIENT, b"+ go\r\n"),
        (TO_SERVER, b"alice {9+}\r\ns3cr3t-pw\r\nb NOOP\r\n"),
        (TO_CLIENT, b"a OK hi\r\nb OK\r\n"),
    )
    login, noop = f.bodies()
    assert (login.command, login.user, login.status) == ("LOGIN", None, "OK")
    assert noop.command == "NOOP"
    assert "s3cr3t" not in repr(f.events) and "alice" not in repr(f.events)
    assert literal_size(b"x {12}") == 12 and literal_size(b"x {3+}") == 3
    assert literal_size(b"x") is None and first_astring(b" {4}") is None


def test_server_literals_skip_message_bodies() -> None:
    f = session(
        ImapParser,
        (TO_SERVER, b"f FETCH 1 RFC822\r\nn NOOP\r\n"),
        (TO_CLIENT, b"* 1 FETCH (RFC822 {18}\r\nn OK fake answer\r\n"),
        (TO_CLIENT, b")\r\nf OK done\r\nn OK real\r\n"),
    )
    # the fake answer inside the literal was not read: NOOP is answered after FETCH
    assert [(i.command, i.status) for i in f.bodies()] == [("FETCH", "OK"), ("NOOP", "OK")]


def test_big_literal_is_handed_to_the_dispatcher_as_skip() -> None:
    f = session(ImapParser, (TO_SERVER, b"a APPEND INBOX {100000}\r\nFrom: x\r\n"))
    assert f.parser.skip[TO_SERVER] == 100000 - len(b"From: x\r\n")
    assert len(f.parser._lines[TO_SERVER].buf) == 0  # nothing of the message held
    f.feed(TO_SERVER, b"y" * (100000 - 9) + b"\r\nb NOOP\r\n")
    f.feed(TO_CLIENT, b"a OK\r\nb OK\r\n")
    assert [i.command for i in f.bodies()] == ["APPEND", "NOOP"]


def test_starttls_ends_parsing_and_uid_commands() -> None:
    f = session(
        ImapParser,
        (TO_SERVER, b"u UID FETCH 1:* FLAGS\r\ns STARTTLS\r\n"),
        (TO_CLIENT, b"u OK\r\ns OK Begin TLS\r\n"),
    )
    assert [i.command for i in f.bodies()] == ["UID FETCH", "STARTTLS"]
    assert f.parser.done == [True, True]


def test_unanswered_at_close_and_bad_tag() -> None:
    f = Feeder(ImapParser, AppLimits(max_pending=2))
    f.feed(TO_SERVER, b"a NOOP\r\nb NOOP\r\nc NOOP\r\nDONE\r\n")
    assert len(f.events) == 1
    f.parser.close(0)
    assert len(f.events) == 3 and all(i.status is None for i in f.bodies())
    with pytest.raises(ParseError):
        session(ImapParser, (TO_SERVER, b"\x01\x02 LOGIN x y\r\n"))


@pytest.mark.parametrize(
    ("payload", "direction", "port", "want"),
    [
        (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", 1, 143, ALPROTO_IMAP),
        (b"* OK Microsoft Exchange IMAP4rev1 server ready\r\n", 1, 1143, ALPROTO_IMAP),
        (b"* PREAUTH IMAP4rev1 server logged in\r\n", 1, 143, ALPROTO_IMAP),
        (b"* OK hello\r\n", 1, 1143, PROBE_NO),
        (b"a0000 CAPABILITY\r\n", 0, 143, ALPROTO_IMAP),
        (b". STARTTLS\r\n", 0, 143, ALPROTO_IMAP),
        (b"a0000 CAPABILITY\r\n", 0, 1143, PROBE_NO),
        (b"a0000 CAPA", 0, 143, PROBE_MORE),
        (b"* O", 1, 143, PROBE_MORE),
        (b"\x01\x02 x\r\n", 0, 143, PROBE_NO),
    ],
)
def test_probe(payload: bytes, direction: int, port: int, want: int) -> None:
    arr = np.frombuffer(payload, np.uint8)
    assert int(probe(arr, 0, len(arr), 6, direction, 49152, port)) == want


def test_imap_detection_capture() -> None:
    """suricata-verify `imap-detection`: LOGIN of `neulingern` accepted, 26 commands, FETCH
    answers with literals read through to their tagged OK."""
    evs = [e.body for e in replay(ImapParser, FIX / "sv-imap-detection.pcap", port=143)]
    assert len(evs) == 26 and all(b.status == "OK" for b in evs)
    (login,) = [b for b in evs if b.command == "LOGIN"]
    assert login.user == "neulingern"
    assert [b.command for b in evs].count("FETCH") == 3


def test_starttls_capture_end_to_end(tmp_path: Path) -> None:
    """Zeek's `tls/imap-starttls`: CAPABILITY, STARTTLS answered OK, then nothing (TLS); the
    flow is named imap, no parser error."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "zeek-imap-starttls.pcap", eve)
    events = read_eve(eve)
    imap = [e["imap"] for e in events if e["event_type"] == "imap"]
    assert imap == [
        {"command": "CAPABILITY", "status": "OK"},
        {"command": "STARTTLS", "status": "OK"},
    ]
    assert any(e["event_type"] == "flow" and e.get("app_proto") == "imap" for e in events)
    assert not [e for e in events if e["event_type"] == "anomaly"]


def test_no_password_in_any_event_end_to_end(tmp_path: Path) -> None:
    """The whole pipeline (detectors on) on `imap-detection`, whose LOGIN sends a (sanitised)
    password `"XXXXXX"`: it is in no EVE line; the user name is."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "sv-imap-detection.pcap", eve)
    text = eve.read_text()
    assert "XXXXXX" not in text and "neulingern" in text


SEGS = [
    (TO_CLIENT, 1, b"* OK ready\r\n"),
    (TO_SERVER, 2, b'a1 LOGIN alice "s3cr3t-pw"\r\n'),
    (TO_CLIENT, 3, b"a1 OK\r\n"),
    (TO_SERVER, 4, b"a2 AUTHENTICATE PLAIN\r\n"),
    (TO_CLIENT, 5, b"+ \r\n"),
    (TO_SERVER, 6, PLAIN.encode() + b"\r\n"),
    (TO_CLIENT, 7, b"a2 NO\r\n* 1 FETCH (BODY {5}\r\nabcde)\r\n"),
    (TO_SERVER, 8, b"a3 LOGIN {5}\r\nalice {3}\r\npwd\r\n"),
]


@st.composite
def _mutated(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    return mutate_segments(draw, SEGS, (b"\r\n", b" ", b"{3}\r\n", b"* ", b"+ \r\n"))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_sessions(data: st.DataObject) -> None:
    """Mutated sessions give `imap` events or `ParseError`, nothing else."""
    segs = data.draw(_mutated())
    f = Feeder(ImapParser, AppLimits(max_pending=4))
    fed_whole(f, segs, 99)
    for _, body, *_ in f.events:
        assert isinstance(body, ImapInfo)
        assert body.user is None or '"s3cr3t' not in body.user


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=12))
def test_fuzz_random_bytes(parts: list[tuple[int, bytes]]) -> None:
    f = Feeder(ImapParser)
    if not fed_whole(f, parts):
        return
    assert all(isinstance(e[1], ImapInfo) for e in f.events)
