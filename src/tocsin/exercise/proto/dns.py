"""DNS messages (RFC 1035) for generated traffic: queries, responses, UDP exchanges.

- `query(rng_or_txid, name, qtype)`: a recursive query (RD set), one question, optionally an
  EDNS OPT record (`edns`: the advertised UDP size). The transaction id is drawn from `rng`
  (16 bits) or given as an int.
- `response(query_bytes, answers, rcode)`: the answer to a query built here (or any query
  with one uncompressed question): same id and question, QR/RA set, RD copied, `aa` on
  request. `answers`, `authority` and `additional` are `Answer` tuples `(name, type, ttl,
  rdata)`; every name is compressed against the names already written (RFC 1035 4.1.4),
  except SRV targets (RFC 2782). When the query carried EDNS, the response does too.
- `exchange(rng, name, qtype, answers, rcode)`: `[client(query), server(response)]` for one
  UDP datagram each way (port 53). An NXDOMAIN without `authority` gets the zone's SOA, as
  a recursive resolver answers.

rdata by type: A / AAAA an address string; CNAME, NS, PTR a name; MX `(preference, name)` or
a name (preference 10); TXT a string, bytes, or a sequence of them (each split into
255-byte character-strings); NULL bytes; SRV `(priority, weight, port, target)`; SOA
`(mname, rname, serial, refresh, retry, expire, minimum)`.

Helpers for attack shapes: `tunnel_names(data, domain)` spreads bytes over query names as
base32 or hex labels (DNS tunnels and exfiltration), `reverse_name(ip)` gives a PTR name,
`dc_srv_name(domain)` the SRV name a Windows client asks to find a domain controller.

Errors: `ValueError` for a name that cannot be written (a label of 0 or more than 63 bytes,
a name over 255 bytes), an unknown type, or rdata of the wrong shape. Encoded names and
answer bodies are cached (`functools.lru_cache`, keyed by value): repeated look-ups only
patch the transaction id. The module keeps no other state and does no I/O.
"""

from __future__ import annotations

import base64
import functools
import random
import socket
import struct
from collections.abc import Sequence

from tocsin.exercise.wire.turns import Turn, client, server

QTYPES: dict[str, int] = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "NULL": 10, "PTR": 12, "MX": 15, "TXT": 16,
    "AAAA": 28, "SRV": 33, "ANY": 255,
}  # fmt: skip
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = range(6)

Answer = tuple[str, str, int, object]  # (owner name, type, ttl, rdata)

_HEADER = struct.Struct("!6H")
_RR = struct.Struct("!HHIH")  # type, class IN, ttl, rdlength
_QTAIL = struct.Struct("!HH")
_SRV = struct.Struct("!3H")
_SOA = struct.Struct("!5I")
_OPT = b"\x00\x00\x29%s\x00\x00\x00\x00\x00\x00"  # root, type OPT, UDP size, no flags, no rdata
_CLASS_IN = 1
_LABEL_MAX = 63
_NAME_MAX = 255  # encoded, root byte included


@functools.lru_cache(maxsize=65_536)
def _split(name: str) -> tuple[tuple[str, bytes], ...]:
    """Per label, (lower-case suffix from this label on, length-prefixed label bytes)."""
    name = name.rstrip(".")
    if not name:
        return ()
    raw = [lab.encode("idna") if not lab.isascii() else lab.encode() for lab in name.split(".")]
    size = 1
    out = []
    for i, lab in enumerate(raw):
        if not 0 < len(lab) <= _LABEL_MAX:
            raise ValueError(f"DNS label of {len(lab)} bytes in {name!r}")
        size += 1 + len(lab)
        out.append((b".".join(raw[i:]).lower().decode("latin-1"), bytes((len(lab),)) + lab))
    if size > _NAME_MAX:
        raise ValueError(f"DNS name of {size} bytes (at most {_NAME_MAX}): {name[:60]}...")
    return tuple(out)


@functools.lru_cache(maxsize=65_536)
def encode_name(name: str) -> bytes:
    """`name` in wire form, uncompressed (labels and the root byte)."""
    return b"".join(lab for _, lab in _split(name)) + b"\x00"


