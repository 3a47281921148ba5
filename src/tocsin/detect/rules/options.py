"""Rule options: how a keyword's value is read, and the handler of every keyword.

`apply_option(builder, name, value)` looks the keyword up (aliases first), checks the value's
form as Suricata's SigParseOptions does (a value required, optional or forbidden; `!` only
where the keyword takes it; double quotes mandatory for content, uricontent and msg, optional
for pcre and app-layer-protocol, refused elsewhere) and calls the handler. Payload keywords
are `RuleBuilder` methods (`builder`); the descriptive, flow and header keywords are here.
A name that is not in the table is "keyword not supported" when Suricata knows it
(`keywords.SURICATA_KEYWORDS`), "unknown rule keyword" otherwise.

`prefilter` (which keyword feeds Suricata's prefilter) is accepted and ignored: it changes
which rules are evaluated, never what matches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tocsin.detect import transforms as tf
from tocsin.detect.rules import flowopts as fo
from tocsin.detect.rules import meta
from tocsin.detect.rules.builder import RuleBuilder
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError
from tocsin.detect.rules.keywords import (
    APP_LAYER_VALUES,
    MODIFIERS,
    OTHER_PROTOS,
    STICKY,
    SURICATA_KEYWORDS,
)
from tocsin.detect.rules.values import uint_cmp


@dataclass(frozen=True, slots=True)
class _Spec:
    handler: Callable[[RuleBuilder, str, str | None, bool], None]
    arg: str = "req"  # "req", "opt" or "none"
    quotes: str = ""  # "", "opt" or "req"
    negation: bool = False


def apply_option(b: RuleBuilder, name: str, value: str | None) -> None:
    """Apply one `name[:value]` option to the rule being built."""
    name = ALIASES.get(name, name)
    spec = KEYWORDS.get(name)
    if spec is None:
        if name in SURICATA_KEYWORDS:
            raise RuleError(NOT_SUPPORTED, name)
        raise RuleError("unknown rule keyword", name)
    v, negated = _prepare(name, value, spec)
    spec.handler(b, name, v, negated)


# --- descriptive keywords -------------------------------------------------------------------------


def kw_meta(b: RuleBuilder, name: str, value: str | None, negated: bool) -> None:
    v = value or ""
    if name == "msg":
        b.msg = meta.parse_msg(v)
    elif name == "sid":
        if b.sid is not None:
            raise RuleError("sid given twice", name)
        b.sid = meta.parse_u32(v, name, least=1)
    elif name == "rev":
        b.rev = meta.parse_u32(v, name)
    elif name == "gid":
        b.gid = meta.parse_u32(v, name)
    elif name == "priority":
        b.priority = meta.parse_priority(v)
    elif name == "classtype":
        cls = meta.parse_classtype_name(v)
        if cls not in b.classes:
            raise RuleError(f"unknown classtype {cls!r}", name)
        b.classtype = cls
    elif name == "reference":
        b.references.append(meta.parse_reference(v))
    elif name == "metadata":
        meta.parse_metadata(v, b.metadata)
    elif name == "target":
        b.target = meta.parse_target(v)
    elif name == "noalert":
        b.noalert = True
    # tag: accepted and ignored (it only logs further packets); prefilter: see the docstring


# --- flow and header keywords ---------------------------------------------------------------------


def kw_flow(b: RuleBuilder, name: str, value: str | None, negated: bool) -> None:
    v = value or ""
    if name == "flow":
        if b.flow is not None:
            raise RuleError("a rule may have only one flow option", name)
        b.flow, packet, stream = fo.parse_flow(v)
        b.require_packet |= packet
        b.require_stream |= stream
    elif name == "flowbits":
        fb = fo.parse_flowbits(v)
        if fb.cmd == "noalert":
            b.noalert = True
        else:
            b.flowbits.append(fb)
    elif name == "xbits":
        xb = fo.parse_xbits(v)
        if xb is None:
            b.noalert = True
        else:
            b.xbits.append(xb)
    elif name in ("threshold", "detection_filter"):
        if b.threshold is not None or b.detection_filter is not None:
            raise RuleError("only one threshold or detection_filter per rule", name)
        if name == "threshold":
            b.threshold = fo.parse_threshold(v)
        else:
            b.detection_filter = fo.parse_detection_filter(v)
    elif name == "stream_size":
        sizes = b.extra.setdefault("stream_size", [])
        assert isinstance(sizes, list)
        sizes.append(fo.parse_stream_size(v))
    elif name == "app-layer-protocol":
        _app_layer(b, v, negated)


def _app_layer(b: RuleBuilder, v: str, negated: bool) -> None:
    kw = "app-layer-protocol"
    if b.alproto is not None:
        raise RuleError(f"the rule's app protocol is already {b.alproto}", kw)
    word, _, mode = v.partition(",")
    word = word.strip().lower()
    if mode.strip():
        raise RuleError(f"modes ({mode.strip()}): {NOT_SUPPORTED}", kw)
    if word in OTHER_PROTOS:
        raise RuleError(f"protocol not supported: {word}", kw)
    proto = APP_LAYER_VALUES.get(word)
    if proto is None:
        raise RuleError(f"unknown protocol {word!r}", kw)
    for other, other_neg in b.app_kw:
        if not (negated and other_neg) or other == proto:
            raise RuleError("conflicting app-layer-protocol options", kw)
    b.app_kw.append((proto, negated))


def kw_header(b: RuleBuilder, name: str, value: str | None, negated: bool) -> None:
    v = value or ""
    if name == "flags":
        if b.flags is not None:
            raise RuleError(f"more than one flags keyword: {NOT_SUPPORTED}", name)
        b.flags = fo.parse_flags(v)
        return
    if name in b.header:
        if name == "dsize":
            raise RuleError("can't use more than one dsize in a rule", name)
        raise RuleError(f"more than one {name} keyword: {NOT_SUPPORTED}", name)
    if name == "ip_proto":
        b.header[name] = fo.parse_ip_proto(v)
    else:
        b.header[name] = uint_cmp(v, name, 16 if name == "dsize" else 8)
        b.require_packet |= name == "dsize"


def _prepare(name: str, value: str | None, spec: _Spec) -> tuple[str | None, bool]:
    """The value as the keyword's parser gets it (Suricata's SigParseOptions checks)."""
    if spec.arg == "none":
        if value and value.strip(" \t"):
            raise RuleError(f"{name} takes no value (got {value.strip()!r})", name)
        return None, False
    if value is None or not value.strip(" \t"):
        if spec.arg == "opt":
            return None, False
        raise RuleError(f"{name} needs a value", name)
    v = value.lstrip(" \t")
    negated = False
    if spec.negation and v.startswith("!"):
        negated = True
        v = v[1:].lstrip(" \t")
        if not v:
            raise RuleError(f"{name} needs a value after '!'", name)
    if v.startswith('"') and spec.quotes:
        if len(v) < 2 or not v.endswith('"'):
            raise RuleError(
                f"bad option value formatting (possible missing semicolon): {value.strip()!r}",
                name,
            )
        v = v[1:-1]
        if not v:
            raise RuleError("empty value", name)
    elif spec.quotes == "req":
        raise RuleError(f"the value must be double quoted: {value.strip()!r}", name)
    elif v.startswith('"'):
        raise RuleError(f"{name} does not take a quoted value", name)
    return v, negated


def _table() -> dict[str, _Spec]:
    b = RuleBuilder
    t: dict[str, _Spec] = {
        "content": _Spec(b.kw_content, quotes="req", negation=True),
        "uricontent": _Spec(b.kw_content, quotes="req", negation=True),
        "pcre": _Spec(b.kw_pcre, quotes="opt", negation=True),
        "fast_pattern": _Spec(b.kw_modifier, arg="opt"),
        "rawbytes": _Spec(b.kw_rawbytes, arg="none"),
        "pkt_data": _Spec(b.kw_pkt_data, arg="none"),
        "bsize": _Spec(b.kw_bsize),
        "urilen": _Spec(b.kw_urilen),
        "app-layer-protocol": _Spec(kw_flow, quotes="opt", negation=True),
        "flags": _Spec(kw_header),
        "tag": _Spec(kw_meta),
        "noalert": _Spec(kw_meta, arg="none"),
        "prefilter": _Spec(kw_meta, arg="none"),
        "xor": _Spec(b.kw_transform, quotes="opt"),
        "from_base64": _Spec(b.kw_transform, arg="opt"),
    }
    for kw in tf.NAMES - {"xor", "from_base64"}:
        t[kw] = _Spec(b.kw_transform, arg="none")
    for kw in ("nocase", "startswith", "endswith"):
        t[kw] = _Spec(b.kw_modifier, arg="none")
    for kw in ("depth", "offset", "distance", "within"):
        t[kw] = _Spec(b.kw_modifier)
    for kw in ("byte_test", "byte_jump", "byte_extract", "isdataat"):
        t[kw] = _Spec(b.kw_bytes)
    for kw in ("sid", "rev", "gid", "priority", "classtype", "reference", "metadata", "target"):
        t[kw] = _Spec(kw_meta)
    t["msg"] = _Spec(kw_meta, quotes="req")
    for kw in ("flow", "flowbits", "xbits", "threshold", "detection_filter", "stream_size"):
        t[kw] = _Spec(kw_flow)
    for kw in ("dsize", "ttl", "itype", "icode", "ip_proto"):
        t[kw] = _Spec(kw_header)
    for kw in MODIFIERS:
        t[kw] = _Spec(b.kw_legacy, arg="none")
    for kw in STICKY:
        t[kw] = _Spec(b.kw_sticky, arg="none")
    return t


KEYWORDS: dict[str, _Spec] = _table()
ALIASES = {"tcp.flags": "flags"}
