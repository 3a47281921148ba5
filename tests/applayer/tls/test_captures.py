"""Real captures through the replay helper; the expected values come from outside judges
(suricata-verify `test.yaml` checks, Zeek's ssl.log / x509.log baselines, tshark), see
tests/fixtures/applayer/tls/PROVENANCE.md for where each capture comes from."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from tocsin.applayer.base import TO_CLIENT
from tocsin.model.tls import TlsEvent, TlsInfo

from ._util import replay_tls


def _infos(name: str, port: int | None = None, **kw: Any) -> list[TlsInfo]:
    events, errors = replay_tls(name, port=port, **kw)
    assert errors == []
    assert all(e.event_cls is TlsEvent for e in events)
    return [e.body for e in events]


def test_suricata_verify_tls_cert_issuer_and_resumption() -> None:
    # tls-cert-issuer / tls-subject / tls-issuerdn / tls-cert-validity / bug-7286: four full
    # handshakes with the SELKS certificate and one resumed session
    infos = _infos("cert-issuer-resumed.pcap", port=443)  # (the capture has mDNS too)
    assert len(infos) == 5
    full = [i for i in infos if i.subject is not None]
    assert len(full) == 4
    for i in full:
        assert i.subject == "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS"
        assert i.issuerdn == "C=FR, ST=IDF, L=Paris, O=Stamus, CN=SELKS"
        assert i.serial == "00:97:E6:47:09:8E:EA:C9:B4"
        assert i.fingerprint == "3a:0b:3b:23:15:2c:44:5c:27:ac:6a:0c:41:d6:fa:74:af:b4:09:5b"
        assert (i.notbefore, i.notafter) == ("2015-02-12T18:07:27", "2025-02-09T18:07:27")
        assert i.version == "TLS 1.2"
        assert i.session_resumed is None
    assert [i.session_resumed for i in infos].count(True) == 1


def test_suricata_verify_ja4_and_alpn_with_a_quic_flow_alongside() -> None:
    # ja4-tls-quic / tls-alpn-client-log-01: the TCP flow's JA4 and ALPNs; the QUIC flow of
    # the same capture is not TLS records: it stops with a ParseError, alone
    events, errors = replay_tls("ja4-tls-quic.pcap", port=443)
    assert len(errors) == 1 and "not a TLS record" in errors[0]
    (e,) = events
    info: TlsInfo = e.body
    assert info.ja4 == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert info.client_alpns == ["h2", "http/1.1"]
    assert info.sni == "cloudflare-quic.com"
    assert info.version == "TLS 1.3"
    assert e.direction == TO_CLIENT


def test_suricata_verify_tls13_drafts() -> None:
    infos = _infos("tls13-draft28.pcap")
    assert [(i.sni, i.version) for i in infos] == [("localhost", "TLS 1.3 draft-28")] * 2
    assert {i.ja3.hash for i in infos if i.ja3} == {
        "d00857e0c8e7a7f35e446508c6233460",
        "43202faa1c8c1760d6f7f4bd9adde4ab",
    }
    (d14,) = _infos("tls13-draft14.pcap")
    assert d14.version == "TLS 1.3 draft-<16"
    assert d14.ja3 is not None and d14.ja3.hash == "65825469c473e48f3ee2571129256ab0"


def test_suricata_verify_client_certificate() -> None:
    # tls-eve-custom-fields on tls-store-02/tls-client-auth.pcap
    (i,) = _infos("client-auth.pcap", certificates=True)
    assert i.subject == (
        "C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleServer, CN=SampleServer"
    )
    assert i.issuerdn == "C=HU, ST=Budapest, L=Budapest, O=TLSClientAuthSampleCA, CN=SampleRoot"
    assert i.subjectaltname is not None and i.subjectaltname[0] == "localhost"
    assert i.serial == "00:C7:D4:28:8B:80:E0:1E:25"
    assert i.fingerprint == "06:39:f9:5d:fe:81:53:c4:9d:f0:ac:80:3e:2d:42:07:e8:96:de:09"
    assert (i.sni, i.version) == ("localhost", "TLS 1.2")
    assert (i.notbefore, i.notafter) == ("2018-04-14T20:55:27", "2018-05-14T20:55:27")
    assert i.client is not None
    assert i.client.serial == "00:C7:D4:28:8B:80:E0:1E:27"
    assert (i.client.notbefore, i.client.notafter) == (
        "2018-04-14T20:55:27",
        "2018-05-14T20:55:27",
    )
    for key in ("certificate", "chain"):
        assert getattr(i, key) is not None and getattr(i.client, key) is not None
    assert i.client.issuerdn is not None and i.client.fingerprint is not None


def test_suricata_verify_sslv2_hello_upgraded_to_tls() -> None:
    (i,) = _infos("sslv2-hello-tls-server.pcap")
    assert i.subject == (
        "C=US, ST=California, L=Sunnyvale, O=NetScreen Technologies, Inc., OU=Security Team, "
        "CN=sigdb.secteam.netscreen.com, Email=aturner@netscreen.com"
    )
    assert i.issuerdn == (
        "C=US, ST=California, L=Sunnyvale, O=OneSecure, Inc., OU=Fulfillment, "
        "CN=jumper.sv-staging.onesecure.com, Email=fulfillment@onesecure.com"
    )
    assert i.serial == "55"
    assert i.fingerprint == "8c:90:bd:2a:b3:ae:e6:0b:d0:ea:b7:86:b0:1a:e4:b1:cc:57:ef:22"
    assert i.version == "TLSv1"
    assert (i.notbefore, i.notafter) == ("2003-03-29T00:57:44", "2008-03-27T00:57:44")


def test_suricata_verify_glupteba_and_pre_1970() -> None:
    (g,) = _infos("glupteba-san.pcap")
    assert g.fingerprint == "e9:a0:69:50:ba:18:dc:ac:d3:a7:fe:58:22:4a:1f:42:5b:bc:96:b0"
    assert g.version == "TLSv1"  # SSLv2-format hello, TLS 1.0 server
    assert g.subjectaltname is not None and len(g.subjectaltname) == 17
    assert g.subjectaltname[6] == "server15.xn--j1ahhq.xn--p1ai"
    (p,) = _infos("pre-1970.pcap")
    assert (p.sni, p.notbefore, p.serial) == (
        "fkp.samsungcloudsolution.com",
        "1969-12-31T00:00:00",
        "32",
    )
    assert p.fingerprint == "71:cd:fe:08:7f:3d:2a:18:32:69:38:fa:bd:64:7b:c6:cf:cc:44:8e"


def test_suricata_verify_client_and_server_handshake() -> None:
    # ja4-cl-handshake and ja4-sv-handshake (the same capture)
    (i,) = _infos("server-handshake.pcap")
    ch, sh = i.client_handshake, i.server_handshake
    assert ch is not None and sh is not None
    assert ch.version == "TLS 1.2"
    assert ch.ciphers == [
        49196, 49200, 159, 52393, 52392, 52394, 49195, 49199, 158, 49188, 49192, 107, 49187,
        49191, 103, 49162, 49172, 57, 49161, 49171, 51, 157, 156, 61, 60, 53, 47, 255,
    ]  # fmt: skip
    assert ch.exts == [0, 11, 10, 35, 22, 23, 13]
    assert ch.sig_algs == [
        1027, 1283, 1539, 2055, 2056, 2057, 2058, 2059, 2052, 2053, 2054, 1025, 1281, 1537,
        771, 515, 769, 513, 770, 514, 1026, 1282, 1538,
    ]  # fmt: skip
    assert (sh.version, sh.cipher, sh.exts) == ("TLS 1.2", 49200, [65281, 11, 35, 23])


def test_zeek_ssl_and_x509_baselines() -> None:
    # scripts.base.protocols.ssl.basic: ssl.log and x509.log
    (i,) = _infos("conn-with-extensions.pcap", certificates=True)
    assert (i.version, i.sni, i.session_resumed) == ("TLSv1", "ssl.gstatic.com", None)
    assert i.chain is not None
    assert [hashlib.sha256(base64.b64decode(c)).hexdigest() for c in i.chain] == [
        "a580247a25324adf4add5af648de4ac5798030dfd622f26a5f2280d7528ae244",
        "250da2691be97c9a33ceef7e311c14fb01846e058a99cea9bd1125bd25a0cad5",
    ]
    assert i.serial == "36:F5:DA:53:00:00:00:00:50:5E"
    # scripts.base.protocols.ssl.tls1_1
    (t,) = _infos("tls1_1.pcap", certificates=True)
    assert t.version == "TLS 1.1"
    assert t.chain is not None and len(t.chain) == 3
    assert hashlib.sha256(base64.b64decode(t.chain[0])).hexdigest() == (
        "22a920a5ec03c819b569ed0fa8b7df258e3e7ea11fdd15b83b6fa45f3e863036"
    )
    assert t.serial == "3D:1D:E4:4E:34:6E:CE:68"
    assert t.subject == "C=US, ST=California, L=Mountain View, O=Google Inc, CN=*.google.com"
    assert t.notbefore == "2017-11-01T13:48:56"  # 1509544136
    assert t.subjectaltname is not None and len(t.subjectaltname) == 60  # Zeek's san.dns


def test_tshark_agrees_on_hrr_ja3s() -> None:
    # tshark -e tls.handshake.ja3s_full on Zeek's hrr.pcap: "771,4866,43-51" (the HRR)
    (i,) = _infos("hrr.pcap")
    assert i.ja3s is not None and i.ja3s.string == "771,4866,43-51"
    assert i.ja3 is not None and i.ja3.string == (
        "771,4866-4867-4865-255,11-10-35-22-23-13-43-45-51,21-23-24,0-1-2"
    )
