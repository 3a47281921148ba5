"""POP3 parser: commands and responses as `pop3` transactions, on hand-made bytes and real captures.

Expected values come from the suricata-verify tests the fixtures come from (`pop3-auth-01`,
`pop3-03-bug-7709`, `pop3`). Suricata logs `PASS`'s argument; Tocsin never does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.appmatch import read_eve, run_app, schema_failures, schema_validator
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.pop3 import Pop3Parser
from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_FTP, ALPROTO_POP3, PROBE_MORE, PROBE_NO
from tocsin.model.pop3 import PASSWORD_REDACTED, SASL_DATA, Pop3Event, Pop3Info

from ..fuzzing import mutate_segments
from ..replay import Feeder, chunks, fed_whole, replay, session

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "pop3"
SECRETS = (b"hunter2-secret", b"YWxpY2UAYWxpY2UAczNjcjN0", b"c0ffeedigest")


def test_greeting_login_and_password_redacted() -> None:
    f = session(
        Pop3Parser,
        (TO_CLIENT, b"+OK POP3 ready <1.2@host>\r\n"),
        (TO_SERVER, b"USER alice\r\n"),
        (TO_CLIENT, b"+OK\r\n"),
        (TO_SERVER, b"PASS hunter2-secret\r\n"),
        (TO_CLIENT, b"-ERR bad login\r\n"),
    )
    greet, user, pw = f.bodies()
    assert greet.request is None and greet.response is not None
    assert (greet.response.status, greet.response.header) == ("OK", "POP3 ready <1.2@host>")
    assert user.request is not None and user.request.args == ["alice"]
    assert user.response is not None and user.response.header == ""
    assert pw.request is not None and pw.request.args == [PASSWORD_REDACTED]
    assert pw.response is not None and (pw.response.status, pw.response.success) == ("ERR", False)
    assert pw.response.header == "bad login"
    assert [e[4] for e in f.events] == [0, 1, 2]
    assert all(e[0] is Pop3Event and e[2] == TO_SERVER for e in f.events)


def test_apop_and_auth_initial_response_redacted() -> None:
    f = session(
        Pop3Parser,
        (TO_SERVER, b"APOP mrose c0ffeedigest\r\nAUTH PLAIN YWxpY2UAYWxpY2UAczNjcjN0\r\n"),
        (TO_CLIENT, b"-ERR no\r\n+OK welcome\r\n"),
    )
    apop, auth = f.bodies()
    assert apop.request is not None and apop.request.args == ["mrose", PASSWORD_REDACTED]
    assert auth.request is not None and auth.request.args == ["PLAIN", PASSWORD_REDACTED]


def test_sasl_exchange_lines_are_never_commands() -> None:
    f = session(
        Pop3Parser,
        (TO_SERVER, b"AUTH LOGIN\r\n"),
        (TO_CLIENT, b"+ VXNlcm5hbWU6\r\n"),
        (TO_SERVER, b"YWxpY2U=\r\n"),
        (TO_CLIENT, b"+ UGFzc3dvcmQ6\r\n"),
        (TO_SERVER, b"czNjcjN0\r\n"),
        (TO_CLIENT, b"+OK logged in\r\n"),
        (TO_SERVER, b"STAT\r\n"),
        (TO_CLIENT, b"+OK 1 20\r\n"),
    )
    cmds = [(i.request.command if i.request else None) for i in f.bodies()]
    assert cmds == ["AUTH", SASL_DATA, SASL_DATA, "STAT"]
    assert all(i.request is None or i.request.args in ([], ["LOGIN"]) for i in f.bodies())
    assert "czNjcjN0" not in repr(f.events)


def test_multiline_answers_data_kept_except_mail_content() -> None:
    f = session(
        Pop3Parser,
        (TO_SERVER, b"CAPA\r\nLIST\r\nLIST 1\r\nTOP 1 0\r\nRETR 1\r\n"),
        (TO_CLIENT, b"+OK caps\r\nUSER\r\nSTLS\r\n.\r\n+OK 2 msgs\r\n1 120\r\n2 200\r\n.\r\n"),
        (TO_CLIENT, b"+OK 1 120\r\n+OK\r\nSubject: secret\r\n\r\n.\r\n"),
        (TO_CLIENT, b"+OK 120 octets\r\nFrom: a\r\n..dotted\r\n.\r\n"),
    )
    capa, lst, lst1, top, retr = f.bodies()
    assert capa.response is not None and capa.response.data == ["USER", "STLS"]
    assert lst.response is not None and lst.response.data == ["1 120", "2 200"]
    assert lst1.response is not None and lst1.response.header == "1 120"
    assert top.response is not None and top.response.data == []
    assert retr.response is not None and retr.response.data == []
    assert "Subject" not in repr(f.events)


def test_stls_ends_parsing() -> None:
    f = session(Pop3Parser, (TO_SERVER, b"STLS\r\n"), (TO_CLIENT, b"+OK Begin TLS\r\n"))
    assert f.parser.done == [True, True]
    f2 = session(Pop3Parser, (TO_SERVER, b"STLS\r\n"), (TO_CLIENT, b"-ERR not now\r\n"))
    assert f2.parser.done == [False, False]


def test_unanswered_at_close_and_pending_bounded() -> None:
    f = Feeder(Pop3Parser, AppLimits(max_pending=4))
    f.feed(TO_SERVER, b"NOOP\r\n" * 10)
    assert len(f.events) == 6
    f.parser.close(9)
    assert len(f.events) == 10 and all(i.response is None for i in f.bodies())


def test_bad_input_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        session(Pop3Parser, (TO_CLIENT, b"garbage without status\r\n"))
    with pytest.raises(ParseError):
        session(Pop3Parser, (TO_SERVER, b"\x00\x01\x02 x\r\n"))


@pytest.mark.parametrize(
    ("payload", "direction", "port", "want"),
    [
        (b"+OK POP3 server ready\r\n", 1, 110, ALPROTO_POP3),
        (b"+OK Dovecot ready.\r\n", 1, 110, ALPROTO_POP3),
        (b"+OK Cyrus POP3 v2 ready\r\n", 1, 1110, ALPROTO_POP3),
        (b"+OK hello\r\n", 1, 1110, PROBE_NO),
        (b"CAPA\r\n", 0, 110, ALPROTO_POP3),
        (b"user bob\r\n", 0, 110, ALPROTO_POP3),
        (b"TOP 1 0\r\n", 0, 110, ALPROTO_POP3),
        (b"CAPA\r\n", 0, 2110, PROBE_NO),
        (b"USER bob\r\n", 0, 2110, ALPROTO_FTP),
        (b"STAT", 0, 110, PROBE_MORE),
        (b"+O", 1, 110, PROBE_MORE),
        (b"HELO x\r\n", 0, 110, PROBE_NO),
    ],
)
def test_probe(payload: bytes, direction: int, port: int, want: int) -> None:
    arr = np.frombuffer(payload, np.uint8)
    assert int(probe(arr, 0, len(arr), 6, direction, 49152, port)) == want


def test_auth_capture_matches_suricata_verify() -> None:
    """`pop3-auth-01`: CAPA with 8 data lines, AUTH XOAUTH2 answered `+ ` (status OK, empty
    header), the SASL data answered `+OK Welcome.`, STAT, LIST, UIDL, QUIT unanswered."""
    evs = [e.body for e in replay(Pop3Parser, FIX / "sv-pop3-auth-01.pcap", port=110)]
    cmds = [b.request.command for b in evs]
    assert cmds == ["CAPA", "AUTH", SASL_DATA, "STAT", "LIST", "UIDL", "QUIT"]
    capa, auth, sasl = evs[:3]
    assert (
        capa.response.data[-1] == "SASL PLAIN XOAUTH2 OAUTHBEARER" and len(capa.response.data) == 8
    )
    assert auth.request.args == ["XOAUTH2"] and auth.response.header == ""
    assert sasl.request.args == [] and sasl.response.header == "Welcome."
    assert evs[5].response.data == ["1 GmailId123456789"] and evs[6].response is None


def test_bug_7709_capture() -> None:
    """`pop3-03-bug-7709`: PASS refused in one session, accepted in the other; the LIST answer
    that never ends is emitted at close with its header."""
    evs = [e.body for e in replay(Pop3Parser, FIX / "sv-pop3-03-bug-7709.pcap", port=110)]
    passes = [b for b in evs if b.request and b.request.command == "PASS"]
    assert sorted(b.response.success for b in passes) == [False, True]
    assert all(b.request.args == [PASSWORD_REDACTED] for b in passes)
    (lst,) = [b for b in evs if b.request and b.request.command == "LIST"]
    assert lst.response.header == "4 14971"


def _wire(pcap: Path) -> bytes:
    return b"".join(data for flow in chunks(pcap) for _, data in flow)


@pytest.mark.parametrize(
    "name", ["sv-pop3.pcap", "sv-pop3-03-bug-7709.pcap", "sv-pop3-auth-01.pcap"]
)
def test_no_credential_in_any_event_end_to_end(tmp_path: Path, name: str) -> None:
    """The whole pipeline (detectors on): no PASS argument nor SASL blob seen on the wire is
    in any EVE line, and every pop3 event validates against Suricata's schema."""
    pcap = FIX / name
    lines = [ln.rstrip(b"\r") for ln in _wire(pcap).split(b"\n")]
    secrets = [ln[5:] for ln in lines if ln[:5].upper() == b"PASS "]
    secrets += [ln for ln in lines if len(ln) > 40 and ln.rstrip(b"=").isalnum()]  # SASL
    users = [ln[5:] for ln in lines if ln[:5].upper() == b"USER "]
    # sv-pop3.pcap was sanitised: its password is part of the user name (logged as the user)
    secrets = [p for p in secrets if not any(p in u for u in users)]
    eve = tmp_path / "eve.json"
    run_app(pcap, eve)
    text = eve.read_text()
    for s in secrets:
        assert s.decode("latin-1") not in text
    events = read_eve(eve)
    pop3 = [e for e in events if e["event_type"] == "pop3"]
    assert pop3 and not [e for e in events if e["event_type"] == "anomaly"]
    logins = [e["pop3"]["request"] for e in pop3 if "request" in e["pop3"]]
    logins = [r for r in logins if r["command"] in ("PASS", "AUTH", SASL_DATA)]
    assert logins and all(r["args"][1:] in ([], [PASSWORD_REDACTED]) for r in logins)
    assert all(r["args"] == [PASSWORD_REDACTED] for r in logins if r["command"] == "PASS")
    assert schema_failures(schema_validator(), pop3, name) == []
    json.dumps(events)


