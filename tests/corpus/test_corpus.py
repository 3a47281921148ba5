"""Corpus-wide judges: every capture of the shared corpus through the pipeline, and a sample
compared live with tshark and validated against Suricata's EVE schema.

The corpus (`/work/shared/corpus`, see its README and MANIFEST) is found through the environment
variable TOCSIN_CORPUS, by default `<repo>/../shared/corpus`; without it the module is skipped.
The tshark comparison needs `tshark` on PATH (skipped otherwise). Everything runs in-process
(`tocsin.runtime.analyze.analyze`), so the whole corpus (~2,300 small captures) takes seconds.

Sample: captures under 1 MB sorted by the SHA-1 of their corpus-relative path, first
`TOCSIN_CORPUS_SAMPLE` (default 60): deterministic, spread over every source of the corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest

from golden.flowmatch import (
    SURICATA_SCHEMA,
    compare,
    expectations_module,
    read_eve,
    run_tocsin,
    tcp_udp_flows,
)
from tocsin.capture import CaptureError
from tocsin.model.events import Event

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

SAMPLE_SIZE = int(os.environ.get("TOCSIN_CORPUS_SAMPLE", "60"))
SAMPLE_MAX_BYTES = 1_000_000
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
    b"\x1f\x8b",
)

# Corpus captures where Tocsin and tshark are known to disagree for a reason that is not
# detected automatically from tshark's output (path relative to the corpus -> reason).
_LIKE_SURICATA = (
    "Tocsin, like Suricata, counts it invalid and gives it no flow; tshark dissects it anyway"
)
EXCLUDED: dict[str, str] = {
    "suricata-verify/tests/ipv4-truncated/truncated.pcap": (
        f"IPv4 total length 65028 > the bytes captured (ipv4.trunc_pkt): {_LIKE_SURICATA}"
    ),
    "suricata-verify/tests/telnet/telnet-01/telnet.pcap": (
        f"5 packets whose IPv4 total length exceeds the frame (ipv4.trunc_pkt): {_LIKE_SURICATA}"
    ),
    "zeek/Traces/modbus/fuzz-72.pcap": (
        f"2 packets whose IPv4 total length exceeds the frame (ipv4.trunc_pkt): {_LIKE_SURICATA}"
    ),
    "zeek/Traces/tcp/reassembly.pcap": (
        f"5 packets whose IPv4 total length exceeds the frame (ipv4.trunc_pkt): {_LIKE_SURICATA}"
    ),
    "zeek/Traces/dns-edns-ecs-bad.pcap": (
        f"IPv6 payload length exceeds the frame (ipv6.trunc_pkt): {_LIKE_SURICATA}"
    ),
    "zeek/Traces/krb/kerberos_tso.pcapng": (
        f"TSO packets with IPv4 total length 0 (ipv4.iplen_smaller_than_hlen): {_LIKE_SURICATA}"
    ),
    "zeek/Traces/ldap/missing_krbtgt_ldap_request.pcapng": (
        f"a TSO packet with IPv4 total length 0 (ipv4.iplen_smaller_than_hlen): {_LIKE_SURICATA}"
    ),
    "suricata-verify/tests/mac-eve-packet/test.pcap": (
        f"TCP data offset below 20 bytes (tcp.hlen_too_small): {_LIKE_SURICATA}"
    ),
    "suricata-verify/tests/detect-ipopts/input.pcap": (
        "IPv4 source-route options: tshark's ip.dst is the route's last hop, Tocsin (like "
        "Suricata) keys the flow on the header's destination address"
    ),
    "zeek/Traces/ipv6-mobility-dst-opts.pcap": (
        "tshark stops at a malformed Home Address destination option (frame 1) and finds no "
        "UDP; Tocsin skips the option by its length and counts the UDP packet"
    ),
}

# Differences that are Tocsin bugs (reported, not yet fixed): the test fails when one of these
# captures starts to match, so that the entry is removed with the fix.
KNOWN_BUGS: dict[str, str] = {}

# Captures where Tocsin once differed from tshark (fixed): always part of the sample.
REGRESSIONS = (
    # a SYN retransmitted with the flow's ISN after a RST is not TCP port reuse
    "suricata-verify/tests/base64-decode-5885/input.pcap",
    "suricata-verify/tests/rdp-protocol/RDP-003.pcap",
    "zeek/Traces/pop3/pop3.pcap",
    # malformed IPv4 options make the packet invalid (no flow), as in Suricata
    "suricata-verify/tests/bug-7414-decoder-event-01/ip_secopt.pcap",
    "suricata-verify/tests/firewall/tcp-session-decode-malformed-ipv4/input.pcap",
)


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def is_capture(path: Path) -> bool:
    if path.name.lower().endswith(CAPTURE_SUFFIXES):
        return True
    with path.open("rb") as f:
        head = f.read(4)
    return any(head.startswith(m) for m in MAGICS)


def all_captures() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and is_capture(p))


def sample() -> list[Path]:
    small = [p for p in all_captures() if p.stat().st_size < SAMPLE_MAX_BYTES]
    small.sort(key=lambda p: hashlib.sha1(rel(p).encode()).hexdigest())
    chosen = small[:SAMPLE_SIZE]
    return chosen + [CORPUS / r for r in REGRESSIONS if CORPUS / r not in chosen]


def test_every_capture_reads(tmp_path: Path) -> None:
    """No Python exception escapes `analyze` on any corpus capture; every EVE line decodes."""
    captures = all_captures()
    assert len(captures) > 2000, f"only {len(captures)} captures under {CORPUS}"
    eve = tmp_path / "eve.json"
    decoder = msgspec.json.Decoder(Event)
    outcomes: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    crashes: list[str] = []
    t0 = time.monotonic()
    for path in captures:
        try:
            result = run_tocsin([path], eve)
        except CaptureError as exc:
            outcomes["refused at open (CaptureError)"] += 1
            refused[type(exc).__name__] += 1
            continue
        except Exception:  # the judge records every escape, then fails
            crashes.append(f"{rel(path)}:\n{traceback.format_exc(limit=6)}")
            continue
        outcomes["read with capture errors" if result.errors else "read"] += 1
        if result.packets == 0:
            outcomes["no packets"] += 1
        try:
            for line in eve.read_bytes().splitlines():
                decoder.decode(line)
        except msgspec.ValidationError as exc:
            crashes.append(f"{rel(path)}: EVE line does not decode: {exc}")
    wall = time.monotonic() - t0
    print(
        f"\n{len(captures)} captures in {wall:.1f} s: {dict(outcomes)}; "
        f"refused by kind: {dict(refused)}"
    )
    assert crashes == [], f"{len(crashes)} failures:\n" + "\n".join(crashes[:10])
    assert outcomes["read"] > 0.95 * len(captures)


@pytest.fixture(scope="module")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Tocsin on the sample: per capture its EVE events, or why it could not be read."""
    tmp = tmp_path_factory.mktemp("corpus_sample")
    runs = []
    for k, path in enumerate(sample()):
        eve = tmp / f"{k}.json"
        run: dict[str, Any] = {"path": path}
        try:
            result = run_tocsin([path], eve)
            run["errors"] = result.errors
            run["events"] = read_eve(eve)
        except CaptureError as exc:
            run["refused"] = str(exc)
        runs.append(run)
    return runs


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_flows_match_tshark_on_corpus(sample_runs: list[dict[str, Any]]) -> None:
    ge = expectations_module()
    compared: list[str] = []
    excluded: dict[str, str] = {}
    mismatches: dict[str, list[str]] = {}
    still_buggy: set[str] = set()
    for run in sample_runs:
        name = rel(run["path"])
        if "refused" in run:
            excluded[name] = f"Tocsin refuses it at open: {run['refused']}"
            continue
        try:
            convs = ge.conversations(run["path"])
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            excluded[name] = f"tshark cannot read it: {exc}"
            continue
        if name in EXCLUDED:
            excluded[name] = EXCLUDED[name]
            continue
        if convs.exclusions:
            excluded[name] = "; ".join(
                f"{reason} ({', '.join(where[:2])})" for reason, where in convs.exclusions.items()
            )
            continue
        problems = compare(tcp_udp_flows(run["events"]), [c.as_dict() for c in convs.items])
        if name in KNOWN_BUGS:
            if problems:
                still_buggy.add(name)
            else:
                mismatches[name] = [f"matches now: remove it from KNOWN_BUGS ({KNOWN_BUGS[name]})"]
            continue
        compared.append(name)
        if problems:
            mismatches[name] = problems
    report = [f"{len(compared)} compared, {len(excluded)} excluded, {len(still_buggy)} known bugs"]
    report += [f"  excluded {n}: {why}" for n, why in sorted(excluded.items())]
    report += [f"  known bug {n}: {KNOWN_BUGS[n]}" for n in sorted(still_buggy)]
    report += [f"  MISMATCH {n}: {'; '.join(p[:3])}" for n, p in sorted(mismatches.items())]
    print("\n" + "\n".join(report))
    assert mismatches == {}, "\n".join(report)
    assert len(compared) >= 0.6 * len(sample_runs), "too few captures compared to judge anything"


def test_eve_schema_on_corpus(sample_runs: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SURICATA_SCHEMA.read_text()))
    failures: list[str] = []
    checked: Counter[str] = Counter()
    for run in sample_runs:
        for event in run.get("events", []):
            if event["event_type"] not in ("flow", "anomaly", "stats", "alert"):
                continue
            checked[event["event_type"]] += 1
            for err in validator.iter_errors(event):
                failures.append(
                    f"{rel(run['path'])}: {event['event_type']} {err.json_path}: "
                    f"{err.message[:200]}"
                )
    print(f"\nvalidated against Suricata's schema: {dict(checked)}")
    assert checked["flow"] > 0 and checked["stats"] > 0
    assert failures == [], "\n".join(failures[:20])
