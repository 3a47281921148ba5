"""`tocsin.capture.zeek`: Zeek TSV and JSON log lines to records, records to EVE events.

Fixtures: Zeek's own btest baselines in `tests/fixtures/zeek/` (see PROVENANCE.md). btest wrote
`XXXXXXXXXX.XXXXXX` for every row's ts; `load` puts a real time there before reading.
The Suricata-schema check runs over the whole shared corpus and is marked `corpus`.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.capture.zeek import MAPPED_LOGS, ZeekLineReader, eve_time, zeek_log_name, zeek_to_eve

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "zeek"
PLACEHOLDER = b"XXXXXXXXXX.XXXXXX"
TS = 1700000000.25  # 2023-11-14T22:13:20.250000Z


def lines_of(raw: bytes, ts: float | None = TS) -> list[bytes]:
    """The lines of a baseline, each row's ts placeholder replaced by `ts` + its row number."""
    out = []
    for n, line in enumerate(raw.split(b"\n")):
        if ts is not None and line.startswith(PLACEHOLDER):
            line = b"%.6f" % (ts + n) + line[len(PLACEHOLDER) :]
        out.append(line)
    return out


def load(log: str) -> tuple[ZeekLineReader, list[dict[str, Any]]]:
    reader = ZeekLineReader()
    raw = (FIXTURES / f"{log}.log").read_bytes()
    recs = [r for r in map(reader.feed, lines_of(raw)) if r is not None]
    return reader, recs


def events(log: str) -> list[dict[str, Any]]:
    reader, recs = load(log)
    assert reader.errors == reader.bad_values == 0
    out = [zeek_to_eve(log, r) for r in recs]
    assert all(e is not None for e in out)
    return [e for e in out if e is not None]


# -- file names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "log"),
    [
        ("conn.log", "conn"),
        ("/var/log/zeek/current/conn.json", "conn"),
        ("conn.2026-11-30-10-00-00.log", "conn"),
        ("dns.log.1", "dns"),
        ("json_streaming_http.log", "http"),
        ("ssl.log", "ssl"),
        ("files.log", "files"),
        ("notice.log", "notice"),
        ("weird.log", "weird"),
        ("x509.log", None),
        ("conn_summary.log", None),
        ("conn.log.gz", None),
        ("conn", None),
        ("conn.txt", None),
        ("eve.json", None),
    ],
)
def test_log_name(name: str, log: str | None) -> None:
    assert zeek_log_name(name) == log
    assert zeek_log_name(Path(name)) == log


# -- the baselines, mapped -------------------------------------------------------------------


def test_reader_reads_headers_and_rows() -> None:
    counts = {"conn": 3, "http": 3, "dns": 2, "ssl": 2, "files": 1, "weird": 1, "notice": 2}
    for log, n in counts.items():
        reader, recs = load(log)
        assert (reader.path, reader.records, reader.errors, len(recs)) == (log, n, 0, n)
    reader, (rec, *_) = load("conn")
    assert rec["ts"] == TS + 9  # the row's line number in the file
    assert rec["id.orig_p"] == 58716 and rec["duration"] == 0.125216
    assert rec["local_orig"] is True and rec["local_resp"] is False
    assert "tunnel_parents" not in rec  # "-": unset


def test_conn_to_flow() -> None:
    ev = events("conn")[0]
    assert ev["event_type"] == "flow"
    assert ev["timestamp"] == "2023-11-14T22:13:29.250000+0000"
    assert (ev["src_ip"], ev["src_port"], ev["dest_ip"], ev["dest_port"]) == (
        "192.168.0.107",
        58716,
        "88.198.248.254",
        80,
    )
    assert ev["proto"] == "TCP" and ev["app_proto"] == "http"
    assert ev["flow"] == {
        "pkts_toserver": 9,
        "pkts_toclient": 7,
        "bytes_toserver": 593,  # orig_ip_bytes (IP headers counted, as Suricata does)
        "bytes_toclient": 10662,
        "start": "2023-11-14T22:13:29.250000+0000",
        "end": "2023-11-14T22:13:29.375216+0000",
        "age": 0,
        "state": "closed",
    }
    assert ev["pkt_src"] == "zeek"
    assert ev["zeek"] == {
        "log": "conn",
        "uid": "CHhAvVGS1DHFjwGM9",
        "conn_state": "SF",
        "history": "ShADadFf",
    }