def test_suricata_verify_pop3_counts(tmp_path: Path) -> None:
    """suricata-verify `pop3`: 56 pop3 events, 49 TOP; the USER argument logged as sent."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "sv-pop3.pcap", eve)
    pop3 = [e["pop3"] for e in read_eve(eve) if e["event_type"] == "pop3"]
    assert len(pop3) == 56
    assert sum(p.get("request", {}).get("command") == "TOP" for p in pop3) == 49
    user = next(p for p in pop3 if p.get("request", {}).get("command") == "USER")
    assert user["request"]["args"] == ["moises.nunez@ingenierianumar.com"]


SEGS = [
    (TO_CLIENT, 1, b"+OK ready\r\n"),
    (TO_SERVER, 2, b"USER alice\r\n"),
    (TO_CLIENT, 3, b"+OK\r\n"),
    (TO_SERVER, 4, b"PASS " + SECRETS[0] + b"\r\n"),
    (TO_CLIENT, 5, b"+OK in\r\n"),
    (TO_SERVER, 6, b"AUTH PLAIN " + SECRETS[1] + b"\r\nAPOP a " + SECRETS[2] + b"\r\n"),
    (TO_CLIENT, 7, b"+ \r\n-ERR\r\n"),
    (TO_SERVER, 8, b"LIST\r\n"),
    (TO_CLIENT, 9, b"+OK 1\r\n1 20\r\n.\r\n"),
]


@st.composite
def _mutated(draw: st.DrawFn) -> list[tuple[int, int, bytes]]:
    return mutate_segments(draw, SEGS, (b"\r\n", b"+OK ", b"-ERR ", b".\r\n", b"+ \r\n"))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_sessions(data: st.DataObject) -> None:
    """Mutated sessions give `pop3` events or `ParseError`, nothing else; whatever parses as
    PASS/APOP/AUTH never keeps its secret."""
    segs = data.draw(_mutated())
    f = Feeder(Pop3Parser, AppLimits(max_pending=4, max_items=8))
    fed_whole(f, segs, 99)
    for _, body, *_ in f.events:
        assert isinstance(body, Pop3Info)
        req = body.request
        if req is not None and req.command == "PASS":
            assert req.args in ([], [PASSWORD_REDACTED])
        if req is not None and req.command in ("APOP", "AUTH"):
            assert req.args[1:] in ([], [PASSWORD_REDACTED])
        if req is not None and req.command == SASL_DATA:
            assert req.args == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.binary(max_size=200)), max_size=12))
def test_fuzz_random_bytes(parts: list[tuple[int, bytes]]) -> None:
    f = Feeder(Pop3Parser)
    if not fed_whole(f, parts):
        return
    assert all(isinstance(e[1], Pop3Info) for e in f.events)
