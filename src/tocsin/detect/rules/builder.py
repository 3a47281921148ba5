"""Building one `Rule` from its options, in rule order, the way Suricata's parser does.

`options.apply_option(builder, name, value)` applies one option (this module holds the
payload keywords' handlers, `options` the others); `build(...)` checks the whole rule
(`validate`) and returns the `Rule`. The builder keeps the state Suricata keeps while parsing:

- the **current buffer**: a sticky-buffer keyword (`http.uri`, `dns.query`...) makes the
  following payload keywords apply to that buffer until the next sticky buffer or `pkt_data`
  (back to the packet payload, `model.PAYLOAD`); a sticky buffer followed by another with no
  keyword in between is an error;
- **transforms** (`dotprefix`, `to_lowercase`, `xor`..., `detect.transforms`): they follow a
  sticky buffer, before or after its first keywords, and wait for the next payload keyword;
  that keyword and the ones after it go to the transformed buffer, keyed
  `"<buffer>|<transform>|..."` (Suricata 8: the keywords before the transforms stay on the
  plain buffer; once transforms are used, no more may follow until the next sticky buffer).
  A transform with no sticky buffer, transforms left unused at a sticky buffer, `pkt_data` or
  the rule end, and a content a transform can never produce are errors;
- the **last content**: modifiers (nocase, depth, distance, fast_pattern...) apply to the
  last `content` of the current sticky buffer, or, with none set, to the last content of the
  rule. Legacy modifiers (`http_uri`...) move the last packet-payload content to their buffer
  (not allowed while a sticky buffer is set);
- **placement**: pcre goes to the current buffer (or the one its modifiers name); byte_test,
  byte_jump, byte_extract and isdataat go to the current buffer, or with `relative` and no
  sticky buffer to the buffer of the previous payload keyword;
- the **app protocol** (`alproto`): the rule's protocol, or the one its buffers imply; two
  different ones are an error;
- byte_extract **variables** defined so far (a name used before its definition is an error).
"""

from __future__ import annotations

from typing import Literal

from tocsin.detect import transforms as tf
from tocsin.detect.model import (
    DEFAULT_PRIORITY,
    PAYLOAD,
    AddrSet,
    BufferSize,
    ByteExtract,
    ByteJump,
    ByteTest,
    Content,
    Flowbit,
    FlowOpts,
    IntCmp,
    IsDataAt,
    Match,
    Pcre,
    PortSet,
    Rule,
    TcpFlags,
    Threshold,
    Xbit,
)
from tocsin.detect.rules import content as ct
from tocsin.detect.rules import payload as pl
from tocsin.detect.rules.classification import Classifications
from tocsin.detect.rules.errors import RuleError
from tocsin.detect.rules.keywords import MODIFIERS, STICKY, Buffer
from tocsin.detect.rules.validate import Facts, validate
from tocsin.detect.rules.values import uint_cmp


