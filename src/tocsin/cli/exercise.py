"""`tocsin exercise`: generate a hospital's labelled traffic with attacks, replay and score it."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tocsin.capture import CaptureError
from tocsin.cli.analyze import _error, _load_rules
from tocsin.detect.correlate.config import ConfigError, CorrelateConfig, load_config
from tocsin.detect.correlate.registry import RegistryError
from tocsin.detect.intel import IntelError
from tocsin.detect.intel._cache import load_intel_cached
from tocsin.exercise.score import ScoreSheet
from tocsin.exercise.truth import TruthError, read_truth, truth_path
from tocsin.output.sink import EveSinkError

# the generator (its protocol builders pull in pydicom, pynetdicom and hl7: ~0.25 s) is
# imported by the commands that use it, not by every `tocsin` start
PROFILES = ("chu", "ch", "clinic")  # exercise.site.PROFILES (checked by a test)

exercise_app = typer.Typer(
    help=(
        "Crisis exercises: generate a hospital site's traffic with attack scenarios, "
        "labelled step by step, then replay it through Tocsin and score what was seen."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _scenarios(values: list[str]) -> list[str]:
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


@exercise_app.command("scenarios")
def scenarios_cmd() -> None:
    """List the attack scenarios `generate --scenario` accepts."""
    from tocsin.exercise.scenarios import SCENARIOS

    t = Table(box=None, pad_edge=False)
    t.add_column("scenario")
    t.add_column("about", justify="right")
    t.add_column("what it does")
    for name, sc in sorted(SCENARIOS.items()):
        t.add_row(name, f"{sc.duration_s / 60:.0f} min", sc.summary)
    Console().print(t)


@exercise_app.command("generate")
def generate_cmd(
    out: Path = typer.Option(
        ..., "--out", "-o", help="The capture to write (pcap).", metavar="<path>"
    ),
    profile: str = typer.Option("chu", "--profile", help=f"The site: {', '.join(PROFILES)}."),
    scenario: list[str] = typer.Option(
        [],
        "--scenario",
        "-s",
        help="A scenario to inject (repeat, or a,b,c; see 'scenarios').",
        metavar="<name>",
    ),
    hours: float = typer.Option(1.0, "--hours", help="Simulated hours of traffic."),
    seed: int = typer.Option(1, "--seed", help="Same seed, same capture (byte for byte)."),
    start: str = typer.Option(
        "",
        "--start",
        help="Start of the capture, ISO 8601 (local Paris time without an offset; "
        "default 2024-03-12T08:00).",
        metavar="<time>",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
) -> None:
    """Write a capture of one site's traffic with the scenarios injected, and beside it
    <capture>.truth.json: each step's time window, hosts, ATT&CK technique and what a defender
    should see."""  # fmt: skip
    err = Console(stderr=True)
    try:
        from tocsin.exercise.world import World

        t0 = World.parse_start(start) if start else None
    except ValueError:
        _error(f"--start: {start!r} is not an ISO 8601 time (e.g. 2024-03-12T08:00)")
        raise typer.Exit(2) from None
    from tocsin.exercise.generate import GenerateError, generate

    try:
        with err.status("generating", spinner="dots") if not quiet and err.is_terminal else _Null():
            g = generate(
                out, profile=profile, scenarios=_scenarios(scenario), hours=hours, seed=seed,
                start=t0,
            )  # fmt: skip
    except GenerateError as e:
        _error(str(e))
        raise typer.Exit(2) from None
    if quiet:
        return
    truth = read_truth(g.truth)
    rate = g.packets / g.wall_s if g.wall_s > 0 else 0.0
    print(
        f"Wrote {g.capture}: {g.packets:,} packets, {hours:g} h of {truth.site} ({profile}, "
        f"seed {seed}) in {g.wall_s:.1f} s ({rate:,.0f} packets/s)."
    )
    print(f"Truth: {g.truth} ({g.steps} steps).")
    if truth.steps:
        t = Table(box=None, pad_edge=False)
        for col in ("step", "start (UTC)", "technique", "from", "targets"):
            t.add_column(col, no_wrap=True)
        for s in truth.steps:
            t.add_row(s.id, s.start[11:19], s.technique, _hosts(s.attackers), _hosts(s.targets))
        Console().print(t)


@exercise_app.command("run")
def run_cmd(
    capture: Path = typer.Argument(..., help="A capture written by 'exercise generate'."),
    truth_file: Path | None = typer.Option(
        None, "--truth", help="Its truth file (default: <capture>.truth.json).", metavar="<path>"
    ),
    eve: Path | None = typer.Option(
        None,
        "--eve",
        help='EVE output (default: <capture>.eve.json); every line is marked "exercise".',
        metavar="<path>",
    ),
    detect_config: Path | None = typer.Option(
        None,
        "--detect-config",
        help="Detector settings (YAML), as for 'analyze'.",
        metavar="<path>",
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", "-r", help="Suricata rules to run as well (repeat).", metavar="<path>"
    ),
    intel: list[Path] = typer.Option(
        [], "--intel", help="Indicator files or folders, as for 'analyze'.", metavar="<path>"
    ),
    score_json: Path | None = typer.Option(
        None, "--score-json", help="Write the score sheet as JSON.", metavar="<path>"
    ),
    fail_on_miss: bool = typer.Option(
        False, "--fail-on-miss", help="Exit 1 when a step is not detected."
    ),
) -> None:
    """Replay a generated capture through Tocsin (accelerated: packet time drives every
    detector) and print the score sheet: per step, detected or not, by which alert, how long
    after it started; and the false alerts per simulated hour."""
    tp = truth_file or truth_path(capture)
    try:
        truth = read_truth(tp)
    except TruthError as e:
        _error(str(e))
        raise typer.Exit(2) from None
    err = Console(stderr=True)
    detect = (
        _load_rules(err, rules, None, None, None, use_cache=True, quiet=False) if rules else None
    )
    try:
        cfg = load_config(detect_config) if detect_config is not None else CorrelateConfig()
        cfg = replace(cfg, intel=(*cfg.intel, *map(str, intel)))
        indicators = (
            load_intel_cached(cfg.intel, cfg.allowlists, cfg.warninglists) if cfg.intel else None
        )
    except (ConfigError, IntelError, ValueError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    out = eve or capture.with_name(capture.stem + ".eve.json")
    try:
        from tocsin.exercise.run import replay

        r = replay(capture, truth, out, config=cfg, intel=indicators, detect=detect)
    except (CaptureError, EveSinkError, ConfigError, RegistryError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    render_sheet(r.sheet, truth.site, r.mark.id, r.result.packets, r.result.wall_s, out)
    if score_json is not None:
        payload = {"exercise": r.mark.id, "capture": str(capture), **r.sheet.to_json()}
        try:
            score_json.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as e:
            _error(f"{score_json}: cannot write the score sheet ({e.strerror or e})")
            raise typer.Exit(2) from None
    sys.stdout.flush()
    if fail_on_miss and r.sheet.detected < len(r.sheet.steps):
        raise typer.Exit(1)


def render_sheet(
    sheet: ScoreSheet, site: str, ex_id: str, packets: int, wall_s: float, eve: Path
) -> None:
    con = Console()
    con.print(f"EXERCISE {ex_id} — {site} — not real traffic", style="bold black on yellow")
    print(f"Replayed {packets:,} packets in {wall_s:.1f} s; EVE (marked exercise): {eve}")
    t = Table(title="Score sheet", box=None, pad_edge=False, title_justify="left")
    for col in ("step", "technique", "detected", "after", "first alert"):
        t.add_column(col, no_wrap=col != "first alert")
    for s in sheet.steps:
        after = "" if s.time_to_detect_s is None else f"{s.time_to_detect_s:.1f} s"
        seen = "yes" if s.by_expected else "other" if s.detected else "NO"
        t.add_row(s.step.id, s.step.technique, seen, after, "" if s.first is None else s.first.rule)
    con.print(t)
    if any(s.detected and not s.by_expected for s in sheet.steps):
        print("(other: seen, but not by a detector the truth names)")
    print(
        f"Detected {sheet.detected} of {len(sheet.steps)} steps. False alerts: "
        f"{sheet.false_alerts} ({sheet.false_per_hour:.2f} per simulated hour, "
        f"{sheet.false_per_hour * 24:.1f} per site-day)."
    )
    for rule, n in sorted(sheet.false_by_rule.items(), key=lambda kv: -kv[1])[:10]:
        print(f"  false: {n} × {rule}")
    for sig, n in sorted(sheet.sensor_alerts.items()):
        print(f"Sensor health: {n} × {sig}")


def _hosts(ips: list[str]) -> str:
    if not ips:
        return ""
    return ips[0] + (f" +{len(ips) - 1}" if len(ips) > 1 else "")


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None
