"""The `ssh` EVE record: both ends' identification strings and HASSH fingerprints.

One event per connection. Field names and nesting follow `properties.ssh` of Suricata's EVE
JSON Schema (`additionalProperties` is false there, so nothing else appears):

- `proto_version` / `software_version` come from the end's identification string
  `SSH-protoversion-softwareversion SP comments` (RFC 4253 section 4.2); comments are not
  part of `software_version`, as in Suricata;
- `hassh` is the HASSH fingerprint (salesforce/hassh) of the end's SSH_MSG_KEXINIT: `string` is
  `kex;encryption;mac;compression` with the client-to-server lists for the client and the
  server-to-client lists for the server, `hash` its MD5 in lower-case hex. An end that sent no
  KEXINIT (SSH-1, a connection cut short) has no `hassh`.

Text values are the wire bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII
kept and every other byte as `\\xNN`.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class SshHassh(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    hash: str
    string: str


class SshEnd(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    proto_version: str | None = None
    software_version: str | None = None
    hassh: SshHassh | None = None


class SshInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    client: SshEnd | None = None
    server: SshEnd | None = None


class SshEvent(AppEvent, frozen=True, kw_only=True, tag="ssh"):
    ssh: SshInfo
