"""DNS wire format (RFC 1035) to the `dns` EVE body, read and written the way Suricata 8 does.

`decode(msg, tx_id, max_items)` turns one DNS message (a UDP payload, or a TCP message without
its 2-byte length prefix) into a `DnsInfo`, or raises `ParseError`. Pure function: no state.

What Suricata's parser accepts, this accepts, and it writes the same values:

- header checks first (`header_error`, Suricata's `probe_header_validity`);
- names as `wire.read_name` reads them (compression, loops, 1025-byte cut, case kept);
- questions and answers must parse whole; authorities that do not parse are dropped, and the
  additionals with them; additionals that do not parse are dropped; bytes after the last record
  are ignored;
- rdata: A/AAAA as an address (AAAA as 8 groups of 4 lowercase hex digits, not compressed, as
  Suricata 8 writes it; rdata of another length gives ""); CNAME, NS, PTR and MX (the name,
  without the preference) as a name; TXT one entry per string; NULL as text; SOA, SRV, SSHFP
  as objects; OPT as its options (hex data; an OPT without options is not logged); every other
  type (HINFO, CAA, HTTPS, SVCB, DS...) with rrname, rrtype and ttl only. An empty rdata gives
  an entry without data instead of an error (RFC 2136 updates);
- rrtype: Suricata's mnemonic, or the number as a string for types it does not name (CAA is
  "257", SVCB "64"); rcode: the name of the 4-bit code, or its number for 11-15;
- each section keeps the fields the EVE schema allows there (no `srv` in authorities, no
  truncation flags in answers...).

Where this differs from Suricata: a message whose names need more than the `wire.Names` work
bound (compression loops repeated through thousands of pointers) is a `ParseError`.

Bounds: every list (queries, answers, authorities, additionals, each `grouped` list) keeps at
most `max_items` entries; the records past them are still walked, to find the next section.
"""

from __future__ import annotations

import struct
from typing import Any

from tocsin.applayer.base import ParseError
from tocsin.applayer.dns.wire import Names, address, read_name, text
from tocsin.model.dns import (
    DnsAdditional,
    DnsAnswer,
    DnsAuthority,
    DnsGrouped,
    DnsInfo,
    DnsOpt,
    DnsQuery,
    DnsSoa,
    DnsSrv,
    DnsSshfp,
)

RRTYPES: dict[int, str] = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR",
    10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 19: "X25", 20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAPPTR", 24: "SIG",
    25: "KEY", 26: "PX", 27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 33: "SRV", 34: "ATMA",
    35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS",
    44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID",
    50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 55: "HIP", 59: "CDS", 60: "CDNSKEY",
    65: "HTTPS", 99: "SPF", 249: "TKEY", 250: "TSIG", 254: "MAILA", 255: "ANY", 256: "URI",
}  # fmt: skip

RCODES = (
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "11", "12", "13", "14", "15",
)  # fmt: skip

_HEADER = struct.Struct("!6H")
_COUNTS = struct.Struct("!5H")  # flags and the 4 counts
_RR = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_SOA = struct.Struct("!5I")
_SRV = struct.Struct("!3H")
_OPTION = struct.Struct("!HH")
_NAME_TYPES = frozenset((2, 5, 12))  # NS, CNAME, PTR
_ADDR_TYPES = frozenset((1, 28))  # A, AAAA
_TEXT_GROUPS = _NAME_TYPES | _ADDR_TYPES | {10, 15}  # grouped as strings: + NULL, MX

# What an RR's rdata decodes to: (rdata text, rdata name cut, TXT strings, structured value).
_Obj = DnsSoa | DnsSrv | DnsSshfp | list[DnsOpt] | None
_Rdata = tuple[str | None, bool, list[str] | None, _Obj]
_NO_RDATA: _Rdata = (None, False, None, None)


def rrtype_name(rrtype: int) -> str:
    return RRTYPES.get(rrtype) or str(rrtype)


def header_error(header: bytes, size: int) -> str | None:
    """Why a message of `size` bytes with this 12-byte header is not DNS, or None: Suricata's
    `probe_header_validity` (2 bytes at least per announced record, nothing after a header
    that announces no record, a request asks a question)."""
    flags, qdcount, ancount, nscount, arcount = _COUNTS.unpack_from(header, 2)
    records = qdcount + ancount + nscount + arcount
    if 2 * records > size:
        return f"DNS header announces {records} records in {size} bytes"
    if records == 0 and size > 12:
        return "DNS header announces no record but the message goes on"
    if not flags & 0x8000 and qdcount == 0:
        return "DNS request without a question"
    return None


