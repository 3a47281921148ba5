"""`tocsin detectors list`: the correlator's detectors, their ATT&CK technique and thresholds."""

from __future__ import annotations

import dataclasses
import sys

import typer
from rich.console import Console
from rich.table import Table

from tocsin.detect.correlate.registry import RegistryError, available

detectors_app = typer.Typer(
    help="The behavioural, intel and medical detectors (run by 'tocsin analyze').",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@detectors_app.command("list")
def list_detectors(
    thresholds: bool = typer.Option(
        False, "--thresholds", help="Also show each detector's thresholds and their defaults."
    ),
) -> None:
    """List every detector: name, signature id, ATT&CK technique, severity, what it finds."""
    try:
        classes = available()
    except RegistryError as exc:
        sys.stderr.write(f"tocsin: {exc}\n")
        raise typer.Exit(2) from None
    t = Table(title=f"{len(classes)} detectors", title_justify="left")
    for col in ("name", "sid", "ATT&CK", "severity", "finds"):
        t.add_column(col)
    if thresholds:
        t.add_column("thresholds (defaults)")
    for name in sorted(classes):
        cls = classes[name]
        i = cls.info
        row = [name, f"8:{i.signature_id}", i.technique, str(i.severity), i.description]
        if thresholds:
            conf = cls.Config() if cls.Config is not None else None
            row.append(
                ", ".join(f"{f.name}={getattr(conf, f.name)}" for f in dataclasses.fields(conf))
                if conf is not None
                else "–"
            )
        t.add_row(*row)
    Console(width=200 if not sys.stdout.isatty() else None).print(t)
