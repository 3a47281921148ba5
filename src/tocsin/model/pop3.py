"""The `pop3` EVE record: one event per POP3 transaction (a command and its response).

Field names and types follow `properties.pop3` of Suricata 8's EVE JSON Schema
(`additionalProperties` is false there, so nothing else appears):

- `request`: the client's command, absent for a response that answers none (the server's
  `+OK` greeting). `command` is the keyword upper-cased (`USER`, `STAT`...); the client's
  lines that answer a SASL challenge after `AUTH` are one transaction each with the command
  `"<SASL DATA>"` and no arguments (as Suricata logs them). `args` are the words after the
  keyword, split on spaces (an empty list when there are none).
  **Passwords are never logged**: `PASS`'s argument, `APOP`'s digest and an `AUTH` initial
  response are replaced by `"<redacted>"`; SASL data is never kept (Suricata logs `PASS` as
  sent; Tocsin does not, so a site's credentials never travel to the hub). `USER`'s argument
  and `APOP`'s user name are logged (brute-force and clear-text-login detectors need them);
- `response`: the server's answer, absent for a command still unanswered when the flow ended.
  `status` is `"OK"` (`+OK`, and a `+` SASL continuation, as in Suricata) or `"ERR"`
  (`-ERR`), `success` is true for `"OK"`, `header` the text of the first line after the
  status word and one space, `data` the lines of a multi-line answer (`CAPA`, `LIST` and
  `UIDL` without argument) without the final `.`. The lines of `RETR` and `TOP` answers (mail
  content) are never kept: `data` is empty for them.

Text values are the wire bytes as Suricata writes them: valid UTF-8 as is, otherwise ASCII
kept and every other byte as `\\xNN`.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent

PASSWORD_REDACTED = "<redacted>"
SASL_DATA = "<SASL DATA>"


class Pop3Request(msgspec.Struct, frozen=True, kw_only=True):
    command: str
    args: list[str]


class Pop3Response(msgspec.Struct, frozen=True, kw_only=True):
    status: str
    success: bool
    header: str
    data: list[str]


class Pop3Info(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    request: Pop3Request | None = None
    response: Pop3Response | None = None


class Pop3Event(AppEvent, frozen=True, kw_only=True, tag="pop3"):
    pop3: Pop3Info
