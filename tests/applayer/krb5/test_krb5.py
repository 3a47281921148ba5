"""Kerberos parsers: KDC messages as `krb5` events, the DER reader, framing, malformed input.

Expected values are those of the suricata-verify tests the fixtures come from
(`krb5-kerberoasting`, `bug-8278-krb5-03`, `krb5-probing`, `krb5-request-frag-log`) and of
Zeek's `kerberos.log` baselines (`krb.tgs`, `krb.krb-service-name`, `krb.error-preauth-padata`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.appmatch import read_eve, run_app
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.krb5 import Krb5TcpParser, Krb5UdpParser, der
from tocsin.applayer.krb5.message import decode
from tocsin.applayer.probe import probe
from tocsin.applayer.protos import ALPROTO_KRB5, PROBE_NO
from tocsin.model.krb5 import Krb5Event, Krb5Info

from ..fuzzing import mutate
from ..replay import Feeder, chunks, replay

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "krb5"


# -- a tiny DER writer for hand-made messages ------------------------------------------------


def tlv(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def ctx(n: int, body: bytes) -> bytes:
    return tlv(0xA0 | n, body)


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(v: int) -> bytes:
    return tlv(0x02, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def gstr(s: str) -> bytes:
    return tlv(0x1B, s.encode())


def principal(*names: str) -> bytes:
    return seq(ctx(0, integer(1)), ctx(1, seq(*(gstr(n) for n in names))))


def enc(etype: int) -> bytes:
    return seq(ctx(0, integer(etype)), ctx(2, tlv(0x04, b"\x00" * 8)))


TIME = tlv(0x18, b"20370913024805Z")


def as_req(user: str = "alice", realm: str = "EXAMPLE.ORG", app: int = 0x6A) -> bytes:
    body = seq(
        ctx(0, tlv(0x03, b"\x00\x50\x80\x00\x00")),
        ctx(1, principal(user)),
        ctx(2, gstr(realm)),
        ctx(3, principal("krbtgt", realm)),
        ctx(5, TIME),
        ctx(7, integer(12345)),
        ctx(8, seq(integer(18), integer(23))),
    )
    return tlv(app, seq(ctx(1, integer(5)), ctx(2, integer(app - 0x60)), ctx(4, body)))


def tgs_rep(ticket_etype: int, etype: int = 18) -> bytes:
    ticket = tlv(
        0x61,
        seq(
            ctx(0, integer(5)),
            ctx(1, gstr("EXAMPLE.ORG")),
            ctx(2, principal("MSSQLSvc", "db.example.org:1433")),
            ctx(3, enc(ticket_etype)),
        ),
    )
    return tlv(
        0x6D,
        seq(
            ctx(0, integer(5)),
            ctx(1, integer(13)),
            ctx(3, gstr("EXAMPLE.ORG")),
            ctx(4, principal("alice")),
            ctx(5, ticket),
            ctx(6, enc(etype)),
        ),
    )


def krb_error(code: int) -> bytes:
    return tlv(
        0x7E,
        seq(
            ctx(0, integer(5)),
            ctx(1, integer(30)),
            ctx(4, TIME),
            ctx(5, integer(0)),
            ctx(6, integer(code)),
            ctx(9, gstr("EXAMPLE.ORG")),
            ctx(10, principal("krbtgt", "EXAMPLE.ORG")),
        ),
    )


# -- messages -------------------------------------------------------------------------------


def test_as_req_then_preauth_failed_error_over_udp() -> None:
    f = Feeder(Krb5UdpParser)
    f.feed(TO_SERVER, as_req("alice"))
    f.feed(TO_CLIENT, krb_error(24))
    (req, _, d0, _, tx0), (err, _, d1, _, tx1) = [(e[1], *e[1:]) for e in f.events]
    assert (req.msg_type, req.cname, req.realm, req.sname) == (
        "KRB_AS_REQ",
        "alice",
        "EXAMPLE.ORG",
        "krbtgt/EXAMPLE.ORG",
    )
    assert (req.encryption, req.weak_encryption, req.ticket_encryption) == ("<none>", False, None)
    assert (err.msg_type, err.failed_request, err.error_code) == (
        "KRB_ERROR",
        "KRB_AS_REQ",
        "KDC_ERR_PREAUTH_FAILED",
    )
    assert (err.cname, err.realm, err.sname) == ("<empty>", "<empty>", "krbtgt/EXAMPLE.ORG")
    assert (d0, d1, tx0, tx1) == (TO_SERVER, TO_CLIENT, 0, 1)
    assert all(e[0] is Krb5Event for e in f.events)


def test_rc4_service_ticket_is_weak() -> None:
    info, _ = decode(tgs_rep(23), 12, 16)
    assert info is not None
    assert (info.msg_type, info.sname, info.cname) == (
        "KRB_TGS_REP",
        "MSSQLSvc/db.example.org:1433",
        "alice",
    )
    assert (info.ticket_encryption, info.ticket_weak_encryption) == ("rc4-hmac", True)
    assert (info.encryption, info.weak_encryption) == ("aes256-cts-hmac-sha1-96", False)
    aes, _ = decode(tgs_rep(18, etype=23), 0, 16)
    assert aes is not None and aes.ticket_weak_encryption is False and aes.weak_encryption


def test_tcp_framing_split_anywhere_and_several_per_chunk() -> None:
    msg = as_req()
    rec = len(msg).to_bytes(4, "big") + msg
    f = Feeder(Krb5TcpParser)
    for k in range(len(rec)):
        f.feed(TO_SERVER, rec[k : k + 1])
    f.feed(TO_SERVER, rec + rec)
    assert [e[1].msg_type for e in f.events] == ["KRB_AS_REQ"] * 3
    assert [e[4] for e in f.events] == [0, 1, 2]


def test_tcp_oversized_record_is_skipped() -> None:
    f = Feeder(Krb5TcpParser, AppLimits(max_message=120))
    big = as_req("x" * 100)
    f.feed(TO_SERVER, len(big).to_bytes(4, "big") + big[:10])
    assert f.parser.skip[TO_SERVER] == len(big) - 10
    small = krb_error(6)
    f.feed(TO_SERVER, big[10:] + len(small).to_bytes(4, "big") + small)  # skipped, then read
    assert [e[1].error_code for e in f.events] == ["KDC_ERR_C_PRINCIPAL_UNKNOWN"]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"\x6a\x80\x30\x00\x00\x00", "indefinite"),
        (b"\x6a\x81\x05" + b"\x00" * 5, "shortest"),
        (b"\x6a\x05\x30\x03", "overruns"),
        (b"\x30\x00", "APPLICATION"),
        (as_req() + b"\x00", "after the message"),
        (b"\x6a\x02\x30\x00", "without field"),
        (tlv(0x6A, seq(ctx(2, integer(10)), ctx(1, integer(5)))), "out of order"),
        (tlv(0x77, seq()), "unknown message type"),
    ],
)
def test_malformed_messages_raise(data: bytes, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        decode(data, 0, 16)


def test_der_reader_bounds_and_integers() -> None:
    data = integer(-129)
    assert der.integer(data, der.read_tlv(data, 0, len(data))) == -129
    with pytest.raises(der.DerError):
        bad = b"\x02\x02\x00\x01"  # not minimal
        der.integer(bad, der.read_tlv(bad, 0, 4))
    with pytest.raises(der.DerError):
        der.read_tlv(b"\x1f\x80\x01\x00", 0, 4)


def test_ap_req_is_not_logged_but_answers_an_error() -> None:
    ap = tlv(0x6E, seq(ctx(0, integer(5))))
    info, req = decode(ap, 0, 16)
    assert info is None and req == 14
    err, _ = decode(krb_error(41), req, 16)
    assert err is not None and err.failed_request == "KRB_AP_REQ"


@pytest.mark.parametrize(
    ("payload", "proto", "port", "want"),
    [
        (as_req(), 17, 88, ALPROTO_KRB5),
        (as_req(), 17, 5000, PROBE_NO),
        (as_req()[:-1], 17, 88, PROBE_NO),
        (len(as_req()).to_bytes(4, "big") + as_req(), 6, 88, ALPROTO_KRB5),
        (b"\x00\x00\x00\x10hello world!!!!!", 6, 88, PROBE_NO),
    ],
)
def test_probe(payload: bytes, proto: int, port: int, want: int) -> None:
    arr = np.frombuffer(payload, np.uint8)
    assert int(probe(arr, 0, len(arr), proto, 0, 49152, port)) == want


# -- captures -------------------------------------------------------------------------------


def test_kerberoast_capture_rc4_tgs() -> None:
    """suricata-verify `krb5-kerberoasting`: one TGS-REP whose ticket is RC4."""
    evs = [e.body for e in replay(Krb5TcpParser, FIX / "sv-kerberoast.pcap", port=88)]
    reps = [b for b in evs if b.msg_type == "KRB_TGS_REP"]
    assert len(reps) == 1
    assert (reps[0].ticket_encryption, reps[0].ticket_weak_encryption) == ("rc4-hmac", True)
    assert reps[0].sname == "HTTP/dc-mantvydas.offense.local" and reps[0].cname == "spotless"


def test_bug_8278_capture_as_exchange_with_errors(tmp_path: Path) -> None:
    """suricata-verify `bug-8278-krb5-03`, through the whole pipeline (TCP)."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "sv-bug-8278-krb5-03.pcap", eve)
    ks = [e["krb5"] for e in read_eve(eve) if e["event_type"] == "krb5"]
    assert sum(k["msg_type"] == "KRB_AS_REQ" and k["cname"] == "test" for k in ks) == 2
    (rep,) = [k for k in ks if k["msg_type"] == "KRB_AS_REP"]
    assert (rep["encryption"], rep["weak_encryption"]) == ("rc4-hmac", True)
    assert (rep["ticket_encryption"], rep["ticket_weak_encryption"]) == (
        "aes256-cts-hmac-sha1-96",
        False,
    )
    errs = {(k["failed_request"], k["error_code"], k["sname"]) for k in ks if "error_code" in k}
    assert errs == {
        ("KRB_AS_REQ", "KDC_ERR_PREAUTH_REQUIRED", "krbtgt/DOM189.LOCAL"),
        ("KRB_TGS_REQ", "KDC_ERR_S_PRINCIPAL_UNKNOWN", "host/anything"),
    }


