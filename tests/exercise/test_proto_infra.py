"""Payload builders of exercise mode for NTP, DHCP, LDAP and RDP.

DHCP and RDP are judged by Tocsin's parsers (`applayer.replay.Feeder`); NTP and LDAP have no
Tocsin parser, so their bytes are checked field by field here (a BER walk for LDAP). RDP
sessions are checked against the flow heuristic of `behaviour.brute_force` (a failure is
short and small, a success is not). Then one capture of all of it, written with
`wire.Trace`, is judged by tshark (nothing malformed, no expert error or warning) and run
through `tocsin analyze` (DHCP and RDP events, the RDP brute-force alert).
"""

from __future__ import annotations

import random
import struct

import pytest

from applayer.replay import Feeder
from exercise_kit import Capture, analysed, tshark
from tocsin.applayer.dhcp.parser import DhcpParser
from tocsin.applayer.rdp.parser import RdpParser
from tocsin.applayer.tls.parser import TlsParser
from tocsin.detect.behaviour.bruteforce import BruteForceConfig
from tocsin.exercise.proto import dhcp, ldap, ntp, rdp
from tocsin.exercise.wire.hosts import EphemeralPorts, Host
from tocsin.exercise.wire.trace import Trace
from tocsin.exercise.wire.turns import CLIENT, SERVER, Turn

NOW = 1_710_495_012.25  # 2024-03-15 09:30:12.25 UTC

# -- NTP ------------------------------------------------------------------------------------


def ntp_time(raw: bytes) -> float:
    secs, frac = struct.unpack("!II", raw)
    return secs - ntp.NTP_EPOCH_OFFSET + frac / 2**32


def test_ntp_request_and_response_fields() -> None:
    req, resp = (t.data for t in ntp.exchange(random.Random(1), NOW, ref_id="10.0.0.1"))
    assert len(req) == len(resp) == 48
    assert req[0] == 0x23  # LI 0, version 4, mode 3 (client)
    assert resp[0] == 0x24 and resp[1] == 2  # mode 4 (server), stratum 2
    assert resp[24:32] == req[40:48]  # origin = the request's transmit time
    assert abs(ntp_time(req[40:48]) - NOW) < 1e-6
    assert abs(ntp_time(resp[32:40]) - NOW) < 1e-6 and ntp_time(resp[40:48]) > NOW
    assert resp[12:16] == bytes((10, 0, 0, 1))


def test_ntp_windows_and_stratum_one() -> None:
    req = ntp.request(random.Random(2), NOW, windows=True)
    assert req[0] == 0xDB and req[2] == 17  # LI 3, NTPv3, client; poll 2^17
    resp = ntp.response(req, NOW, stratum=1, ref_id="GPS")
    assert resp[0] == 0x1C and resp[12:16] == b"GPS\x00"
    with pytest.raises(ValueError):
        ntp.response(req[:40], NOW)
    with pytest.raises(ValueError):
        ntp.response(req, NOW, ref_id="not-an-ip")


# -- DHCP -----------------------------------------------------------------------------------


def test_dhcp_lease_parses_as_four_messages() -> None:
    turns = dhcp.lease(
        random.Random(3), "00:1a:2b:3c:4d:5e", "PC-URG-0042", "10.20.1.57", "10.0.0.5",
        router="10.20.1.1", dns_servers=["10.0.0.10", "10.0.0.11"], domain="chu.local",
    )  # fmt: skip
    assert [t.side for t in turns] == [CLIENT, SERVER, CLIENT, SERVER]
    f = Feeder(DhcpParser)
    for t in turns:
        assert len(t.data) >= 300
        f.feed(t.side, t.data)
    d, o, r, a = f.bodies()
    assert [m.dhcp_type for m in (d, o, r, a)] == ["discover", "offer", "request", "ack"]
    assert len({m.id for m in (d, o, r, a)}) == 1
    assert d.client_mac == "00:1a:2b:3c:4d:5e" and d.hostname == "PC-URG-0042"
    assert d.vendor_class_identifier == "MSFT 5.0" and "dns_server" in d.params
    assert r.requested_ip == "10.20.1.57"
    assert a.assigned_ip == "10.20.1.57" and a.lease_time == 86_400
    assert (a.renewal_time, a.rebinding_time) == (43_200, 75_600)
    assert a.routers == ["10.20.1.1"] and a.dns_servers == ["10.0.0.10", "10.0.0.11"]


