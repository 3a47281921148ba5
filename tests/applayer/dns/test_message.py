"""DNS wire format -> EVE DNS v3 body, on real messages (fixture captures, see PROVENANCE.md).

Expected values come from the suricata-verify test each capture belongs to (Suricata 8's
output) where there is one, otherwise from tshark's dissection of the same bytes.
"""

from __future__ import annotations

import struct

import msgspec
import pytest

from applayer.dns.capture import FIXTURES, payloads
from tocsin.applayer.base import ParseError
from tocsin.applayer.dns.message import decode, rrtype_name
from tocsin.applayer.dns.wire import address, read_name, text
from tocsin.model.dns import (
    DnsAnswer,
    DnsAuthority,
    DnsEvent,
    DnsOpt,
    DnsQuery,
    DnsSoa,
    DnsSrv,
    DnsSshfp,
)


def msgs(name: str) -> list[bytes]:
    return payloads(FIXTURES / f"{name}.pcap")


def test_request_fields_and_empty_opt_not_logged() -> None:
    req = decode(msgs("sv-dig-cname-a")[0], 7, 256)
    assert (req.version, req.type, req.tx_id, req.id) == (3, "request", 7, 36146)
    assert (req.flags, req.rd, req.qr, req.ra, req.opcode, req.rcode) == (
        "120",
        True,
        None,
        None,
        0,
        "NOERROR",
    )
    assert req.queries == [DnsQuery(rrname="www.suricata-ids.org", rrtype="A")]
    assert req.additionals is None  # dig's OPT record carries no option: Suricata skips it
    assert req.answers is None and req.grouped is None


def test_response_cname_chain_and_grouped() -> None:
    resp = decode(msgs("sv-dig-cname-a")[1], 1, 256)
    assert (resp.type, resp.flags, resp.qr, resp.rd, resp.ra, resp.aa) == (
        "response",
        "81a0",
        True,
        True,
        True,
        None,
    )
    assert resp.answers == [
        DnsAnswer(
            rrname="www.suricata-ids.org", rrtype="CNAME", ttl=3544, rdata="suricata-ids.org"
        ),
        DnsAnswer(rrname="suricata-ids.org", rrtype="A", ttl=244, rdata="192.0.78.24"),
        DnsAnswer(rrname="suricata-ids.org", rrtype="A", ttl=244, rdata="192.0.78.25"),
    ]
    assert resp.grouped is not None
    assert resp.grouped.A == ["192.0.78.24", "192.0.78.25"]
    assert resp.grouped.CNAME == ["suricata-ids.org"]


def test_eve_json_layout() -> None:
    """The body as it lands in the EVE line: false flags and empty sections absent."""
    body = msgspec.json.decode(msgspec.json.encode(decode(msgs("sv-dig-cname-a")[0], 0, 256)))
    assert body == {
        "version": 3,
        "type": "request",
        "tx_id": 0,
        "id": 36146,
        "flags": "120",
        "rd": True,
        "opcode": 0,
        "rcode": "NOERROR",
        "queries": [{"rrname": "www.suricata-ids.org", "rrtype": "A"}],
    }
    assert DnsEvent.by_packet is True


def test_aaaa_uncompressed_and_ns_authorities() -> None:
    """decode-teredo-01 (Suricata 8): AAAA as 8 groups of 4 hex digits, NS in authorities."""
    resp = decode(msgs("sv-teredo-aaaa")[1], 1, 256)
    assert resp.answers is not None and resp.authorities is not None
    assert resp.answers[1] == DnsAnswer(
        rrname="ipv6.l.google.com",
        rrtype="AAAA",
        ttl=300,
        rdata="2001:4860:0000:2001:0000:0000:0000:0068",
    )
    assert [a.rdata for a in resp.authorities] == [f"{c}.l.google.com" for c in "abcdefg"]
    assert {(a.rrname, a.rrtype, a.ttl) for a in resp.authorities} == {
        ("l.google.com", "NS", 77923)
    }
    assert resp.grouped is not None and [resp.answers[1].rdata] == resp.grouped.AAAA


