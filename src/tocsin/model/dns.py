"""The `dns` EVE record: Suricata 8's DNS log format version 3.

One event per DNS message (`"type": "request"` or `"response"`), with the header flags, the
questions and, for messages that carry them, the answer, authority and additional records.
Field names, types and nesting follow `properties.dns` of Suricata's EVE JSON Schema
(`additionalProperties` is false there, so nothing else appears); booleans Suricata writes
only when true (`qr`, `aa`, `tc`, `rd`, `ra`, `z`, `*_truncated`) are `None` otherwise, and
`omit_defaults` drops them.

Each record kind carries what the schema allows for its section: `answers` entries may hold
`rdata`, `soa`, `srv` or `sshfp`; `authorities` entries `rdata`, `soa` and the truncation
flags; `additionals` entries `rdata` and `opt` (EDNS options). `grouped` repeats the answers'
data keyed by record type, as Suricata does by default. Text values are the wire bytes as
Suricata writes them (`tocsin.applayer.dns.wire.text`): valid UTF-8 as is, otherwise ASCII
kept and every other byte written `\\xNN`; names keep their case.

DNS events follow the packet (`by_packet`): `src_ip` is the sender of the message.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from tocsin.model.app import AppEvent


class DnsQuery(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    rrname: str
    rrtype: str
    rrname_truncated: bool | None = None  # the name exceeded 1025 bytes and was cut


class DnsSoa(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    mname: str
    mname_truncated: bool | None = None
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


class DnsSrv(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    priority: int
    weight: int
    port: int
    name: str


class DnsSshfp(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    fingerprint: str  # lowercase hex bytes joined by ":"
    algo: int
    type: int


class DnsOpt(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: int  # EDNS option code
    data: str  # option data, lowercase hex


class DnsAnswer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    rrname: str
    rrtype: str
    ttl: int
    rdata: str | None = None
    soa: DnsSoa | None = None
    srv: DnsSrv | None = None
    sshfp: DnsSshfp | None = None


class DnsAuthority(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    rrname: str
    rrname_truncated: bool | None = None
    rrtype: str
    ttl: int
    rdata: str | None = None
    rdata_truncated: bool | None = None
    soa: DnsSoa | None = None


class DnsAdditional(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    rrname: str
    rrtype: str
    ttl: int
    rdata: str | None = None
    opt: list[DnsOpt] | None = None


class DnsGrouped(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The answers' data by record type (Suricata's `grouped` format)."""

    A: list[str] | None = None
    AAAA: list[str] | None = None
    CNAME: list[str] | None = None
    MX: list[str] | None = None
    NS: list[str] | None = None
    NULL: list[str] | None = None
    PTR: list[str] | None = None
    SOA: list[DnsSoa] | None = None
    SRV: list[DnsSrv] | None = None
    SSHFP: list[DnsSshfp] | None = None
    TXT: list[str] | None = None


class DnsInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One DNS message. `tx_id` counts the flow's parsed messages, both directions together
    (Suricata 8: each message is its own transaction); `id` is the wire transaction ID."""

    version: int  # always 3
    type: str  # "request" (QR clear) or "response" (QR set)
    tx_id: int
    id: int
    flags: str  # the 16-bit flags word, lowercase hex without leading zeros ("8180")
    qr: bool | None = None
    aa: bool | None = None
    tc: bool | None = None
    rd: bool | None = None
    ra: bool | None = None
    z: bool | None = None
    opcode: int
    rcode: str  # "NOERROR", "NXDOMAIN"... or the number for codes 11-15
    queries: list[DnsQuery] | None = None
    answers: list[DnsAnswer] | None = None
    grouped: DnsGrouped | None = None
    authorities: list[DnsAuthority] | None = None
    additionals: list[DnsAdditional] | None = None


class DnsEvent(AppEvent, frozen=True, kw_only=True, tag="dns"):
    by_packet: ClassVar[bool] = True

    dns: DnsInfo