def test_dhcp_relay_and_renewal() -> None:
    msg = dhcp.discover(7, "00:11:22:33:44:55", "IMP-RADIO-01", None, relay_ip="10.30.1.1")
    assert msg[3] == 1 and msg[24:28] == bytes((10, 30, 1, 1))  # hops, giaddr
    assert b"\x3c" not in msg[240:250]  # no vendor class option when None
    renew = dhcp.request(8, "00:11:22:33:44:55", "10.30.1.8", "10.0.0.5", renewal=True)
    f = Feeder(DhcpParser)
    f.feed(CLIENT, renew)
    (info,) = f.bodies()
    assert info.client_ip == "10.30.1.8" and info.requested_ip is None
    assert struct.unpack_from("!H", renew, 10)[0] == 0  # unicast: no broadcast flag
    with pytest.raises(ValueError):
        dhcp.discover(1, "00:11:22:33:44", "x")


# -- LDAP -----------------------------------------------------------------------------------


def ber(buf: bytes, pos: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    """The (tag, content) elements of `buf[pos:end]`, which they must fill exactly; the
    content of constructed elements is walked too."""
    end = len(buf) if end is None else end
    out = []
    while pos < end:
        tag, n = buf[pos], buf[pos + 1]
        pos += 2
        if n & 0x80:
            k = n & 0x7F
            assert 0 < k <= 4
            n = int.from_bytes(buf[pos : pos + k], "big")
            assert n >= 0x80, "length not minimal"
            pos += k
        assert pos + n <= end, "element overruns its parent"
        if tag & 0x20:
            ber(buf, pos, pos + n)
        out.append((tag, buf[pos : pos + n]))
        pos += n
    return out


def messages(data: bytes) -> list[tuple[int, int]]:
    """(message id, protocolOp tag) of each LDAPMessage in `data`."""
    out = []
    for tag, content in ber(data):
        assert tag == 0x30
        (_, mid), (op, _) = ber(content)[:2]
        out.append((int.from_bytes(mid, "big"), op))
    return out


def test_ldap_session_success_is_valid_ber_in_windows_order() -> None:
    turns = ldap.session(random.Random(4), domain="chu.local", dc="dc01", user="jdupont")
    got = [(t.side, messages(t.data)) for t in turns]
    assert got == [
        (CLIENT, [(1, 0x63)]),  # rootDSE search
        (SERVER, [(1, 0x64), (1, 0x65)]),  # entry, done
        (CLIENT, [(2, 0x60)]),  # bind
        (SERVER, [(2, 0x61)]),
        (CLIENT, [(3, 0x63)]),  # user search
        (SERVER, [(3, 0x64), (3, 0x65)]),
        (CLIENT, [(4, 0x42)]),  # unbind
    ]
    assert b"CN=jdupont,OU=Utilisateurs,DC=chu,DC=local" in turns[5].data
    assert b"dc01.chu.local" in turns[1].data and b"DC=chu,DC=local" in turns[1].data


def test_ldap_failed_bind_answers_invalid_credentials() -> None:
    turns = ldap.session(random.Random(5), user="jdupont", password="wrong", success=False)
    assert [messages(t.data)[0][1] for t in turns] == [0x63, 0x64, 0x60, 0x61, 0x42]
    assert b"jdupont@chu.local" in turns[2].data and b"\x80\x05wrong" in turns[2].data
    result = ber(ber(ber(turns[3].data)[0][1])[1][1])
    assert result[0] == (0x0A, bytes((ldap.INVALID_CREDENTIALS,)))
    assert b"data 52e" in result[2][1]


@pytest.mark.parametrize(
    ("text", "der"),
    [
        ("(objectClass=*)", b"\x87\x0bobjectClass"),
        ("(cn=Dupont)", b"\xa3\x0c\x04\x02cn\x04\x06Dupont"),
        ("(!(cn=a))", b"\xa2\x09\xa3\x07\x04\x02cn\x04\x01a"),
        ("(cn=Du*nt)", b"\xa4\x0e\x04\x02cn\x30\x08\x80\x02Du\x82\x02nt"),
        ("(&(a=1)(b>=2))", b"\xa0\x10\xa3\x06\x04\x01a\x04\x011\xa5\x06\x04\x01b\x04\x012"),
        ("(x=\\2a)", b"\xa3\x06\x04\x01x\x04\x01*"),
    ],
)
def test_ldap_filters_encode_as_rfc_4511(text: str, der: bytes) -> None:
    assert ldap.encode_filter(text) == der


@pytest.mark.parametrize("bad", ["objectClass=*", "(cn=a", "(&(a=1)", "(=x)", "(a=1))"])
def test_ldap_bad_filters_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        ldap.encode_filter(bad)


def test_ldap_escape_keeps_user_names_literal() -> None:
    f = ldap.encode_filter(f"(sAMAccountName={ldap.escape('a*(b)')})")
    assert f.endswith(b"\x04\x05a*(b)")


# -- RDP ------------------------------------------------------------------------------------


def rdp_events(turns: list[Turn]) -> list[tuple[str, str | None]]:
    f = Feeder(RdpParser)
    for t in turns:
        f.feed(t.side, t.data)
    return [(b.event_type, b.cookie) for b in f.bodies()]


def server_bytes(turns: list[Turn]) -> int:
    return sum(len(t.data) for t in turns if t.side == SERVER)


def duration(turns: list[Turn]) -> float:
    return sum(t.delay_s for t in turns)


def test_rdp_negotiation_parses_with_cookie_then_tls() -> None:
    turns = rdp.session(random.Random(6), "administrateur", False)
    assert rdp_events(turns) == [
        ("initial_request", "administrateur"),
        ("initial_response", None),
        ("tls_handshake", None),
    ]
    assert turns[0].data.endswith(b"\x01\x00\x08\x00\x03\x00\x00\x00")  # SSL | HYBRID
    assert turns[1].data.endswith(b"\x08\x00\x02\x00\x00\x00")  # HYBRID selected
    f = Feeder(TlsParser)  # what follows the X.224 exchange is TLS, with the mstsc hello
    for t in turns[2:]:
        f.feed(t.side, t.data)
    (tls_info,) = f.bodies()
    assert tls_info.version == "TLS 1.2" and tls_info.client_alpns is None
    assert tls_info.subject == tls_info.issuerdn == "CN=srv-ts01.chu.local"


def test_rdp_without_cookie_and_standard_tls() -> None:
    turns = rdp.session(random.Random(7), "x", False, cookie=False, requested=rdp.PROTOCOL_SSL)
    assert rdp_events(turns)[0] == ("initial_request", None)
    assert turns[1].data.endswith(b"\x08\x00\x01\x00\x00\x00")


@pytest.mark.parametrize("requested", [rdp.PROTOCOL_SSL | rdp.PROTOCOL_HYBRID, rdp.PROTOCOL_SSL])
def test_rdp_failed_and_successful_logins_fall_on_each_side_of_brute_force(
    requested: int,
) -> None:
    cfg = BruteForceConfig()
    rng = random.Random(8)
    for _ in range(20):
        fail = rdp.session(rng, "admin", False, requested=requested)
        # payload only: 40 bytes of headers per packet still leave the flow under the bound
        assert server_bytes(fail) + 40 * 40 <= cfg.rdp_fail_max_bytes_tc
        assert duration(fail) < cfg.rdp_fail_max_s / 5
    ok = rdp.session(rng, "jdupont", True, requested=requested, duration_s=120)
    assert duration(ok) > cfg.rdp_fail_max_s and server_bytes(ok) > 5 * cfg.rdp_fail_max_bytes_tc


def test_rdp_same_seed_same_bytes() -> None:
    a = rdp.session(random.Random(9), "u", True, duration_s=20)
    assert a == rdp.session(random.Random(9), "u", True, duration_s=20)


# -- a capture: tshark's judgement, then the whole pipeline --------------------------------

PC = Host.make("pc-urg-0042", "10.20.1.57", ttl=128)
ATTACKER = Host.make("pc-compromised", "10.20.1.66", ttl=128)
DC = Host.make("dc01", "10.0.0.10", ttl=128)
TS = Host.make("srv-ts01", "10.0.0.30", ttl=128)
DHCP_SERVER = Host.make("dhcp01", "10.0.0.5", ttl=128)
RELAY = Host.make("gw-vlan30", "10.30.1.1", ttl=255)
ANY = Host("unbound", "0.0.0.0", bytes.fromhex("001a2b3c4d5e"))
BROADCAST = Host("broadcast", "255.255.255.255", b"\xff" * 6)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """A lease (broadcast and relayed), NTP, LDAP sessions, RDP logins and an RDP brute force
    (25 failed NLA logins), written with `wire.Trace`."""
    rng = random.Random(30)
    tr = Trace(seed=30)
    ports = EphemeralPorts(rng)
    t = NOW
    lease = dhcp.lease(rng, "00:1a:2b:3c:4d:5e", "PC-URG-0042", PC.ip, DHCP_SERVER.ip,
                       router="10.20.1.1", dns_servers=[DC.ip], domain="chu.local")  # fmt: skip
    for turn in lease:
        t += 0.01
        if turn.side == CLIENT:
            tr.udp(t, ANY, 68, BROADCAST, 67, turn.data)
        else:
            tr.udp(t, DHCP_SERVER, 67, BROADCAST, 68, turn.data)
    relayed = dhcp.lease(rng, "00:11:22:33:44:55", "IMP-RADIO-01", "10.30.1.8", DHCP_SERVER.ip,
                         vendor_class=None, relay_ip=RELAY.ip)  # fmt: skip
    t = tr.udp_exchange(t + 1, RELAY, 67, DHCP_SERVER, 67, relayed)
    t = tr.udp_exchange(t + 1, PC, 123, DC, 123, ntp.exchange(rng, t + 1, windows=True))
    t = tr.udp_exchange(t + 1, DC, 123, DHCP_SERVER, 123, ntp.exchange(rng, t + 1))
    for ok in (True, False):
        t = tr.tcp(t + 1, PC, ports.take(PC), DC, 389, ldap.session(rng, success=ok))
    for requested in (rdp.PROTOCOL_SSL | rdp.PROTOCOL_HYBRID, rdp.PROTOCOL_SSL):
        turns = rdp.session(rng, "jdupont", True, requested=requested, duration_s=60)
        t = tr.tcp(t + 1, PC, ports.take(PC), TS, 3389, turns)
    for i in range(25):
        turns = rdp.session(rng, ("administrateur", "admin", "administrator")[i % 3], False)
        t = tr.tcp(t + rng.uniform(0.5, 2.0), ATTACKER, ports.take(ATTACKER), TS, 3389, turns)
    root = tmp_path_factory.mktemp("proto_infra")
    return analysed(tr, root, "infra.pcap", ("behaviour.brute_force",))


def test_tshark_finds_nothing_malformed_nor_sloppy(capture: Capture) -> None:
    assert tshark(capture.pcap, "-Y", "_ws.malformed") == ""
    for level in ("error", "warn"):
        report = tshark(capture.pcap, "-q", "-z", f"expert,{level}")
        assert "Frequency" not in report, report
    ops = tshark(capture.pcap, "-Y", "ldap", "-T", "fields", "-e", "ldap.protocolOp")
    assert ops.split().count("3") == 3 and ops.split().count("0") == 2  # searches, binds
    assert len(tshark(capture.pcap, "-Y", "ntp").splitlines()) == 4
    assert len(tshark(capture.pcap, "-Y", "dhcp").splitlines()) == 8
    cookies = tshark(capture.pcap, "-Y", "rdp", "-T", "fields", "-e", "rdp.rt_cookie")
    assert cookies.count("Cookie: mstshash=") == 27 and "mstshash=jdupont" in cookies


def test_pipeline_logs_dhcp_and_rdp(capture: Capture) -> None:
    kinds = [e["event_type"] for e in capture.events]
    assert "anomaly" not in kinds
    dhcp_types = [e["dhcp"]["dhcp_type"] for e in capture.events if e["event_type"] == "dhcp"]
    assert dhcp_types == ["discover", "offer", "request", "ack"] * 2
    rdp_cookies = [
        e["rdp"]["cookie"]
        for e in capture.events
        if e["event_type"] == "rdp" and e["rdp"]["event_type"] == "initial_request"
    ]
    assert len(rdp_cookies) == 27


def test_rdp_brute_force_is_detected_and_logins_are_not(capture: Capture) -> None:
    (alert,) = capture.alerts
    assert alert["alert"]["signature_id"] == 8_000_202
    assert alert["src_ip"] == ATTACKER.ip and alert["dest_ip"] == TS.ip
