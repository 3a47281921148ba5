"""SSH parser: identification strings and HASSH on real captures, framing, malformed input.

HASSH values are those the suricata-verify tests the fixtures come from check (`ssh-hassh`,
`ssh-hassh-reassembled`, `ssh-hassh-incomplete`); banners agree with tshark (`ssh.protocol`)
and Zeek's ssh.log on the same captures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits, ParseError
from tocsin.applayer.ssh import SshParser
from tocsin.applayer.ssh.parser import kexinit_hassh, parse_banner
from tocsin.model.ids import FlowId
from tocsin.model.ssh import SshEnd, SshEvent, SshInfo

from ..fuzzing import mutate
from ..replay import Feeder as _Feeder
from ..replay import chunks, replay

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "applayer" / "ssh"


class Feeder(_Feeder):
    def __init__(self, limits: AppLimits | None = None) -> None:
        super().__init__(SshParser, limits)


def ssh_flow(name: str) -> list[tuple[int, bytes]]:
    (flow,) = chunks(FIX / name, port=22)
    return flow


def test_hassh_matches_suricata_verify() -> None:
    (ev,) = replay(SshParser, FIX / "sv-ssh-hassh.pcap", port=22)
    assert ev.event_cls is SshEvent and ev.direction == TO_SERVER and ev.tx_id == 0
    client, server = ev.body.client, ev.body.server
    assert (client.proto_version, client.software_version) == ("2.0", "OpenSSH_for_Windows_7.7")
    assert (server.proto_version, server.software_version) == ("2.0", "OpenSSH_7.4")
    assert client.hassh.hash == "2dd6531c7e89d3c925db9214711be76a"
    assert server.hassh.hash == "6832f1ce43d4397c2c0a3e2f8c94334e"
    for end in (client, server):
        assert hashlib.md5(end.hassh.string.encode()).hexdigest() == end.hassh.hash
        assert end.hassh.string.count(";") == 3
    assert client.hassh.string.startswith("curve25519-sha256,") and ",ext-info-c;" in (
        client.hassh.string
    )
    assert server.hassh.string.endswith(";none,zlib@openssh.com")
    assert ev.ts_us != 0  # emitted when the second KEXINIT was read, not at close


def test_hassh_of_kexinit_spread_over_segments() -> None:
    (ev,) = replay(SshParser, FIX / "sv-ssh-hassh-reassembled.pcap")
    client, server = ev.body.client, ev.body.server
    assert client.hassh.hash == server.hassh.hash == "3cc67862bceac0f334c62ad1b76895b4"
    assert client.proto_version == "1.99" and server.proto_version == "2.0"
    assert client.hassh.string == (
        "diffie-hellman-group1-sha1;aes128-cbc,3des-cbc,aes192-cbc,aes256-cbc;"
        "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96;none"
    )


def test_only_client_kexinit_seen() -> None:
    (ev,) = replay(SshParser, FIX / "sv-ssh-hassh-incomplete.pcap", port=22)
    assert ev.body.client.hassh.hash == "46c5bd9748882f1a5d75753fb7d47a61"
    assert ev.body.server.hassh is None
    assert ev.body.server.software_version is not None


def test_server_banner_only_at_close() -> None:
    (ev,) = replay(SshParser, FIX / "sv-bug-4903-01.pcap")
    assert ev.body == SshInfo(
        server=SshEnd(proto_version="1.99", software_version="Cisco_server-1.24")
    )


def test_banner_comments_and_nul_padding_left_out() -> None:
    (ev,) = replay(SshParser, FIX / "sv-bug-4903-03.pcap")
    assert ev.body.client == SshEnd(proto_version="2.0", software_version="Cisco_client-1.25")
    assert ev.body.server == SshEnd(proto_version="1.99", software_version="Cisco_server-1.24")


def test_ssh1_connection_has_versions_and_no_hassh() -> None:
    events = replay(SshParser, FIX / "zeek-ssh1-ssh2-fingerprints.pcap")
    by_port = {e.flow[3]: e.body for e in events}
    assert by_port[2222] == SshInfo(
        client=SshEnd(proto_version="1.5", software_version="OpenSSH_6.6"),
        server=SshEnd(proto_version="1.5", software_version="OpenSSH_6.6"),
    )
    assert (
        by_port[22].client.hassh.hash
        == hashlib.md5(by_port[22].client.hassh.string.encode()).hexdigest()
    )


@pytest.mark.parametrize("size", [1, 5, 64])
def test_any_chunking_gives_the_same_event(size: int) -> None:
    flow = ssh_flow("sv-ssh-hassh.pcap")
    whole = Feeder()
    for d, data in flow:
        whole.feed(d, data)
    split = Feeder()
    for d, data in flow:
        for k in range(0, len(data), size):
            split.feed(d, data[k : k + size])
    assert len(whole.bodies()) == 1
    assert split.bodies() == whole.bodies()
    assert split.parser.done == [True, True]


def test_done_per_direction_after_its_kexinit() -> None:
    f = Feeder()
    client = b"".join(data for d, data in ssh_flow("sv-ssh-hassh.pcap") if d == TO_SERVER)
    f.feed(TO_SERVER, client)
    assert f.parser.done == [True, False] and f.events == []
    f.parser.close(7)
    (body,) = f.bodies()
    assert body.server is None and body.client.hassh is not None
    assert f.events[0][3] == 7


def test_packets_before_kexinit_are_skipped() -> None:
    f = Feeder()
    ignore = (1000).to_bytes(4, "big") + b"\x04\x02" + b"x" * 998  # SSH_MSG_IGNORE
    f.feed(TO_SERVER, b"SSH-2.0-X\r\n" + ignore[:20])
    assert f.parser.skip[TO_SERVER] == 1004 - 20
    f.feed(TO_SERVER, ignore[20:])
    assert f.parser.skip[TO_SERVER] == 0 and not f.parser.done[TO_SERVER]


def test_server_lines_before_banner() -> None:
    f = Feeder()
    f.feed(TO_CLIENT, b"Welcome\r\nauthorized use only\nSSH-2.0-srv comment\r\n")
    f.feed(TO_SERVER, b"SSH-2.0-cli\n")
    f.parser.close(0)
    (body,) = f.bodies()
    assert body.server == SshEnd(proto_version="2.0", software_version="srv")
    assert body.client == SshEnd(proto_version="2.0", software_version="cli")


def test_client_line_before_banner_is_an_error() -> None:
    f = Feeder()
    with pytest.raises(ParseError, match="client"):
        f.feed(TO_SERVER, b"GET / HTTP/1.1\r\n")


def test_error_after_banners_emits_what_is_known() -> None:
    f = Feeder()
    f.feed(TO_CLIENT, b"SSH-2.0-srv\r\n")
    f.feed(TO_SERVER, b"SSH-2.0-cli\r\n")
    with pytest.raises(ParseError, match="padding"):
        f.feed(TO_SERVER, b"\x00\x00\x00\x02\x09\x14")  # padding longer than the packet
    (body,) = f.bodies()
    assert body.client.software_version == "cli" and body.server.software_version == "srv"
    f.parser.close(0)
    assert len(f.events) == 1


def test_bounds() -> None:
    f = Feeder(AppLimits(max_message=4096))
    f.feed(TO_SERVER, b"SSH-2.0-cli\r\n")
    with pytest.raises(ParseError, match="over the limit"):
        f.feed(TO_SERVER, (5000).to_bytes(4, "big") + b"\x04\x14")
    with pytest.raises(ParseError, match="line"):
        Feeder().feed(TO_CLIENT, b"x" * 9000)
    g = Feeder()
    with pytest.raises(ParseError, match="too many lines"):
        g.feed(TO_CLIENT, b"hello\n" * 100)


def test_parse_banner() -> None:
    assert parse_banner(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13") == ("2.0", "OpenSSH_9.6p1")
    assert parse_banner(b"SSH-1.99-") == ("1.99", "")
    assert parse_banner(b"SSH-2.0-caf\xe9") == ("2.0", "caf\\xe9")
    with pytest.raises(ParseError):
        parse_banner(b"SSH-2.0")
    with pytest.raises(ParseError):
        parse_banner(b"SSH--x")


def test_kexinit_truncated() -> None:
    payload = b"\x14" + b"c" * 16 + b"\x00\x00\x00\x04abcd" + b"\x00\x00\x00\x09ab"
    with pytest.raises(ParseError, match="overruns"):
        kexinit_hassh(payload, TO_SERVER)
    lists = b"".join(len(x).to_bytes(4, "big") + x for x in [b"k", b"h", b"e", b"E"] + [b""] * 6)
    with pytest.raises(ParseError, match="after"):
        kexinit_hassh(b"\x14" + b"c" * 16 + lists, TO_SERVER)
    full = kexinit_hassh(b"\x14" + b"c" * 16 + lists + b"\x00" * 5, TO_CLIENT)
    assert full.string == "k;E;;"


SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "suricata" / "schema.json").read_text()
)


def test_bodies_validate_against_suricata_schema() -> None:
    """Every body the fixtures give fits `properties.ssh` of Suricata's EVE schema
    (`additionalProperties` false: no field Suricata does not have)."""
    schema = SCHEMA["properties"]["ssh"]
    bodies = [e.body for f in sorted(FIX.glob("*.pcap")) for e in replay(SshParser, f, port=22)]
    assert bodies
    for body in bodies:
        jsonschema.validate(json.loads(msgspec.json.encode(body)), schema)


def test_event_record() -> None:
    """The event class: tag `ssh`, addresses by flow, body under `ssh`."""
    event = SshEvent(
        timestamp="2026-01-01T00:00:00.000000+0000",
        flow_id=FlowId(1),
        src_ip="10.0.0.1",
        dest_ip="10.0.0.2",
        proto="TCP",
        ssh=SshInfo(client=SshEnd(proto_version="2.0")),
    )
    line = json.loads(msgspec.json.encode(event))
    assert line["event_type"] == "ssh" and line["ssh"] == json.loads(msgspec.json.encode(event.ssh))
    assert SshEvent.by_packet is False


def test_gap_newkeys_and_small_packets() -> None:
    f = Feeder()
    f.feed(TO_CLIENT, b"SSH-2.0-srv\r\n")
    f.feed(TO_SERVER, b"SSH-2.0-cli\r\n" + (12).to_bytes(4, "big") + b"\x0a\x02" + b"p" * 10)
    f.feed(TO_SERVER, (12).to_bytes(4, "big") + b"\x0a\x15" + b"p" * 10)  # NEWKEYS
    assert f.parser.done == [True, False] and f.events == []
    f.parser.gap(TO_CLIENT, 5)
    (body,) = f.bodies()
    assert body.server.software_version == "srv" and body.client.hassh is None
    assert f.events[0][3] == 5 and f.parser.done == [True, True]


def test_kexinit_without_its_name_lists() -> None:
    with pytest.raises(ParseError, match="truncated in its name-lists"):
        kexinit_hassh(b"\x14" + b"c" * 16 + b"\x00\x00", TO_SERVER)
    with pytest.raises(ParseError, match="line over"):
        Feeder().feed(TO_CLIENT, b"y" * 8200 + b"\n")


# --- fuzz ---------------------------------------------------------------------------------

STREAMS = [
    (b"".join(x for d, x in flow if d == TO_SERVER), b"".join(x for d, x in flow if d == 1))
    for name in ("sv-ssh-hassh.pcap", "sv-ssh-hassh-reassembled.pcap", "sv-bug-4903-03.pcap")
    for flow in chunks(FIX / name, port=22)
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    return mutate(draw, draw(st.sampled_from([s for pair in STREAMS for s in pair]))[:3000])


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(mutated(), st.binary(max_size=400)),
    st.one_of(mutated(), st.binary(max_size=400)),
    st.integers(1, 700),
)
def test_fuzz_events_or_parse_error(client: bytes, server: bytes, size: int) -> None:
    f = Feeder()
    try:
        for k in range(0, max(len(client), len(server)), size):
            f.feed(TO_CLIENT, server[k : k + size])
            f.feed(TO_SERVER, client[k : k + size])
    except ParseError:
        pass
    f.parser.close(0)
    assert len(f.events) <= 1
    for body in f.bodies():
        assert isinstance(body, SshInfo) and (body.client or body.server)
