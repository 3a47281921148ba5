"""The `imap` EVE record (Tocsin's own: Suricata detects IMAP but logs no IMAP event).

One event per tagged IMAP command, when the server's tagged answer arrives (or at the flow's
end, unanswered). Kept minimal: what a detector needs to see logins and STARTTLS.

- `command`: the command word upper-cased (`CAPABILITY`, `LOGIN`, `AUTHENTICATE`,
  `STARTTLS`, `SELECT`...; `UID FETCH` and the like keep both words);
- `user`: for `LOGIN`, its first argument when sent as an atom or a quoted string (not when
  sent as a literal `{N}`: literals are never read); for `AUTHENTICATE PLAIN`, the
  authentication identity taken from the base64 initial response (the only use of it);
- `mechanism`: for `AUTHENTICATE`, the SASL mechanism upper-cased (`PLAIN`, `LOGIN`, `GSSAPI`...);
- `status`: the tagged answer `OK`, `NO` or `BAD`; absent when none came.

**Passwords are never logged**, nor put anywhere in the event: `LOGIN`'s second argument and
SASL responses other than `PLAIN`'s identity are not kept. No message content either: untagged
answers and literals (mail bodies, headers) are skipped unread.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class ImapInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    command: str
    user: str | None = None
    mechanism: str | None = None
    status: str | None = None


class ImapEvent(AppEvent, frozen=True, kw_only=True, tag="imap"):
    imap: ImapInfo
