"""`run.py --profile`: run `tocsin analyze` on the mixed capture under cProfile.

The Tocsin command (`--tocsin-cmd`) is resolved to something cProfile can run: a
`python ...` command becomes `python -m cProfile -o OUT ...`; an installed console script
(`tocsin`, found through its entry point, so a pyenv shim is fine) is called in-process under
`cProfile.run`; another Python script with a shebang is run by `python -m cProfile`.
Returns the top 30 entries by cumulative time, or a line saying why there is no profile.
The profile run is not one of the measured rows: cProfile slows pure-Python code several
times and compiled kernels not at all.
"""

from __future__ import annotations

import argparse
import io
import pstats
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import make_captures


def profiled_command(tocsin_cmd: list[str], out: Path) -> list[str] | None:
    head, rest = tocsin_cmd[0], tocsin_cmd[1:]
    prefix = [sys.executable, "-m", "cProfile", "-o", str(out)]
    if Path(head).name.startswith("python"):
        return [*prefix, *rest]
    for ep in metadata.entry_points(group="console_scripts", name=Path(head).name):
        module, _, func = ep.value.partition(":")
        code = (
            f"import cProfile, sys; from {module} import {func} as main; "
            f"sys.argv[0] = {head!r}; cProfile.run('main()', {str(out)!r})"
        )
        return [sys.executable, "-c", code, *rest]
    script = shutil.which(head)
    if script is None:
        return None
    with open(script, "rb") as f:
        first = f.readline()
    if first.startswith(b"#!") and b"python" in first:
        return [*prefix, script, *rest]
    return None


def run(args: argparse.Namespace, work: Path) -> str:
    out = work / "tocsin-mixed.prof"
    out.unlink(missing_ok=True)
    capture = make_captures.DATA / "mixed.pcap"
    base = profiled_command(shlex.split(args.tocsin_cmd), out)
    if base is None:
        return f"no profile: cannot run {args.tocsin_cmd!r} under cProfile"
    cmd = [*base, "analyze", str(capture), "--eve", str(work / "tocsin-profile.eve.json")]
    cmd += ["--summary-json", str(work / "tocsin-profile.summary.json"), "--no-progress"]
    print(f"  profile   {shlex.join(cmd)}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    (work / "tocsin-profile.eve.json").unlink(missing_ok=True)
    if not out.exists():
        return f"no profile (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    text = io.StringIO()
    pstats.Stats(str(out), stream=text).sort_stats("cumulative").print_stats(30)
    return f"$ {shlex.join(cmd)}\n{text.getvalue()}"
