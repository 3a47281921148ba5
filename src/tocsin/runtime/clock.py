"""Wall-clock helpers for the CLI's progress and timing report (never used by pipeline stages)."""

from __future__ import annotations

import os
import time


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc), or 0.0 where unknown."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 overall: starttime
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


def monotonic() -> float:
    return time.monotonic()
