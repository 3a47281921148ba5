"""The buffer registry: protocol, inspection directions and stages of each buffer.

Directions are those of the keyword tables of the HTTP rule documentation
(doc/userguide/rules/http-keywords.rst, "Request" / "Response" / "Both") and of the inspection
engines Suricata 8 registers (`DetectAppLayerInspectEngineRegister(..., SIG_FLAG_TOSERVER /
SIG_FLAG_TOCLIENT, progress)` in `src/detect-*.c`).
"""

from __future__ import annotations

import pytest

from tocsin.applayer.http import HttpTransaction
from tocsin.detect.buffers import (
    BUFFERS,
    EventBuffers,
    HttpBuffers,
    Stage,
    canonical,
    spec,
    stage_of,
)
from tocsin.detect.compile import buffer_proto
from tocsin.model.dns import DnsInfo
from tocsin.model.smb import SmbInfo
from tocsin.model.ssh import SshInfo
from tocsin.model.tls import TlsInfo

REQUEST = [
    "http.uri",
    "http.uri.raw",
    "http.method",
    "http.request_line",
    "http.request_body",
    "http.user_agent",
    "http.host",
    "http.host.raw",
    "http.accept",
    "http.accept_lang",
    "http.accept_enc",
    "http.referer",
]
BOTH = [
    "http.header",
    "http.header.raw",
    "http.cookie",
    "http.content_type",
    "http.content_len",
    "http.start",
    "http.protocol",
    "http.header_names",
    "http.connection",
]
RESPONSE = [
    "http.stat_msg",
    "http.stat_code",
    "http.response_line",
    "http.response_body",
    "http.server",
    "http.location",
]


@pytest.mark.parametrize("name", REQUEST)
def test_request_buffers(name: str) -> None:
    assert BUFFERS[name].direction == 0 and BUFFERS[name].stage(1) is None


@pytest.mark.parametrize("name", RESPONSE)
def test_response_buffers(name: str) -> None:
    assert BUFFERS[name].direction == 1 and BUFFERS[name].stage(0) is None


@pytest.mark.parametrize("name", BOTH)
def test_both_way_buffers(name: str) -> None:
    found = BUFFERS[name]
    assert found.direction is None
    assert (found.stage(0), found.stage(1)) == (Stage.REQUEST_HEADERS, Stage.RESPONSE_HEADERS)


def test_stage_of() -> None:
    assert stage_of("http.uri") == Stage.REQUEST_HEADERS
    assert stage_of("http_client_body") == Stage.REQUEST_BODY
    assert stage_of("http.header") == Stage.REQUEST_HEADERS  # both ways: the request side
    assert stage_of("http.header", 1) == Stage.RESPONSE_HEADERS
    with pytest.raises(KeyError):
        stage_of("http.uri", 1)
    with pytest.raises(KeyError):
        stage_of("tls.sni")


def test_body_stages() -> None:
    assert BUFFERS["http.request_body"].stage(0) == Stage.REQUEST_BODY
    assert BUFFERS["http.response_body"].stage(1) == Stage.RESPONSE_BODY
    assert BUFFERS["file.data"].stage(1) == Stage.RESPONSE_BODY
    # Suricata 7 and later also inspect the files a request carries
    assert BUFFERS["file.data"].stage(0) == Stage.REQUEST_BODY
    assert BUFFERS["file.data"].direction is None and BUFFERS["file.data"].multi


@pytest.mark.parametrize(
    ("name", "proto", "direction", "multi"),
    [
        ("dns.query", "dns", 0, True),  # detect-dns-query.c: TOSERVER, multi-instance
        ("tls.sni", "tls", 0, False),
        ("tls.cert_subject", "tls", None, False),  # client cert to_server (Suricata 7+)
        ("tls.cert_fingerprint", "tls", None, False),
        ("ja3.hash", "tls", 0, False),
        ("ja3s.string", "tls", 1, False),
        ("ja4.hash", "tls", 0, False),
        ("ssh.proto", "ssh", None, False),
        ("ssh.hassh", "ssh", 0, False),
        ("ssh.hassh.server.string", "ssh", 1, False),
        ("smb.named_pipe", "smb", 0, False),  # detect-smb-share.c: TOSERVER only
        ("smb.share", "smb", 0, False),
        ("http.request_header", "http", 0, True),
        ("http.response_header", "http", 1, True),
    ],
)
def test_event_buffers(name: str, proto: str, direction: int | None, multi: bool) -> None:
    found = BUFFERS[name]
    assert (found.proto, found.direction, found.multi) == (proto, direction, multi)


def test_every_buffer_is_built() -> None:
    """Every registered name has a builder for each direction it is inspectable in."""
    bodies = {"dns": DnsInfo, "tls": TlsInfo, "ssh": SshInfo, "smb": SmbInfo}
    http = HttpBuffers(HttpTransaction(0))
    for name, found in BUFFERS.items():
        for d in (0, 1):
            if found.stage(d) is None:
                continue
            if found.proto == "http":
                assert http.multi(name, d) == [], name
            else:
                cls = bodies[found.proto]
                info = (
                    cls(version=3, type="request", tx_id=0, id=0, flags="0", opcode=0, rcode="")
                    if cls is DnsInfo
                    else cls(id=1, dialect="2.10", session_id=0, tree_id=0)
                    if cls is SmbInfo
                    else cls()
                )
                assert EventBuffers(info).multi(name, d) == [], name


def test_protocol_words_agree_with_the_rule_compiler() -> None:
    for name, found in BUFFERS.items():
        assert buffer_proto(name) == found.proto, name


@pytest.mark.parametrize(
    ("legacy", "name"),
    [
        ("http_uri", "http.uri"),
        ("uricontent", "http.uri"),
        ("http_raw_header", "http.header.raw"),
        ("http_client_body", "http.request_body"),
        ("http_server_body", "http.response_body"),
        ("file_data", "file.data"),
        ("dns_query", "dns.query"),
        ("ja3_hash", "ja3.hash"),
        ("smb_named_pipe", "smb.named_pipe"),
        ("http.uri", "http.uri"),
    ],
)
def test_canonical(legacy: str, name: str) -> None:
    assert canonical(legacy) == name
    assert spec(legacy).name == name


def test_spec_errors() -> None:
    with pytest.raises(KeyError):
        spec("http.nothing")
    with pytest.raises(KeyError):
        spec("dns.query", "http")
    assert spec("dns.query", "dns").proto == "dns"
