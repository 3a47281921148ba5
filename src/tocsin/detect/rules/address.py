"""Rule addresses and ports: variables, lists, negation, resolved to interval sets.

Grammar (Suricata's, `detect-engine-address.c` / `detect-engine-port.c`):

    item  := '!'* ( '[' item (',' item)* ']' | '$' NAME | atom )
    atom  := any | IPv4 | IPv4/len | IPv4/netmask | IPv6 | IPv6/len | ip-ip      (addresses)
    atom  := any | N | N:M | N: | :M                                           (ports)

A list is the union of its positive items minus the union of its negated items; a list with
only negated items starts from the whole space (`[!1.2.3.4]` is everything else). `!x` is the
complement of `x` in the whole space: addresses are one 128-bit space with IPv4 mapped
(`::ffff:a.b.c.d`), so `!10.0.0.0/8` contains every IPv6 address, as in Suricata. A variable
(`$HOME_NET`) is resolved, recursively, before it is negated. A result with nothing left, an
undefined variable, a loop between variables or a malformed item is a `RuleError` (keyword
"address" or "port") naming the culprit.

`RuleVars` holds the variables (suricata.yaml's defaults, overridable); `HeaderResolver`
parses and caches: a rule set uses a handful of distinct header fields, each parsed once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tocsin.detect.model import ADDR_MAX, V4_BASE, AddrSet, PortSet
from tocsin.detect.rules.errors import RuleError

# Suricata 8's suricata.yaml `vars:` defaults (a rule set or test without its own keeps these)
DEFAULT_ADDRESS_GROUPS: dict[str, str] = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_SERVERS": "$HOME_NET",
    "SMTP_SERVERS": "$HOME_NET",
    "SQL_SERVERS": "$HOME_NET",
    "DNS_SERVERS": "$HOME_NET",
    "TELNET_SERVERS": "$HOME_NET",
    "AIM_SERVERS": "$EXTERNAL_NET",
    "DC_SERVERS": "$HOME_NET",
    "DNP3_SERVER": "$HOME_NET",
    "DNP3_CLIENT": "$HOME_NET",
    "MODBUS_CLIENT": "$HOME_NET",
    "MODBUS_SERVER": "$HOME_NET",
    "ENIP_CLIENT": "$HOME_NET",
    "ENIP_SERVER": "$HOME_NET",
}
DEFAULT_PORT_GROUPS: dict[str, str] = {
    "HTTP_PORTS": "80",
    "SHELLCODE_PORTS": "!80",
    "ORACLE_PORTS": "1521",
    "SSH_PORTS": "22",
    "DNP3_PORTS": "20000",
    "MODBUS_PORTS": "502",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "FTP_PORTS": "21",
    "GENEVE_PORTS": "6081",
    "VXLAN_PORTS": "4789",
    "TEREDO_PORTS": "3544",
    "SIP_PORTS": "[5060,5061]",
}

_V4_MAX = V4_BASE | 0xFFFFFFFF
_MAX_DEPTH = 32

Intervals = list[tuple[int, int]]


@dataclass(frozen=True)
class RuleVars:
    """Address and port variables by name (without `$`). Defaults: suricata.yaml's."""

    address_groups: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ADDRESS_GROUPS))
    port_groups: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PORT_GROUPS))

    @classmethod
    def from_yaml_dict(cls, doc: Mapping[str, Any]) -> RuleVars:
        """The defaults overridden by a suricata.yaml document's `vars:` section
        (`address-groups`, `port-groups`); `doc` may also be the `vars:` mapping itself.
        `ValueError` when there is no such section or a value is not text or a number."""
        section = doc.get("vars", doc)
        if not isinstance(section, Mapping) or not (
            "address-groups" in section or "port-groups" in section
        ):
            raise ValueError("no 'vars:' section with 'address-groups' or 'port-groups'")
        addr = dict(DEFAULT_ADDRESS_GROUPS)
        ports = dict(DEFAULT_PORT_GROUPS)
        for key, target in (("address-groups", addr), ("port-groups", ports)):
            group = section.get(key) or {}
            if not isinstance(group, Mapping):
                raise ValueError(f"vars.{key} must be a mapping of NAME: value")
            for name, value in group.items():
                target[str(name)] = _var_text(key, str(name), value)
        return cls(addr, ports)