class _Writer:
    """A message body being written, with the offsets of the names already in it."""

    __slots__ = ("offsets", "parts", "size")

    def __init__(self, size: int) -> None:
        self.parts: list[bytes] = []
        self.size = size
        self.offsets: dict[str, int] = {}

    def add(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)

    def name(self, name: str, compress: bool = True) -> None:
        offsets, parts = self.offsets, self.parts
        for key, lab in _split(name):
            at = offsets.get(key)
            if at is not None and compress:
                parts.append(struct.pack("!H", 0xC000 | at))
                self.size += 2
                return
            if self.size < 0x4000 and at is None:
                offsets[key] = self.size
            parts.append(lab)
            self.size += len(lab)
        parts.append(b"\x00")
        self.size += 1

    def record(self, rr: Answer) -> None:
        owner, rtype, ttl, rdata = rr
        code = QTYPES.get(rtype)
        if code is None:
            raise ValueError(f"unknown DNS type {rtype!r}")
        self.name(owner)
        head = len(self.parts)
        self.parts.append(b"")  # the fixed part, written once rdata's length is known
        self.size += _RR.size
        start = self.size
        self._rdata(code, rdata)
        self.parts[head] = _RR.pack(code, _CLASS_IN, ttl, self.size - start)

    def _rdata(self, code: int, rdata: object) -> None:
        if code == 1 and isinstance(rdata, str):
            self.add(socket.inet_aton(rdata))
        elif code == 28 and isinstance(rdata, str):
            self.add(socket.inet_pton(socket.AF_INET6, rdata))
        elif code in (2, 5, 12) and isinstance(rdata, str):
            self.name(rdata)
        elif code == 15:
            pref, target = (10, rdata) if isinstance(rdata, str) else _pair(rdata)
            self.add(struct.pack("!H", pref))
            self.name(target)
        elif code == 16:
            self.add(_txt(rdata))
        elif code == 10 and isinstance(rdata, bytes):
            self.add(rdata)
        elif code == 33 and isinstance(rdata, tuple) and len(rdata) == 4:
            prio, weight, port, target = rdata
            self.add(_SRV.pack(prio, weight, port))
            self.name(str(target), compress=False)
        elif code == 6 and isinstance(rdata, tuple) and len(rdata) == 7:
            self.name(str(rdata[0]))
            self.name(str(rdata[1]))
            self.add(_SOA.pack(*rdata[2:]))
        else:
            raise ValueError(f"rdata {rdata!r} does not fit DNS type {code}")


def _pair(rdata: object) -> tuple[int, str]:
    if isinstance(rdata, tuple) and len(rdata) == 2:
        return int(rdata[0]), str(rdata[1])
    raise ValueError(f"MX rdata {rdata!r} is not (preference, name)")


def _txt(rdata: object) -> bytes:
    items = [rdata] if isinstance(rdata, str | bytes) else rdata
    if not isinstance(items, Sequence):
        raise ValueError(f"TXT rdata {rdata!r} is not text")
    out = []
    for item in items:
        raw = item.encode() if isinstance(item, str) else bytes(item)
        for i in range(0, max(len(raw), 1), 255):
            chunk = raw[i : i + 255]
            out.append(bytes((len(chunk),)) + chunk)
    return b"".join(out)


@functools.lru_cache(maxsize=65_536)
def _question(name: str, qtype: str, edns: int) -> bytes:
    code = QTYPES.get(qtype)
    if code is None:
        raise ValueError(f"unknown DNS query type {qtype!r}")
    q = encode_name(name) + _QTAIL.pack(code, _CLASS_IN)
    return q + (_OPT % struct.pack("!H", edns) if edns else b"")


def query(
    rng_or_txid: random.Random | int, name: str, qtype: str = "A", *, rd: bool = True, edns: int = 0
) -> bytes:
    """A query for `name`/`qtype` (`edns`: add an OPT record advertising that UDP size)."""
    txid = rng_or_txid if isinstance(rng_or_txid, int) else rng_or_txid.getrandbits(16)
    flags = 0x0100 if rd else 0
    return _HEADER.pack(txid, flags, 1, 0, 0, 1 if edns else 0) + _question(name, qtype, edns)


def _parse_question(body: bytes) -> tuple[str, int, int]:
    """(name, length, EDNS UDP size or 0) of the question at the start of `body` (a query
    after its header), and of the OPT record right after it if there is one."""
    pos = 0
    labels = []
    while body[pos]:
        n = body[pos]
        if n > _LABEL_MAX:
            raise ValueError("query question is compressed or malformed")
        labels.append(body[pos + 1 : pos + 1 + n].decode("latin-1"))
        pos += 1 + n
    end = pos + 5
    edns = 0
    if len(body) >= end + 11 and body[end : end + 3] == b"\x00\x00\x29":
        edns = struct.unpack_from("!H", body, end + 3)[0]
    return ".".join(labels), end, edns