class RuleBuilder:
    """One rule's options applied in order (see the module docstring)."""

    def __init__(self, classes: Classifications, alproto: str | None, packet: bool, stream: bool):
        self.classes = classes
        self.alproto = alproto
        self.require_packet = packet
        self.require_stream = stream
        self.buffers: dict[str, list[Match]] = {}
        self.sticky: Buffer | None = None
        self.sticky_empty = False
        self.cur: str | None = None  # the sticky buffer's key (its name, then with transforms)
        self.transforms: list[str] = []  # transform specs waiting for a payload keyword
        self.transform_ok = False  # a transform may come (Suricata's list_set)
        self.last_content: Content | None = None
        self.last_payload: Match | None = None
        self.where: dict[int, str] = {}  # id(match) -> its buffer
        self.variables: set[str] = set()
        self.has_fp = False
        self.sid: int | None = None
        self.rev = 0
        self.gid = 1
        self.msg = ""
        self.classtype: str | None = None
        self.priority: int | None = None
        self.references: list[str] = []
        self.metadata: dict[str, list[str]] = {}
        self.target: Literal["src_ip", "dest_ip"] | None = None
        self.flow: FlowOpts | None = None
        self.flowbits: list[Flowbit] = []
        self.xbits: list[Xbit] = []
        self.threshold: Threshold | None = None
        self.detection_filter: Threshold | None = None
        self.header: dict[str, IntCmp] = {}  # dsize, ttl, itype, icode, ip_proto
        self.flags: TcpFlags | None = None
        self.app_kw: list[tuple[str, bool]] = []
        self.noalert = False
        self.extra: dict[str, object] = {}

    # --- buffers and placement -----------------------------------------------------------

    def _append(self, buf: str, m: Match) -> None:
        self.buffers.setdefault(buf, []).append(m)
        self.where[id(m)] = buf
        if buf == self.cur:
            self.sticky_empty = False

    def _set_alproto(self, proto: str | None, kw: str) -> None:
        if proto is None or self.alproto == proto:
            return
        if self.alproto is not None:
            raise RuleError(f"can't use {kw} ({proto}) in a rule for {self.alproto}", kw)
        self.alproto = proto

    def _current(self) -> str:
        """Where the next payload keyword goes; it consumes the transforms waiting."""
        if self.sticky is None or self.cur is None:
            return PAYLOAD
        if self.transforms:
            self.cur = tf.join_key(self.sticky.name, self.transforms)
            self.transforms = []
            self.transform_ok = False
        return self.cur

    def _place(self, relative: bool) -> str:
        if self.sticky is not None:
            return self._current()
        if relative and self.last_payload is not None:
            return self.where[id(self.last_payload)]
        return PAYLOAD

    def _target(self, kw: str) -> Content:
        if self.sticky is not None and self.cur is not None:
            for m in reversed(self.buffers.get(self.cur, ())):
                if isinstance(m, Content):
                    return m
            raise RuleError(f"{kw} needs a preceding content in {self.sticky.name}", kw)
        if self.last_content is None:
            raise RuleError(f"{kw} needs a preceding content", kw)
        return self.last_content

    def _prev(self, c: Content) -> Content | Pcre | None:
        return ct.previous_match(self.buffers[self.where[id(c)]], c)

    # --- payload keywords -----------------------------------------------------------------

    def kw_content(self, name: str, value: str | None, negated: bool) -> None:
        assert value is not None
        c = Content(ct.decode_content(value, name), negated=negated)
        if name == "uricontent":
            if self.sticky is not None:
                raise RuleError("can't be used while a sticky buffer is set", name)
            self._set_alproto("http", name)
            self._append("http.uri", c)
        else:
            buf = self._current()
            if not negated and tf.SEP in buf:
                bad = tf.incompatible(tf.split_key(buf)[1], c.pattern)
                if bad is not None:
                    reason = f'content string "{value}" incompatible with {bad} transform'
                    raise RuleError(reason, name)
            self._append(buf, c)
        self.last_content = c
        self.last_payload = c

    def kw_modifier(self, name: str, value: str | None, negated: bool) -> None:
        c = self._target(name)
        if name == "nocase":
            ct.set_nocase(c)
        elif name == "depth":
            ct.set_depth(c, value or "", self.variables)
        elif name == "offset":
            ct.set_offset(c, value or "", self.variables)
        elif name == "distance":
            ct.set_distance(c, value or "", self.variables, self._prev(c))
        elif name == "within":
            ct.set_within(c, value or "", self.variables, self._prev(c))
        elif name == "startswith":
            ct.set_startswith(c)
        elif name == "endswith":
            c.endswith = True
        else:  # fast_pattern
            ct.set_fast_pattern(c, value, self.has_fp)
            self.has_fp = True

    def kw_rawbytes(self, name: str, value: str | None, negated: bool) -> None:
        if self.sticky is not None:
            raise RuleError(f"can't be combined with the sticky buffer {self.sticky.name}", name)
        for m in reversed(self.buffers.get(PAYLOAD, ())):
            if isinstance(m, Content):
                m.rawbytes = True
                return
        raise RuleError("rawbytes needs a preceding content", name)

    def kw_legacy(self, name: str, value: str | None, negated: bool) -> None:
        buf = MODIFIERS[name]
        if self.sticky is not None:
            raise RuleError(
                f"seen with the sticky buffer {self.sticky.name} still set: reset it with "
                "pkt_data before using the modifier",
                name,
            )
        self._set_alproto(buf.proto, name)
        pkt = self.buffers.get(PAYLOAD, [])
        idx = next((i for i in range(len(pkt) - 1, -1, -1) if isinstance(pkt[i], Content)), -1)
        if idx < 0:
            raise RuleError(f"{name} needs a preceding content", name)
        c = pkt.pop(idx)
        assert isinstance(c, Content)
        if c.rawbytes:
            raise RuleError("can't be used with rawbytes", name)
        self._append(buf.name, c)

    def kw_sticky(self, name: str, value: str | None, negated: bool) -> None:
        buf = STICKY[name]
        self._unused_transforms(name)
        if self.sticky is not None and self.sticky_empty:
            raise RuleError(f"the previous sticky buffer {self.sticky.name} has no matches", name)
        self._set_alproto(buf.proto, name)
        self.sticky = buf
        self.cur = buf.name
        self.sticky_empty = True
        self.transform_ok = True

    def kw_pkt_data(self, name: str, value: str | None, negated: bool) -> None:
        self._unused_transforms(name)
        self.sticky = None
        self.cur = None
        self.transform_ok = False

    def kw_transform(self, name: str, value: str | None, negated: bool) -> None:
        if self.sticky is None or not self.transform_ok:
            raise RuleError("transforms must directly follow stickybuffers", name)
        if len(self.transforms) >= tf.MAX_TRANSFORMS:
            raise RuleError(f"more than {tf.MAX_TRANSFORMS} transforms on one buffer", name)
        try:
            self.transforms.append(tf.parse_spec(name, value))
        except ValueError as e:
            raise RuleError(str(e), name) from None

    def _unused_transforms(self, kw: str) -> None:
        if self.transforms:
            last = self.transforms[-1].partition(":")[0]
            raise RuleError(f"no match follows the transform {last} (before {kw})", last)

    def kw_pcre(self, name: str, value: str | None, negated: bool) -> None:
        p, pbuf = pl.parse_pcre(value or "", negated)
        if self.sticky is not None:
            if pbuf is not None and pbuf.name != self.sticky.name:
                raise RuleError(
                    f"its modifiers select {pbuf.name} while the sticky buffer "
                    f"{self.sticky.name} is set: reset it with pkt_data",
                    name,
                )
            target = self._current()
        elif pbuf is not None:
            self._set_alproto(pbuf.proto, name)
            target = pbuf.name
        else:
            target = PAYLOAD
        prior = self.buffers.get(target, ())
        if (
            p.relative
            and self.sticky is None
            and not any(isinstance(m, (Content, Pcre)) for m in prior)
        ):
            raise RuleError("/R (relative) needs a preceding match in the same buffer", name)
        self._append(target, p)
        self.last_payload = p

    def kw_bytes(self, name: str, value: str | None, negated: bool) -> None:
        v = value or ""
        m: ByteTest | ByteJump | ByteExtract | IsDataAt
        if name == "byte_test":
            m = pl.parse_byte_test(v, self.variables)
        elif name == "byte_jump":
            m = pl.parse_byte_jump(v, self.variables)
        elif name == "byte_extract":
            m = pl.parse_byte_extract(v)
        else:
            m = pl.parse_isdataat(v, self.variables)
        if not isinstance(m, IsDataAt) and m.dce and self.alproto not in ("dcerpc", "smb"):
            self._set_alproto("dcerpc", name)
        self._append(self._place(m.relative), m)
        self.last_payload = m
        if isinstance(m, ByteExtract):
            self.variables.add(m.name)

    def kw_bsize(self, name: str, value: str | None, negated: bool) -> None:
        if self.sticky is None:
            raise RuleError("bsize needs a sticky buffer before it", name)
        self._append(self._current(), BufferSize(uint_cmp(value or "", name, 64)))

    def kw_urilen(self, name: str, value: str | None, negated: bool) -> None:
        v, _, kind = (value or "").partition(",")
        kind = kind.strip().lower()
        if kind not in ("", "norm", "raw"):
            raise RuleError(f"invalid buffer {kind!r} (norm or raw)", name)
        self._set_alproto("http", name)
        buf = "http.uri.raw" if kind == "raw" else "http.uri"
        self._append(buf, BufferSize(uint_cmp(v, name, 16)))

    # --- the rule ------------------------------------------------------------------------

    def build(
        self,
        action: str,
        proto: str,
        src: AddrSet,
        sport: PortSet,
        dst: AddrSet,
        dport: PortSet,
        bidirectional: bool,
    ) -> Rule:
        """The finished rule, after the whole-rule checks (`validate`)."""
        if self.sid is None:
            raise RuleError('missing the required "sid"', "sid")
        self._unused_transforms("the end of the rule")
        buffers = {k: v for k, v in self.buffers.items() if v}
        flow = self.flow if self.flow is not None else FlowOpts()
        validate(
            Facts(
                buffers,
                self.cur if self.sticky is not None and self.sticky_empty else None,
                flow,
                self.header.get("dsize"),
                self.require_packet,
                self.require_stream,
            )
        )
        _validate_transformed(buffers, flow)
        cls = self.classes.get(self.classtype) if self.classtype else None
        prio = self.priority or (cls.priority if cls else DEFAULT_PRIORITY)
        app_proto, app_neg = self.alproto, False
        if app_proto is None and self.app_kw:
            app_proto, app_neg = self.app_kw[0]
            if len(self.app_kw) > 1:
                self.extra["app_proto_not"] = [p for p, _ in self.app_kw]
        return Rule(
            action=action,
            proto=proto,
            src=src,
            sport=sport,
            dst=dst,
            dport=dport,
            bidirectional=bidirectional,
            sid=self.sid,
            rev=self.rev,
            gid=self.gid,
            msg=self.msg,
            classtype=self.classtype,
            category=cls.description if cls else "",
            priority=prio,
            references=self.references,
            metadata=self.metadata,
            target=self.target,
            buffers=buffers,
            flow=flow,
            flowbits=self.flowbits,
            xbits=self.xbits,
            threshold=self.threshold,
            detection_filter=self.detection_filter,
            dsize=self.header.get("dsize"),
            ttl=self.header.get("ttl"),
            itype=self.header.get("itype"),
            icode=self.header.get("icode"),
            ip_proto=self.header.get("ip_proto"),
            flags=self.flags,
            app_proto=app_proto,
            app_proto_negated=app_neg,
            noalert=self.noalert,
            extra=dict(self.extra),
        )


def _validate_transformed(buffers: dict[str, list[Match]], flow: FlowOpts) -> None:
    """A transformed buffer's checks are its buffer's (Suricata copies the buffer type's
    validation callback to its transformed types): content rules and direction."""
    bases = {k: tf.split_key(k)[0] for k in buffers}
    if all(k == base for k, base in bases.items()):
        return
    for key, items in buffers.items():
        if bases[key] != key:
            validate(Facts({bases[key]: items}, None, flow, None, False, False))
    validate(Facts({base: [] for base in bases.values()}, None, flow, None, False, False))
