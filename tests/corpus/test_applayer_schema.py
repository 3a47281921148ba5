"""Every EVE event of a Suricata type that Tocsin writes on app-layer corpus captures validates
against Suricata's EVE JSON Schema (`tests/fixtures/suricata/schema.json`, a copy of the
corpus's `suricata-etc/schema.json`).

Captures: every capture of the shared corpus under `MAX_BYTES` (2 MB) whose corpus path names
one of the protocols Tocsin parses for Suricata's event types (dns, http, tls/ssl, smb, dhcp,
ssh, rdp, dcerpc, ftp, krb5, pop3), and every capture under `pcaps/` (mixed real traffic), run
in-process with the judges' registry (`golden.appmatch.judge_registry()`, midstream on).
Deterministic, spread over suricata-verify, Zeek's traces and the other pcaps. Every event is
validated except Tocsin's own types (`sensor`, `dicom`, `hl7`, `smb_file`, `imap`), which
Suricata's schema does not know. Captures Tocsin refuses at open (a link type) are
counted, not judged: the decode judges cover them.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from pathlib import Path

import pytest

from golden.appmatch import (
    judge_registry,
    read_eve,
    registered,
    run_app,
    schema_failures,
    schema_validator,
    suricata_types,
)
from tocsin.capture import CaptureError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("TOCSIN_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()
if not CORPUS.is_dir():
    pytest.skip(f"corpus not found at {CORPUS}: set TOCSIN_CORPUS", allow_module_level=True)

pytestmark = pytest.mark.corpus

MAX_BYTES = 2_000_000
SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
PROTOCOL_IN_PATH = re.compile(
    r"dns|http|tls|ssl|smb|dhcp|ssh|rdp|dcerpc|dce-rpc|ftp|krb|pop3", re.I
)


def captures() -> list[Path]:
    return sorted(
        p
        for p in CORPUS.rglob("*")
        if p.is_file()
        and p.name.lower().endswith(SUFFIXES)
        and p.stat().st_size < MAX_BYTES
        and (
            PROTOCOL_IN_PATH.search(p.relative_to(CORPUS).as_posix())
            or p.relative_to(CORPUS).parts[0] == "pcaps"
        )
    )


def test_app_events_validate_on_corpus(tmp_path: Path) -> None:
    registry = judge_registry()
    validator = schema_validator()
    eve = tmp_path / "eve.json"
    checked: Counter[str] = Counter()
    refused = 0
    failures: list[str] = []
    caps = captures()
    t0 = time.monotonic()
    for path in caps:
        try:
            run_app(path, eve, registry=registry)
        except CaptureError:
            refused += 1
            continue
        events = suricata_types(read_eve(eve))
        checked.update(e["event_type"] for e in events)
        failures += schema_failures(validator, events, path.relative_to(CORPUS).as_posix())
    print(
        f"\n{len(caps)} captures ({refused} refused at open) in {time.monotonic() - t0:.1f} s;"
        f" events validated by type: {dict(sorted(checked.items()))}; "
        f"{len(failures)} schema errors"
    )
    assert len(caps) > 500, f"only {len(caps)} app-layer captures under {CORPUS}"
    missing = {p for p in registered(registry) if p in ("dns", "http", "tls", "smb")} - set(checked)
    assert not missing, f"registered parsers wrote no event on the corpus: {sorted(missing)}"
    by_kind = Counter(f.split(": ", 1)[1].split(" $")[0] for f in failures)
    summary = "\n".join(f"  {n:5d}  {kind}" for kind, n in by_kind.most_common(20))
    assert failures == [], f"{len(failures)} schema errors; by type:\n{summary}\nfirst:\n" + (
        "\n".join(failures[:20])
    )
