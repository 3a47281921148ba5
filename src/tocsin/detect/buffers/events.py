"""The sticky buffers carried by DNS, TLS, SSH and SMB events, from their EVE records.

`EventBuffers(info)` takes the body of one protocol event (`DnsInfo`, `TlsInfo`, `SshInfo`,
`SmbInfo`, as the parsers emit them) and gives its buffers by canonical name, with the same
methods as `http.HttpBuffers`: `get(name, direction)`, `multi(name, direction)` (every
instance: `dns.query` has one per question), `ready(...)` (always True: an event is complete).
A buffer the event does not carry is None / []. Unknown names, and buffers of another
protocol, raise `KeyError`. Without a direction, `multi` lists every side (to_server first)
and `get` on a buffer inspected both ways (`ssh.proto`, `tls.cert_subject`) gives the
to_client side when the event has it, else the to_server side. `event_buffers(tag, body)`
wraps an emitted event body by its protocol word (None for protocols without buffers).

The values are the strings Suricata keeps for detection, which are also the ones it logs, so
each buffer is its EVE field (Suricata 8 sources in parentheses):

- `dns.query`: each question name of a request message, as read (labels joined by ".", no
  trailing dot, case kept); a response message has none (detect-dns-query.c reads the
  request side of the message's transaction);
- `tls.sni`: the ClientHello server name; `tls.cert_subject`, `tls.cert_issuer`,
  `tls.cert_serial` ("00:AB:..."), `tls.cert_fingerprint` (SHA-1, "aa:bb:..."): the first
  certificate of the server to_client and of the client to_server (detect-tls-cert-*.c use
  `server_connp` / `client_connp`: EVE `tls.subject`... and `tls.client.subject`...);
  `ja3.hash` / `ja3.string`, `ja3s.hash` / `ja3s.string` (32 lower-case hex digits; the
  JA3 string "771,4865-...") and `ja4.hash`, when the parser computed them;
- `ssh.proto` ("2.0") and `ssh.software`: the client's banner to_server, the server's
  to_client (detect-ssh-proto.c / detect-ssh-software.c); `ssh.hassh`, `ssh.hassh.string`:
  the client's; `ssh.hassh.server`, `ssh.hassh.server.string`: the server's;
- `smb.share` / `smb.named_pipe`: the TREE_CONNECT transaction's share name, as a share or
  as a pipe (rust/src/smb/detect.rs `SCSmbTxGetShare` / `SCSmbTxGetNamedPipe`: only the
  TREE_CONNECT transaction has them, not the READ / WRITE ones that also log `share`).

EVE text is UTF-8 where the wire bytes were; bytes that were not valid UTF-8 are written
`\\xNN` by the parsers, and turned back into those bytes here (a `\\xNN` sequence that was
written literally by the peer, in text that is otherwise valid, is kept as text).
"""

from __future__ import annotations

import base64
import re

from tocsin.detect.buffers.registry import directions, spec
from tocsin.model.dns import DnsInfo
from tocsin.model.smb import SmbInfo
from tocsin.model.ssh import SshEnd, SshInfo
from tocsin.model.tls import TlsInfo

EventInfo = DnsInfo | TlsInfo | SshInfo | SmbInfo

_ESCAPE = re.compile(rb"\\x([89a-fA-F][0-9a-fA-F])")
_TREE_CONNECT = frozenset(
    ("SMB2_COMMAND_TREE_CONNECT", "SMB1_COMMAND_TREE_CONNECT_ANDX", "SMB1_COMMAND_TREE_CONNECT")
)


def wire(text: str | None) -> bytes | None:
    """The bytes behind an EVE text value (see the module docstring); None stays None."""
    if text is None:
        return None
    raw = text.encode("utf-8")
    if b"\\x" not in raw:
        return raw
    unescaped = _ESCAPE.sub(lambda m: bytes((int(m.group(1), 16),)), raw)
    try:
        unescaped.decode("utf-8")
    except UnicodeDecodeError:
        return unescaped  # only an escape of invalid UTF-8 gives invalid UTF-8 back
    return raw


