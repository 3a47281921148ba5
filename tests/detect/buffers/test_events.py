"""DNS, TLS, SSH and SMB sticky buffers from the events the real parsers emit on captures.

Expected values are those of the suricata-verify tests the captures come from (the rule's
content and the alert count of its `test.yaml`), or Suricata 8's detection code where stated.
"""

from __future__ import annotations

import hashlib
import re

import dpkt
import pytest

from applayer.tls._util import replay_tls
from tocsin.applayer.base import TO_CLIENT, TO_SERVER, AppLimits
from tocsin.applayer.dns import DnsUdpParser
from tocsin.applayer.smb import SmbParser
from tocsin.applayer.ssh import SshParser
from tocsin.applayer.tls import TlsParser
from tocsin.detect.buffers import EventBuffers, event_buffers
from tocsin.detect.buffers.events import wire
from tocsin.model.dns import DnsEvent, DnsInfo
from tocsin.model.smb import SmbInfo
from tocsin.model.ssh import SshEnd, SshHassh, SshInfo
from tocsin.model.tls import TlsInfo

from ._util import APP, FIX, events


def test_sv_dns_query_per_request() -> None:
    # dns-detect-query-02: dns_query; content:"google.com" alerts on packet 1, "google.net"
    # on packet 3; the response (packet 2) has no dns.query buffer (detect-dns-query.c reads
    # the request side of the message's transaction)
    infos = events(DnsUdpParser, FIX / "dns-detect-query-02.pcap")
    assert [EventBuffers(i).multi("dns.query") for i in infos] == [
        [b"google.com"],
        [],
        [b"google.net"],
    ]


def test_dns_query_each_question_as_sent() -> None:
    # Suricata 8: one buffer per question, the name as read: labels joined by ".", no
    # trailing dot, case kept (EVE rrname)
    msg = dpkt.dns.DNS(id=7, qd=[])
    for name in ("WwW.Example.COM", "mail.example.org"):
        q = dpkt.dns.DNS.Q(name=name, type=dpkt.dns.DNS_A)
        msg.qd.append(q)
    got: list[DnsInfo] = []

    def emit(cls: object, body: DnsInfo, d: int, ts: int, tx: int | None = None) -> None:
        assert cls is DnsEvent
        got.append(body)

    DnsUdpParser(emit, AppLimits()).feed(TO_SERVER, bytes(msg), 0)
    buffers = EventBuffers(got[0])
    assert buffers.multi("dns.query") == [b"WwW.Example.COM", b"mail.example.org"]
    assert buffers.get("dns.query") == b"WwW.Example.COM"
    assert buffers.ready("dns.query")
    assert buffers.multi("dns.query", TO_CLIENT) == []  # to_server only


def test_sv_tls_cert_issuer_serial_fingerprint() -> None:
    # tls-cert-issuer: tls_cert_issuer; content:"O=Stamus"; 4 alerts (4 full handshakes, the
    # resumed session has no certificate); serial / fingerprint as the EVE tls.serial /
    # tls.fingerprint (cert0_serial / cert0_fingerprint in app-layer-ssl.c)
    infos = events(TlsParser, APP / "tls" / "cert-issuer-resumed.pcap", port=443)
    buffers = [EventBuffers(i) for i in infos]
    issuers = [b.get("tls.cert_issuer", TO_CLIENT) or b"" for b in buffers]
    assert sum(b"O=Stamus" in i for i in issuers) == 4 and issuers.count(b"") == 1
    full = [b for b in buffers if b.get("tls.cert_subject", TO_CLIENT)]
    for b in full:
        assert b.get("tls.cert_subject", TO_CLIENT) == b"C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS"
        assert b.get("tls.cert_serial", TO_CLIENT) == b"00:97:E6:47:09:8E:EA:C9:B4"
        assert (
            b.get("tls.cert_fingerprint", TO_CLIENT)
            == b"3a:0b:3b:23:15:2c:44:5c:27:ac:6a:0c:41:d6:fa:74:af:b4:09:5b"
        )
        assert b.get("tls.cert_subject", TO_SERVER) is None  # no client certificate


