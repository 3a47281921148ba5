"""The EVE header shared by every application-layer event (`dns`, `http`, `tls`, `smb`...).

Each protocol's record (in `model.<proto>`) subclasses `AppEvent` with its tag and one field
named after the tag holding the protocol body, e.g.::

    class DnsEvent(AppEvent, frozen=True, kw_only=True, tag="dns"):
        by_packet: ClassVar[bool] = True
        dns: DnsInfo

Addresses and ports follow the flow (src = initiator) unless the class sets `by_packet`, in
which case they follow the packet the event is about (Suricata does that for `dns`).
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from tocsin.model.ids import FlowId


class AppEvent(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="event_type"
):
    by_packet: ClassVar[bool] = False

    timestamp: str
    flow_id: FlowId
    pcap_cnt: int | None = None
    src_ip: str
    src_port: int | None = None
    dest_ip: str
    dest_port: int | None = None
    proto: str
    ip_v: int | None = None
    pkt_src: str | None = None  # "wire/pcap", or "stream (flow timeout)" at a flow's end
    vlan: list[int] | None = None
    community_id: str | None = None
    app_proto: str | None = None
    tx_id: int | None = None
