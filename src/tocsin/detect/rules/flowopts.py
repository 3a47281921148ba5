"""Parsers for flow and packet-header keywords: flow, flowbits, xbits, threshold,
detection_filter, flags, ip_proto, stream_size (after Suricata's detect-flow.c,
detect-flowbits.c, detect-xbits.c, detect-threshold.c, detect-detection-filter.c,
detect-tcp-flags.c, detect-ipproto.c, detect-stream_size.c). Each returns its `model`
record or raises `RuleError`.

flowbits: `a|b` (any of, for isset/isnotset: Suricata's OR list) and `a&b` (all of: Snort's
form; Suricata reads `a&b` as one bit named "a&b") fill `Flowbit.names`. `flowbits:noalert`
is returned as a `Flowbit` with cmd "noalert" for the builder to turn into `Rule.noalert`;
`xbits:noalert` likewise returns None.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from tocsin.detect.model import (
    XBITS_EXPIRE_DEFAULT,
    Flowbit,
    FlowOpts,
    IntCmp,
    TcpFlags,
    Threshold,
    Xbit,
)
from tocsin.detect.rules.errors import NOT_SUPPORTED, RuleError

_FLOW_WORD = re.compile(r"[A-Za-z_]+")
# flow option -> (its group: one option per group, the FlowOpts field it sets, the value)
_FLOW_OPTIONS: dict[str, tuple[str, str, bool]] = {
    "to_server": ("dir", "to_server", True), "from_client": ("dir", "to_server", True),
    "to_client": ("dir", "to_server", False), "from_server": ("dir", "to_server", False),
    "established": ("state", "established", True),
    "not_established": ("state", "established", False),
    "stateless": ("state", "stateless", True),
    "only_stream": ("stream", "only_stream", True), "no_stream": ("stream", "no_stream", True),
    "only_frag": ("frag", "only_frag", True), "no_frag": ("frag", "no_frag", True),
}  # fmt: skip
_FLOWBITS = re.compile(r"([a-z]+)(?:,\s*(.*))?", re.S)
_STREAM_SIZE = re.compile(r"\s*([A-Za-z_]+)\s*,\s*([<=>!]+)\s*,\s*([0-9]+)\s*")
_TRACKS = frozenset({"by_src", "by_dst", "by_rule", "by_both", "by_flow"})
_TYPES = frozenset({"limit", "threshold", "both", "backoff"})
_TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40}
_TCP_FLAGS.update({"C": 0x80, "1": 0x80, "2": 0x40})
_STREAM_OPS = {"<": "<", ">": ">", "=": "=", "!=": "!=", "<=": "<=", ">=": ">="}

# /etc/protocols: name -> (number, alias). getprotobyname() is case-sensitive, so is ip_proto
_PROTOCOLS: dict[str, tuple[int, str]] = {
    "ip": (0, "IP"), "hopopt": (0, "HOPOPT"), "icmp": (1, "ICMP"), "igmp": (2, "IGMP"),
    "ggp": (3, "GGP"), "ipencap": (4, "IP-ENCAP"), "st": (5, "ST"), "tcp": (6, "TCP"),
    "egp": (8, "EGP"), "igp": (9, "IGP"), "pup": (12, "PUP"), "udp": (17, "UDP"),
    "hmp": (20, "HMP"), "xns-idp": (22, "XNS-IDP"), "rdp": (27, "RDP"),
    "iso-tp4": (29, "ISO-TP4"), "dccp": (33, "DCCP"), "xtp": (36, "XTP"), "ddp": (37, "DDP"),
    "idpr-cmtp": (38, "IDPR-CMTP"), "ipv6": (41, "IPv6"), "ipv6-route": (43, "IPv6-Route"),
    "ipv6-frag": (44, "IPv6-Frag"), "idrp": (45, "IDRP"), "rsvp": (46, "RSVP"),
    "gre": (47, "GRE"), "esp": (50, "IPSEC-ESP"), "ah": (51, "IPSEC-AH"), "skip": (57, "SKIP"),
    "ipv6-icmp": (58, "IPv6-ICMP"), "ipv6-nonxt": (59, "IPv6-NoNxt"),
    "ipv6-opts": (60, "IPv6-Opts"), "rspf": (73, "RSPF"), "vmtp": (81, "VMTP"),
    "eigrp": (88, "EIGRP"), "ospf": (89, "OSPFIGP"), "ax.25": (93, "AX.25"),
    "ipip": (94, "IPIP"), "etherip": (97, "ETHERIP"), "encap": (98, "ENCAP"),
    "pim": (103, "PIM"), "ipcomp": (108, "IPCOMP"), "vrrp": (112, "VRRP"),
    "l2tp": (115, "L2TP"), "isis": (124, "ISIS"), "sctp": (132, "SCTP"), "fc": (133, "FC"),
    "mobility-header": (135, "Mobility-Header"), "udplite": (136, "UDPLite"),
    "mpls-in-ip": (137, "MPLS-in-IP"), "manet": (138, "manet"), "hip": (139, "HIP"),
    "shim6": (140, "Shim6"), "wesp": (141, "WESP"), "rohc": (142, "ROHC"),
    "ethernet": (143, "Ethernet"),
}  # fmt: skip
IP_PROTOCOLS: dict[str, int] = {n: v for n, (v, _) in _PROTOCOLS.items()}
IP_PROTOCOLS.update({alias: v for v, alias in _PROTOCOLS.values()})


_FbCmd = Literal["set", "unset", "toggle", "isset", "isnotset", "noalert"]
_XbCmd = Literal["set", "unset", "toggle", "isset", "isnotset"]
_XbTrack = Literal["ip_src", "ip_dst", "ip_pair"]
_Track = Literal["by_src", "by_dst", "by_rule", "by_both", "by_flow"]
_Kind = Literal["limit", "threshold", "both", "backoff", "detection_filter"]


def parse_flow(value: str) -> tuple[FlowOpts, bool, bool]:
    """`flow:` options, and whether they require packets (no_stream) / the stream
    (only_stream). Contradictions and repeats are errors, as in Suricata."""
    words = [w.strip() for w in value.split(",")]
    if len(words) > 3 or any(_FLOW_WORD.fullmatch(w) is None for w in words):
        raise RuleError(
            f"invalid flow options {value.strip()!r} (at most 3, comma separated)", "flow"
        )
    seen: set[str] = set()
    settings: dict[str, bool] = {}
    for raw in words:
        w = raw.lower()
        if w not in _FLOW_OPTIONS:
            raise RuleError(f"invalid flow option {raw!r}", "flow")
        group, field, on = _FLOW_OPTIONS[w]
        if group in seen:
            raise RuleError(f"flow option {raw!r} conflicts with or repeats an earlier one", "flow")
        seen.add(group)
        settings[field] = on
    opts = FlowOpts(**settings)
    return opts, opts.no_stream, opts.only_stream


def _bit_names(names: str, sep: str) -> tuple[str, ...]:
    out = tuple(n.strip() for n in names.split(sep))
    if any(not n or any(c.isspace() for c in n) for n in out):
        raise RuleError(f"invalid flowbit names {names!r}: spaces are not allowed", "flowbits")
    return out


def parse_flowbits(value: str) -> Flowbit:
    m = _FLOWBITS.fullmatch(value)
    if m is None:
        raise RuleError(f"{value.strip()!r} is not a valid setting for flowbits", "flowbits")
    cmd, names = m.group(1), (m.group(2) or "").rstrip(" \t")
    if cmd not in ("set", "unset", "toggle", "isset", "isnotset", "noalert"):
        raise RuleError(f"invalid flowbits action {cmd!r}", "flowbits")
    if cmd == "noalert":
        if names:
            raise RuleError("flowbits:noalert takes no name", "flowbits")
        return Flowbit("noalert")
    if not names:
        raise RuleError(f"flowbits:{cmd} needs a flowbit name", "flowbits")
    if "|" in names and "&" in names:
        raise RuleError(f"can't mix '|' and '&' in {names!r}", "flowbits")
    if "&" in names:
        return Flowbit(cast(_FbCmd, cmd), _bit_names(names, "&"), any_of=False)
    return Flowbit(cast(_FbCmd, cmd), _bit_names(names, "|"))


def parse_xbits(value: str) -> Xbit | None:
    """`cmd,name,track ip_src|ip_dst|ip_pair[,expire N]` (track and expire in either order;
    track required), or `noalert` (None). Suricata 8's `track tx` is not supported."""
    kw = "xbits"
    parts = [p.strip(" \t") for p in value.split(",")]
    parts = [p for p in parts if p]
    if parts == ["noalert"]:
        return None
    if len(parts) < 2:
        raise RuleError(f"{value.strip()!r} is not a valid setting for xbits", kw)
    cmd, name, *opts = parts
    if cmd not in ("set", "unset", "toggle", "isset", "isnotset"):
        raise RuleError(f"invalid xbits action {cmd!r}", kw)
    if any(c.isspace() for c in name):
        raise RuleError(f"invalid xbit name {name!r}: spaces are not allowed", kw)
    track: str | None = None
    expire: int | None = None
    for opt in opts:
        key, _, val = opt.partition(" ")
        val = val.strip(" \t")
        if key == "track" and track is None and val:
            if val == "tx":
                raise RuleError(f"track tx: {NOT_SUPPORTED}", kw)
            if val not in ("ip_src", "ip_dst", "ip_pair"):
                raise RuleError(f"invalid track {val!r} (ip_src, ip_dst, ip_pair)", kw)
            track = val
        elif key == "expire" and expire is None and val:
            expire = _count(val, kw, "expire", 1)
        else:
            raise RuleError(f"invalid or repeated xbits option {opt!r}", kw)
    if track is None:
        raise RuleError("xbits needs track ip_src, ip_dst or ip_pair", kw)
    return Xbit(
        cast(_XbCmd, cmd),
        name,
        cast(_XbTrack, track),
        XBITS_EXPIRE_DEFAULT if expire is None else expire,
    )


