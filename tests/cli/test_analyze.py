"""`tocsin analyze` from the user's side: the installed `tocsin` command in a subprocess.

Help texts, reproducible output, the one-line error messages and exit codes for bad input
(no traceback, ever), the summary (text and `--summary-json`) and emergency mode end to end.
Captures are the golden fixtures (`tests/fixtures/golden`, see PROVENANCE.md), cut or
corrupted here, or built here byte by byte.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# the command installed beside this interpreter (the venv's), whatever else is on PATH
TOCSIN = str(Path(sys.executable).with_name("tocsin"))

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "golden"
HTTP = GOLDEN / "http-dvwa-pcapng" / "input.pcapng"
SMB = GOLDEN / "smb-dcerpc-zerologon" / "input.pcap"  # classic pcap, little-endian, µs

ANALYZE_OPTIONS = (
    "--eve",
    "-e",
    "--summary-json",
    "--flow-cap",
    "--stats-interval",
    "--progress",
    "--no-progress",
    "--quiet",
    "-q",
    "--app-layer",
    "--no-app-layer",
    "--app-protos",
    "--midstream",
    "--no-midstream",
    "--help",
)


def tocsin(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command, as a user would, with no terminal width set (a message that
    is one line must stay one line whatever the width)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [TOCSIN, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
        check=False,
    )


def assert_no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    """stderr is exactly `message` on one line (nothing else), and the exit code is `code`."""
    assert_no_traceback(proc)
    assert proc.stderr == message + "\n", f"stderr was {proc.stderr!r}"
    assert proc.returncode == code, (proc.returncode, proc.stderr)


def eve_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --------------------------------------------------------------------------- capture building


def pcap_records(data: bytes) -> list[tuple[int, int]]:
    """(offset, caplen) of every record of a little-endian classic pcap."""
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    out = []
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off, caplen))
        off += 16 + caplen
    assert off == len(data)
    return out


def udp_frame(k: int) -> bytes:
    """Ethernet + IPv4 + UDP from 10.1.x.y:40000+k to 10.2.0.1:53, 8 bytes of payload."""
    payload = b"query%03d" % (k % 1000)
    udp = struct.pack("!HHHH", 40000 + k, 53, 8 + len(payload), 0) + payload
    src = bytes([10, 1, (k >> 8) & 0xFF, k & 0xFF])
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0, 64, 17, 0, src, bytes([10, 2, 0, 1])
    )
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def many_flows_pcap(path: Path, flows: int) -> Path:
    """`flows` one-packet UDP flows, 1 ms apart."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k in range(flows):
        f = udp_frame(k)
        out.append(struct.pack("<IIII", 1_700_000_000, k * 1000, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))
    return path


# --------------------------------------------------------------------------- help


def test_root_help_lists_commands_and_options() -> None:
    proc = tocsin("--help")
    assert proc.returncode == 0
    assert_no_traceback(proc)
    for word in ("analyze", "schema", "--version", "--help"):
        assert word in proc.stdout


def test_analyze_help_mentions_every_option() -> None:
    import typer.main

    from tocsin.cli.main import app

    command = typer.main.get_command(app).commands["analyze"]  # type: ignore[attr-defined]
    declared = {o for p in command.params for o in (*p.opts, *p.secondary_opts) if o[0] == "-"}
    assert set(ANALYZE_OPTIONS) <= declared | {"--help"}, "an option disappeared"
    proc = tocsin("analyze", "--help")
    assert proc.returncode == 0
    assert_no_traceback(proc)
    for opt in sorted(declared | set(ANALYZE_OPTIONS)):
        assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", proc.stdout), opt
    assert "Exit status" in proc.stdout