def test_txt_one_answer_per_string() -> None:
    """A TXT record of two strings gives two answers (Suricata's detailed format)."""
    resp = decode(msgs("zeek-txt-multiple")[1], 1, 256)
    assert resp.answers is not None
    txt = [a for a in resp.answers if a.rrtype == "TXT"]
    assert [(a.rrname, a.ttl) for a in txt] == [("fa14._domainkey.yahoo.com", 7200)] * 2
    assert txt[0].rdata is not None and txt[0].rdata.startswith("k=rsa; p=MIGfMA0GCSqGSIb3DQEB")
    assert txt[1].rdata is not None and txt[1].rdata.startswith("HSrDI23PU+HOuqJ6ergE1IOsL6L")
    assert len(txt[0].rdata) == 127 and len(txt[1].rdata) == 98
    assert resp.grouped is not None and [txt[0].rdata, txt[1].rdata] == resp.grouped.TXT
    spf = decode(msgs("sv-txt")[1], 1, 256)
    assert spf.answers == [
        DnsAnswer(
            rrname="google.com", rrtype="TXT", ttl=3217, rdata="v=spf1 include:_spf.google.com ~all"
        )
    ]


def test_srv_objects() -> None:
    resp = decode(msgs("sv-srv")[1], 1, 256)
    assert resp.answers is not None
    assert [a.srv for a in resp.answers] == [
        DnsSrv(priority=20, weight=1, port=5060, name="sip-anycast-2.voice.google.com"),
        DnsSrv(priority=10, weight=1, port=5060, name="sip-anycast-1.voice.google.com"),
    ]
    assert all(a.rdata is None for a in resp.answers)
    assert resp.grouped is not None and [a.srv for a in resp.answers] == resp.grouped.SRV


def test_sshfp_and_tc_z_flags() -> None:
    req, resp = (decode(m, 0, 256) for m in msgs("sv-sshfp"))
    assert (req.flags, req.tc, req.z, req.rd) == ("360", True, True, True)
    assert resp.tc is True and resp.answers is not None
    assert resp.answers[0].sshfp == DnsSshfp(
        fingerprint="19:8c:34:a9:2f:c0:b2:ab:1d:a5:2b:68:8c:2f:19:1d:2d:96:0c:09", algo=1, type=1
    )
    assert resp.answers[1].sshfp is not None and resp.answers[1].sshfp.algo == 3


def test_null_rdata_escaping() -> None:
    """dns-udp-null: control bytes kept, bytes >= 0x80 written as \\xNN (not valid UTF-8)."""
    resp = decode(msgs("sv-null")[1], 1, 256)
    assert resp.queries is not None and resp.queries[0].rrtype == "NULL"
    assert resp.answers is not None
    assert resp.answers[0].rdata == "VACKD\x03\\xc5\\xe9\x01"
    assert resp.grouped is not None and resp.grouped.NULL == ["VACKD\x03\\xc5\\xe9\x01"]


def test_non_utf8_name_escaped_case_kept() -> None:
    """iodine tunnel: raw 0xe4 in a label, mixed case kept (Suricata neither lowercases nor
    decodes Latin-1)."""
    names = {q.rrname for m in msgs("ndpi-iodine") for q in decode(m, 0, 256).queries or []}
    assert "zi03aA-Aaahhh-Drink-mal-ein-J\\xe4germeister-.pirate.sea" in names
    assert "vaaaakardli.pirate.sea" in names


def test_nxdomain_soa_authority_and_edns_option() -> None:
    req, resp = (decode(m, 0, 256) for m in msgs("sv-nxdomain-soa"))
    assert req.additionals is not None
    assert req.additionals[0].rrtype == "OPT" and req.additionals[0].rrname == ""
    assert req.additionals[0].opt == [DnsOpt(code=10, data="a4f5228c58c6180a")]  # cookie
    assert (resp.rcode, resp.answers) == ("NXDOMAIN", None)
    assert resp.authorities == [
        DnsAuthority(
            rrname="oisf.net",
            rrtype="SOA",
            ttl=899,
            soa=DnsSoa(
                mname="ns-110.awsdns-13.com",
                rname="awsdns-hostmaster.amazon.com",
                serial=1,
                refresh=7200,
                retry=900,
                expire=1209600,
                minimum=86400,
            ),
        )
    ]


