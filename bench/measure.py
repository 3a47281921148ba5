"""Run one command as a child process and measure it as a whole process.

Wall time is `perf_counter` around spawn .. exit. The command runs under `/usr/bin/time`, which
reports its child's CPU time and `ru_maxrss` (the kernel's high-water RSS of the largest single
process of the tree). `time` is needed because a child forked straight from this harness would
inherit the harness's own RSS (~70 MB of numpy) in its high-water mark at exec; without
`/usr/bin/time` we fall back to `wait4` and that artifact. Because some peers fork helpers
(nfstream's meters), a sampler also sums the PSS of the command's process tree every
`SAMPLE_S`; `peak_rss_mb` is the larger of the two.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

USE_TIME = os.access("/usr/bin/time", os.X_OK)
SAMPLE_S = 0.2


@dataclass(frozen=True)
class Measured:
    cmd: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_mb: float  # largest single process (kernel high-water mark)
    tree_pss_mb: float  # sampled peak of the tree's summed PSS
    timed_out: bool
    stdout: Path
    stderr: Path

    @property
    def peak_rss_mb(self) -> float:
        return max(self.maxrss_mb, self.tree_pss_mb)


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            tree = _tree(self.pid)[1:] if USE_TIME else _tree(self.pid)
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in tree))
            self.stop.wait(SAMPLE_S)


def _kill_group(pid: int) -> None:
    """Kill the process group this harness started for one child (its own session)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run(
    cmd: list[str], stdout: Path, stderr: Path, timeout_s: float, env: dict[str, str] | None = None
) -> Measured:
    rusage_file = stderr.with_suffix(".rusage")
    rusage_file.unlink(missing_ok=True)
    full = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(rusage_file), *cmd] if USE_TIME else cmd
    with stdout.open("wb") as out, stderr.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            full, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, env=env
        )
        sampler = _Sampler(proc.pid)
        sampler.start()
        timer = threading.Timer(timeout_s, _kill_group, (proc.pid,))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timed_out = timer.finished.is_set()
        timer.cancel()
        sampler.stop.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    maxrss_kb, user_s, sys_s = float(usage.ru_maxrss), usage.ru_utime, usage.ru_stime
    if USE_TIME:
        with contextlib.suppress(OSError, ValueError):  # killed: keep wait4's figures
            maxrss_kb, user_s, sys_s = map(float, rusage_file.read_text().split()[-3:])
    return Measured(
        cmd=cmd,
        returncode=proc.returncode,
        wall_s=wall,
        user_s=user_s,
        sys_s=sys_s,
        maxrss_mb=maxrss_kb / 1024,
        tree_pss_mb=sampler.peak_kb / 1024,
        timed_out=timed_out,
        stdout=stdout,
        stderr=stderr,
    )
