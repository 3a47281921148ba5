"""Zeek logs to EVE events, so that a site running Zeek shows up like a Tocsin or Suricata sensor.

Two pure stages, bytes in and dicts out, no I/O:

- `ZeekLineReader.feed(line)` takes the lines of one log file in order, Zeek TSV (``#`` header
  lines set the separator, fields and types; values are typed: time/interval/double -> float,
  count/int/port -> int, bool -> bool, set/vector -> list; ``-`` unset fields are left out,
  ``(empty)`` gives ``""`` or ``[]``; ``\\xNN`` and ``\\\\`` escapes undone) or Zeek JSON (one
  object per line, ``LogAscii::use_json=T``), and returns one record dict per data line (keys as
  Zeek names them, ``id.orig_h``...), None for header lines. A line it cannot read is counted in
  `errors` and skipped; a value that does not parse as its type is left out and counted in
  `bad_values`. It never raises.
- `zeek_to_eve(log, record)` maps a record of a mapped log (`MAPPED_LOGS`) to an EVE event with
  Suricata's field names, or None (unmapped log, no usable ``ts``). Odd values are left out, never
  raised on. Every event has ``pkt_src: "zeek"`` and ``zeek: {"log", "uid"?, "fuid"?, ...}``:
  Zeek's ids and the few Zeek facts Suricata's schema has no field for (conn_state, history,
  cipher, addl...). ``zeek`` is the one top-level key outside Suricata's EVE schema.

What is not mapped: other logs (x509, smtp, ssh, smb_*...), conn's tunnel_parents and local_*,
dns' rtt/qclass/rejected, the per-answer owner name and type of DNS answers (Zeek does not log
them: ``rrname`` is the query, ``rrtype`` is set only where the rdata tells it), ssl's certificate
chain fingerprints (Zeek's are SHA-256 of the whole cert; Suricata's is SHA-1), notice actions
and geo fields. Timestamps are written in UTC (``+0000``).
"""

from __future__ import annotations

import ipaddress
import math
import re
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tocsin.capture.zeek_log import MAPPED_LOGS, ZeekLineReader, zeek_log_name

__all__ = ["MAPPED_LOGS", "ZeekLineReader", "eve_time", "zeek_log_name", "zeek_to_eve"]

# -- value access (records are untrusted: any key may be missing or of any type) --------------


def _get(rec: dict[str, Any], key: str) -> Any:
    """``rec["id.orig_h"]``, or ``rec["id"]["orig_h"]`` for logs written with nested records."""
    if key in rec:
        return rec[key]
    head, _, rest = key.partition(".")
    sub = rec.get(head)
    return sub.get(rest) if rest and isinstance(sub, dict) else None


def _str(rec: dict[str, Any], key: str) -> str | None:
    v = _get(rec, key)
    return v if isinstance(v, str) and v else None


def _num(rec: dict[str, Any], key: str) -> float | None:
    v = _get(rec, key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) else None


def _int(rec: dict[str, Any], key: str, lo: int = 0, hi: int = 2**63 - 1) -> int | None:
    v = _num(rec, key)
    return int(v) if v is not None and lo <= v <= hi else None


def _bool(rec: dict[str, Any], key: str) -> bool | None:
    v = _get(rec, key)
    return v if isinstance(v, bool) else None


def _strs(rec: dict[str, Any], key: str) -> list[str]:
    v = _get(rec, key)
    if isinstance(v, str):
        v = [v]
    return [e for e in v if isinstance(e, str) and e] if isinstance(v, list) else []