def test_forward_compression_pointer() -> None:
    """dns-forward-pointer: the second question points forward into the message."""
    req = decode(msgs("sv-forward-pointer")[0], 0, 256)
    assert req.queries == [DnsQuery(rrname="codemonkey.net", rrtype="A")] * 2


def test_opcode_and_z_flag() -> None:
    req, resp = (decode(m, 0, 256) for m in msgs("sv-invalid-opcode"))
    assert (req.opcode, resp.opcode, resp.flags, resp.rcode) == (9, 9, "c800", "NOERROR")
    z = decode(msgs("sv-z-bit")[0], 0, 256)
    assert (z.z, z.flags) == (True, "140")


def test_types_suricata_does_not_decode() -> None:
    """CAA (257) and SVCB (64) have no Suricata name: rrtype is the number; HINFO is named;
    none of them gets rdata."""
    for name, rrtype in (("zeek-caa", "257"), ("zeek-svcb-edns", "64"), ("zeek-hinfo", "HINFO")):
        req, resp = (decode(m, 0, 256) for m in msgs(name))
        assert req.queries is not None and req.queries[0].rrtype == rrtype
        assert resp.answers is not None and resp.answers[0].rrtype == rrtype
        assert resp.answers[0].rdata is None and resp.grouped is None
    assert rrtype_name(65) == "HTTPS" and rrtype_name(252) == "252"


def test_dynamic_update_empty_rdata() -> None:
    """RFC 2136 UPDATE: sections reused (zone, prerequisites, updates); the delete-RRset
    records have no rdata, logged with an empty one instead of failing."""
    req, resp = (decode(m, 0, 256) for m in msgs("zeek-dynamic-update")[:2])
    assert (req.opcode, resp.opcode, resp.rcode) == (5, 5, "REFUSED")
    assert req.queries == [DnsQuery(rrname="StratoLab.org", rrtype="SOA")]
    assert req.answers is not None and req.answers[0].rdata == ""
    assert req.authorities is not None
    assert [(a.rrtype, a.ttl, a.rdata) for a in req.authorities] == [
        ("AAAA", 0, ""),
        ("A", 0, ""),
        ("A", 1200, "192.168.1.106"),
    ]


def test_corrupt_additionals_dropped_rest_logged() -> None:
    resp_bytes = msgs("sv-corrupt-additionals")[1]
    assert struct.unpack_from("!H", resp_bytes, 10)[0] > 0  # additionals announced
    resp = decode(resp_bytes, 1, 256)
    assert resp.additionals is None
    assert resp.answers is not None and len(resp.answers) == 2


@pytest.mark.parametrize(
    ("index", "error"),
    [
        (0, "label runs past"),
        (1, "pointer to itself"),
        (2, "question cut short"),
    ],
)
def test_invalid_names(index: int, error: str) -> None:
    """Zeek's dns-invalid-names: tshark calls all three malformed."""
    with pytest.raises(ParseError, match=error):
        decode(msgs("zeek-invalid-names")[index], 0, 256)


def test_header_checks() -> None:
    real = msgs("sv-dig-cname-a")[0]
    with pytest.raises(ParseError, match="shorter than its header"):
        decode(real[:11], 0, 256)
    with pytest.raises(ParseError, match="announces"):
        decode(real[:4] + b"\x00\x01\xff\xff" + real[8:], 0, 256)
    with pytest.raises(ParseError, match="no record"):
        decode(real[:4] + b"\x00" * 8 + real[12:], 0, 256)
    with pytest.raises(ParseError, match="without a question"):
        decode(real[:4] + b"\x00\x00" + real[6:], 0, 256)
    resp = msgs("sv-dig-cname-a")[1]
    with pytest.raises(ParseError, match="runs past the end"):
        decode(resp[:-3], 0, 256)  # the last A record cut
    # an additional section that does not parse is dropped, not an error (Suricata)
    assert decode(real[:-6], 0, 256).additionals is None