def _rdata(msg: bytes, pos: int, end: int, rrtype: int, seen: Names) -> _Rdata:
    """Decode the rdata in msg[pos:end] of a record of type `rrtype`."""
    if rrtype in _ADDR_TYPES:
        return address(msg[pos:end]), False, None, None
    if rrtype in _NAME_TYPES:
        name, cut, _ = read_name(msg, pos, end, seen)
        return text(name), cut, None, None
    if rrtype == 16:  # TXT: length-prefixed strings
        strings: list[str] = []
        while pos < end:
            nxt = pos + 1 + msg[pos]
            if nxt > end:
                raise ParseError("DNS TXT string runs past its rdata")
            strings.append(text(msg[pos + 1 : nxt]))
            pos = nxt
        return None, False, strings, None
    if rrtype == 10:  # NULL
        return text(msg[pos:end]), False, None, None
    if rrtype == 41:  # OPT: EDNS options
        options: list[DnsOpt] = []
        while pos < end:
            if pos + 4 > end:
                raise ParseError("DNS EDNS option cut short")
            code, length = _OPTION.unpack_from(msg, pos)
            nxt = pos + 4 + length
            if nxt > end:
                raise ParseError("DNS EDNS option runs past its rdata")
            options.append(DnsOpt(code=code, data=msg[pos + 4 : nxt].hex()))
            pos = nxt
        return None, False, None, options
    if pos == end:
        return _NO_RDATA
    if rrtype == 15:  # MX: preference, exchange
        if end - pos < 2:
            raise ParseError("DNS MX rdata cut short")
        name, cut, _ = read_name(msg, pos + 2, end, seen)
        return text(name), cut, None, None
    if rrtype == 6:  # SOA
        mname, mcut, p = read_name(msg, pos, end, seen)
        rname, _, p = read_name(msg, p, end, seen)
        if p + 20 > end:
            raise ParseError("DNS SOA rdata cut short")
        serial, refresh, retry, expire, minimum = _SOA.unpack_from(msg, p)
        soa = DnsSoa(
            mname=text(mname),
            mname_truncated=True if mcut else None,
            rname=text(rname),
            serial=serial,
            refresh=refresh,
            retry=retry,
            expire=expire,
            minimum=minimum,
        )
        return None, False, None, soa
    if rrtype == 33:  # SRV
        if end - pos < 6:
            raise ParseError("DNS SRV rdata cut short")
        priority, weight, port = _SRV.unpack_from(msg, pos)
        target, _, _ = read_name(msg, pos + 6, end, seen)
        srv = DnsSrv(priority=priority, weight=weight, port=port, name=text(target))
        return None, False, None, srv
    if rrtype == 44:  # SSHFP
        if end - pos < 2:
            raise ParseError("DNS SSHFP rdata cut short")
        fp = msg[pos + 2 : end].hex(":")
        return None, False, None, DnsSshfp(fingerprint=fp, algo=msg[pos], type=msg[pos + 1])
    return _NO_RDATA


def _records(
    msg: bytes,
    pos: int,
    count: int,
    kind: int,
    max_items: int,
    groups: dict[str, list[Any]],
    seen: Names,
) -> tuple[list[Any], int]:
    """`count` resource records from `pos`, as entries of section `kind` (0 answers,
    1 authorities, 2 additionals); answers also fill `groups`. Returns (entries, next pos)."""
    n = len(msg)
    out: list[Any] = []
    for _ in range(count):
        raw, name_cut, pos = read_name(msg, pos, n, seen)
        if pos + 10 > n:
            raise ParseError("DNS resource record cut short")
        rrtype, _, ttl, rdlen = _RR.unpack_from(msg, pos)
        pos += 10
        end = pos + rdlen
        if end > n:
            raise ParseError("DNS rdata runs past the end of the message")
        rdata, cut, strings, obj = _rdata(msg, pos, end, rrtype, seen)
        pos = end
        tname = rrtype_name(rrtype)
        if kind == 0:
            _group(groups, tname, rrtype, rdata, strings, obj, max_items)
        room = max_items - len(out)
        if room <= 0:
            continue  # keep walking, to find the next section
        rrname = text(raw)
        datas = strings if strings is not None else (rdata,)
        if kind == 0:
            soa = obj if isinstance(obj, DnsSoa) else None
            srv = obj if isinstance(obj, DnsSrv) else None
            sshfp = obj if isinstance(obj, DnsSshfp) else None
            out.extend(
                DnsAnswer(
                    rrname=rrname, rrtype=tname, ttl=ttl, rdata=r, soa=soa, srv=srv, sshfp=sshfp
                )
                for r in datas[:room]
            )
        elif kind == 1:
            soa = obj if isinstance(obj, DnsSoa) else None
            out.extend(
                DnsAuthority(
                    rrname=rrname,
                    rrname_truncated=True if name_cut else None,
                    rrtype=tname,
                    ttl=ttl,
                    rdata=r,
                    rdata_truncated=True if cut else None,
                    soa=soa,
                )
                for r in datas[:room]
            )
        elif isinstance(obj, list):
            if obj:  # an OPT record without options is not logged
                out.append(DnsAdditional(rrname=rrname, rrtype=tname, ttl=ttl, opt=obj))
        else:
            out.extend(
                DnsAdditional(rrname=rrname, rrtype=tname, ttl=ttl, rdata=r) for r in datas[:room]
            )
    return out, pos