def test_dns_answer() -> None:
    first, second = events("dns")
    assert (first["src_ip"], first["dest_port"], first["proto"]) == ("55.247.223.174", 53, "UDP")
    dns = first["dns"]
    assert dns["type"] == "answer" and dns["version"] == 2 and dns["qr"] is True
    assert (dns["rrname"], dns["rrtype"], dns["rcode"], dns["id"]) == (
        "www.cmu.edu",
        "A",
        "NOERROR",
        21140,
    )
    assert (dns["aa"], dns["tc"], dns["rd"], dns["ra"]) == (True, False, False, False)
    assert dns["answers"] == [
        {"rrname": "www.cmu.edu", "ttl": 86400, "rdata": "www-cmu.andrew.cmu.edu"},
        {"rrname": "www.cmu.edu", "rrtype": "RRSIG", "ttl": 86400, "rdata": "RRSIG 5 cmu.edu"},
        {"rrname": "www.cmu.edu", "ttl": 5, "rdata": "www-cmu-2.andrew.cmu.edu"},
        {"rrname": "www.cmu.edu", "rrtype": "A", "ttl": 21600, "rdata": "128.2.10.163"},
    ]
    assert "rrtype" not in second["dns"]  # the second response's row has no qtype


def test_http() -> None:
    evs = events("http")
    ev = evs[0]
    assert ev["event_type"] == "http" and ev["proto"] == "TCP" and ev["tx_id"] == 0
    assert ev["http"] == {
        "hostname": "speed.hetzner.de",
        "url": "/100MB.bin",
        "http_user_agent": "curl/7.74.0",
        "http_method": "GET",
        "status": 206,
        "length": 10001,
        "protocol": "HTTP/1.1",
    }
    assert [e["src_port"] for e in evs] == [58716, 58720, 58718]


def test_ssl_to_tls() -> None:
    ev = events("ssl")[0]
    assert ev["event_type"] == "tls"
    assert ev["tls"] == {
        "sni": "cloudflare-ech.com",
        "version": "TLS 1.3",
        "session_resumed": False,
    }
    assert ev["zeek"]["cipher"] == "TLS_AES_128_GCM_SHA256"
    assert (ev["src_ip"], ev["dest_ip"], ev["dest_port"]) == (
        "192.168.20.65",
        "162.159.138.85",
        443,
    )


def test_files_to_fileinfo() -> None:
    (ev,) = events("files")
    assert ev["event_type"] == "fileinfo" and ev["app_proto"] == "smb"
    assert ev["fileinfo"] == {
        "filename": "WP_SMBPlugin.pdf",
        "magic": "application/pdf",
        "gaps": False,
        "state": "CLOSED",
        "size": 1508939,
    }
    assert ev["zeek"] == {"log": "files", "uid": "CHhAvVGS1DHFjwGM9", "fuid": "FB7E9n1ZwSgkhBhU27"}


def test_weird_to_anomaly() -> None:
    (ev,) = events("weird")
    assert ev["event_type"] == "anomaly"
    assert ev["anomaly"] == {
        "app_proto": "http",
        "type": "applayer",
        "event": "HTTP_content_range_cannot_parse",
        "layer": "zeek",
    }
    assert ev["src_port"] == 42226 and ev["zeek"]["addl"] == "foo-bar/baz"