def test_rcode_numbers_past_notzone() -> None:
    real = bytearray(msgs("sv-dig-cname-a")[1])
    real[3] = (real[3] & 0xF0) | 11
    assert decode(bytes(real), 0, 256).rcode == "11"
    real[3] = (real[3] & 0xF0) | 10
    assert decode(bytes(real), 0, 256).rcode == "NOTZONE"


def test_max_items_bounds_every_list() -> None:
    resp = decode(msgs("sv-teredo-aaaa")[1], 1, 1)
    assert resp.answers is not None and len(resp.answers) == 1
    assert resp.authorities is not None and len(resp.authorities) == 1
    assert resp.grouped is not None  # one entry per list
    assert resp.grouped.CNAME == ["ipv6.l.google.com"] and resp.grouped.AAAA is not None
    txt = decode(msgs("zeek-txt-multiple")[1], 1, 3)
    assert txt.answers is not None and len(txt.answers) == 3
    assert txt.grouped is not None and txt.grouped.TXT is not None and len(txt.grouped.TXT) == 2


def _name_msg(name: bytes) -> bytes:
    """A one-question request whose question name is `name` (wire bytes)."""
    return b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"


def test_name_rules() -> None:
    # 1025 bytes kept, flagged; the message still parses (no pointer: the end is found)
    long = b"".join(b"\x3f" + b"a" * 63 for _ in range(20)) + b"\x00"
    q = decode(_name_msg(long), 0, 256).queries
    assert q is not None and len(q[0].rrname) == 1025 and q[0].rrname_truncated is True
    # pointer loop after a first pointer: cut after 255 steps, not an error
    # (label "a" at 12, then at 14 a pointer back to 12)
    name, cut, nxt = read_name(b"\x00" * 12 + b"\x01a\xc0\x0c", 12, 16)
    assert cut is True and nxt == 16 and name.startswith(b"a.a.a")
    assert len(name) <= 1025
    with pytest.raises(ParseError, match="label type"):
        decode(_name_msg(b"\x41a\x00"), 0, 256)
    with pytest.raises(ParseError, match="past the end"):
        decode(_name_msg(b"\xc3\xff"), 0, 256)
    root = decode(_name_msg(b"\x00"), 0, 256).queries  # the root name: one 0 byte
    assert root is not None and root[0].rrname == ""


def test_text_and_address() -> None:
    assert text(b"abc") == "abc"
    assert text("é".encode()) == "é"  # valid UTF-8 kept
    assert text(b"J\xe4ger\x01") == "J\\xe4ger\x01"
    assert address(bytes([10, 0, 0, 1])) == "10.0.0.1"
    assert address(bytes(range(16))) == "0001:0203:0405:0607:0809:0a0b:0c0d:0e0f"
    assert address(b"\x01\x02") == ""


def test_mx_exchange_without_preference() -> None:
    """The MX exchange is the rdata; the preference is not logged (tshark: 10..50)."""
    resp = decode(msgs("sv-a-aaaa-mx")[5], 1, 256)
    assert resp.answers is not None
    assert [(a.rrtype, a.ttl, a.rdata) for a in resp.answers[:2]] == [
        ("MX", 599, "aspmx.l.google.com"),
        ("MX", 599, "alt1.aspmx.l.google.com"),
    ]
    assert resp.grouped is not None and resp.grouped.MX is not None
    assert len(resp.grouped.MX) == 5


