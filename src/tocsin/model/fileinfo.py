"""EVE `fileinfo` records: one per file seen in a transfer (today: HTTP bodies).

Field names and types are those of Suricata's EVE JSON Schema (`properties.fileinfo`); Tocsin
writes no `magic`, `file_id`, `sid`, `start`/`end` (it stores no files). The event carries the
`http` object of the transaction the file belongs to, as Suricata attaches it. Addresses
follow the file's direction: the sender is `src_ip`, the receiver `dest_ip` (a download's
`dest_ip` is the HTTP client, Suricata's `LOG_DIR_FLOW_TOCLIENT`).

- `state`: `CLOSED` (the body ended as its framing said), `TRUNCATED` (a gap, the flow ended
  before the body did, or the body was over the hashing size bound);
- `md5`, `sha1`, `sha256`: of the decoded content (de-chunked, Content-Encoding undone), only
  when `CLOSED`. Suricata writes a `sha256` of what it saw for a truncated file too; Tocsin
  never does, so a partial hash can never match an indicator;
- `size`: decoded bytes seen (at most the size bound); `gaps`: bytes were lost in it;
- `stored`: always false; `tx_id`: the transaction's id in the flow.

`fileinfo` events exist only when file hashing is on (`AppConfig.file_hashes`, `tocsin
analyze --file-hashes`, or automatically when file-hash indicators are loaded).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from tocsin.model.app import AppEvent
from tocsin.model.http import HttpInfo


class FileInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    filename: str
    gaps: bool
    state: str  # "CLOSED" or "TRUNCATED"
    md5: str | None = None
    sha1: str | None = None
    sha256: str | None = None
    stored: bool
    size: int
    tx_id: int


class FileinfoEvent(AppEvent, frozen=True, kw_only=True, tag="fileinfo"):
    by_packet: ClassVar[bool] = True

    http: HttpInfo | None = None
    fileinfo: FileInfo