def _epoch(v: Any) -> float | None:
    """Zeek's ``ts``: epoch seconds (number or string), or ISO 8601 (``JSON::TS_ISO8601``)."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            try:
                return datetime.fromisoformat(v).timestamp()
            except ValueError:
                return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def eve_time(t: float) -> str | None:
    """``2010-07-04T20:24:17.743110+0000`` for epoch seconds `t`; None outside years 1970-9999."""
    if not (math.isfinite(t) and 0 <= t < 253402300800):
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def _put(d: dict[str, Any], key: str, value: Any) -> None:
    if value is not None and value != [] and value != {}:
        d[key] = value


_GETTERS: dict[str, Callable[[dict[str, Any], str], Any]] = {"s": _str, "i": _int, "b": _bool}
Spec = list[tuple[str, str, Callable[[dict[str, Any], str], Any]]]


def _spec(text: str) -> Spec:
    """``"eve_key=zeek_key:kind ..."`` (kind s/i/b: string, count, bool) as copy steps."""
    out: Spec = []
    for item in text.split():
        eve_key, _, rest = item.partition("=")
        zeek_key, _, kind = rest.rpartition(":")
        out.append((eve_key, zeek_key, _GETTERS[kind]))
    return out


def _copy(d: dict[str, Any], rec: dict[str, Any], spec: Spec) -> dict[str, Any]:
    for eve_key, zeek_key, get in spec:
        _put(d, eve_key, get(rec, zeek_key))
    return d


# -- mapping ---------------------------------------------------------------------------------

_APP_ALIAS = {"ssl": "tls", "dce_rpc": "dcerpc", "krb": "krb5", "krb_tcp": "krb5"}
_CONN_STATE = {
    **dict.fromkeys(("S0", "SH", "SHR", "OTH"), "new"),
    **dict.fromkeys(("S1", "S2", "S3"), "established"),
    **dict.fromkeys(("SF", "REJ", "RSTO", "RSTR", "RSTOS0", "RSTRH"), "closed"),
}
_PACKET_ANALYZERS = (  # Zeek's packet analyzers: a weird raised there is a decoding anomaly
    "ETHERNET VLAN VNTAG MPLS PPPOE PPP_SERIAL NULL LINUXSLL LINUXSLL2 IEEE802_11 PBB ROOT LLC "
    "IEEE802_11_RADIO NFLOG FDDI SKIP SNAP NOVELL_802_3 ARP IP IPV4 IPV6 IPTUNNEL GRE GENEVE VXLAN "
    "TEREDO AYIYA GTPV1 ICMP IGMP UDP"
)
_DECODE_SOURCES = frozenset(_PACKET_ANALYZERS.split())
_SUPPORT_ANALYZERS = frozenset({"CONTENTLINE", "ZIP", "PIA_TCP", "PIA_UDP"})
_TCP_WEIRD = re.compile(r"TCP|SYN|FIN|RST|seq|window|established|above_hole|split_routing", re.I)
_TLS_VERSION = re.compile(r"(D?TLS)v1(\d)")
# rdata Zeek writes with its type in front ("TXT 14 v=spf1 -all", "RRSIG 5 cmu.edu", "LOC: ...")
_TYPED_RDATA = re.compile(r"(TXT|SPF|DS|RRSIG|DNSKEY|NSEC|NSEC3|SSHFP|LOC|CAA):? (.*)", re.S)
_TXT_LEN = re.compile(r"\A\d+ ")

_FLOW = _spec("pkts_toserver=orig_pkts:i pkts_toclient=resp_pkts:i")
_CONN_Z = _spec("conn_state=conn_state:s history=history:s")
_DNS_FLAGS = _spec("aa=AA:b tc=TC:b rd=RD:b ra=RA:b")
_HTTP = _spec(
    "url=uri:s http_user_agent=user_agent:s http_refer=referrer:s http_method=method:s "
    "status=status_code:i length=response_body_len:i"
)
_TLS = _spec("subject=subject:s issuerdn=issuer:s session_resumed=resumed:b sni=server_name:s")
_TLS_CLIENT = _spec("subject=client_subject:s issuerdn=client_issuer:s")
_TLS_Z = _spec("cipher=cipher:s established=established:b")
_FILE = _spec("filename=filename:s magic=mime_type:s md5=md5:s sha1=sha1:s sha256=sha256:s")
_NOTICE_ADDR = _spec("src_ip=src:s dest_ip=dst:s")
_NOTICE_Z = _spec("sub=sub:s")
_WEIRD_Z = _spec("addl=addl:s source=source:s")


def _app(name: str | None) -> str | None:
    """Suricata's app_proto for a Zeek service or analyzer name (the first of a list)."""
    first = (name or "").split(",")[0].strip().lstrip("-").lower().replace("_data", "-data")
    return _APP_ALIAS.get(first, first) or None