def _var_text(group: str, name: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"vars.{group}.{name}: expected an address or port, got {value!r}")
    if isinstance(value, (str, int)):
        return str(value).strip()
    if isinstance(value, list):
        return "[" + ",".join(_var_text(group, name, v) for v in value) + "]"
    raise ValueError(f"vars.{group}.{name}: expected an address or port, got {value!r}")


# --- interval arithmetic on sorted, disjoint, inclusive intervals ---------------------------


def _normalize(iv: Intervals) -> Intervals:
    if len(iv) <= 1:
        return iv
    iv = sorted(iv)
    out = [iv[0]]
    for lo, hi in iv[1:]:
        plo, phi = out[-1]
        if lo <= phi + 1:
            if hi > phi:
                out[-1] = (plo, hi)
        else:
            out.append((lo, hi))
    return out


def _subtract(a: Intervals, b: Intervals) -> Intervals:
    """a minus b (both normalized)."""
    out: Intervals = []
    j = 0
    for lo, hi in a:
        while j < len(b) and b[j][1] < lo:
            j += 1
        k = j
        cur = lo
        while k < len(b) and b[k][0] <= hi:
            blo, bhi = b[k]
            if blo > cur:
                out.append((cur, blo - 1))
            cur = max(cur, bhi + 1)
            k += 1
        if cur <= hi:
            out.append((cur, hi))
    return out


# --- atoms -----------------------------------------------------------------------------------


def _ip(text: str) -> tuple[int, bool]:
    """An address as (128-bit value, is IPv4)."""
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return V4_BASE | int(a), True
    return int(a), False


def _addr_atom(atom: str) -> Intervals:
    if atom.lower() == "any":
        return [(0, ADDR_MAX)]
    try:
        if "-" in atom:
            first, _, last = atom.partition("-")
            lo, v4a = _ip(first.strip())
            hi, v4b = _ip(last.strip())
            if v4a != v4b or lo > hi:
                raise ValueError
            return [(lo, hi)]
        if "/" in atom:
            net = ipaddress.ip_network(atom, strict=False)
            lo = int(net.network_address)
            hi = int(net.broadcast_address)
            if net.version == 4:
                return [(V4_BASE | lo, V4_BASE | hi)]
            return [(lo, hi)]
        v, _ = _ip(atom)
        return [(v, v)]
    except ValueError:
        raise RuleError(f"invalid address {atom!r}", "address") from None


def _port_atom(atom: str) -> Intervals:
    if atom.lower() == "any":
        return [(0, 65535)]
    lo_s, sep, hi_s = atom.partition(":")
    if not sep:
        hi_s = lo_s
    elif not lo_s and not hi_s:
        raise RuleError(f"invalid port {atom!r}", "port")
    lo_s = lo_s.strip() or "0"
    hi_s = hi_s.strip() or "65535"
    if not (lo_s.isdigit() and hi_s.isdigit()):
        raise RuleError(f"invalid port {atom!r}", "port")
    lo, hi = int(lo_s), int(hi_s)
    if hi > 65535 or lo > 65535:
        raise RuleError(f"port {atom!r} out of range (0-65535)", "port")
    if lo > hi:
        raise RuleError(f"invalid port range {atom!r}: {lo} > {hi}", "port")
    return [(lo, hi)]


# --- the expression parser --------------------------------------------------------------------


_Set = TypeVar("_Set", AddrSet, PortSet)


