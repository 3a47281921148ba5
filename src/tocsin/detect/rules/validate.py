"""Whole-rule checks, once every option is parsed (after Suricata's `SigValidate` and the
buffers' validation callbacks). A rule failing one raises `RuleError`:

- a sticky buffer set at the end of the rule with no keyword using it;
- contents that cannot fit: the packet-payload contents' total length (plus distances and
  the largest offset) above the largest `dsize`, or a buffer's above its `bsize`;
- buffer content rules: `http.host` patterns must be lower case (unless `nocase`), an
  `http.method` pattern may not start or end with a space or tab, `ja3.hash` / `ja3s.hash` /
  `ssh.hassh` / `ssh.hassh.server` hashes are 32 characters, `ja4.hash` 36, a
  `tls.cert_fingerprint` is 59 lower-case characters with colons;
- directions: request-only and response-only buffers in one rule, or a buffer whose
  direction contradicts `flow:to_server` / `to_client`;
- packet-only (dsize, `tcp-pkt`, `flow:no_stream`) mixed with stream-only (`tcp-stream`,
  `flow:only_stream`), or with an application-layer buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.detect.model import PAYLOAD, BufferSize, Content, FlowOpts, IntCmp, Match
from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.keywords import BUFFERS

_HASH_LEN = {"ja3.hash": 32, "ja3s.hash": 32, "ssh.hassh": 32, "ssh.hassh.server": 32}
_HASH_LEN["ja4.hash"] = 36


@dataclass(frozen=True, slots=True)
class Facts:
    """What the checks need from the builder."""

    buffers: dict[str, list[Match]]
    empty_sticky: str | None  # a sticky buffer set last and never used
    flow: FlowOpts
    dsize: IntCmp | None
    require_packet: bool
    require_stream: bool


def _max_size(cmp: IntCmp) -> int | None:
    """Suricata's largest size a comparison allows (SigParseGetMaxDsize)."""
    if cmp.op in ("=", "!=", "<"):
        return cmp.a
    if cmp.op == "<>":
        return cmp.b
    return None


def _needed(items: list[Match], most: int) -> int:
    """Bytes the contents need (Suricata 7's SigParseRequiredContentSize): the first content,
    then only relative ones; a negated relative content counts only through its
    distance + within."""
    total = 0
    offset = 0
    first = True
    for m in items:
        if not isinstance(m, Content):
            continue
        dist = m.distance if isinstance(m.distance, int) else 0
        if not first:
            if m.distance is None and m.within is None:
                continue
            if m.negated:
                check = total + dist + (m.within if isinstance(m.within, int) else 0)
                if check > most:
                    return check
                continue
        total += len(m.pattern) + dist
        if isinstance(m.offset, int):
            offset = max(offset, m.offset)
        first = False
    return total if total > most else total + offset


def _fits(items: list[Match], limit: IntCmp, kw: str) -> None:
    most = _max_size(limit)
    if most is None:
        return
    need = _needed(items, most)
    if need > most:
        raise RuleError(f"the contents need {need} bytes, more than {kw} allows ({most})", kw)


def _check_buffer(name: str, items: list[Match]) -> None:
    contents = [m for m in items if isinstance(m, Content)]
    if name == "http.host":
        for c in contents:
            if not c.nocase and any(65 <= b <= 90 for b in c.pattern):
                raise RuleError(
                    "a pattern with upper-case characters: the host buffer is lower case",
                    name,
                )
    elif name == "http.method":
        for c in contents:
            if c.pattern[:1] in (b" ", b"\t") or c.pattern[-1:] in (b" ", b"\t"):
                raise RuleError("a method pattern can't start or end with a space or tab", name)
    elif name in _HASH_LEN and contents:
        want = _HASH_LEN[name]
        if len(contents[0].pattern) != want:
            raise RuleError(f"a {name} pattern must be {want} characters long", name)
    elif name == "tls.cert_fingerprint":
        for c in contents:
            p = c.pattern
            if len(p) != 59 or b":" not in p or any(65 <= b <= 90 for b in p):
                raise RuleError("a fingerprint is 59 lower-case characters with colons", name)
    for m in items:
        if isinstance(m, BufferSize) and name != PAYLOAD:
            _fits(items, m.cmp, "bsize")
            break


def _directions(f: Facts) -> None:
    ts = [n for n in f.buffers if n in BUFFERS and BUFFERS[n].direction == "ts"]
    tc = [n for n in f.buffers if n in BUFFERS and BUFFERS[n].direction == "tc"]
    if ts and tc:
        raise RuleError(f"mixes request-only ({ts[0]}) and response-only ({tc[0]}) buffers", tc[0])
    if ts and f.flow.to_server is False:
        raise RuleError(f"flow:to_client with {ts[0]}, which is only seen to the server", "flow")
    if tc and f.flow.to_server is True:
        raise RuleError(f"flow:to_server with {tc[0]}, which is only seen to the client", "flow")


def validate(f: Facts) -> None:
    """Raise `RuleError` if the rule breaks one of the module docstring's rules."""
    if f.empty_sticky is not None:
        raise RuleError(
            f"the sticky buffer {f.empty_sticky} is set but no keyword follows it", f.empty_sticky
        )
    if f.dsize is not None and f.buffers.get(PAYLOAD):
        _fits(f.buffers[PAYLOAD], f.dsize, "dsize")
    for name, items in f.buffers.items():
        _check_buffer(name, items)
    _directions(f)
    if f.require_packet and f.require_stream:
        raise RuleError("can't mix packet keywords with tcp-stream or flow:only_stream", "flow")
    if f.require_packet:
        app = next((n for n in f.buffers if n != PAYLOAD), None)
        if app is not None:
            raise RuleError(
                f"packet keywords (dsize, tcp-pkt, flow:no_stream) can't be combined with "
                f"the application-layer buffer {app}",
                "dsize" if f.dsize is not None else app,
            )
