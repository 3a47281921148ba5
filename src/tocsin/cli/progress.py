"""Progress reporting for long runs: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tocsin.runtime.analyze import Progress as Report
from tocsin.runtime.clock import monotonic

PLAIN_EVERY_S = 5.0


@contextmanager
def make_progress(
    console: Console, *, enabled: bool, tty: bool
) -> Iterator[Callable[[Report], None] | None]:
    """Yields the callback to give `analyze` (None when progress is off)."""
    if not enabled:
        yield None
        return
    if tty:
        with Progress(
            TextColumn("[bold]analysing"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("analyse", total=None, rate="")
            start = monotonic()

            def update(r: Report) -> None:
                elapsed = max(monotonic() - start, 1e-6)
                bar.update(
                    task,
                    completed=r.bytes_read,
                    total=r.bytes_total or None,
                    rate=f"{r.packets:,} packets, {r.packets / elapsed:,.0f} packets/s",
                )

            yield update
        return
    start = monotonic()
    last = [start]

    def plain(r: Report) -> None:
        now = monotonic()
        if now - last[0] < PLAIN_EVERY_S:
            return
        last[0] = now
        pct = 100.0 * r.bytes_read / r.bytes_total if r.bytes_total else 0.0
        console.print(
            f"tocsin: {r.packets:,} packets, {r.bytes_read / 1e6:,.1f} of "
            f"{r.bytes_total / 1e6:,.1f} MB ({pct:.0f}%), "
            f"{r.packets / (now - start):,.0f} packets/s, reading {r.current_file}",
            markup=False,
            highlight=False,
        )

    yield plain