def response(
    query_bytes: bytes,
    answers: Sequence[Answer] = (),
    rcode: int = NOERROR,
    *,
    authority: Sequence[Answer] = (),
    additional: Sequence[Answer] = (),
    aa: bool = False,
) -> bytes:
    """The response to `query_bytes` (see the module docstring)."""
    txid, qflags = struct.unpack_from("!HH", query_bytes)
    key = (query_bytes[12:], tuple(answers), rcode, tuple(authority), tuple(additional), aa)
    try:
        tail = _response_tail(*key, qflags & 0x0100)
    except TypeError:  # unhashable rdata (a list of TXT strings): build without the cache
        tail = _response_tail.__wrapped__(*key, qflags & 0x0100)
    return struct.pack("!H", txid) + tail


@functools.lru_cache(maxsize=16_384)
def _response_tail(
    question: bytes,
    answers: tuple[Answer, ...],
    rcode: int,
    authority: tuple[Answer, ...],
    additional: tuple[Answer, ...],
    aa: bool,
    rd: int,
) -> bytes:
    """Everything of a response after its id."""
    qname, qend, edns = _parse_question(question)
    w = _Writer(12)
    for key, lab in _split(qname):
        w.offsets[key] = w.size
        w.size += len(lab)
    w.size = 12
    w.add(question[:qend])
    for rr in answers:
        w.record(rr)
    for rr in authority:
        w.record(rr)
    for rr in additional:
        w.record(rr)
    if edns:
        w.add(_OPT % struct.pack("!H", max(edns, 1232)))
    flags = 0x8080 | rd | (0x0400 if aa else 0) | (rcode & 0xF)
    counts = struct.pack(
        "!5H", flags, 1, len(answers), len(authority), len(additional) + (1 if edns else 0)
    )
    return counts + b"".join(w.parts)


def soa_record(name: str, ttl: int = 900) -> Answer:
    """The SOA a resolver returns in the authority section of an NXDOMAIN for `name`: the
    zone is the name's last two labels (the registered domain, roughly)."""
    zone = ".".join(name.rstrip(".").split(".")[-2:])
    rdata = (f"ns1.{zone}", f"hostmaster.{zone}", 2024010101, 3600, 600, 1_209_600, 900)
    return (zone, "SOA", ttl, rdata)


def exchange(
    rng: random.Random,
    name: str,
    qtype: str = "A",
    answers: Sequence[Answer] = (),
    rcode: int = NOERROR,
    *,
    authority: Sequence[Answer] | None = None,
    additional: Sequence[Answer] = (),
    edns: int = 0,
    aa: bool = False,
    server_s: float = 0.0,
) -> list[Turn]:
    """One UDP look-up: the query, then (after `server_s`) its response."""
    q = query(rng, name, qtype, edns=edns)
    if authority is None:
        authority = (soa_record(name),) if rcode == NXDOMAIN and not answers else ()
    r = response(q, answers, rcode, authority=authority, additional=additional, aa=aa)
    return [client(q), server(r, server_s)]


def reverse_name(ip: str) -> str:
    """The PTR query name of an IPv4 or IPv6 address."""
    if ":" in ip:
        nibbles = socket.inet_pton(socket.AF_INET6, ip).hex()
        return ".".join(reversed(nibbles)) + ".ip6.arpa"
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def dc_srv_name(domain: str, site: str | None = None) -> str:
    """The SRV name a Windows client looks up to find a domain controller (of a site)."""
    if site:
        return f"_ldap._tcp.{site}._sites.dc._msdcs.{domain}"
    return f"_ldap._tcp.dc._msdcs.{domain}"


def tunnel_names(
    data: bytes, domain: str, *, encoding: str = "base32", label_len: int = 63
) -> list[str]:
    """`data` carried in query names under `domain`, in order: each name holds as many
    encoded characters as fit in 253 (labels of `label_len`), base32 (lower case, no
    padding: iodine, dnscat2 over base32) or hex (dnscat2). Empty data gives no name."""
    if encoding == "base32":
        text = base64.b32encode(data).decode("ascii").rstrip("=").lower()
    elif encoding == "hex":
        text = data.hex()
    else:
        raise ValueError(f"unknown tunnel encoding {encoding!r}")
    if not 0 < label_len <= _LABEL_MAX:
        raise ValueError(f"label length {label_len} is not in 1..63")
    room = 253 - len(domain.rstrip(".")) - 1
    per_name = room - room // (label_len + 1)  # characters, one dot per label
    if per_name <= 0:
        raise ValueError(f"no room for data under {domain!r}")
    names = []
    for i in range(0, len(text), per_name):
        chunk = text[i : i + per_name]
        labs = [chunk[j : j + label_len] for j in range(0, len(chunk), label_len)]
        names.append(".".join([*labs, domain.rstrip(".")]))
    return names