def test_version() -> None:
    from tocsin import __version__

    proc = tocsin("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"tocsin {__version__}"


# --------------------------------------------------------------------------- determinism


def test_same_capture_twice_gives_identical_eve(tmp_path: Path) -> None:
    outs = []
    for k in range(2):
        eve = tmp_path / f"eve{k}.json"
        proc = tocsin("analyze", SMB, "--eve", eve, "--no-progress", "-q")
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        outs.append(eve.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0].count(b'"event_type":"flow"') == 53


def test_eve_to_stdout(tmp_path: Path) -> None:
    proc = tocsin("analyze", HTTP, "--eve", "-", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sum(e["event_type"] == "flow" for e in events) == 4
    assert "Analysed 1 file" in proc.stderr  # the summary moves to stderr


# --------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    proc = tocsin("analyze", "missing.pcap", "--eve", "eve.json", "-q", cwd=tmp_path)
    assert_one_line_error(proc, 2, "tocsin: missing.pcap: cannot read: No such file or directory")
    assert not (tmp_path / "eve.json").exists()


def test_missing_file_long_path(tmp_path: Path) -> None:
    """The same message with a long path: still one line (no wrapping at 80 columns)."""
    missing = tmp_path / ("deep-" * 12) / "missing-capture-file.pcap"
    proc = tocsin("analyze", missing, "--eve", tmp_path / "eve.json", "-q")
    assert_one_line_error(proc, 2, f"tocsin: {missing}: cannot read: No such file or directory")


def test_not_a_capture(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello, this is text\n")
    proc = tocsin("analyze", "notes.txt", "--eve", "eve.json", "-q", cwd=tmp_path)
    assert_one_line_error(
        proc, 2, "tocsin: notes.txt: not a pcap or pcapng file (magic 0x68656c6c)"
    )


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.pcap").write_bytes(b"")
    proc = tocsin("analyze", "empty.pcap", "--eve", "eve.json", "-q", cwd=tmp_path)
    assert_one_line_error(proc, 2, "tocsin: empty.pcap: empty file: no pcap or pcapng header")


def test_truncated_capture_keeps_what_came_before(tmp_path: Path) -> None:
    data = SMB.read_bytes()
    records = pcap_records(data)
    k = len(records) // 2
    off, caplen = records[k]
    assert caplen > 20
    cut = off + 16 + caplen // 2
    (tmp_path / "cut.pcap").write_bytes(data[:cut])
    (tmp_path / "prefix.pcap").write_bytes(data[:off])  # the k complete packets before the cut

    proc = tocsin("analyze", "cut.pcap", "--eve", "cut.json", "-q", cwd=tmp_path)
    assert_one_line_error(
        proc,
        1,
        f"tocsin: cut.pcap: truncated packet record at byte {off} (packet {k + 1}): "
        f"{caplen // 2} of {caplen} bytes present",
    )
    ref = tocsin("analyze", "prefix.pcap", "--eve", "prefix.json", "-q", cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr

    got = eve_events(tmp_path / "cut.json")
    want = eve_events(tmp_path / "prefix.json")
    flows = [e for e in got if e["event_type"] == "flow"]
    assert flows == [e for e in want if e["event_type"] == "flow"]
    assert len(flows) > 10
    errors = [e for e in got if e["event_type"] == "sensor" and e["sensor"]["kind"] != "counters"]
    assert [e["sensor"]["kind"] for e in errors] == ["capture_error"]
    assert str(off) in errors[0]["sensor"]["message"]
    alerts = [e["alert"]["signature_id"] for e in got if e["event_type"] == "alert"]
    assert alerts == [9000002]


def test_corrupt_caplen(tmp_path: Path) -> None:
    data = bytearray(SMB.read_bytes())
    off, _ = pcap_records(bytes(data))[3]
    struct.pack_into("<I", data, off + 8, 0x7FFFFFFF)
    (tmp_path / "corrupt.pcap").write_bytes(bytes(data))
    proc = tocsin("analyze", "corrupt.pcap", "--eve", "eve.json", "-q", cwd=tmp_path)
    assert_one_line_error(
        proc,
        1,
        f"tocsin: corrupt.pcap: packet record at byte {off} (packet 4) has caplen 2147483647, "
        "more than the 262144-byte limit (corrupt length field)",
    )
    events = eve_events(tmp_path / "eve.json")
    assert any(e["event_type"] == "flow" for e in events)  # the 3 packets before were analysed


def test_unwritable_eve_path(tmp_path: Path) -> None:
    proc = tocsin("analyze", HTTP, "--eve", tmp_path / "no" / "such" / "dir" / "eve.json", "-q")
    assert_one_line_error(
        proc,
        2,
        f"tocsin: {tmp_path / 'no' / 'such' / 'dir' / 'eve.json'}: cannot write EVE output: "
        "No such file or directory",
    )


def test_unwritable_summary_fails_before_the_analysis(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    bad = tmp_path / "no" / "summary.json"
    proc = tocsin("analyze", HTTP, "--eve", eve, "--summary-json", bad, "-q")
    assert_one_line_error(
        proc, 2, f"tocsin: {bad}: cannot write summary: No such file or directory"
    )
    assert not eve.exists()  # nothing was analysed


def test_eve_path_is_a_directory(tmp_path: Path) -> None:
    proc = tocsin("analyze", HTTP, "--eve", ".", "-q", cwd=tmp_path)
    assert_one_line_error(proc, 2, "tocsin: .: cannot write EVE output: Is a directory")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--flow-cap", "3"), "tocsin: --flow-cap must be at least 16 (got 3)"),
        (("--stats-interval", "0"), "tocsin: --stats-interval must be at least 1 second"),
        (
            ("--app-protos", "dns,foo"),
            "tocsin: --app-protos: unknown protocol foo (known: http, tls, dns, smb, dcerpc, "
            "dhcp, ssh, rdp, dicom, hl7, ftp, krb5, pop3, imap)",
        ),
    ],
)
def test_bad_option_values(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    proc = tocsin("analyze", HTTP, "--eve", "eve.json", "-q", *args, cwd=tmp_path)
    assert_one_line_error(proc, 2, message)
    assert not (tmp_path / "eve.json").exists()


def test_app_layer_options_choose_what_is_parsed(tmp_path: Path) -> None:
    """All parsers by default; `--app-protos` keeps some; `--no-app-layer` none (and no
    `app_proto` on flows)."""

    def types(*args: str) -> dict[str, int]:
        proc = tocsin("analyze", ROOT / "samples", "--eve", "eve.json", "-q", *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        counts: dict[str, int] = {}
        for line in (tmp_path / "eve.json").read_text().splitlines():
            ev = json.loads(line)
            counts[ev["event_type"]] = counts.get(ev["event_type"], 0) + 1
            if ev["event_type"] == "flow" and "app_proto" in ev:
                counts["app_proto"] = counts.get("app_proto", 0) + 1
        return counts

    every = types()
    assert {"http", "smb", "dicom", "hl7"} <= set(every)
    medical = types("--app-protos", "dicom,hl7")
    assert {"dicom", "hl7"} <= set(medical) and not {"http", "smb"} & set(medical)
    assert medical["dicom"] == every["dicom"] and medical["hl7"] == every["hl7"]
    off = types("--no-app-layer")
    assert not {"http", "smb", "dicom", "hl7", "app_proto"} & set(off)
    assert off["flow"] == every["flow"]


def test_unknown_option_is_a_usage_error(tmp_path: Path) -> None:
    proc = tocsin("analyze", HTTP, "--no-such-option", cwd=tmp_path)
    assert proc.returncode == 2
    assert_no_traceback(proc)
    assert "--no-such-option" in proc.stderr


# --------------------------------------------------------------------------- summaries


def test_text_summary(tmp_path: Path) -> None:
    proc = tocsin("analyze", HTTP, "--eve", "eve.json", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0
    assert proc.stderr == ""
    out = proc.stdout
    assert "64 packets" in out
    assert "4 flows" in out
    assert "Top talkers" in out
    assert "192.168.111.148" in out and "192.168.111.154" in out
    assert "Protocols" in out and "TCP" in out
    assert "Application protocols" in out and "http" in out
    assert "EVE events written to eve.json:" in out and "4 flow" in out


def test_summary_json(tmp_path: Path) -> None:
    proc = tocsin(
        "analyze", HTTP, "--eve", "eve.json", "--summary-json", "s.json", "-q", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # -q: no summary on the terminal, the file is still written
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["packets"] == 64
    assert s["flows"] == 4
    assert s["events"]["flow"] == 4
    assert s["flows_by_proto"] == {"TCP": 4}
    assert s["flows_by_app_proto"]["http"] >= 1
    assert s["events"]["http"] >= 1
    for key in ("wall_s", "startup_s", "steady_pps"):
        assert isinstance(s[key], int | float) and s[key] >= 0, key
    assert 0 < s["startup_s"] <= s["wall_s"]
    assert s["errors"] == [] and s["drops"] == {}


def test_unwritable_summary_json(tmp_path: Path) -> None:
    proc = tocsin(
        "analyze", HTTP, "--eve", "eve.json", "--summary-json", "no/s.json", "-q", cwd=tmp_path
    )
    assert_one_line_error(
        proc, 2, "tocsin: no/s.json: cannot write summary: No such file or directory"
    )


# --------------------------------------------------------------------------- emergency mode


def test_emergency_mode_end_to_end(tmp_path: Path) -> None:
    capture = many_flows_pcap(tmp_path / "many.pcap", 40)
    proc = tocsin(
        "analyze", capture, "--eve", "eve.json", "--flow-cap", "16",
        "--summary-json", "s.json", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    events = eve_events(tmp_path / "eve.json")
    alerts = [e for e in events if e["event_type"] == "alert"]
    assert [a["alert"]["signature_id"] for a in alerts] == [9000001]
    assert alerts[0]["alert"]["gid"] == 9
    flows = [e for e in events if e["event_type"] == "flow"]
    assert len(flows) == 40  # nothing lost: evicted flows are logged too
    emergency = [f for f in flows if f["flow"].get("emergency") is True]
    assert len(emergency) >= 40 - 16
    assert all(f["flow"]["reason"] == "forced" for f in emergency[: 40 - 16])
    drops = json.loads((tmp_path / "s.json").read_text())["drops"]
    evicted = [k for k in drops if "evicted" in k]
    assert evicted and drops[evicted[0]] == 40 - 16, drops
    assert "evicted" in proc.stdout


def test_no_emergency_under_the_cap(tmp_path: Path) -> None:
    capture = many_flows_pcap(tmp_path / "few.pcap", 15)
    proc = tocsin("analyze", capture, "--eve", "eve.json", "--flow-cap", "16", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    events = eve_events(tmp_path / "eve.json")
    assert not [e for e in events if e["event_type"] == "alert"]
    assert not [e for e in events if e.get("flow", {}).get("emergency")]
