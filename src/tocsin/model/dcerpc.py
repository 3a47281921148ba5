"""EVE record of DCERPC over TCP (port 135 and the dynamic RPC ports): Suricata's `dcerpc`.

One event per call: BIND / ALTER_CONTEXT with their acknowledgement, or REQUEST with its
RESPONSE / FAULT (all fragments). Fields follow Suricata's EVE JSON Schema
(`properties.dcerpc`, additionalProperties false). `service` and `procedure` name the
interface and operation (Tocsin's table in `applayer.dcerpc.interfaces`): detectors match on
them, e.g. `drsuapi` / `DRSGetNCChanges` (DCSync), `svcctl` / `CreateServiceW` (PsExec).
DCERPC carried over SMB named pipes is logged inside the `smb` event instead (`smb.dcerpc`).
"""

from __future__ import annotations

import msgspec

from tocsin.model.app import AppEvent


class DcerpcInterface(msgspec.Struct, frozen=True, omit_defaults=True):
    uuid: str  # "367abb81-9844-35f1-ad32-98f038001003"
    version: str  # "2.0"
    ack_result: int | None = None  # 0 accepted, 2 provider rejection, 3 negotiate ack
    service: str | None = None  # "svcctl"
    procedure: str | None = None  # "CreateServiceW" (requests only)


class DcerpcReq(msgspec.Struct, frozen=True, omit_defaults=True):
    frag_cnt: int
    stub_data_size: int
    opnum: int | None = None


class DcerpcRes(msgspec.Struct, frozen=True, omit_defaults=True):
    frag_cnt: int
    stub_data_size: int


class DcerpcInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    request: str  # "BIND", "ALTER_CONTEXT", "REQUEST"... or "REQUEST_LOST"
    response: str  # "BINDACK", "RESPONSE", "FAULT"... or "UNREPLIED"
    call_id: int
    rpc_version: str  # "5.0"
    req: DcerpcReq | None = None
    res: DcerpcRes | None = None
    interfaces: list[DcerpcInterface] | None = None


class DcerpcEvent(AppEvent, frozen=True, kw_only=True, tag="dcerpc"):
    dcerpc: DcerpcInfo