def event_buffers(tag: str, body: object) -> EventBuffers | None:
    """The buffers of an emitted event (`tag` its protocol word, `body` its info record), or
    None for events that carry no sticky buffer."""
    if isinstance(body, DnsInfo | TlsInfo | SshInfo | SmbInfo) and tag == proto_of(body):
        return EventBuffers(body)
    return None


def proto_of(info: EventInfo) -> str:
    """The protocol word of an event body."""
    if isinstance(info, DnsInfo):
        return "dns"
    if isinstance(info, TlsInfo):
        return "tls"
    if isinstance(info, SshInfo):
        return "ssh"
    return "smb"


def _dns(info: DnsInfo, name: str, d: int) -> list[bytes | None]:
    if info.type != "request" or not info.queries:
        return []
    return [wire(q.rrname) for q in info.queries]


def _tls(info: TlsInfo, name: str, d: int) -> list[bytes | None]:
    if name == "tls.sni":
        return [wire(info.sni)]
    if name.startswith("tls.cert_"):
        field = {"subject": "subject", "issuer": "issuerdn"}.get(name[9:], name[9:])
        holder = info.client if d == 0 else info
        return [wire(getattr(holder, field))] if holder is not None else []
    if name == "ja4.hash":
        return [wire(info.ja4)]
    if name == "tls.certs":  # the parser logs them (base64) when a rule reads them
        certs = info.chain or ([info.certificate] if info.certificate else [])
        return [base64.b64decode(c) for c in certs]
    ja3 = info.ja3 if name.startswith("ja3.") else info.ja3s
    if ja3 is None:
        return []
    return [wire(ja3.hash if name.endswith(".hash") else ja3.string)]


def _ssh(info: SshInfo, name: str, d: int) -> list[bytes | None]:
    end: SshEnd | None
    if name in ("ssh.proto", "ssh.software"):
        end = info.client if d == 0 else info.server
        if end is None:
            return []
        return [wire(end.proto_version if name == "ssh.proto" else end.software_version)]
    end = info.server if name.startswith("ssh.hassh.server") else info.client
    if end is None or end.hassh is None:
        return []
    return [wire(end.hassh.string if name.endswith(".string") else end.hassh.hash)]


def _smb(info: SmbInfo, name: str, d: int) -> list[bytes | None]:
    if info.command not in _TREE_CONNECT:
        return []
    return [wire(info.named_pipe if name == "smb.named_pipe" else info.share)]


class EventBuffers:
    """The sticky buffers of one DNS, TLS, SSH or SMB event (see the module docstring)."""

    __slots__ = ("_cache", "info", "proto")

    def __init__(self, info: EventInfo) -> None:
        self.info = info
        self.proto = proto_of(info)
        self._cache: dict[tuple[str, int], list[bytes]] = {}

    def get(self, name: str, direction: int | None = None) -> bytes | None:
        """The buffer `name` in `direction` (the first instance of a multi-buffer), or None;
        without a direction, the to_client side of a both-way buffer if there is one."""
        found = spec(name, self.proto)
        for d in reversed(directions(found, direction)):
            values = self._values(found.name, d)
            if values:
                return values[0]
        return None

    def multi(self, name: str, direction: int | None = None) -> list[bytes]:
        """Every instance of buffer `name` in `direction` (both directions for None)."""
        found = spec(name, self.proto)
        return [v for d in directions(found, direction) for v in self._values(found.name, d)]

    def ready(self, name: str, direction: int | None = None) -> bool:
        """An event is complete: True wherever the buffer is inspectable."""
        return bool(directions(spec(name, self.proto), direction))

    def _values(self, name: str, d: int) -> list[bytes]:
        key = (name, d)
        cached = self._cache.get(key)
        if cached is None:
            info = self.info
            if isinstance(info, DnsInfo):
                got = _dns(info, name, d)
            elif isinstance(info, TlsInfo):
                got = _tls(info, name, d)
            elif isinstance(info, SshInfo):
                got = _ssh(info, name, d)
            else:
                got = _smb(info, name, d)
            cached = self._cache[key] = [v for v in got if v is not None]
        return cached