def test_tls_client_certificate_to_server() -> None:
    # detect-tls-cert-subject.c GetData: client_connp to_server, server_connp to_client
    # (mutual TLS capture of tls-store-02; values as tests/applayer/tls assert them)
    (info,) = events(TlsParser, APP / "tls" / "client-auth.pcap")
    buffers = EventBuffers(info)
    assert buffers.get("tls.sni") == b"localhost"
    client = buffers.get("tls.cert_subject", TO_SERVER)
    server = buffers.get("tls.cert_subject", TO_CLIENT)
    assert client is not None and b"CN=SampleClientJane" in client
    assert server is not None and b"CN=SampleServer" in server
    assert buffers.multi("tls.cert_serial") == [
        b"00:C7:D4:28:8B:80:E0:1E:27",
        b"00:C7:D4:28:8B:80:E0:1E:25",
    ]
    assert buffers.get("tls.cert_subject") == server  # no direction: to_client first


def test_sv_ja3_and_ja4() -> None:
    # ja4-rules / ja4-tls-quic: ja4.hash; content:"t13d1516h2_8daaf6152771_e5627efa2ab1"
    # (the capture's QUIC flow is not TLS records: the TLS parser stops on it, alone)
    emitted, errors = replay_tls("ja4-tls-quic.pcap", port=443)
    assert len(errors) == 1
    (buffers,) = [EventBuffers(e.body) for e in emitted]
    assert buffers.get("ja4.hash") == b"t13d1516h2_8daaf6152771_e5627efa2ab1"
    # ja3.hash: 32 lower-case hex digits, the MD5 of ja3.string (detect-tls-ja3-hash.c)
    ja3, ja3_string = buffers.get("ja3.hash"), buffers.get("ja3.string")
    assert ja3 is not None and ja3_string is not None
    assert re.fullmatch(rb"[0-9a-f]{32}", ja3)
    assert ja3 == hashlib.md5(ja3_string).hexdigest().encode()
    assert buffers.get("ja3s.hash") is not None and buffers.get("ja3.hash", TO_CLIENT) is None


def test_sv_bidir_ja3() -> None:
    # detect-bidir-ja3 (on tls/tls-certs-alert): ja3s.hash "5d79edf64e03689ff559a54e9d9487bc"
    # and ja3.string "771,49196-49200" match (sid 1); "6d79..." and "9999999999" do not
    (info,) = events(TlsParser, FIX / "tls-certs-alert.pcap")
    buffers = EventBuffers(info)
    assert buffers.get("ja3s.hash") == b"5d79edf64e03689ff559a54e9d9487bc"
    assert b"771,49196-49200" in (buffers.get("ja3.string") or b"")
    assert b"9999999999" not in (buffers.get("ja3.string") or b"")


def test_sv_ssh_hassh_and_banners() -> None:
    # ssh-hassh: the four rules each alert once
    (info,) = events(SshParser, APP / "ssh" / "sv-ssh-hassh.pcap", port=22)
    buffers = EventBuffers(info)
    assert buffers.get("ssh.hassh") == b"2dd6531c7e89d3c925db9214711be76a"
    assert buffers.get("ssh.hassh.server") == b"6832f1ce43d4397c2c0a3e2f8c94334e"
    assert b"umac-64-etm@openssh.com,umac-128-etm@openssh.com" in (
        buffers.get("ssh.hassh.string") or b""
    )
    assert b"none,zlib@openssh.com" in (buffers.get("ssh.hassh.server.string") or b"")
    # detect-ssh-proto.c / detect-ssh-software.c: each end's banner in its own direction
    assert buffers.multi("ssh.proto") == [b"2.0", b"2.0"]
    assert buffers.get("ssh.software", TO_SERVER) == b"OpenSSH_for_Windows_7.7"
    assert buffers.get("ssh.software", TO_CLIENT) == b"OpenSSH_7.4"


