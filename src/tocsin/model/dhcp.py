"""The `dhcp` EVE record: Suricata's DHCP log with `extended: yes`.

One event per DHCP/BOOTP message. Field names and types follow `properties.dhcp` of Suricata's
EVE JSON Schema (`additionalProperties` is false there, so nothing else appears), with
Suricata's values:

- `type` is the BOOTP op (`"request"` / `"reply"`), `dhcp_type` the DHCP message type
  (option 53: `"discover"`, `"offer"`, `"request"`, `"decline"`, `"ack"`, `"nak"`,
  `"release"`, `"inform"`, `"unknown"` for other codes);
- `client_mac` is `chaddr` cut to `hlen` (at most 16 bytes), `client_id` option 61 without its
  hardware-type byte, both as colon-separated hex;
- `relay_ip` (giaddr) and `next_server_ip` (siaddr) only appear on replies;
- `params` is the parameter request list (option 55) in the client's order, with Suricata's
  names; codes Suricata does not name are left out (its log does the same);
- text values (`hostname`, `vendor_class_identifier`) are the option bytes as Suricata writes
  them: valid UTF-8 as is (NUL bytes kept), otherwise ASCII kept and other bytes as `\\xNN`.

DHCP events follow the packet (`by_packet`): `src_ip` is the sender of the message.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from tocsin.model.app import AppEvent


class DhcpInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str
    id: int
    client_mac: str
    assigned_ip: str
    client_ip: str | None = None
    relay_ip: str | None = None
    next_server_ip: str | None = None
    dhcp_type: str | None = None
    client_id: str | None = None
    hostname: str | None = None
    vendor_class_identifier: str | None = None
    requested_ip: str | None = None
    params: list[str] | None = None
    lease_time: int | None = None
    renewal_time: int | None = None
    rebinding_time: int | None = None
    subnet_mask: str | None = None
    routers: list[str] | None = None
    dns_servers: list[str] | None = None


class DhcpEvent(AppEvent, frozen=True, kw_only=True, tag="dhcp"):
    by_packet: ClassVar[bool] = True
    dhcp: DhcpInfo
