"""Test helpers: the SMB / DCERPC fixture captures, as events (through `applayer.replay`) or as
the ordered byte chunks each TCP flow carries (to feed a parser directly, cut differently).

Fixtures and their provenance: `tests/fixtures/applayer/smb/PROVENANCE.md`.
"""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec

from applayer.replay import Emitted, replay
from tocsin.applayer.base import AppLimits, AppParser, Emit, ParseError
from tocsin.applayer.dcerpc import DcerpcParser
from tocsin.applayer.smb import SmbParser
from tocsin.model.dcerpc import DcerpcEvent, DcerpcInfo
from tocsin.model.smb import SmbEvent, SmbFileEvent, SmbFileInfo, SmbInfo

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "applayer" / "smb"
ZEROLOGON = ROOT / "tests" / "fixtures" / "golden" / "smb-dcerpc-zerologon" / "input.pcap"
SCHEMA = ROOT / "tests" / "fixtures" / "suricata" / "schema.json"


def pcap(name: str) -> Path:
    return FIXTURES / f"{name}.pcap"


def run(
    name: str | Path,
    parser: type[AppParser] = SmbParser,
    port: int | None = 445,
    limits: AppLimits | None = None,
) -> list[Emitted]:
    path = name if isinstance(name, Path) else pcap(name)
    return replay(parser, path, port=port, limits=limits)


def smb(name: str, port: int = 445, limits: AppLimits | None = None) -> list[SmbInfo]:
    return [e.body for e in run(name, port=port, limits=limits) if e.event_cls is SmbEvent]


def smb_files(name: str, port: int = 445) -> list[SmbFileInfo]:
    return [e.body for e in run(name, port=port) if e.event_cls is SmbFileEvent]


def dcerpc(name: str | Path, port: int | None = None) -> list[DcerpcInfo]:
    """The `dcerpc` events of a capture's DCERPC flows (the others, SMB or DNS..., stop at
    their first bytes with a `ParseError`, as the dispatcher would never hand them over)."""
    errors: list[str] = []
    out = run(name, guarded(DcerpcParser, errors), port)
    return [e.body for e in out if e.event_cls is DcerpcEvent]


def chunks(name: str | Path, port: int | None = 445) -> list[list[tuple[int, bytes]]]:
    """Per TCP flow, the (direction, bytes) chunks the parser is fed, in order (nothing
    skipped: the raw streams)."""
    flows: list[list[tuple[int, bytes]]] = []

    class Tap(AppParser):
        name = "tap"

        def __init__(self, emit: Emit, limits: AppLimits) -> None:
            super().__init__(emit, limits)
            self.seen: list[tuple[int, bytes]] = []
            flows.append(self.seen)

        def feed(self, direction: int, data: bytes, ts_us: int) -> None:
            self.seen.append((direction, data))

    replay(Tap, name if isinstance(name, Path) else pcap(name), port=port)
    return [f for f in flows if f]


def nbss_messages(stream: bytes) -> list[bytes]:
    """The NetBIOS session messages (4-byte header included) of one direction's stream."""
    out, pos = [], 0
    while pos + 4 <= len(stream):
        n = 4 + int.from_bytes(stream[pos + 1 : pos + 4], "big")
        out.append(stream[pos : pos + n])
        pos += n
    return out


class Collector:
    """An `emit` that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[type[msgspec.Struct], Any, int, int | None]] = []

    def __call__(
        self,
        event_cls: type[msgspec.Struct],
        body: msgspec.Struct,
        direction: int,
        ts_us: int,
        tx_id: int | None = None,
    ) -> None:
        self.events.append((event_cls, body, direction, tx_id))

    def bodies(self, cls: type[msgspec.Struct] = SmbEvent) -> list[Any]:
        return [b for c, b, _, _ in self.events if c is cls]


@cache
def validator(proto: str) -> jsonschema.Draft202012Validator:
    """Suricata's EVE schema for the `proto` object (additionalProperties false)."""
    schema = json.loads(SCHEMA.read_text())
    sub = dict(schema["properties"][proto])
    sub["$defs"] = schema.get("$defs", {})
    return jsonschema.Draft202012Validator(sub)


def check_schema(proto: str, body: msgspec.Struct) -> None:
    errors = list(validator(proto).iter_errors(msgspec.to_builtins(body)))
    assert not errors, [e.message for e in errors]


def drive(
    parser_cls: type[AppParser],
    flows: list[list[tuple[int, bytes]]],
    size: int,
    limits: AppLimits | None = None,
) -> tuple[Collector, int, int]:
    """Feed each flow's chunks to a fresh parser, re-cut into pieces of at most `size` bytes,
    dropping what the parser puts in `skip` as the dispatcher does (all at time 0). Returns the
    events, the bytes fed and the bytes skipped."""
    col, fed, skipped = Collector(), 0, 0
    for flow in flows:
        p = parser_cls(col, limits or AppLimits())
        for d, data in flow:
            pos = 0
            while pos < len(data) and not p.done[d]:
                if p.skip[d]:
                    take = min(p.skip[d], len(data) - pos)
                    p.skip[d] -= take
                    pos += take
                    skipped += take
                    continue
                piece = data[pos : pos + size]
                p.feed(d, piece, 0)
                fed += len(piece)
                pos += len(piece)
        p.close(0)
    return col, fed, skipped


def guarded(parser_cls: type[AppParser], errors: list[str]) -> type[AppParser]:
    """`parser_cls` as the dispatcher runs it: a `ParseError` is counted (in `errors`) and
    ends parsing of the flow instead of propagating."""

    class Guarded(parser_cls):  # type: ignore[valid-type,misc]
        def feed(self, direction: int, data: bytes, ts_us: int) -> None:
            try:
                super().feed(direction, data, ts_us)
            except ParseError as e:
                errors.append(str(e))
                self.done[0] = self.done[1] = True
                self.skip[0] = self.skip[1] = 0

    return Guarded


def _ip(addr: tuple[int, int]) -> str:
    hi, lo = addr
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return str(ipaddress.IPv4Address(lo & 0xFFFFFFFF))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def eve(e: Emitted) -> dict[str, Any]:
    """An emitted event as a suricata-verify check sees it (flow header, no pcap_cnt)."""
    src, sport, dst, dport, proto = e.flow
    tag = e.event_cls.__struct_config__.tag
    return {
        "event_type": tag,
        "src_ip": _ip(src),
        "src_port": sport,
        "dest_ip": _ip(dst),
        "dest_port": dport,
        "proto": "TCP" if proto == 6 else str(proto),
        "tx_id": e.tx_id,
        str(tag): msgspec.to_builtins(e.body),
    }
