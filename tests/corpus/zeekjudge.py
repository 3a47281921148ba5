"""Compare one Zeek test's baseline logs with Tocsin's EVE events (the rules are stated in
`test_applayer_zeek`'s docstring: field mapping, normalisation, what is left out and why).

`judge(logs, events)` returns a `Judge`: `problems` (differences, one line each), `compared`
(values compared per field) and `left_out` (values not compared, per reason).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from golden.appmatch import flow_key, norm_host

from .zeeklog import ZeekLog, elements, unescape

Row = Mapping[str, str | None]
Key = tuple[str, ...] | str

DNS_SAME_TEXT = frozenset({"A", "AAAA", "CNAME", "PTR", "NS", "MX"})
TLS_VERSIONS = {
    "SSLv2": "SSLv2",
    "SSLv3": "SSLv3",
    "TLSv10": "TLSv1",
    "TLSv11": "TLS 1.1",
    "TLSv12": "TLS 1.2",
    "TLSv13": "TLS 1.3",
}
_RESUMPTION_BY_SESSION_ID = frozenset({"SSLv3", "TLSv10", "TLSv11", "TLSv12"})
_RDN_NAMES = {"street": "streetAddress"}
# weird.log names that mean Zeek could not read a request line as sent
REQUEST_LINE_WEIRDS = frozenset(
    {
        "bad_HTTP_request",
        "bad_HTTP_request_with_version",
        "invalid_http_09_request_method",
        "unknown_HTTP_method",
        "missing_HTTP_uri",
    }
)
_HTTP_COLS = ("method", "host", "uri", "user_agent", "status_code")


@dataclass
class Judge:
    """Differences and tallies of one Zeek test."""

    flows: set[Key]  # Tocsin's connections (flow events)
    suspect_uids: set[str] = field(default_factory=set)  # Zeek's malformed-HTTP connections
    problems: list[str] = field(default_factory=list)
    compared: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)

    def field(self, what: str, zeek: Any, tocsin: Any, where: object) -> None:
        if zeek is None:
            return
        self.compared[what] += 1
        if zeek != tocsin:
            self.problems.append(f"{what} {where}: Zeek {zeek!r}, Tocsin {tocsin!r}")

    def unseen(self, key: Key, log: str) -> bool:
        """True (and counted) when Tocsin has no flow for Zeek's connection."""
        if key == "*" or key in self.flows:
            return False
        self.left_out[f"{log}: a connection Tocsin's decoder does not produce"] += 1
        return True


def key_of(row: Row, proto: str = "TCP") -> Key:
    """The connection of a Zeek row, or "*" when zeek-cut dropped the `id.*` columns."""
    if row.get("id.orig_h") is None or row.get("id.resp_p") is None:
        return "*"
    return flow_key(
        str(row.get("proto") or proto).upper(),
        str(row["id.orig_h"]),
        str(row["id.orig_p"]),
        str(row["id.resp_h"]),
        str(row["id.resp_p"]),
    )


