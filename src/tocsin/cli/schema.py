"""`tocsin schema`: print, write or check Tocsin's EVE JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

from tocsin.output.schema import SCHEMA_PATH, generate


def schema(
    check: bool = typer.Option(
        False, "--check", help="Exit 1 if the committed schema differs from the code's records."
    ),
    write: bool = typer.Option(
        False, "--write", help=f"Regenerate the committed schema ({SCHEMA_PATH.name})."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the schema to this file."),
) -> None:
    """Tocsin's EVE JSON Schema (all event types), generated from the code's record types."""
    text = generate()
    if check:
        current = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if current != text:
            typer.echo(
                f"tocsin: {SCHEMA_PATH} is stale: run `tocsin schema --write` and commit it",
                err=True,
            )
            raise typer.Exit(1)
        typer.echo(f"{SCHEMA_PATH.name} is up to date")
        return
    if write:
        SCHEMA_PATH.write_text(text)
        typer.echo(f"wrote {SCHEMA_PATH}")
        return
    if out is not None:
        out.write_text(text)
        return
    typer.echo(text, nl=False)
