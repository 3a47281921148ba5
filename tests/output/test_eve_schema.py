"""EVE output against its contracts: Suricata's JSON Schema, `model.events`, Tocsin's schema.

Runs the pipeline on every golden fixture (`tests/fixtures/golden`), on one of them again with a
16-flow table (emergency mode: `alert` events and `"emergency": true` flows) and on a hand-made
capture of malformed packets (`anomaly` events), then checks every line:

- `flow`, `anomaly`, `stats` and `alert` lines validate against Suricata's own schema
  (`tests/fixtures/suricata/schema.json`, OISF/suricata `etc/schema.json`; `sensor` is Tocsin's
  own type, which Suricata's schema does not know);
- every line decodes strictly into `tocsin.model.events.Event`;
- every line validates against Tocsin's generated schema, and the committed copy is current.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import msgspec
import pytest

from tocsin.model.events import Event, FlowEvent
from tocsin.output.schema import generate

# the command installed beside this interpreter (the venv's), whatever else is on PATH
TOCSIN = str(Path(sys.executable).with_name("tocsin"))

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
SURICATA_SCHEMA = ROOT / "tests" / "fixtures" / "suricata" / "schema.json"
SURICATA_TYPES = ("flow", "anomaly", "stats", "alert")


def _eth_ipv4(payload: bytes, proto: int = 17, total: int | None = None, hl: int = 5) -> bytes:
    ip_len = total if total is not None else 20 + len(payload)
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | hl,
        0,
        ip_len,
        1,
        0,
        64,
        proto,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    return b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + hdr + payload


def malformed_capture(path: Path) -> Path:
    """A pcap of decoder anomalies: IPv4 header cut short, IP length past the frame, IP header
    length below 20, a UDP header cut short; then one good UDP packet."""
    frames = [
        b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + b"\x45\x00\x00\x30\x00\x01",  # 6 of 20 bytes
        _eth_ipv4(struct.pack("!HHHH", 1000, 53, 8, 0), total=400),
        _eth_ipv4(struct.pack("!HHHH", 1000, 53, 8, 0), hl=3),
        _eth_ipv4(b"\x03\xe8\x00"),  # 3 bytes of UDP header
        _eth_ipv4(struct.pack("!HHHH", 1000, 53, 12, 0) + b"ping"),
    ]
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + k, 0, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))
    return path


@pytest.fixture(scope="module")
def eve_lines(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    """(run name, raw line) for every EVE line of every run."""
    from tocsin.flow.table import FlowConfig
    from tocsin.runtime.analyze import analyze
    from tocsin.runtime.pipeline import PipelineConfig

    tmp = tmp_path_factory.mktemp("eve_schema")
    runs: list[tuple[str, Path, int]] = []
    for folder in sorted(p for p in GOLDEN.iterdir() if p.is_dir()):
        (capture,) = folder.glob("input.pcap*")
        runs.append((folder.name, capture, 1_000_000))
    runs.append(("emergency", GOLDEN / "smb-dcerpc-zerologon" / "input.pcap", 16))
    runs.append(("malformed", malformed_capture(tmp / "malformed.pcap"), 1_000_000))
    lines: list[tuple[str, bytes]] = []
    for name, capture, cap in runs:
        eve = tmp / f"{name}.json"
        analyze([capture], eve, PipelineConfig(flow=FlowConfig(cap=cap)))
        data = eve.read_bytes()
        assert data.endswith(b"\n"), f"{name}: EVE does not end with a newline"
        lines += [(name, line) for line in data.split(b"\n")[:-1]]
    return lines


def test_runs_cover_every_event_type(eve_lines: list[tuple[str, bytes]]) -> None:
    types = Counter(json.loads(line)["event_type"] for _, line in eve_lines)
    for t in (*SURICATA_TYPES, "sensor"):
        assert types[t] > 0, f"no {t} event in the runs: {dict(types)}"
    anomalies = {
        json.loads(line)["anomaly"]["event"]
        for name, line in eve_lines
        if name == "malformed"
        if b'"anomaly"' in line and json.loads(line)["event_type"] == "anomaly"
    }
    assert len(anomalies) >= 3, anomalies
    emergency = [json.loads(line) for name, line in eve_lines if name == "emergency"]
    assert any(e.get("flow", {}).get("emergency") for e in emergency)


def test_suricata_schema_validates_standard_types(eve_lines: list[tuple[str, bytes]]) -> None:
    schema = json.loads(SURICATA_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema)
    failures = []
    for name, line in eve_lines:
        event = json.loads(line)
        if event["event_type"] not in SURICATA_TYPES:
            continue
        for err in validator.iter_errors(event):
            failures.append(f"{name}: {event['event_type']} {err.json_path}: {err.message}")
    assert failures == [], "\n".join(failures[:20])


def test_suricata_schema_rejects_unknown_fields() -> None:
    """The reference schema is strict enough to catch a misnamed field."""
    validator = jsonschema.Draft202012Validator(json.loads(SURICATA_SCHEMA.read_text()))
    good = {
        "timestamp": "2024-01-01T00:00:00.000000+0000",
        "event_type": "flow",
        "flow": {"pkts_toserver": 1},
    }
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "flow": {"packets_toserver": 1}})
    assert not validator.is_valid({**good, "src_port": "80"})


def test_every_line_decodes_strictly(eve_lines: list[tuple[str, bytes]]) -> None:
    for name, line in eve_lines:
        try:
            msgspec.json.decode(line, type=Event, strict=True)
        except msgspec.ValidationError as exc:  # pragma: no cover - the failure message
            pytest.fail(f"{name}: {exc}: {line[:300]!r}")


def test_strict_decoding_can_fail() -> None:
    line = b'{"timestamp":"t","event_type":"flow","flow_id":1,"src_ip":"a","dest_ip":"b"}'
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(line, type=Event)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"timestamp":"t","event_type":"nope"}', type=Event)


def test_every_line_validates_against_tocsin_schema(
    eve_lines: list[tuple[str, bytes]],
) -> None:
    schema = json.loads(generate())
    validator = jsonschema.Draft202012Validator(schema)
    failures = []
    for name, line in eve_lines:
        for err in validator.iter_errors(json.loads(line)):
            failures.append(f"{name}: {err.json_path}: {err.message}")
    assert failures == [], "\n".join(failures[:20])


def test_flow_lines_round_trip(eve_lines: list[tuple[str, bytes]]) -> None:
    """The numba-formatted flow lines are exactly what msgspec encodes from `FlowEvent`,
    up to key order: nothing is lost, renamed or retyped."""
    for name, line in eve_lines:
        if b'"event_type":"flow"' in line:
            ev = msgspec.json.decode(line, type=FlowEvent)
            again = json.loads(msgspec.json.encode(ev))
            assert again == json.loads(line), name


def test_schema_check_command() -> None:
    proc = subprocess.run(
        [TOCSIN, "schema", "--check"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_exercise_mark_closes_every_line_and_stays_valid(tmp_path: Path) -> None:
    """Every event of an exercise replay carries `exercise` (flows formatted by the kernel as
    well as typed records), and the lines still validate against the generated schema."""
    from tocsin.model.exercise import ExerciseMark
    from tocsin.output.schema import generate
    from tocsin.runtime.analyze import analyze
    from tocsin.runtime.pipeline import PipelineConfig

    mark = ExerciseMark(id="chu-1-test", capture="x.pcap", profile="chu", seed=1)
    eve = tmp_path / "eve.json"
    analyze([GOLDEN / "dns-ipv4-ipv6" / "input.pcap"], eve, PipelineConfig(), mark=mark)
    lines = eve.read_bytes().splitlines()
    assert lines
    schema = json.loads(generate())
    validator = jsonschema.Draft202012Validator(schema)
    types = set()
    for line in lines:
        ev = json.loads(line)
        types.add(ev["event_type"])
        assert ev["exercise"] == {
            "id": "chu-1-test",
            "capture": "x.pcap",
            "profile": "chu",
            "seed": 1,
        }
        validator.validate(ev)
    assert {"flow", "dns", "stats"} <= types
