"""The `krb5` EVE record: one event per Kerberos KDC message (AS/TGS request and reply, error).

Field names, types and values follow `properties.krb5` of Suricata's EVE JSON Schema and
Suricata's logger, so EVE consumers and suricata-verify checks read them unchanged:

- `msg_type`: `KRB_AS_REQ`, `KRB_AS_REP`, `KRB_TGS_REQ`, `KRB_TGS_REP` or `KRB_ERROR`;
- `cname` / `sname`: principal names, components joined by `/` (`krbtgt/EXAMPLE.COM`),
  `"<empty>"` when the message has none;
- `realm`: the request body's realm (requests), the client realm `crealm` (replies and errors),
  `"<empty>"` when absent;
- `encryption` / `weak_encryption`: the etype of the reply's `enc-part` (AS-REP, TGS-REP) by
  its IANA name (`aes256-cts-hmac-sha1-96`, `rc4-hmac`...), `"<none>"` for other messages;
  weak is anything but the AES and Camellia CTS types, as Suricata judges;
- `ticket_encryption` / `ticket_weak_encryption`: the same for the ticket in a reply (an RC4
  service ticket is what Kerberoasting asks for); absent for other messages;
- `error_code` (KRB-ERROR only): the error's RFC 4120 name (`KDC_ERR_PREAUTH_REQUIRED`,
  `KDC_ERR_PREAUTH_FAILED`, `KDC_ERR_C_PRINCIPAL_UNKNOWN`...), and `failed_request`: the type
  of the flow's request it answers (`KRB_AS_REQ`, `KRB_TGS_REQ`).

Addresses follow the message (`by_packet`): a request goes client to KDC, a reply the other way.
No key material, ticket or pre-authentication data is logged.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from tocsin.model.app import AppEvent


class Krb5Info(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    msg_type: str
    failed_request: str | None = None
    error_code: str | None = None
    cname: str
    realm: str
    sname: str
    encryption: str
    weak_encryption: bool
    ticket_encryption: str | None = None
    ticket_weak_encryption: bool | None = None


class Krb5Event(AppEvent, frozen=True, kw_only=True, tag="krb5"):
    by_packet: ClassVar[bool] = True
    krb5: Krb5Info
