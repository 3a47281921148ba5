"""Helpers for the `tocsin rules test` tests: tiny test folders and a fake engine.

`make_test` writes a suricata-verify style folder (test.yaml, rules, a tiny pcap, extra files).
`fake_run` is an engine stand-in (module-level, so a process pool can pickle it): it reads
`fake.json` in the test's folder — `{"events": [...], "outcome": {...RunOutcome fields},
"raise": "message", "no_eve": true, "eve_text": "...", "record": true}` — and writes the events
as the run's EVE JSON lines, so each test states exactly what "the engine" saw; with `record`
it adds a `plan` event describing the plan it was given (for checks on what reached it).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from tocsin.detect.verify import RunOutcome, TestPlan


def tiny_pcap(path: Path) -> Path:
    """A pcap with one Ethernet/IPv4/UDP packet (enough for a planner that needs a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    udp = struct.pack("!HHHH", 1024, 53, 8, 0)
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 28, 1, 0, 64, 17, 0, bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
    )
    frame = b"\x00\x01\x02\x03\x04\x05\x00\x01\x02\x03\x04\x06\x08\x00" + ip + udp
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 1_700_000_000, 0, len(frame), len(frame)) + frame
    path.write_bytes(header + record)
    return path


def make_test(
    root: Path,
    name: str,
    test_yaml: str,
    *,
    rules: str | None = None,
    pcap: str | None = "input.pcap",
    files: dict[str, str] | None = None,
    fake: dict[str, Any] | None = None,
) -> Path:
    """A test folder `root/name` with its test.yaml, `test.rules` (if `rules`), a tiny pcap
    (unless `pcap` is None), other `files`, and the fake engine's `fake.json`."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.yaml").write_text(test_yaml)
    if rules is not None:
        (folder / "test.rules").write_text(rules)
    if pcap is not None:
        tiny_pcap(folder / pcap)
    for fname, text in (files or {}).items():
        (folder / fname).parent.mkdir(parents=True, exist_ok=True)
        (folder / fname).write_text(text)
    if fake is not None:
        (folder / "fake.json").write_text(json.dumps(fake))
    return folder


def alert(sid: int, **extra: Any) -> dict[str, Any]:
    """An EVE alert event for `sid`."""
    return {
        "event_type": "alert",
        "src_ip": "10.0.0.1",
        "src_port": 1024,
        "dest_ip": "10.0.0.2",
        "dest_port": 80,
        "proto": "TCP",
        "alert": {"signature_id": sid, "gid": 1, "rev": 1, "signature": f"sid {sid}"},
        **extra,
    }


def _record(plan: TestPlan) -> dict[str, Any]:
    """What the engine was given, as an event the test's checks can look at."""
    s = plan.settings
    return {
        "event_type": "plan",
        "pcap": plan.pcap.name,
        "rules": [f.name for f in plan.rule_files],
        "settings": {
            "midstream": s.midstream,
            "checksum": s.checksum,
            "inline": s.inline,
            "home_net": s.address_groups["HOME_NET"],
        },
    }


def fake_run(plan: TestPlan, eve: Path) -> RunOutcome:
    """The engine stand-in (see the module docstring)."""
    spec_path = plan.folder / "fake.json"
    spec: dict[str, Any] = json.loads(spec_path.read_text()) if spec_path.exists() else {}
    if "raise" in spec:
        raise RuntimeError(spec["raise"])
    if "eve_text" in spec:
        eve.write_text(spec["eve_text"])
    elif not spec.get("no_eve"):
        events = list(spec.get("events", []))
        if spec.get("record"):
            events.append(_record(plan))
        eve.write_text("".join(json.dumps(e) + "\n" for e in events))
    outcome = spec.get("outcome", {"ran": True})
    for key in ("rule_errors", "warnings"):
        if key in outcome:
            outcome[key] = tuple(outcome[key])
    return RunOutcome(**outcome)
