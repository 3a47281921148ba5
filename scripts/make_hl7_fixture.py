"""Make the HL7 fixture captures: a real MLLP client and server (the `hl7` library) over loopback.

Usage (root, or a user allowed to capture on `lo`)::

    .venv/bin/python scripts/make_hl7_fixture.py [--out tests/fixtures/applayer/hl7]

For each scenario it starts `tcpdump -i lo` filtered on the HL7 ports (2575, the registered
MLLP port, and 6661, common on interface engines), runs an `hl7.mllp` server (asyncio) and an
`hl7.mllp` client in this process, stops the capture and writes `<out>/hl7-<scenario>.pcap`. It
then copies nDPI's real HL7 capture from the shared corpus as `hl7-ndpi.pcap` and writes
`<out>/PROVENANCE.md` (command, date, versions, sha256, licences).

Messages are built with `hl7.parse` and acknowledged with `Message.create_ack`; every patient
value is fake ("TOCSIN^FAKE^PATIENT", "FAKE-ID-12345", born 19010101, "1 FAKE STREET"...), and
the parser tests assert none of it appears in an event. Scenarios:

- `aa` (port 2575): ADT^A01, ORM^O01 and ORU^R01 on one connection, each answered AA.
- `errors` (port 2575): ADT^A08 answered AE with an ERR segment, ORM^O01 answered AR.
- `noack` (port 6661): ORU^R01 the server reads and never acknowledges; the client waits
  one second, then closes the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Coroutine
from importlib.metadata import version
from pathlib import Path

import hl7
from hl7.mllp import open_hl7_connection, start_hl7_server
from loopback_capture import capture, tcpdump_command  # scripts/, beside this script

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "fixtures" / "applayer" / "hl7"
NDPI = ROOT.parent / "shared" / "corpus" / "pcaps" / "ndpi" / "pcap" / "hl7.pcap"
HOST = "127.0.0.1"
PORTS = (2575, 6661)

FAKE_PID = (
    "PID|1||FAKE-ID-12345^^^TOCSIN^MR||TOCSIN^FAKE^PATIENT||19010101|O|||"
    "1 FAKE STREET^^FAKETOWN^^00000||555-0100-FAKE"
)
TS = "20240101120000"


def msh(kind: str, control_id: str, version: str = "2.5.1") -> str:
    return (
        f"MSH|^~\\&|TOCSIN_SEND|TOCSIN_HOSP|TOCSIN_RECV|TOCSIN_LAB|{TS}||{kind}|{control_id}"
        f"|P|{version}"
    )


def message(*segments: str) -> hl7.Message:
    return hl7.parse("\r".join(segments))


ADT_A01 = message(
    msh("ADT^A01^ADT_A01", "TOCSIN-0001"),
    f"EVN|A01|{TS}",
    FAKE_PID,
    "PV1|1|I|FAKEWARD^101^1||||FAKEDOC^TOCSIN^DOCTOR",
    "NK1|1|TOCSIN^FAKE^RELATIVE|SPO",
)
ORM_O01 = message(
    msh("ORM^O01", "TOCSIN-0002", "2.3"),
    FAKE_PID,
    "ORC|NW|FAKE-ORDER-1",
    "OBR|1|FAKE-ORDER-1||CTHEAD^CT HEAD FAKE ORDER",
)
ORU_R01 = message(
    msh("ORU^R01^ORU_R01", "TOCSIN-0003"),
    FAKE_PID,
    "OBR|1|FAKE-ORDER-1||GLU^GLUCOSE",
    "OBX|1|ST|GLU^GLUCOSE||TOCSIN-FAKE-OBSERVATION||||||F",
)
ADT_A08 = message(
    msh("ADT^A08^ADT_A01", "TOCSIN-0004"),
    f"EVN|A08|{TS}",
    FAKE_PID,
    "PV1|1|I|FAKEWARD^101^1",
)
ORM_REJECTED = message(
    msh("ORM^O01", "TOCSIN-0005", "2.3"),
    FAKE_PID,
    "ORC|NW|FAKE-ORDER-2",
)
ORU_UNANSWERED = message(
    msh("ORU^R01^ORU_R01", "TOCSIN-0006"),
    FAKE_PID,
    "OBX|1|ST|GLU^GLUCOSE||TOCSIN-FAKE-OBSERVATION||||||F",
)

# control id -> (ack code, extra segment) the server answers with; absent: no answer
ANSWERS: dict[str, tuple[str, str | None]] = {
    "TOCSIN-0001": ("AA", None),
    "TOCSIN-0002": ("AA", None),
    "TOCSIN-0003": ("AA", None),
    "TOCSIN-0004": ("AE", "ERR||PID^1^3|103^Table value not found^HL70357|E"),
    "TOCSIN-0005": ("AR", None),
}


async def serve(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
    """The receiving system: acknowledges by `ANSWERS`, stays silent otherwise."""
    n = 100
    try:
        while True:
            msg = await reader.readmessage()
            answer = ANSWERS.get(str(msg.segment("MSH")(10)))
            if answer is None:
                continue
            code, extra = answer
            n += 1
            ack = msg.create_ack(code, message_id=f"TOCSIN-ACK-{n}")
            if extra:
                ack = hl7.parse(str(ack).rstrip("\r") + "\r" + extra)
            writer.writemessage(ack)
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass  # the client closed
    finally:
        writer.close()


async def exchange(port: int, messages: list[hl7.Message], linger: float = 0.0) -> list[str]:
    """Send `messages` on one connection, wait for each ACK the server gives; returns the ack
    codes received (an unanswered message times out after `linger` seconds)."""
    server = await start_hl7_server(serve, HOST, port)
    codes = []
    try:
        reader, writer = await open_hl7_connection(HOST, port)
        for msg in messages:
            writer.writemessage(msg)
            await writer.drain()
            try:
                ack = await asyncio.wait_for(reader.readmessage(), timeout=linger or 5.0)
                codes.append(str(ack.segment("MSA")(1)))
            except TimeoutError:
                codes.append("-")
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.2)
    finally:
        server.close()
        await server.wait_closed()
    return codes


async def aa() -> None:
    got = await exchange(2575, [ADT_A01, ORM_O01, ORU_R01])
    assert got == ["AA", "AA", "AA"], got


async def errors() -> None:
    got = await exchange(2575, [ADT_A08, ORM_REJECTED])
    assert got == ["AE", "AR"], got


async def noack() -> None:
    got = await exchange(6661, [ORU_UNANSWERED], linger=1.0)
    assert got == ["-"], got


SCENARIOS: dict[str, Callable[[], Coroutine[None, None, None]]] = {
    "aa": aa,
    "errors": errors,
    "noack": noack,
}
SCENARIO_DOC = {
    "aa": "port 2575: ADT^A01 (v2.5.1), ORM^O01 (v2.3), ORU^R01 (v2.5.1) on one connection, "
    "each answered AA",
    "errors": "port 2575: ADT^A08 answered AE with an ERR segment, ORM^O01 answered AR",
    "noack": "port 6661: ORU^R01 never acknowledged; the client closes after 1 s",
}


def provenance(out: Path, made: list[Path], ndpi: Path) -> None:
    tcpdump = subprocess.run(["tcpdump", "--version"], capture_output=True, text=True)
    lines = [
        "# HL7 fixtures: provenance",
        "",
        "`hl7-*.pcap` except `hl7-ndpi.pcap`: synthetic captures made by",
        "`scripts/make_hl7_fixture.py`, a real MLLP exchange between the `hl7` library's asyncio",
        "client and server over loopback, captured with tcpdump. No real patient: every PID/PV1/",
        'OBX/NK1 value is fake ("TOCSIN^FAKE^PATIENT", "FAKE-ID-12345", 19010101, "1 FAKE',
        'STREET", "TOCSIN-FAKE-OBSERVATION"...). Licence: Apache-2.0 (part of Tocsin).',
        "",
        f"- made: {datetime.date.today().isoformat()}, command: "
        "`.venv/bin/python scripts/make_hl7_fixture.py`",
        f"- capture: `{' '.join(tcpdump_command(Path('<file>'), PORTS))}`",
        f"- versions: Python {platform.python_version()}, hl7 {version('hl7')}, "
        f"{tcpdump.stdout.splitlines()[0]}",
        "",
        "| file | scenario |",
        "|---|---|",
    ]
    lines += [f"| `{p.name}` | {SCENARIO_DOC[p.stem.removeprefix('hl7-')]} |" for p in made]
    lines += [
        "| `hl7-ndpi.pcap` | real capture, copied byte for byte from the shared corpus "
        "`pcaps/ndpi/pcap/hl7.pcap` = ntop/nDPI (3b1286ab03b0) `tests/cfgs/default/pcap/hl7.pcap`,"
        " licence LGPL-3.0 (nDPI COPYING): one ADT^A01 (v2.3, cartoon test patient) and its AA, "
        "TCP 10.0.0.155:49242 -> 10.0.0.126:6661 |",
        "",
        "sha256:",
        "",
        "```",
    ]
    lines += [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in [*made, ndpi]]
    lines += ["```", ""]
    (out / "PROVENANCE.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("scenario", nargs="*", help=f"of {', '.join(SCENARIOS)} (default: all)")
    args = ap.parse_args(argv)
    if unknown := set(args.scenario) - set(SCENARIOS):
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name in args.scenario or SCENARIOS:
        path = out / f"hl7-{name}.pcap"
        with capture(path, PORTS):
            asyncio.run(SCENARIOS[name]())
        made.append(path)
        print(f"{path}: {path.stat().st_size} bytes", file=sys.stderr)
    if not args.scenario:
        ndpi = out / "hl7-ndpi.pcap"
        shutil.copyfile(NDPI, ndpi)
        provenance(out, made, ndpi)
    return 0


if __name__ == "__main__":
    sys.exit(main())