def test_notice_to_alert() -> None:
    attacker, victim = events("notice")
    assert attacker["event_type"] == "alert"
    assert (attacker["src_ip"], attacker["dest_ip"]) == ("192.168.111.148", "192.168.111.154")
    note = "HTTP::SQL_Injection_Attacker"
    assert attacker["alert"] == {
        "action": "allowed",
        "gid": 3,
        "signature_id": 3_000_000 + zlib.crc32(note.encode()) % 1_000_000,
        "rev": 1,
        "signature": "ZEEK HTTP::SQL_Injection_Attacker: An SQL injection attacker was discovered!",
        "category": "Zeek notice",
        "severity": 2,
    }
    assert victim["alert"]["signature_id"] != attacker["alert"]["signature_id"]
    assert attacker["zeek"]["uid"] == "CtPZjS20MLrsMUOJi2"


def test_canonicalised_ts_maps_to_nothing() -> None:
    reader = ZeekLineReader()
    raw = (FIXTURES / "conn.log").read_bytes()
    recs = [r for r in map(reader.feed, lines_of(raw, ts=None)) if r is not None]
    assert len(recs) == 3 and reader.bad_values == 3 and "ts" not in recs[0]
    assert [zeek_to_eve("conn", r) for r in recs] == [None] * 3


# -- the same records as Zeek JSON -----------------------------------------------------------


def tsv_to_zeek_json(raw: bytes) -> list[bytes]:
    """What `LogAscii::use_json=T` writes for a plain TSV baseline (no escapes in it): dotted
    keys, unset fields left out, sets and vectors as arrays. Written apart from the reader."""
    fields: list[str] = []
    types: list[str] = []
    out = []
    for line in raw.decode().split("\n"):
        if line.startswith("#fields\t"):
            fields = line.split("\t")[1:]
        elif line.startswith("#types\t"):
            types = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            obj: dict[str, Any] = {}
            for name, typ, val in zip(fields, types, line.split("\t"), strict=True):
                if val == "-":
                    continue
                conv: Any = {"time": float, "interval": float, "double": float, "count": int,
                             "port": int, "int": int, "bool": lambda v: v == "T"}  # fmt: skip
                base = typ.split("[")[-1].rstrip("]")
                one = conv.get(base, str)
                if typ.startswith(("set[", "vector[")):
                    obj[name] = [] if val == "(empty)" else [one(v) for v in val.split(",")]
                else:
                    obj[name] = "" if val == "(empty)" else one(val)
            out.append(json.dumps(obj).encode())
    return out


@pytest.mark.parametrize("log", ["conn", "dns", "http", "ssl", "files", "weird", "notice"])
def test_tsv_and_json_give_the_same_events(log: str) -> None:
    raw = b"\n".join(lines_of((FIXTURES / f"{log}.log").read_bytes()))
    reader = ZeekLineReader()
    from_json = [zeek_to_eve(log, r) for r in map(reader.feed, tsv_to_zeek_json(raw)) if r]
    assert reader.errors == 0 and reader.path is None
    assert from_json == events(log)


def test_real_zeek_json_line() -> None:
    # the shape of a conn record as Zeek's JSON writer prints it (a UDP DNS flow)
    line = (
        b'{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76",'
        b'"id.orig_p":36844,"id.resp_h":"192.168.4.1","id.resp_p":53,"proto":"udp",'
        b'"service":"dns","duration":0.06685185432434082,"orig_bytes":62,"resp_bytes":141,'
        b'"conn_state":"SF","missed_bytes":0,"history":"Dd","orig_pkts":2,"orig_ip_bytes":118,'
        b'"resp_pkts":2,"resp_ip_bytes":197}'
    )
    rec = ZeekLineReader().feed(line)
    assert rec is not None
    ev = zeek_to_eve("conn", rec)
    assert ev is not None
    assert ev["timestamp"] == "2020-06-05T14:39:59.305988+0000"
    assert (ev["proto"], ev["app_proto"], ev["flow"]["bytes_toclient"]) == ("UDP", "dns", 197)
    assert ev["flow"]["end"] == "2020-06-05T14:39:59.372840+0000"


def test_json_iso_timestamps_and_nested_ids() -> None:
    rec = {"ts": "2020-06-05T14:39:59.305988Z", "id": {"orig_h": "10.0.0.1", "resp_p": 80}}
    ev = zeek_to_eve("http", rec)
    assert ev is not None
    assert ev["timestamp"] == "2020-06-05T14:39:59.305988+0000"
    assert (ev["src_ip"], ev["dest_port"]) == ("10.0.0.1", 80)


