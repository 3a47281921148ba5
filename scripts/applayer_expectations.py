"""Write the app-layer expectations: what tshark extracts, per capture, as DNS query names, HTTP
hosts and URIs and TLS SNIs, for the tshark judges to compare with Tocsin's `dns`, `http` and
`tls` events.

Usage::

    python scripts/applayer_expectations.py              # the corpus (TOCSIN_CORPUS)
    python scripts/applayer_expectations.py --fixtures   # tests/fixtures/applayer/judges/
    python scripts/applayer_expectations.py --show PATH  # print one capture's record

Selection (corpus): every capture file of the shared corpus (found as in
`tests/corpus/test_corpus.py`: a capture suffix or a pcap/pcapng/gzip magic), under
`MAX_BYTES` (20 MB), in which tshark finds at least one of the four fields. The corpus is
located by TOCSIN_CORPUS, by default `<repo>/../shared/corpus`. Output:
`tests/fixtures/applayer/expectations/tshark_fields.json.gz` (gzip: the JSON is a few MB).
`--fixtures` takes every capture in `tests/fixtures/applayer/judges/` and writes
`tshark_fields.json` next to them.

One tshark run per capture (`command()`, recorded with every record, paths relative to the
corpus or fixture folder)::

    tshark -n -r CAPTURE -Y 'dns.qry.name or http.host or http.request.uri or
        tls.handshake.extensions_server_name' -T fields -E separator=/t -E occurrence=a
        -E aggregator=$'\\x1f' -e frame.number -e frame.protocols -e ip.src ... -e udp.dstport
        -e dns.qry.name -e http.host -e http.request.uri -e tls.handshake.extensions_server_name

Each frame's values are filed under its flow, the direction-free pair of endpoints of its
innermost TCP/UDP header (`proto`, `ends`), in one of two buckets:

- `dns`, `http_host`, `http_uri`, `tls_sni`: what Tocsin's events on that flow must equal, as
  sets (DNS names from requests and responses both: Tocsin logs every message's questions);
- `maybe`: values from frames where a difference is expected and is not Tocsin's fault, by
  `notes` reason: frames tshark marks malformed, cut short or unreassembled (`_ws.malformed`,
  `_ws.short`, `_ws.unreassembled`: Tocsin's parser may refuse the message), a TCP/UDP
  header quoted inside an ICMP error (Tocsin logs no protocol event for it), encapsulations
  Tocsin does not decode (see `golden_expectations.UNDECODED_PROTOS`).

Values are written exactly as tshark prints them: the judge normalises (HTTP host: port
stripped, lower case; "<Root>" is the empty name) and documents what it cannot compare.
A record also holds the capture's sha256, so that a changed corpus is noticed, and
`tshark_error` when tshark stopped early (a truncated capture: what it read is kept).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import ipaddress
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
EXPECTATIONS = REPO / "tests" / "fixtures" / "applayer" / "expectations" / "tshark_fields.json.gz"
JUDGES = REPO / "tests" / "fixtures" / "applayer" / "judges"

MAX_BYTES = 20_000_000
AGGREGATOR = "\x1f"  # never in a value tshark prints (it escapes control bytes)

# tshark field -> the record's key for it
VALUE_FIELDS = {
    "dns.qry.name": "dns",
    "http.host": "http_host",
    "http.request.uri": "http_uri",
    "tls.handshake.extensions_server_name": "tls_sni",
}
FIELDS = (
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "_ws.malformed",
    "_ws.short",
    "_ws.unreassembled",
    *VALUE_FIELDS,
)
DISPLAY_FILTER = " or ".join(VALUE_FIELDS)

# layers Tocsin's decoder does not decode (as in scripts/golden_expectations.py)
UNDECODED_PROTOS = frozenset(
    {"mpls", "pppoes", "ppp", "nsh", "ieee8021ah", "cfp", "vntag", "etag", "llc", "chdlc"}
)
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
)

NOTE_MALFORMED = "frame tshark marks malformed, short or unreassembled (_ws.*)"
NOTE_ICMP = "TCP/UDP header quoted in an ICMP error"
NOTE_NO_L4 = "value in a frame without a TCP/UDP header tshark could place"


def command(capture: str | Path) -> list[str]:
    cmd = ["tshark", "-n", "-r", str(capture), "-Y", DISPLAY_FILTER, "-T", "fields"]
    cmd += ["-E", "separator=/t", "-E", "occurrence=a", "-E", f"aggregator={AGGREGATOR}"]
    for f in FIELDS:
        cmd += ["-e", f]
    return cmd


def command_text(capture: str) -> str:
    """The command as a shell line (the aggregator written `$'\\x1f'`)."""
    words = []
    for w in command(capture):
        if AGGREGATOR in w:
            words.append("aggregator=$'\\x1f'")
        else:
            words.append(shlex.quote(w))
    return " ".join(words)


def tshark_version() -> str:
    out = subprocess.run(["tshark", "-v"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def is_capture(path: Path) -> bool:
    if path.name.lower().endswith(CAPTURE_SUFFIXES):
        return True
    with path.open("rb") as f:
        head = f.read(4)
    return any(head.startswith(m) for m in MAGICS)


def corpus_captures(root: Path = CORPUS) -> list[Path]:
    """Every capture of the corpus under `MAX_BYTES`, sorted by path."""
    return sorted(
        p for p in root.rglob("*") if p.is_file() and p.stat().st_size < MAX_BYTES and is_capture(p)
    )


def _split(value: str) -> list[str]:
    return [v for v in value.split(AGGREGATOR) if v != ""] if value else []


def endpoint(ip: str, port: str) -> str:
    addr = ipaddress.ip_address(ip)
    return f"[{addr}]:{port}" if addr.version == 6 else f"{addr}:{port}"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record(path: Path, rel: str, timeout_s: float = 300.0) -> dict[str, Any] | None:
    """tshark's values of one capture (see the module docstring); None when it has none or
    tshark cannot read it at all."""
    proc = subprocess.run(
        command(path), capture_output=True, text=True, errors="replace", timeout=timeout_s
    )
    if proc.returncode != 0 and not proc.stdout:
        return None
    flows: dict[tuple[str, str, str], dict[str, Any]] = {}
    notes: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) != len(FIELDS):
            continue
        row = dict(zip(FIELDS, cols, strict=True))
        values = {key: _split(row[f]) for f, key in VALUE_FIELDS.items()}
        if not any(values.values()):
            continue
        layers = row["frame.protocols"].split(":")
        doubt = ""
        if row["_ws.malformed"] or row["_ws.short"] or row["_ws.unreassembled"]:
            doubt = NOTE_MALFORMED
        l4_at = max((k for k, lay in enumerate(layers) if lay in ("tcp", "udp")), default=-1)
        icmp_at = next((k for k, lay in enumerate(layers) if lay in ("icmp", "icmpv6")), -1)
        if 0 <= icmp_at < l4_at:
            doubt = NOTE_ICMP
        undecoded = UNDECODED_PROTOS.intersection(layers[: max(l4_at, 0)])
        if undecoded:
            doubt = f"encapsulation Tocsin does not decode ({', '.join(sorted(undecoded))})"
        fam = next((lay for lay in reversed(layers[: max(l4_at, 0)]) if lay in ("ip", "ipv6")), "")
        proto = layers[l4_at].upper() if l4_at >= 0 else ""
        src, dst = (
            _split(row[f"{fam}.src"]) if fam else [],
            _split(row[f"{fam}.dst"]) if fam else [],
        )
        sport = _split(row[f"{proto.lower()}.srcport"]) if proto else []
        dport = _split(row[f"{proto.lower()}.dstport"]) if proto else []
        if not (src and dst and sport and dport):
            notes[NOTE_NO_L4] = notes.get(NOTE_NO_L4, 0) + 1
            continue
        ends = sorted((endpoint(src[-1], sport[-1]), endpoint(dst[-1], dport[-1])))
        flow = flows.setdefault((proto, ends[0], ends[1]), {"proto": proto, "ends": ends})
        if doubt:
            notes[doubt] = notes.get(doubt, 0) + 1
            bucket = flow.setdefault("maybe", {})
        else:
            bucket = flow
        for key, vals in values.items():
            if vals:
                bucket.setdefault(key, set()).update(vals)
    if not flows:
        return None
    out: dict[str, Any] = {
        "capture": rel,
        "sha256": sha256(path),
        "command": command_text(rel),
        "flows": [_sorted(f) for _, f in sorted(flows.items())],
    }
    if notes:
        out["notes"] = dict(sorted(notes.items()))
    if proc.returncode != 0:
        out["tshark_error"] = (proc.stderr.strip().splitlines() or ["?"])[-1][:200]
    return out


def _sorted(flow: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in flow.items():
        if isinstance(v, set):
            out[k] = sorted(v)
        elif k == "maybe":
            out[k] = {kk: sorted(vv) for kk, vv in sorted(v.items())}
        else:
            out[k] = v
    return out


def build(captures: Iterable[Path], root: Path, jobs: int) -> list[dict[str, Any]]:
    paths = list(captures)

    def one(p: Path) -> dict[str, Any] | None:
        try:
            return record(p, p.relative_to(root).as_posix())
        except subprocess.TimeoutExpired:
            print(f"tshark timed out on {p}", file=sys.stderr)
            return None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, paths))
    return [r for r in results if r is not None]


def document(records: list[dict[str, Any]], selection: str, scanned: int) -> dict[str, Any]:
    return {
        "tshark_version": tshark_version(),
        "selection": selection,
        "captures_scanned": scanned,
        "command_template": command_text("CAPTURE"),
        "records": records,
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", action="store_true", help="the in-repo judge fixtures")
    ap.add_argument("--show", type=Path, help="print the record of one capture")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    if a.show is not None:
        print(json.dumps(record(a.show, a.show.name), indent=1))
        return 0
    if a.fixtures:
        caps = sorted(p for p in JUDGES.iterdir() if p.is_file() and is_capture(p))
        doc = document(build(caps, JUDGES, a.jobs), "every capture in this folder", len(caps))
        out = JUDGES / "tshark_fields.json"
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{out.relative_to(REPO)}: {len(doc['records'])} of {len(caps)} captures")
        return 0
    if not CORPUS.is_dir():
        raise SystemExit(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS")
    caps = corpus_captures()
    selection = (
        f"every capture of the corpus under {MAX_BYTES} bytes (suffix {CAPTURE_SUFFIXES} or "
        "pcap/pcapng/gzip magic) in which tshark finds one of the fields"
    )
    doc = document(build(caps, CORPUS, a.jobs), selection, len(caps))
    EXPECTATIONS.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(doc, indent=0, sort_keys=False) + "\n").encode()
    EXPECTATIONS.write_bytes(gzip.compress(data, mtime=0))
    print(
        f"{EXPECTATIONS.relative_to(REPO)}: {len(doc['records'])} of {len(caps)} captures, "
        f"{len(data)} bytes of JSON, {EXPECTATIONS.stat().st_size} gzipped"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
