"""App-layer EVE events validate against Suricata's EVE JSON Schema, on the in-repo captures
(the default-suite slice of `tests/corpus/test_applayer_schema.py`).

Captures: every `*.pcap` / `*.pcapng` under `tests/fixtures/applayer/` and the golden fixtures
(`tests/fixtures/golden/*/input.pcap*`), run in-process with the judges' registry
(`golden.appmatch.judge_registry()`, by default `builtin()`). Every event whose type Suricata
has is validated (Tocsin's own `sensor`, `dicom`, `hl7`, `smb_file`, `imap` are not: Suricata's
schema does not know them). Each registered parser among dns, http and tls must have written at
least one event: the judge fixtures (`tests/fixtures/applayer/judges/`) carry all three.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from golden.appmatch import (
    REPO,
    judge_registry,
    read_eve,
    registered,
    run_app,
    schema_failures,
    schema_validator,
    suricata_types,
)

FIXTURES = REPO / "tests" / "fixtures"
SURICATA_APP_TYPES = {
    *("dns", "http", "tls", "smb", "dcerpc", "dhcp", "ssh", "rdp", "ftp", "krb5", "pop3"),
}


def captures() -> list[Path]:
    found = [*FIXTURES.glob("applayer/**/*.pcap"), *FIXTURES.glob("applayer/**/*.pcapng")]
    found += FIXTURES.glob("golden/*/input.pcap*")
    return sorted(found)


def test_app_events_validate(tmp_path: Path) -> None:
    registry = judge_registry()
    have = registered(registry) & SURICATA_APP_TYPES
    if not have:
        pytest.skip("no parser of a Suricata event type is registered yet")
    validator = schema_validator()
    checked: Counter[str] = Counter()
    failures: list[str] = []
    for k, path in enumerate(captures()):
        eve = tmp_path / f"{k}.json"
        run_app(path, eve, registry=registry)
        events = suricata_types(read_eve(eve))
        checked.update(e["event_type"] for e in events)
        failures += schema_failures(validator, events, path.relative_to(FIXTURES).as_posix())
    print(f"\nvalidated against Suricata's schema: {dict(sorted(checked.items()))}")
    silent = {p for p in have & {"dns", "http", "tls"} if not checked[p]}
    assert not silent, f"registered parsers wrote no event on the fixtures: {sorted(silent)}"
    assert failures == [], "\n".join(failures[:20])


def test_schema_failures_can_fail() -> None:
    """The validator catches a misnamed or mistyped field of an app-layer event, and leaves
    Tocsin's own event types alone."""
    validator = schema_validator()
    base = {"timestamp": "2024-01-01T00:00:00.000000+0000", "event_type": "dns"}
    good = {**base, "dns": {"version": 3, "type": "request", "id": 1}}
    assert schema_failures(validator, [good], "t") == []
    assert schema_failures(validator, [{**base, "dns": {"version": 3, "qname": "x"}}], "t")
    assert schema_failures(validator, [{**base, "dns": {"id": "1"}}], "t")
    assert schema_failures(validator, [{**base, "event_type": "hl7", "hl7": {"x": 1}}], "t") == []