def _base(rec: dict[str, Any], event_type: str, stamp: str) -> dict[str, Any]:
    """timestamp, event_type, addresses, ports (ICMP: type and code) and proto of `rec`."""
    ev: dict[str, Any] = {"timestamp": stamp, "event_type": event_type}
    src, dst = _str(rec, "id.orig_h"), _str(rec, "id.resp_h")
    sport, dport = _int(rec, "id.orig_p", hi=65535), _int(rec, "id.resp_p", hi=65535)
    proto = (_str(rec, "proto") or "").upper()
    icmp = proto == "ICMP"
    if icmp and ":" in (src or dst or ""):
        proto = "IPv6-ICMP"
    _put(ev, "src_ip", src)
    _put(ev, "src_port", None if icmp else sport)
    _put(ev, "dest_ip", dst)
    _put(ev, "dest_port", None if icmp else dport)
    _put(ev, "proto", proto if proto in ("TCP", "UDP", "ICMP", "IPv6-ICMP") else None)
    if icmp:
        _put(ev, "icmp_type", sport)
        _put(ev, "icmp_code", dport)
    return ev


def _conn(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    _put(ev, "app_proto", _app(_str(rec, "service")))
    dur = max(_num(rec, "duration") or 0.0, 0.0)
    flow = _copy({}, rec, _FLOW)
    _put(flow, "bytes_toserver", _int(rec, "orig_ip_bytes") or _int(rec, "orig_bytes"))
    _put(flow, "bytes_toclient", _int(rec, "resp_ip_bytes") or _int(rec, "resp_bytes"))
    flow.update(start=ev["timestamp"], end=eve_time(ts + dur) or ev["timestamp"], age=int(dur))
    _put(flow, "state", _CONN_STATE.get(_str(rec, "conn_state") or ""))
    ev["flow"] = flow
    _copy(z, rec, _CONN_Z)


def _dns_answer(rdata: str, rrname: str | None, ttl: Any) -> dict[str, Any]:
    ans: dict[str, Any] = {}
    _put(ans, "rrname", rrname)
    try:
        ans["rrtype"] = "A" if ipaddress.ip_address(rdata).version == 4 else "AAAA"
    except ValueError:
        if m := _TYPED_RDATA.fullmatch(rdata):
            ans["rrtype"] = m.group(1)
            if m.group(1) in ("TXT", "SPF"):  # Zeek's "TXT <length> <text>": keep the text
                rdata = _TXT_LEN.sub("", m.group(2), count=1)
    _put(ans, "ttl", _int({"t": ttl}, "t", hi=2**32 - 1))
    ans["rdata"] = rdata
    return ans


def _dns(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    answers, rcode, query = _strs(rec, "answers"), _str(rec, "rcode_name"), _str(rec, "query")
    answer = bool(answers) or rcode is not None  # an rcode: the response was seen (NXDOMAIN...)
    dns: dict[str, Any] = {"version": 2, "type": "answer" if answer else "query"}
    _put(dns, "id", _int(rec, "trans_id", hi=65535))
    _put(dns, "rrname", query)
    qtype = _str(rec, "qtype_name")
    _put(dns, "rrtype", "ANY" if qtype == "*" else qtype)
    _put(dns, "opcode", _int(rec, "opcode", hi=15))
    if answer:
        dns["qr"] = True
        _copy(dns, rec, _DNS_FLAGS)
        _put(dns, "rcode", rcode)
        ttls = _get(rec, "TTLs")
        ttls = ttls if isinstance(ttls, list) else []
        ttls += [None] * (len(answers) - len(ttls))
        _put(
            dns, "answers", [_dns_answer(a, query, t) for a, t in zip(answers, ttls, strict=False)]
        )
    ev["dns"] = dns


def _http(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    ev.setdefault("proto", "TCP")
    depth = _int(rec, "trans_depth", lo=1)
    _put(ev, "tx_id", None if depth is None else depth - 1)
    http: dict[str, Any] = {}
    host = _str(rec, "host")
    if host and host.count(":") == 1 and host.rpartition(":")[2].isdigit():
        host, _, port = host.rpartition(":")
        _put(http, "http_port", _int({"p": int(port)}, "p", hi=65535))
    _put(http, "hostname", host)
    _copy(http, rec, _HTTP)
    ctype = _strs(rec, "resp_mime_types")
    _put(http, "http_content_type", ctype[0] if ctype else None)
    version = _str(rec, "version")
    _put(http, "protocol", f"HTTP/{version}" if version else None)
    ev["http"] = http


def _ssl(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    tls = _copy({}, rec, _TLS)
    version = _str(rec, "version")
    m = _TLS_VERSION.fullmatch(version or "")
    _put(tls, "version", f"{m.group(1)} 1.{m.group(2)}" if m else version)
    for key in ("ja3", "ja3s"):
        h = _str(rec, key)
        _put(tls, key, {"hash": h} if h else None)
    _put(tls, "ja4", _str(rec, "ja4"))
    alpn = _str(rec, "next_protocol")
    _put(tls, "server_alpns", [alpn] if alpn else None)
    _put(tls, "client", _copy({}, rec, _TLS_CLIENT))
    ev["tls"] = tls
    _copy(z, rec, _TLS_Z)


def _files(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    for key, hosts in (("src_ip", "tx_hosts"), ("dest_ip", "rx_hosts")):  # Zeek < 5: no id.*
        found = _strs(rec, hosts)
        if key not in ev and len(found) == 1:
            ev[key] = found[0]
    _put(ev, "app_proto", _app(_str(rec, "source")))
    fi = _copy({}, rec, _FILE)
    missing = _int(rec, "missing_bytes")
    _put(fi, "gaps", None if missing is None else missing > 0)
    seen, total = _int(rec, "seen_bytes"), _int(rec, "total_bytes")
    cut = _bool(rec, "timedout") or (missing or 0) > 0 or (seen or 0) < (total or 0)
    fi["state"] = "TRUNCATED" if cut else "CLOSED"
    _put(fi, "stored", True if _str(rec, "extracted") else None)
    _put(fi, "size", seen if seen is not None else total)
    ev["fileinfo"] = fi
    uids = _strs(rec, "conn_uids")
    if "uid" not in z and len(uids) == 1:
        z["uid"] = uids[0]
    _put(z, "fuid", _str(rec, "fuid"))


def _notice(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    _copy(ev, rec, _NOTICE_ADDR)  # the notice's own src/dst win over the connection's
    _put(ev, "dest_port", _int(rec, "p", hi=65535))
    note = _str(rec, "note") or "unknown"
    msg = _str(rec, "msg")
    ev["alert"] = {
        "action": "allowed",
        "gid": 3,
        "signature_id": 3_000_000 + zlib.crc32(note.encode()) % 1_000_000,
        "rev": 1,
        "signature": f"ZEEK {note}: {msg}" if msg else f"ZEEK {note}",
        "category": "Zeek notice",
        "severity": 2,
    }
    z["note"] = note
    _copy(z, rec, _NOTICE_Z)


def _weird(rec: dict[str, Any], ev: dict[str, Any], ts: float, z: dict[str, Any]) -> None:
    name = _str(rec, "name") or "unknown"
    source = _str(rec, "source")  # the analyzer that raised it (Zeek >= 6)
    an: dict[str, Any] = {}
    if source is not None:
        up = source.upper()
        kind = "stream" if up == "TCP" else "decode" if up in _DECODE_SOURCES else "applayer"
        if kind == "applayer" and up not in _SUPPORT_ANALYZERS:
            _put(an, "app_proto", _app(source))
    elif _TCP_WEIRD.search(name):
        kind = "stream"
    else:
        kind = "applayer" if "uid" in z else "decode"
    an.update(type=kind, event=name, layer="zeek")
    ev["anomaly"] = an
    _copy(z, rec, _WEIRD_Z)


_MAPPERS = {
    "conn": ("flow", _conn),
    "dns": ("dns", _dns),
    "http": ("http", _http),
    "ssl": ("tls", _ssl),
    "files": ("fileinfo", _files),
    "notice": ("alert", _notice),
    "weird": ("anomaly", _weird),
}


def zeek_to_eve(log: str, rec: dict[str, Any]) -> dict[str, Any] | None:
    """The EVE event of record `rec` of Zeek log `log` ("conn", "dns"...; see `MAPPED_LOGS`), or
    None when the log is not mapped or the record has no usable ``ts``. Never raises on values."""
    mapper = _MAPPERS.get(log)
    ts = _epoch(_get(rec, "ts"))
    stamp = None if ts is None else eve_time(ts)
    if mapper is None or ts is None or stamp is None:
        return None
    event_type, fill = mapper
    ev = _base(rec, event_type, stamp)
    z: dict[str, Any] = {"log": log}
    _put(z, "uid", _str(rec, "uid"))
    fill(rec, ev, ts, z)
    ev["pkt_src"] = "zeek"
    ev["zeek"] = z
    return ev