def test_udp_captures_through_the_pipeline(tmp_path: Path) -> None:
    """Zeek's `krb.tgs` (UDP TGS exchange) and `krb.krb-service-name` (KRB_ERR_GENERIC), and
    suricata-verify `krb5-probing`: events and flows named krb5, no parser error."""
    seen: list[dict[str, object]] = []
    for k, name in enumerate(
        ["zeek-krb-auth.pcap", "zeek-krb-optional-service-name.pcap", "sv-krb5-probing.pcap"]
    ):
        eve = tmp_path / f"{k}.json"
        run_app(FIX / name, eve)
        evs = read_eve(eve)
        assert not [e for e in evs if e["event_type"] == "anomaly"], name
        seen += [e["krb5"] for e in evs if e["event_type"] == "krb5"]
    assert {"KRB_TGS_REQ", "KRB_TGS_REP", "KRB_AS_REQ", "KRB_ERROR"} <= {
        s["msg_type"] for s in seen
    }
    assert any(s.get("error_code") == "KRB_ERR_GENERIC" for s in seen)
    assert sum(s.get("failed_request") == "KRB_AS_REQ" for s in seen) >= 2


def test_minimal_error_like_zeek() -> None:
    """Zeek's `error-preauth-padata`: a KRB-ERROR holding only error-code and e-data."""
    ((_, data),) = chunks(FIX / "zeek-krb-error-preauth-padata.pcap")[0]
    info, _ = decode(data, 0, 16)
    assert info is not None and info.error_code == "KDC_ERR_PREAUTH_REQUIRED"
    assert info.sname == "<empty>"


