"""EVE `http` records: one per HTTP/1.x transaction (request and response).

Field names and types are those of Suricata's EVE JSON Schema (`properties.http`, extended
logging); what each field holds is stated in `applayer.http.transaction`. Absent fields are
omitted; `length` is always written (0 when the response had no body or was not seen), as
Suricata does. `request_headers` / `response_headers` carry the header fields selected by the
parser's configuration (Suricata's `dump-all-headers` when every field is selected).
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class HttpHeader(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    value: str


class HttpContentRange(msgspec.Struct, frozen=True, omit_defaults=True):
    raw: str
    start: int | None = None
    end: int | None = None
    size: int | None = None


class HttpInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    hostname: str | None = None
    http_port: int | None = None
    url: str | None = None
    http_user_agent: str | None = None
    xff: str | None = None
    http_content_type: str | None = None
    content_range: HttpContentRange | None = None
    http_refer: str | None = None
    http_method: str | None = None
    protocol: str | None = None
    status: int | None = None
    status_string: str | None = None
    redirect: str | None = None
    length: int | None = None
    request_headers: list[HttpHeader] | None = None
    response_headers: list[HttpHeader] | None = None


class HttpEvent(AppEvent, frozen=True, kw_only=True, tag="http"):
    http: HttpInfo