def _pairs(value: str, kw: str, keys: frozenset[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in value.split(","):
        key, _, val = part.strip().partition(" ")
        val = val.strip()
        if key not in keys or not val or " " in val:
            raise RuleError(f"invalid {kw} option {part.strip()!r}", kw)
        if key in out:
            raise RuleError(f"{key} given twice", kw)
        out[key] = val
    return out


def _count(text: str, kw: str, what: str, least: int) -> int:
    if not text.isdigit() or not least <= int(text) < 1 << 32:
        raise RuleError(f"invalid {what} {text!r}", kw)
    return int(text)


def parse_threshold(value: str) -> Threshold:
    kw = "threshold"
    p = _pairs(value, kw, frozenset({"type", "track", "count", "seconds", "multiplier"}))
    kind = p.get("type")
    track = p.get("track")
    if kind not in _TYPES:
        raise RuleError(f"invalid or missing type {kind!r}", kw)
    if track not in _TRACKS:
        raise RuleError(f"invalid or missing track {track!r}", kw)
    if "count" not in p:
        raise RuleError("missing count", kw)
    count = _count(p["count"], kw, "count", 1)
    if kind == "backoff":
        if "seconds" in p or "multiplier" not in p:
            raise RuleError("type backoff takes count and multiplier (no seconds)", kw)
        if track != "by_flow":
            raise RuleError("type backoff needs track by_flow", kw)
        mult = _count(p["multiplier"], kw, "multiplier", 1)
        return Threshold("backoff", cast(_Track, track), count, 0, mult)
    if "multiplier" in p or "seconds" not in p:
        raise RuleError(f"type {kind} takes count and seconds", kw)
    seconds = _count(p["seconds"], kw, "seconds", 0)
    return Threshold(cast(_Kind, kind), cast(_Track, track), count, seconds)


def parse_detection_filter(value: str) -> Threshold:
    kw = "detection_filter"
    p = _pairs(value, kw, frozenset({"track", "count", "seconds"}))
    track = p.get("track")
    if track not in _TRACKS:
        raise RuleError(f"invalid or missing track {track!r}", kw)
    if "count" not in p or "seconds" not in p:
        raise RuleError("track, count and seconds are all needed", kw)
    count = _count(p["count"], kw, "count", 1)
    seconds = _count(p["seconds"], kw, "seconds", 1)
    return Threshold("detection_filter", cast(_Track, track), count, seconds)


def _flag_bits(text: str, kw: str) -> int:
    bits = 0
    for ch in text:
        bit = _TCP_FLAGS.get(ch.upper())
        if bit is None:
            raise RuleError(f"invalid TCP flag {ch!r}", kw)
        bits |= bit
    return bits


def parse_flags(value: str) -> TcpFlags:
    """`[modifier]flags[,mask]`; modifier one of ! + * anywhere among the flags; `0` alone
    means no flag set."""
    kw = "flags"
    main, _, mask_s = value.partition(",")
    modifier = ""
    letters = ""
    zero = False
    for ch in main.strip():
        if ch in "!+*":
            if modifier:
                raise RuleError("only one modifier (! + *) is allowed", kw)
            modifier = ch
        elif ch == "0":
            zero = True
        else:
            letters += ch
    if not letters and not zero:
        raise RuleError(f"no flags in {value.strip()!r}", kw)
    flags = _flag_bits(letters, kw)
    mask = _flag_bits(mask_s.strip(), kw) if mask_s.strip() else 0
    return TcpFlags(flags, modifier, mask)


def parse_ip_proto(value: str) -> IntCmp:
    kw = "ip_proto"
    t = value.strip()
    op = ""
    if t[:1] in ("!", "<", ">"):
        op, t = t[0], t[1:].strip()
    if t.isdigit():
        n = int(t)
        if n > 255:
            raise RuleError(f"invalid protocol number {t!r}", kw)
    else:
        found = IP_PROTOCOLS.get(t)
        if found is None:
            raise RuleError(f"unknown protocol {t!r}", kw)
        n = found
    if op == "!":
        return IntCmp("!=", n)
    if op in ("<", ">"):
        return IntCmp(cast(Literal["<", ">"], op), n)
    return IntCmp("=", n)


def parse_stream_size(value: str) -> tuple[str, IntCmp]:
    """`side,op,bytes` with side server, client, both or either."""
    kw = "stream_size"
    m = _STREAM_SIZE.fullmatch(value)
    if m is None:
        raise RuleError(f"invalid value {value.strip()!r} (side,operator,bytes)", kw)
    side, op, num = m.group(1).lower(), m.group(2), int(m.group(3))
    if side not in ("server", "client", "both", "either"):
        raise RuleError(f"invalid side {side!r} (server, client, both, either)", kw)
    cmp_op = _STREAM_OPS.get(op)
    if cmp_op is None:
        raise RuleError(f"invalid operator {op!r}", kw)
    if num >= 1 << 32:
        raise RuleError(f"value too large {num}", kw)
    return side, IntCmp(cast(Literal["=", "!=", "<", ">", "<=", ">="], cmp_op), num)
