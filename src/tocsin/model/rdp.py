"""The `rdp` EVE record: one event per step of the RDP connection sequence, as Suricata logs.

Field names and types follow `properties.rdp` of Suricata's EVE JSON Schema
(`additionalProperties` is false there, so nothing else appears). `event_type` inside the
`rdp` object names the step:

- `initial_request`: the client's X.224 Connection Request; `cookie` is the
  `Cookie: mstshash=NAME` value (a user or machine name, when the client sends one);
- `initial_response`: the server's X.224 Connection Confirm;
- `connect_request`: the client's MCS Connect Initial (standard RDP security only: with TLS or
  CredSSP it is encrypted), with the client core data in `client` and the static virtual
  channels it asks for in `channels`;
- `connect_response`: the server's MCS Connect Response;
- `tls_handshake`: the server answered with TLS (RDP over SSL / CredSSP); what follows is
  encrypted.

`tx_id` counts the flow's events from 1, as Suricata's RDP transactions. The requested and
selected security protocols steer the parser but have no field in the schema.

`client` values are Suricata's: `version` "v4", "v5", "v10.0"...; `build` the Windows release
("Windows 7 SP1"), `keyboard_layout` the locale name ("en-US"), "unknown" when the number is
not known; `keyboard_type` "xt", "ico", "at", "enhanced", "1050", "9140", "jp"; `capabilities`
the early capability flags by name; `id` the client's digital product id.
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class RdpClient(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    version: str | None = None
    desktop_width: int | None = None
    desktop_height: int | None = None
    color_depth: int | None = None
    keyboard_layout: str | None = None
    build: str | None = None
    client_name: str | None = None
    keyboard_type: str | None = None
    function_keys: int | None = None
    product_id: int | None = None
    capabilities: list[str] | None = None
    id: str | None = None


class RdpInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    tx_id: int
    event_type: str
    cookie: str | None = None
    client: RdpClient | None = None
    channels: list[str] | None = None


class RdpEvent(AppEvent, frozen=True, kw_only=True, tag="rdp"):
    rdp: RdpInfo