class _Grammar(Generic[_Set]):
    """One of the two spaces (addresses or ports): its full range, atoms and variables, and
    the set type (`AddrSet` / `PortSet`) a field gives."""

    def __init__(
        self,
        kind: str,
        full: int,
        atom: Any,
        variables: Mapping[str, str],
        make: type[_Set],
    ) -> None:
        self.kind = kind
        self.full: Intervals = [(0, full)]
        self.atom = atom
        self.variables = variables
        self.make: type[_Set] = make
        self.var_cache: dict[str, Intervals] = {}
        self.field_cache: dict[str, _Set | RuleError] = {}

    def field(self, text: str) -> _Set:
        """A header field as a set; each distinct text is parsed once (its error too)."""
        hit = self.field_cache.get(text)
        if hit is None:
            try:
                iv = self.evaluate(text)
                hit = self.make(tuple(lo for lo, _ in iv), tuple(hi for _, hi in iv))
            except RuleError as e:
                hit = e
            self.field_cache[text] = hit
        if isinstance(hit, RuleError):
            raise RuleError(hit.reason, hit.keyword)
        return hit

    def evaluate(self, text: str, stack: tuple[str, ...] = ()) -> Intervals:
        """A whole field (or variable value): a list, with or without brackets."""
        s = text.strip()
        if not s:
            raise RuleError(f"empty {self.kind}", self.kind)
        items, i = self._items(s, 0, stack, top=True)
        if i != len(s):
            raise RuleError(f"unbalanced brackets in {self.kind} {text!r}", self.kind)
        return self._combine(items, text)

    def _combine(self, items: list[tuple[bool, Intervals]], text: str) -> Intervals:
        pos: Intervals = []
        neg: Intervals = []
        has_pos = False
        for negated, iv in items:
            if negated:
                neg.extend(iv)
            else:
                has_pos = True
                pos.extend(iv)
        base = _normalize(pos) if has_pos else self.full
        out = _subtract(base, _normalize(neg)) if neg else base
        if not out:
            raise RuleError(
                f"{self.kind} {text.strip()!r} leaves nothing once negations are applied",
                self.kind,
            )
        return out

    def _items(
        self, s: str, i: int, stack: tuple[str, ...], top: bool
    ) -> tuple[list[tuple[bool, Intervals]], int]:
        items: list[tuple[bool, Intervals]] = []
        n = len(s)
        while True:
            negated, iv, i = self._item(s, i, stack)
            items.append((negated, iv))
            while i < n and s[i] in " \t":
                i += 1
            if i < n and s[i] == ",":
                i += 1
                continue
            if top or (i < n and s[i] == "]"):
                return items, i
            raise RuleError(f"{self.kind} list not closed with ']' in {s!r}", self.kind)

    def _item(self, s: str, i: int, stack: tuple[str, ...]) -> tuple[bool, Intervals, int]:
        n = len(s)
        negated = False
        while i < n and s[i] in " \t!":
            if s[i] == "!":
                negated = not negated
            i += 1
        if i >= n:
            raise RuleError(f"missing {self.kind} in {s!r}", self.kind)
        if s[i] == "[":
            items, i = self._items(s, i + 1, stack, top=False)
            return negated, self._combine(items, s), i + 1
        j = i
        while j < n and s[j] not in ",]":
            if s[j] == "[":
                raise RuleError(f"unexpected '[' in {self.kind} {s!r}", self.kind)
            j += 1
        token = s[i:j].strip()
        if not token:
            raise RuleError(f"empty item in {self.kind} {s!r}", self.kind)
        if token[0] == "$":
            return negated, self._variable(token[1:], stack), j
        return negated, self.atom(token), j

    def _variable(self, name: str, stack: tuple[str, ...]) -> Intervals:
        cached = self.var_cache.get(name)
        if cached is not None:
            return cached
        if name in stack:
            raise RuleError(f"variable ${name} refers to itself", self.kind)
        if len(stack) > _MAX_DEPTH:
            raise RuleError(f"variables nested too deep at ${name}", self.kind)
        value = self.variables.get(name)
        if value is None:
            raise RuleError(f"undefined variable ${name}", self.kind)
        iv = self.evaluate(value, (*stack, name))
        self.var_cache[name] = iv
        return iv


class HeaderResolver:
    """Parses rule header addresses and ports with `vars`, caching each distinct text."""

    def __init__(self, vars: RuleVars | None = None) -> None:
        v = vars if vars is not None else RuleVars()
        self._addr = _Grammar("address", ADDR_MAX, _addr_atom, v.address_groups, AddrSet)
        self._port = _Grammar("port", 65535, _port_atom, v.port_groups, PortSet)

    def address(self, text: str) -> AddrSet:
        return self._addr.field(text)

    def port(self, text: str) -> PortSet:
        return self._port.field(text)


def parse_address(text: str, vars: RuleVars | None = None) -> AddrSet:
    """One address field (no caching across calls: see `HeaderResolver`)."""
    return HeaderResolver(vars).address(text)


def parse_port(text: str, vars: RuleVars | None = None) -> PortSet:
    """One port field (no caching across calls: see `HeaderResolver`)."""
    return HeaderResolver(vars).port(text)
