"""The `ftp` EVE record: one event per FTP control-channel transaction (a command and its reply).

Field names and types follow `properties.ftp` of Suricata's EVE JSON Schema
(`additionalProperties` is false there, so nothing else appears):

- `command`: the command verb, upper-cased (`USER`, `PASS`, `RETR`...); absent for a reply
  that answers no command (the server's `220` greeting, an unsolicited `421`);
- `command_data`: what follows the verb and one space, without the line end.
  **Passwords are never logged**: for `PASS` the value is replaced by `"<redacted>"` (Suricata
  logs it; Tocsin does not, so a site's credentials never travel to the hub). `USER` is logged
  as sent (brute-force and spraying detectors need it);
- `command_truncated`: the command line was longer than the parser keeps (present with
  `command_data`, as in Suricata);
- `reply` / `completion_code`: one entry per reply line, in order; `completion_code` holds the
  3-digit code of each line that starts with one, `reply` the text after it (a multi-line reply
  `230-Welcome` ... `230 Logged in` gives two of each; a middle line without a code gives a
  `reply` entry only). A preliminary `1xx` reply stays in the same transaction as the final
  reply that follows;
- `dynamic_port`: the data-channel port negotiated by `PORT`/`EPRT` (from the command) or
  `PASV`/`EPSV` (from the `227`/`229` reply);
- `mode`: for `PORT`/`EPRT`, `"active"` (Suricata logs `mode` for those commands only);
- `reply_received`: `"yes"` when a final reply was seen, `"no"` for a command still unanswered
  when the flow ended;
- `reply_truncated`: a reply line was longer than the parser keeps.

Text values are the wire bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII
kept and every other byte as `\\xNN`.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent

PASSWORD_REDACTED = "<redacted>"


class FtpInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    command: str | None = None
    command_data: str | None = None
    command_truncated: bool | None = None
    reply: list[str] | None = None
    completion_code: list[str] | None = None
    dynamic_port: int | None = None
    mode: str | None = None
    reply_received: str
    reply_truncated: bool


class FtpEvent(AppEvent, frozen=True, kw_only=True, tag="ftp"):
    ftp: FtpInfo
