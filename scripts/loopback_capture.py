"""Capture loopback traffic into a pcap while a block runs (for the DICOM and HL7 fixture
scripts, which record real exchanges between a client and a server on 127.0.0.1).

Needs tcpdump and the right to capture (root, or CAP_NET_RAW): without either, the scripts stop
with one line saying so.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def tcpdump_command(path: Path, ports: tuple[int, ...]) -> list[str]:
    """--immediate-mode: packets reach the file at once, none is lost in the kernel's ring
    buffer when the capture is stopped; -Z root: keep the right to write the output file."""
    filt = " or ".join(f"tcp port {p}" for p in ports)
    return [
        "tcpdump",
        "-i",
        "lo",
        "-n",
        "-U",
        "--immediate-mode",
        "-Z",
        "root",
        "-w",
        str(path),
        filt,
    ]


@contextmanager
def capture(path: Path, ports: tuple[int, ...]) -> Iterator[None]:
    """Capture `ports` on lo into `path` (classic pcap) while the block runs."""
    try:
        proc = subprocess.Popen(
            tcpdump_command(path, ports), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
    except FileNotFoundError:
        raise SystemExit("tcpdump not found: install it (Debian: apt install tcpdump)") from None
    assert proc.stderr is not None
    line = proc.stderr.readline().decode()  # "listening on lo, ..." once it is ready
    if "listening" not in line:
        proc.kill()
        rest = proc.stderr.read().decode().strip()
        why = (line.strip() + " " + rest).strip() or f"exit status {proc.wait()}"
        raise SystemExit(f"tcpdump could not capture on lo (run as root?): {why}")
    try:
        yield
        time.sleep(1.0)  # the last FIN/ACKs
    finally:
        proc.terminate()
        proc.wait(timeout=10)