def _one_record(rrtype: int, rdata: bytes, section: int = 0) -> bytes:
    """The dig response's header and question, then one record (named by a pointer to the
    question) of type `rrtype` in answers (0), authorities (1) or additionals (2)."""
    base = msgs("sv-dig-cname-a")[1]
    qend = base.index(b"\x00\x00\x01\x00\x01", 12) + 5
    counts = [1, 0, 0, 0]
    counts[1 + section] = 1
    record = b"\xc0\x0c" + struct.pack("!HHIH", rrtype, 1, 60, len(rdata)) + rdata
    return base[:4] + struct.pack("!4H", *counts) + base[12:qend] + record


@pytest.mark.parametrize(
    ("rrtype", "rdata", "error"),
    [
        (15, b"\x00", "MX rdata cut short"),
        (6, b"\x00\x00" + b"\x00" * 19, "SOA rdata cut short"),
        (33, b"\x00" * 5, "SRV rdata cut short"),
        (44, b"\x01", "SSHFP rdata cut short"),
        (16, b"\x05ab", "TXT string runs past"),
        (41, b"\x00\x0a\x00", "EDNS option cut short"),
        (41, b"\x00\x0a\x00\x08ab", "EDNS option runs past"),
        (5, b"\x03www\xc0", "pointer cut short"),
    ],
)
def test_rdata_shorter_than_its_type(rrtype: int, rdata: bytes, error: str) -> None:
    with pytest.raises(ParseError, match=error):
        decode(_one_record(rrtype, rdata), 0, 256)
    # the same record in the authority section only drops that section
    resp = decode(_one_record(rrtype, rdata, 1), 0, 256)
    assert resp.authorities is None and resp.queries is not None


@pytest.mark.parametrize("rrtype", [15, 6, 33, 44, 28])
def test_empty_rdata_gives_entry_without_data(rrtype: int) -> None:
    resp = decode(_one_record(rrtype, b""), 0, 256)
    assert resp.answers is not None and len(resp.answers) == 1
    a = resp.answers[0]
    assert (a.rrname, a.ttl) == ("www.suricata-ids.org", 60)
    assert a.soa is None and a.srv is None and a.sshfp is None
    assert a.rdata == ("" if rrtype == 28 else None)


def test_sections_keep_schema_fields() -> None:
    """SRV in an authority or an additional: the schema has no `srv` there, so the entry
    keeps rrname, rrtype and ttl."""
    srv = b"\x00\x01\x00\x02\x13\xc4\x03sip\xc0\x0c"
    answer = decode(_one_record(33, srv), 0, 256).answers
    assert answer is not None and answer[0].srv == DnsSrv(
        priority=1, weight=2, port=5060, name="sip.www.suricata-ids.org"
    )
    auth = decode(_one_record(33, srv, 1), 0, 256).authorities
    assert auth is not None and msgspec.to_builtins(auth[0]) == {
        "rrname": "www.suricata-ids.org",
        "rrtype": "SRV",
        "ttl": 60,
    }
    add = decode(_one_record(33, srv, 2), 0, 256).additionals
    assert add is not None and add[0].rrtype == "SRV" and add[0].rdata is None


def test_name_step_and_loop_bounds() -> None:
    # 256 labels and no pointer: the end of the name cannot be trusted
    with pytest.raises(ParseError, match="more than 255 labels"):
        decode(_name_msg(b"\x01a" * 256 + b"\x00"), 0, 256)
    # a pointer to itself after a first pointer ends the name (Suricata: infinite loop)
    msg = b"\x00" * 12 + b"\x01a\xc0\x10\xc0\x10"  # 12: "a", ptr to 16; 16: ptr to 16
    assert read_name(msg, 12, len(msg))[:2] == (b"a", False)
    # thousands of pointers into a loop: past the work bound
    loop = b"\x01a\xc0\x0c\x00\x01\x00\x01"  # question "a" -> itself through a pointer
    rr = b"\x01b\xc0\x0c" + struct.pack("!HHIH", 1, 1, 0, 0)
    n = 4000
    flood = struct.pack("!6H", 1, 0x8180, 1, n, 0, 0) + loop + rr * n
    with pytest.raises(ParseError, match="work bound"):
        decode(flood, 0, 256)