def ev_key(ev: Mapping[str, Any]) -> tuple[str, ...]:
    return flow_key(ev["proto"], ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"])


def judge(logs: Mapping[str, ZeekLog], events: list[dict[str, Any]]) -> Judge:
    flows: set[Key] = {
        ev_key(e) for e in events if e.get("event_type") == "flow" and "src_port" in e
    }
    j = Judge(flows)
    for name in ("weird", "analyzer"):
        for row in logs[name].rows if name in logs else []:
            if name == "analyzer" or row.get("name") in REQUEST_LINE_WEIRDS:
                j.suspect_uids.add(str(row.get("uid")))
    if "dns" in logs:
        judge_dns(logs["dns"], events, j)
    if "http" in logs:
        judge_http(logs["http"], events, j)
    if "ssl" in logs:
        judge_ssl(logs["ssl"], logs.get("x509"), events, j)
    if "smb_mapping" in logs or "smb_files" in logs:
        judge_smb(logs, events, j)
    return j


# ------------------------------------------------------------------------------------- dns


def _addr_or_name(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower()


def judge_dns(log: ZeekLog, events: list[dict[str, Any]], j: Judge) -> None:
    msgs: dict[tuple[Any, int], list[dict[str, Any]]] = {}
    for ev in events:
        if ev["event_type"] == "dns":
            msgs.setdefault((ev_key(ev), ev["dns"]["id"]), []).append(ev["dns"])
    zeek_keys = set()
    for row in log.rows:
        key = (key_of(row, "UDP"), int(row.get("trans_id") or 0))
        zeek_keys.add(key)
        if j.unseen(key[0], "dns"):
            continue
        if row.get("opcode") == "5":
            j.left_out["dns: UPDATE message (Zeek logs it its own way)"] += 1
            continue
        where = f"{key[0]} id {key[1]}"
        got = msgs.get(key, [])
        if not got:
            j.problems.append(f"dns {where}: Zeek logs query {row.get('query')!r}, Tocsin nothing")
            continue
        _dns_row(log, row, got, where, j)
    zeek_flows = {k[0] for k in zeek_keys}
    for key in msgs:
        if key in zeek_keys:
            continue
        if key[0] in zeek_flows:
            j.problems.append(f"dns {key[0]} id {key[1]}: Tocsin logs a transaction Zeek does not")
        else:
            j.left_out["dns: Tocsin's messages on a connection Zeek logs no DNS for"] += 1


def _dns_row(log: ZeekLog, row: Row, got: list[dict[str, Any]], where: str, j: Judge) -> None:
    query = unescape(row.get("query"))
    queries = [q for m in got for q in m.get("queries", [])]
    names = sorted({q["rrname"].lower() for q in queries})
    if query is not None:
        j.field(
            "dns query", query.lower(), query.lower() if query.lower() in names else names, where
        )
    qtype = row.get("qtype_name")
    if qtype is not None:
        qtype = "ANY" if qtype == "*" else qtype
        types = sorted(
            {q["rrtype"] for q in queries if query is None or q["rrname"].lower() == query.lower()}
        )
        j.field("dns qtype_name", qtype, qtype if qtype in types else types, where)
    responses = [m for m in got if m["type"] == "response"]
    rcode = row.get("rcode_name")
    if rcode is not None:
        rcodes = sorted({m["rcode"] for m in responses})
        j.field("dns rcode_name", rcode, rcode if rcode in rcodes else rcodes, where)
    if row.get("answers") is not None:
        answers = elements(row.get("answers"), log.set_separator)
        want = {_addr_or_name(a) for a in answers if a is not None and " " not in a}
        options = [
            {
                _addr_or_name(a["rdata"])
                for a in m.get("answers", [])
                if a.get("rrtype") in DNS_SAME_TEXT and "rdata" in a
            }
            for m in responses
        ]
        best = want if want in options else (options[0] if options else set())
        j.field("dns answers", sorted(want), sorted(best), where)


# ------------------------------------------------------------------------------------ http


def _http_values(h: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "method": h.get("http_method"),
        "host": norm_host(h["hostname"]) if "hostname" in h else None,
        "uri": unquote(h["url"]) if "url" in h else None,
        "user_agent": h.get("http_user_agent"),
        "status_code": h.get("status"),
    }


def _zeek_http(row: Row) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in _HTTP_COLS:
        value: Any = unescape(row.get(col))
        if value is None:
            continue
        if col == "host":
            value = norm_host(value)
        elif col == "status_code":
            value = int(value) or None  # 0: an HTTP/0.9 reply, no status line
        out[col] = value
    return out


def judge_http(log: ZeekLog, events: list[dict[str, Any]], j: Judge) -> None:
    https = [e for e in events if e["event_type"] == "http"]
    if not log.has("id.orig_h", "trans_depth"):
        # zeek-cut kept neither the connection nor trans_depth: one multiset over the trace
        cols = [c for c in _HTTP_COLS if c in log.fields]
        want = Counter(tuple(_zeek_http(r).get(c) for c in cols) for r in log.rows)
        got = Counter(tuple(_http_values(e["http"])[c] for c in cols) for e in https)
        j.compared["http (multiset over the trace) " + ",".join(cols)] += sum(want.values())
        if want != got:
            j.problems.append(f"http {cols}: Zeek {dict(want)}, Tocsin {dict(got)}")
        return
    by_tx: dict[tuple[Key, int], dict[str, Any]] = {
        (ev_key(e), e.get("tx_id", 0) + 1): e["http"] for e in https
    }
    zeek_txs = {(key_of(r), int(r.get("trans_depth") or 0)) for r in log.rows}
    suspect = {key_of(r) for r in log.rows if str(r.get("uid")) in j.suspect_uids}
    for row in log.rows:
        key = key_of(row)
        if j.unseen(key, "http"):
            continue
        if key in suspect:
            j.left_out["http: a connection with a malformed request line / violation"] += 1
            continue
        zeek = _zeek_http(row)
        if not {"method", "uri", "status_code"} & set(zeek):
            j.left_out["http: Zeek row with neither request nor status (connection end)"] += 1
            continue
        where = f"{key} trans_depth {row.get('trans_depth')}"
        h = by_tx.get((key, int(row.get("trans_depth") or 0)))
        if h is None:
            j.problems.append(
                f"http {where}: Zeek logs {row.get('method')} {row.get('uri')!r}, "
                "Tocsin no transaction"
            )
            continue
        mine = _http_values(h)
        for col, value in zeek.items():
            j.field(f"http {col}", value, mine[col], where)
    zeek_flows = {k for k, _ in zeek_txs}
    for k in by_tx:
        if k in zeek_txs:
            continue
        if k[0] in suspect:
            j.left_out["http: a connection with a malformed request line / violation"] += 1
        elif k[0] in zeek_flows:
            j.problems.append(f"http {k[0]} tx {k[1] - 1}: Tocsin logs a transaction Zeek does not")
        else:
            j.left_out["http: Tocsin's transactions on connections Zeek logs no HTTP for"] += 1


# ------------------------------------------------------------------------------------- tls


def dn(zeek: str) -> str:
    """Zeek's RFC 2253 distinguished name in Suricata's order and spelling."""
    parts = [p.replace("\\,", ",") for p in re.split(r"(?<!\\),", zeek)]
    out = []
    for p in reversed(parts):
        name, _, value = p.partition("=")
        out.append(f"{_RDN_NAMES.get(name, name)}={value}")
    return ", ".join(out)


def judge_ssl(log: ZeekLog, x509: ZeekLog | None, events: list[dict[str, Any]], j: Judge) -> None:
    certs = {r["fingerprint"]: r for r in x509.rows} if x509 is not None else {}
    tls: dict[Key, list[dict[str, Any]]] = {}
    for e in events:
        if e["event_type"] == "tls":
            tls.setdefault(ev_key(e), []).append(e["tls"])
    seen: Counter[Key] = Counter()
    for row in log.rows:
        key = key_of(row)
        if j.unseen(key, "ssl"):
            continue
        got = tls.get(key, [])
        if seen[key] >= len(got):
            j.problems.append(f"tls {key}: Zeek logs {row.get('server_name')!r}, Tocsin nothing")
            continue
        t = got[seen[key]]
        seen[key] += 1
        j.field("ssl server_name", unescape(row.get("server_name")), t.get("sni"), key)
        version = str(row.get("version"))
        if version in TLS_VERSIONS:
            j.field("ssl version", TLS_VERSIONS[version], t.get("version"), key)
        elif row.get("version") is not None:
            j.left_out[f"ssl: version Zeek does not name ({version})"] += 1
        if row.get("resumed") == "T" and version in _RESUMPTION_BY_SESSION_ID:
            j.field("ssl resumed", True, t.get("session_resumed"), key)
        fps = elements(row.get("cert_chain_fps"), log.set_separator)
        cert = certs.get(fps[0]) if fps and fps[0] else None
        if cert is not None:
            for col, mine in (
                ("certificate.subject", "subject"),
                ("certificate.issuer", "issuerdn"),
            ):
                value = unescape(cert.get(col))
                j.field(f"x509 {col}", dn(value) if value else None, t.get(mine), key)
    zeek_flows = {key_of(r) for r in log.rows}
    for key, ts in tls.items():
        if len(ts) <= seen[key]:
            continue
        if key in zeek_flows:
            j.problems.append(f"tls {key}: Tocsin logs {len(ts)} sessions, Zeek {seen[key]}")
        else:
            j.left_out["tls: Tocsin's sessions on connections Zeek logs no SSL for"] += 1


# ------------------------------------------------------------------------------------- smb


def _share_root(name: str | None) -> str | None:
    return "" if name == "<share_root>" else name


def judge_smb(logs: Mapping[str, ZeekLog], events: list[dict[str, Any]], j: Judge) -> None:
    maps: dict[Key, set[Any]] = {}
    files: dict[Key, set[Any]] = {}
    pipes: set[tuple[Key, int]] = set()  # (connection, tree id) of IPC$ trees
    for e in (e for e in events if e["event_type"] == "smb"):
        s, key = e["smb"], ev_key(e)
        if "TREE_CONNECT" in str(s.get("command", "")):
            share = s.get("share", s.get("named_pipe"))
            if share is not None:
                maps.setdefault(key, set()).add((share, s.get("share_type")))
            if s.get("share_type") == "PIPE":
                pipes.add((key, s.get("tree_id", -1)))
        elif "filename" in s:
            if (key, s.get("tree_id", -1)) in pipes:
                j.left_out["smb_files: a named pipe's CREATE (not in smb_files.log)"] += 1
            else:
                files.setdefault(key, set()).add(_share_root(s["filename"]))
    for log, mine, value in (
        ("smb_mapping", maps, _mapping),
        ("smb_files", files, lambda r: _share_root(unescape(r.get("name")))),
    ):
        if log not in logs:
            continue
        want: dict[Key, set[Any]] = {}
        for r in logs[log].rows:
            v, where = value(r), key_of(r)
            if v is not None and not j.unseen(where, log):
                want.setdefault(where, set()).add(v)
        for where, vals in want.items():
            j.field(log, sorted(vals), sorted(mine.get(where, set())), where)


def _mapping(row: Row) -> tuple[str | None, str | None]:
    kind = row.get("share_type")
    return unescape(row.get("path")), {"DISK": "FILE"}.get(str(kind), kind)