# -- TSV details and bad lines ---------------------------------------------------------------

HEADER = [
    b"#separator \\x09",
    b"#set_separator\t,",
    b"#empty_field\t(empty)",
    b"#unset_field\t-",
    b"#path\tweird",
    b"#fields\tts\tname\taddl\ttags\tn\tok",
    b"#types\ttime\tstring\tstring\tset[string]\tcount\tbool",
]


def reader_with_header() -> ZeekLineReader:
    r = ZeekLineReader()
    for line in HEADER:
        assert r.feed(line) is None
    return r


def test_tsv_escapes_empty_and_unset() -> None:
    r = reader_with_header()
    rec = r.feed(b"1.5\ta\\x09b\\\\c\t\\x2d\ta\\x2cb,c\t7\tT")
    assert rec == {
        "ts": 1.5,
        "name": "a\tb\\c",
        "addl": "-",
        "tags": ["a,b", "c"],
        "n": 7,
        "ok": True,
    }
    assert r.feed(b"1.5\t(empty)\t-\t(empty)\t-\tF") == {
        "ts": 1.5,
        "name": "",
        "tags": [],
        "ok": False,
    }
    assert r.feed(b"1.5\tbad\\xffutf8\\xc3\\xa9\t-\t-\t-\t-") == {
        "ts": 1.5,
        "name": "bad\\xffutf8é",
    }
    assert r.errors == 0 and r.records == 3


def test_bad_lines_are_counted_not_raised() -> None:
    r = reader_with_header()
    assert r.feed(b"1.5\ttoo few") is None
    assert r.feed(b"1.5\ta\tb\tc\t7\tT\textra") is None
    assert r.errors == 2
    rec = r.feed(b"x\tname\t-\t-\tseven\tmaybe")
    assert rec == {"name": "name"} and r.bad_values == 3
    j = ZeekLineReader()
    for bad in (b"{not json", b"[1,2]", b"42", b"\xff\xfe{", b"[" * 5000):
        assert j.feed(bad) is None
    assert j.errors == 5
    assert j.feed(b"") is None and j.feed(b"   ") is None and j.errors == 5


def test_separator_other_than_tab() -> None:
    r = ZeekLineReader()
    for line in (b"#separator \\x7c", b"#fields|ts|uid", b"#types|time|string"):
        r.feed(line)
    assert r.feed(b"3.0|Cabc") == {"ts": 3.0, "uid": "Cabc"}


# -- mapping edge cases ----------------------------------------------------------------------


def test_dns_query_only_and_nxdomain() -> None:
    base = {"ts": TS, "id.orig_h": "10.0.0.1", "id.resp_h": "10.0.0.2", "proto": "udp"}
    q = zeek_to_eve("dns", {**base, "query": "www.example.org", "qtype_name": "*", "RD": True})
    assert q is not None
    assert q["dns"] == {"version": 2, "type": "query", "rrname": "www.example.org", "rrtype": "ANY"}
    nx = zeek_to_eve(
        "dns", {**base, "query": "nope.example", "rcode_name": "NXDOMAIN", "answers": []}
    )
    assert nx is not None and nx["dns"]["type"] == "answer" and nx["dns"]["rcode"] == "NXDOMAIN"
    assert "answers" not in nx["dns"]
    txt = zeek_to_eve("dns", {**base, "answers": ["TXT 14 v=spf1 mx -all", "2001:db8::1"]})
    assert txt is not None
    assert [(a.get("rrtype"), a["rdata"]) for a in txt["dns"]["answers"]] == [
        ("TXT", "v=spf1 mx -all"),
        ("AAAA", "2001:db8::1"),
    ]


