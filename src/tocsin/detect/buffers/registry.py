"""Which sticky buffers exist, which protocol event carries each, in which direction a rule can
inspect it, and how far the transaction must have gone before it is complete.

`BUFFERS` maps each canonical buffer name (Suricata 8's dotted keyword name: `http.uri`,
`file.data`, `ja3.hash`...) to a `BufferSpec`:

- `proto`: the protocol word of the events that carry it ("http", "dns", "tls", "ssh",
  "smb"), the same word as the parser's and the EVE event type;
- `stages`: for each inspection direction (index 0 `to_server`, 1 `to_client`), the `Stage`
  the transaction must have reached for the buffer to be complete, or None when Suricata has
  no inspection engine for that direction (`http.uri` cannot be inspected to_client);
- `direction`: 0 or 1 when only one direction is inspectable, None when both are (then the
  rule's `flow:to_server` / `to_client` picks the side: `http.header` is the request's
  fields to_server and the response's to_client);
- `multi`: the buffer has several instances per transaction, each inspected on its own
  (`dns.query`: one per question; `http.request_header`: one per field).

Directions and stages come from the inspection engines Suricata 8 registers for each keyword
(`DetectAppLayerInspectEngineRegister(name, alproto, SIG_FLAG_TOSERVER / TOCLIENT, progress)`
in `src/detect-http-*.c`, `detect-tls-*.c`, `detect-ssh-*.c`, `detect-smb-share.c`,
`detect-dns-query.c`) and the keyword table of the HTTP rule documentation
(doc/userguide/rules/http-keywords.rst: "Request", "Response", "Both"). HTTP stages map
libhtp's progress: `HTP_REQUEST_PROGRESS_LINE` / `HEADERS` are `REQUEST_HEADERS` here (this
parser completes the request line and the header fields together), `..._BODY` the complete
body (Suricata inspects bodies piecewise as they grow; Tocsin decides on the complete body).
The other protocols' buffers come from a finished protocol event (`Stage.EVENT`).

`canonical(name)` maps the legacy keyword forms (`http_uri`, `file_data`, `ja3_hash`,
`http_client_body`...) to these names. Not here: `file.data` to_server (Suricata 7 and later
also inspect files carried by requests: PUT bodies, multipart parts), HTTP/2-only buffers,
protocols other than the five above.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Stage(IntEnum):
    """How far a transaction has gone (what has been read completely)."""

    NONE = 0  # nothing complete yet (a response whose request was not seen)
    REQUEST_HEADERS = 1  # request line and header fields
    REQUEST_BODY = 2  # the whole request, body included
    RESPONSE_HEADERS = 3  # status line and header fields (or a headerless response started)
    RESPONSE_BODY = 4  # the whole response, body included
    EVENT = 5  # a protocol event (DNS message, TLS session, SSH banners, SMB command)


@dataclass(frozen=True, slots=True)
class BufferSpec:
    """One sticky buffer (see the module docstring)."""

    name: str
    proto: str
    stages: tuple[Stage | None, Stage | None]  # per inspection direction: to_server, to_client
    multi: bool = False

    @property
    def direction(self) -> int | None:
        """0 (to_server) or 1 (to_client) when only that side is inspectable, None: both."""
        to_server, to_client = self.stages
        if to_server is not None and to_client is not None:
            return None
        return 0 if to_server is not None else 1

    def stage(self, direction: int) -> Stage | None:
        """The stage needed to inspect the buffer in `direction`; None: not inspectable."""
        return self.stages[direction]


_RH, _RB = Stage.REQUEST_HEADERS, Stage.REQUEST_BODY
_SH, _SB = Stage.RESPONSE_HEADERS, Stage.RESPONSE_BODY
_EV = Stage.EVENT


def _specs() -> dict[str, BufferSpec]:
    table: list[tuple[str, str, Stage | None, Stage | None, bool]] = [
        # HTTP request side (doc: "Request")
        ("http.uri", "http", _RH, None, False),
        ("http.uri.raw", "http", _RH, None, False),
        ("http.method", "http", _RH, None, False),
        ("http.request_line", "http", _RH, None, False),
        ("http.host", "http", _RH, None, False),
        ("http.host.raw", "http", _RH, None, False),
        ("http.user_agent", "http", _RH, None, False),
        ("http.referer", "http", _RH, None, False),
        ("http.accept", "http", _RH, None, False),
        ("http.accept_enc", "http", _RH, None, False),
        ("http.accept_lang", "http", _RH, None, False),
        ("http.request_header", "http", _RH, None, True),
        ("http.request_body", "http", _RB, None, False),
        # HTTP both sides (doc: "Both"; http.connection to_client since Suricata 7,
        # suricata-verify http-connection-toclient)
        ("http.protocol", "http", _RH, _SH, False),
        ("http.header", "http", _RH, _SH, False),
        ("http.header.raw", "http", _RH, _SH, False),
        ("http.header_names", "http", _RH, _SH, False),
        ("http.start", "http", _RH, _SH, False),
        ("http.cookie", "http", _RH, _SH, False),
        ("http.connection", "http", _RH, _SH, False),
        ("http.content_type", "http", _RH, _SH, False),
        ("http.content_len", "http", _RH, _SH, False),
        # HTTP response side (doc: "Response")
        ("http.stat_code", "http", None, _SH, False),
        ("http.stat_msg", "http", None, _SH, False),
        ("http.response_line", "http", None, _SH, False),
        ("http.server", "http", None, _SH, False),
        ("http.location", "http", None, _SH, False),
        ("http.response_header", "http", None, _SH, True),
        ("http.response_body", "http", None, _SB, False),
        # file.data: the response body to_client; to_server (Suricata 7+) the request's files
        ("file.data", "http", _RB, _SB, True),
        # DNS (detect-dns-query.c: to_server only, one buffer per question)
        ("dns.query", "dns", _EV, None, True),
        # TLS (detect-tls-sni.c, detect-tls-cert-*.c: the client's certificate to_server, the
        # server's to_client; detect-tls-ja3-*.c, detect-tls-ja3s-*.c, detect-ja4-hash.c)
        ("tls.sni", "tls", _EV, None, False),
        ("tls.cert_subject", "tls", _EV, _EV, False),
        ("tls.cert_issuer", "tls", _EV, _EV, False),
        ("tls.cert_serial", "tls", _EV, _EV, False),
        ("tls.cert_fingerprint", "tls", _EV, _EV, False),
        # detect-tls-certs.c: each DER certificate of the server's chain, to_client
        ("tls.certs", "tls", None, _EV, True),
        ("ja3.hash", "tls", _EV, None, False),
        ("ja3.string", "tls", _EV, None, False),
        ("ja3s.hash", "tls", None, _EV, False),
        ("ja3s.string", "tls", None, _EV, False),
        ("ja4.hash", "tls", _EV, None, False),
        # SSH (detect-ssh-proto.c, detect-ssh-software.c: each end's own banner;
        # detect-ssh-hassh*.c: the client's KEXINIT to_server, the server's to_client)
        ("ssh.proto", "ssh", _EV, _EV, False),
        ("ssh.software", "ssh", _EV, _EV, False),
        ("ssh.hassh", "ssh", _EV, None, False),
        ("ssh.hassh.string", "ssh", _EV, None, False),
        ("ssh.hassh.server", "ssh", None, _EV, False),
        ("ssh.hassh.server.string", "ssh", None, _EV, False),
        # SMB (detect-smb-share.c: to_server, from the TREE_CONNECT transaction)
        ("smb.named_pipe", "smb", _EV, None, False),
        ("smb.share", "smb", _EV, None, False),
    ]
    return {n: BufferSpec(n, p, (ts, tc), multi) for n, p, ts, tc, multi in table}


BUFFERS: dict[str, BufferSpec] = _specs()

# legacy keyword (content modifier or old sticky buffer name) -> canonical buffer name
_LEGACY = {
    "http_uri": "http.uri",
    "uricontent": "http.uri",
    "http_raw_uri": "http.uri.raw",
    "http_method": "http.method",
    "http_request_line": "http.request_line",
    "http_host": "http.host",
    "http_raw_host": "http.host.raw",
    "http_user_agent": "http.user_agent",
    "http_referer": "http.referer",
    "http_accept": "http.accept",
    "http_accept_enc": "http.accept_enc",
    "http_accept_lang": "http.accept_lang",
    "http_client_body": "http.request_body",
    "http.client_body": "http.request_body",
    "http_protocol": "http.protocol",
    "http_header": "http.header",
    "http_raw_header": "http.header.raw",
    "http_header_names": "http.header_names",
    "http_start": "http.start",
    "http_cookie": "http.cookie",
    "http_connection": "http.connection",
    "http_content_type": "http.content_type",
    "http_content_len": "http.content_len",
    "http_stat_code": "http.stat_code",
    "http_stat_msg": "http.stat_msg",
    "http_response_line": "http.response_line",
    "http_server": "http.server",
    "http_location": "http.location",
    "http_server_body": "http.response_body",
    "http.server_body": "http.response_body",
    "file_data": "file.data",
    "dns_query": "dns.query",
    "tls_sni": "tls.sni",
    "tls_cert_subject": "tls.cert_subject",
    "tls_cert_issuer": "tls.cert_issuer",
    "tls_cert_serial": "tls.cert_serial",
    "tls_cert_fingerprint": "tls.cert_fingerprint",
    "ja3_hash": "ja3.hash",
    "ja3_string": "ja3.string",
    "ja3s_hash": "ja3s.hash",
    "ja3s_string": "ja3s.string",
    "ssh_proto": "ssh.proto",
    "ssh_software": "ssh.software",
    "ssh_hassh": "ssh.hassh",
    "ssh_hassh_string": "ssh.hassh.string",
    "ssh_hassh_server": "ssh.hassh.server",
    "ssh_hassh_server_string": "ssh.hassh.server.string",
    "smb_named_pipe": "smb.named_pipe",
    "smb_share": "smb.share",
}


def canonical(name: str) -> str:
    """The canonical buffer name of a keyword (legacy forms mapped); unknown names as given."""
    return _LEGACY.get(name, name)


def spec(name: str, proto: str | None = None) -> BufferSpec:
    """The spec of buffer `name` (canonical or legacy). Raises `KeyError` for a name that is
    not a known buffer, or that belongs to another protocol than `proto` when given."""
    found = BUFFERS[canonical(name)]
    if proto is not None and found.proto != proto:
        raise KeyError(f"{name} is a {found.proto} buffer, not {proto}")
    return found


def directions(found: BufferSpec, direction: int | None) -> tuple[int, ...]:
    """The inspection directions a lookup in `direction` covers: that one if the buffer is
    inspectable there (none otherwise), every inspectable one for None."""
    if direction is None:
        return tuple(d for d in (0, 1) if found.stages[d] is not None)
    return (direction,) if found.stages[direction] is not None else ()