def test_ssh_without_kexinit_has_no_hassh() -> None:
    info = SshInfo(client=SshEnd(proto_version="1.99", software_version="x"), server=None)
    buffers = EventBuffers(info)
    assert buffers.get("ssh.proto", TO_SERVER) == b"1.99"
    assert buffers.get("ssh.proto", TO_CLIENT) is None
    assert buffers.get("ssh.hassh") is None and buffers.get("ssh.hassh.server") is None
    with_hassh = SshInfo(server=SshEnd(hassh=SshHassh(hash="ab", string="k;e;m;c")))
    assert EventBuffers(with_hassh).get("ssh.hassh.server.string") == b"k;e;m;c"


def _tree_connects(pcap_infos: list[object]) -> list[tuple[list[bytes], list[bytes]]]:
    out = []
    for info in pcap_infos:
        if isinstance(info, SmbInfo):
            b = EventBuffers(info)
            pipe, share = b.multi("smb.named_pipe"), b.multi("smb.share")
            if pipe or share:
                out.append((pipe, share))
    return out


def test_sv_smb_named_pipe_ascii_and_unicode() -> None:
    # smb-named-pipe-ascii (SMB1, ASCII strings) and smb2-named-pipe-unicode: smb_named_pipe;
    # content:"IPC$"; 1 alert each; the other share of the SMB2 capture is a share, not a pipe
    ascii_ = _tree_connects(events(SmbParser, APP / "smb" / "smb1_named_pipe_ascii.pcap", 445))
    assert ascii_ == [([b"\\\\127.0.0.1\\IPC$"], [])]
    unicode_ = _tree_connects(events(SmbParser, FIX / "smb2-named-pipe-unicode.pcap", 445))
    assert sum(b"IPC$" in p for pipes, _ in unicode_ for p in pipes) == 1
    assert ([], [b"\\\\192.168.122.63\\$IPC"]) in unicode_


def test_smb_share_only_on_tree_connect() -> None:
    # SCSmbTxGetShare: only a TREE_CONNECT transaction carries the share; the WRITE that
    # logs "share" for context does not
    infos = [i for i in events(SmbParser, APP / "smb" / "smb1_write_andx.pcap", 445)]
    smb = [i for i in infos if isinstance(i, SmbInfo)]
    write = next(i for i in smb if i.command == "SMB1_COMMAND_WRITE_ANDX" and i.share)
    assert EventBuffers(write).multi("smb.share") == []
    shares = [EventBuffers(i).get("smb.share") for i in smb]
    assert write.share is not None and wire(write.share) in shares


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("example.com", b"example.com"),
        ("caf\u00e9", b"caf\xc3\xa9"),  # valid UTF-8 was written as is
        ("a\\xe9b", b"a\xe9b"),  # invalid UTF-8 was escaped: unescaped
        ("a\\xc3\\xa9", b"a\\xc3\\xa9"),  # would unescape to valid UTF-8: literal text
        ("a\\x41", b"a\\x41"),  # an ASCII byte is never escaped
    ],
)
def test_wire_bytes(text: str, raw: bytes) -> None:
    assert wire(text) == raw


def test_event_buffers_by_tag() -> None:
    info = TlsInfo(sni="a.example")
    wrapped = event_buffers("tls", info)
    assert wrapped is not None and wrapped.multi("tls.sni") == [b"a.example"]
    assert event_buffers("dns", info) is None  # the tag must be the body's protocol
    assert event_buffers("dhcp", object()) is None


def test_unknown_and_foreign_names() -> None:
    buffers = EventBuffers(TlsInfo(sni="a.example"))
    assert buffers.get("tls_sni") == b"a.example"  # legacy name
    assert buffers.get("tls.cert_issuer", TO_CLIENT) is None
    with pytest.raises(KeyError):
        buffers.get("dns.query")
    with pytest.raises(KeyError):
        buffers.get("http.uri")