def test_icmp_flows() -> None:
    rec = {"ts": TS, "id.orig_h": "10.0.0.1", "id.orig_p": 8, "id.resp_h": "10.0.0.2"}
    ev = zeek_to_eve("conn", {**rec, "id.resp_p": 0, "proto": "icmp"})
    assert ev is not None
    assert (ev["proto"], ev["icmp_type"], ev["icmp_code"]) == ("ICMP", 8, 0)
    assert "src_port" not in ev and "dest_port" not in ev
    v6 = zeek_to_eve(
        "conn", {"ts": TS, "id.orig_h": "fe80::1", "id.resp_h": "ff02::1", "proto": "icmp"}
    )
    assert v6 is not None and v6["proto"] == "IPv6-ICMP"


def test_weird_kinds() -> None:
    def kind(**rec: Any) -> str:
        ev = zeek_to_eve("weird", {"ts": TS, **rec})
        assert ev is not None
        return str(ev["anomaly"]["type"])

    assert kind(name="truncated_ethernet_frame", source="ETHERNET") == "decode"
    assert kind(name="igmp_invalid_checksum", source="IGMP", **{"id.orig_h": "1.2.3.4"}) == "decode"
    assert kind(name="TCP_ack_underflow_or_misorder", source="TCP") == "stream"
    assert kind(name="data_before_established", uid="C1") == "stream"  # Zeek < 6: no source
    assert kind(name="unknown_HTTP_method", uid="C1") == "applayer"
    assert kind(name="excessively_large_fragment") == "decode"
    ev = zeek_to_eve(
        "weird", {"ts": TS, "name": "contentline_size_exceeded", "source": "CONTENTLINE"}
    )
    assert ev is not None and "app_proto" not in ev["anomaly"]


def test_files_old_format_and_hashes() -> None:
    rec = {
        "ts": TS,
        "fuid": "Fabc",
        "tx_hosts": ["192.0.2.1"],
        "rx_hosts": ["192.0.2.2", "192.0.2.3"],
        "conn_uids": ["C1"],
        "source": "FTP_DATA",
        "seen_bytes": 10,
        "total_bytes": 20,
        "md5": "d41d8cd98f00b204e9800998ecf8427e",
        "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    }
    ev = zeek_to_eve("files", rec)
    assert ev is not None
    assert ev["src_ip"] == "192.0.2.1" and "dest_ip" not in ev  # two receivers: none chosen
    assert ev["app_proto"] == "ftp-data"
    assert ev["fileinfo"]["state"] == "TRUNCATED" and ev["fileinfo"]["size"] == 10
    assert ev["fileinfo"]["md5"] == rec["md5"] and "sha1" not in ev["fileinfo"]
    assert ev["zeek"] == {"log": "files", "uid": "C1", "fuid": "Fabc"}


def test_http_host_port_and_tls_versions() -> None:
    ev = zeek_to_eve(
        "http", {"ts": TS, "host": "example.org:8080", "resp_mime_types": ["text/html"]}
    )
    assert ev is not None
    assert ev["http"] == {
        "hostname": "example.org",
        "http_port": 8080,
        "http_content_type": "text/html",
    }
    for zeek, suricata in [("TLSv12", "TLS 1.2"), ("TLSv10", "TLS 1.0"), ("DTLSv12", "DTLS 1.2"),
                           ("SSLv3", "SSLv3"), ("unknown-64", "unknown-64")]:  # fmt: skip
        ev = zeek_to_eve("ssl", {"ts": TS, "version": zeek, "ja3": "abc", "next_protocol": "h2"})
        assert ev is not None and ev["tls"]["version"] == suricata
        assert ev["tls"]["ja3"] == {"hash": "abc"} and ev["tls"]["server_alpns"] == ["h2"]


def test_notice_addresses_from_the_connection() -> None:
    rec = {"ts": TS, "note": "Scan::Port_Scan", "id.orig_h": "10.0.0.9", "id.resp_h": "10.0.0.1",
           "id.orig_p": 5555, "id.resp_p": 22, "proto": "tcp"}  # fmt: skip
    ev = zeek_to_eve("notice", rec)
    assert ev is not None
    assert (ev["src_ip"], ev["dest_ip"], ev["dest_port"], ev["proto"]) == (
        "10.0.0.9",
        "10.0.0.1",
        22,
        "TCP",
    )
    assert ev["alert"]["signature"] == "ZEEK Scan::Port_Scan"


def test_unmappable_records() -> None:
    assert zeek_to_eve("x509", {"ts": TS}) is None
    assert zeek_to_eve("conn", {"uid": "C1"}) is None
    for ts in (float("nan"), float("inf"), -1.0, 1e300, "soon", True, None, [1]):
        assert zeek_to_eve("conn", {"ts": ts}) is None
    assert eve_time(0.0) == "1970-01-01T00:00:00.000000+0000"


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=12), st.booleans())
def test_random_lines_never_raise(lines: list[bytes], with_header: bool) -> None:
    r = reader_with_header() if with_header else ZeekLineReader()
    for line in lines:
        rec = r.feed(line)
        if rec is not None:
            for log in MAPPED_LOGS:
                zeek_to_eve(log, rec)
    assert r.records + r.errors <= len(lines)