def _group(
    groups: dict[str, list[Any]],
    tname: str,
    rrtype: int,
    rdata: str | None,
    strings: list[str] | None,
    obj: _Obj,
    max_items: int,
) -> None:
    """Add an answer's data to Suricata's `grouped` lists (types the schema knows)."""
    if strings is not None:
        values: list[Any] = strings
    elif rdata is not None and rrtype in _TEXT_GROUPS:
        values = [rdata]
    elif isinstance(obj, DnsSoa | DnsSrv | DnsSshfp):
        values = [obj]
    else:
        return
    if not values:
        return
    lst = groups.setdefault(tname, [])
    room = max_items - len(lst)
    if room > 0:
        lst.extend(values[:room])


def decode(msg: bytes, tx_id: int, max_items: int) -> DnsInfo:
    """One DNS message as a `DnsInfo` numbered `tx_id`, or `ParseError`."""
    try:
        return _decode(msg, tx_id, max_items)
    except (IndexError, struct.error, ValueError) as exc:  # defensive: bounds are checked
        raise ParseError(f"malformed DNS message: {exc}") from exc


def _decode(msg: bytes, tx_id: int, max_items: int) -> DnsInfo:
    n = len(msg)
    if n < 12:
        raise ParseError(f"DNS message of {n} bytes is shorter than its header")
    why = header_error(msg, n)
    if why is not None:
        raise ParseError(why)
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(msg)
    response = bool(flags & 0x8000)

    seen = Names(n)
    queries: list[DnsQuery] = []
    pos = 12
    for _ in range(qdcount):
        raw, cut, pos = read_name(msg, pos, n, seen)
        if pos + 4 > n:
            raise ParseError("DNS question cut short")
        if len(queries) < max_items:
            rrtype = (msg[pos] << 8) | msg[pos + 1]
            queries.append(
                DnsQuery(
                    rrname=text(raw),
                    rrtype=rrtype_name(rrtype),
                    rrname_truncated=True if cut else None,
                )
            )
        pos += 4

    groups: dict[str, list[Any]] = {}
    answers, pos = _records(msg, pos, ancount, 0, max_items, groups, seen)
    authorities: list[Any] = []
    additionals: list[Any] = []
    try:
        authorities, pos = _records(msg, pos, nscount, 1, max_items, groups, seen)
    except ParseError:
        authorities = []  # Suricata: invalid authorities, additionals not read
    else:
        try:
            additionals, _ = _records(msg, pos, arcount, 2, max_items, groups, seen)
        except ParseError:
            additionals = []

    return DnsInfo(
        version=3,
        type="response" if response else "request",
        tx_id=tx_id,
        id=ident,
        flags=format(flags, "x"),
        qr=True if response else None,
        aa=True if flags & 0x0400 else None,
        tc=True if flags & 0x0200 else None,
        rd=True if flags & 0x0100 else None,
        ra=True if flags & 0x0080 else None,
        z=True if flags & 0x0040 else None,
        opcode=(flags >> 11) & 0xF,
        rcode=RCODES[flags & 0xF],
        queries=queries or None,
        answers=answers or None,
        grouped=DnsGrouped(**groups) if groups else None,
        authorities=authorities or None,
        additionals=additionals or None,
    )