def test_fragmented_capture(tmp_path: Path) -> None:
    """suricata-verify `krb5-request-frag-log`: replies in fragments (the pipeline puts them
    together), AS-REP and TGS-REP."""
    eve = tmp_path / "eve.json"
    run_app(FIX / "sv-krb5-request-frag-log.pcap", eve)
    evs = [e["krb5"] for e in read_eve(eve) if e["event_type"] == "krb5"]
    names = {(b["msg_type"], b["sname"]) for b in evs}
    assert ("KRB_AS_REP", "krbtgt/dom.test.lo.com") in names
    assert ("KRB_TGS_REP", "HTTP/epgidvwman1088.epga.dom.lo.com") in names


# -- fuzz -----------------------------------------------------------------------------------

SEEDS = [as_req(), tgs_rep(23), krb_error(25)]


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzz_udp_mutated(data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    msg = mutate(data.draw, seed)
    f = Feeder(Krb5UdpParser)
    try:
        f.feed(TO_SERVER, msg)
    except ParseError:
        return
    assert all(isinstance(e[1], Krb5Info) for e in f.events)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=8), st.data())
def test_fuzz_tcp_random_and_mutated(parts: list[bytes], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(SEEDS))
    rec = len(seed).to_bytes(4, "big") + seed
    stream = [mutate(data.draw, rec), *parts]
    f = Feeder(Krb5TcpParser, AppLimits(max_message=512))
    try:
        for chunk in stream:
            f.feed(TO_SERVER, chunk)
    except ParseError:
        pass
    assert all(isinstance(e[1], Krb5Info) for e in f.events)
