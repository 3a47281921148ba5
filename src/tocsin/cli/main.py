"""The `tocsin` command: one module per subcommand, wired here."""

from __future__ import annotations

import typer

from tocsin import __version__
from tocsin.cli import analyze as analyze_cmd
from tocsin.cli import detectors as detectors_cmd
from tocsin.cli import eval as eval_cmd
from tocsin.cli import exercise as exercise_cmd
from tocsin.cli import hub as hub_cmd
from tocsin.cli import rules as rules_cmd
from tocsin.cli import rules_test as rules_test_cmd
from tocsin.cli import run as run_cmd
from tocsin.cli import schema as schema_cmd
from tocsin.cli import sensor as sensor_cmd

app = typer.Typer(
    name="tocsin",
    help=(
        "Tocsin: network threat detection and response for hospitals and regional health "
        "agencies. Reads packet captures, runs Suricata rules and behavioural, intel and "
        "medical detectors, writes Suricata-compatible EVE JSON."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tocsin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Tocsin command line."""


app.command("analyze")(analyze_cmd.analyze)
app.command("sensor")(sensor_cmd.sensor)
app.command("run")(run_cmd.run)
app.command("schema")(schema_cmd.schema)
app.command("eval")(eval_cmd.eval_)
rules_cmd.rules_app.command("test")(rules_test_cmd.test)
app.add_typer(rules_cmd.rules_app, name="rules")
app.add_typer(detectors_cmd.detectors_app, name="detectors")
app.add_typer(exercise_cmd.exercise_app, name="exercise")
app.add_typer(hub_cmd.hub_app, name="hub")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