KEYS = ["ts", "uid", "fuid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "id",
        "service", "duration", "orig_pkts", "orig_ip_bytes", "conn_state", "answers", "TTLs",
        "query", "qtype_name", "rcode_name", "trans_id", "AA", "host", "uri", "status_code",
        "trans_depth", "resp_mime_types", "version", "server_name", "ja3", "tx_hosts",
        "conn_uids", "seen_bytes", "total_bytes", "missing_bytes", "timedout", "source", "note",
        "msg", "src", "p", "name", "extracted"]  # fmt: skip
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["orig_h", "resp_p"]), inner)
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(MAPPED_LOGS)), st.dictionaries(st.sampled_from(KEYS), VALUES), VALUES)
def test_random_records_never_raise(log: str, rec: dict[str, Any], ts: Any) -> None:
    for t in (ts, TS):
        ev = zeek_to_eve(log, {**rec, "ts": t})
        if ev is not None:
            json.dumps(ev, allow_nan=False)
            assert ev["timestamp"].endswith("+0000") and ev["pkt_src"] == "zeek"


# -- Suricata's EVE schema (shared corpus) ---------------------------------------------------

CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()


@pytest.mark.corpus
def test_mapped_events_validate_against_suricata_schema() -> None:
    """Every record of every baseline of a mapped log in the corpus (Zeek's btest baselines, the
    policy notice baselines, the labelled Zeek logs of Slips' datasets) reads without error and
    maps to an event Suricata's schema accepts, `zeek` (Tocsin's key) aside."""
    schema_path = CORPUS / "suricata-etc" / "schema.json"
    if not schema_path.is_file():
        pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS")
    import jsonschema

    schema = json.loads(schema_path.read_text())
    validator = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)(schema)
    index = json.loads((CORPUS / "zeek" / "INDEX.json").read_text())
    cut = {f"{t['test']}/{log}" for t in index["tests"] for log in t.get("cut", {})}
    paths = sorted(CORPUS.glob("zeek/Baseline/*/*.log")) + sorted(
        CORPUS.glob("pcaps/zeek/Baseline/*/*.log")
    )
    paths += sorted(CORPUS.glob("pcaps/slips/**/*.log.labeled"))
    checked: dict[str, int] = {}
    failures: list[str] = []
    for path in paths:
        log = zeek_log_name(path.name.removesuffix(".labeled"))
        if log is None or f"{path.parent.name}/{path.name}" in cut:
            continue
        reader = ZeekLineReader()
        for line in lines_of(path.read_bytes()):
            rec = reader.feed(line)
            ev = None if rec is None else zeek_to_eve(log, rec)
            if ev is None:
                continue
            checked[log] = checked.get(log, 0) + 1
            body = {k: v for k, v in ev.items() if k != "zeek"}
            failures += [
                f"{path}: {e.json_path}: {e.message[:160]}" for e in validator.iter_errors(body)
            ]
        if reader.errors:
            failures.append(f"{path}: {reader.errors} unreadable lines")
    assert not failures, "\n".join(failures[:30])
    assert set(checked) == MAPPED_LOGS, checked
    assert sum(checked.values()) > 1000, checked
