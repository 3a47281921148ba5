"""`tocsin sensor`: watch a network interface live, or (with `--hub`) push to the hub what it
sees, what captures hold (`--read`), or what another probe logs (`--eve-file`, `--zeek-dir`)."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from tocsin.capture import CaptureError
from tocsin.capture.bpf import BpfError
from tocsin.capture.live import LiveCapture
from tocsin.cli.analyze import _error, _load_correlator, _load_rules
from tocsin.cli.summary import render_summary
from tocsin.flow.table import FlowConfig
from tocsin.output.sink import EveSinkError
from tocsin.runtime.analyze import AnalysisResult
from tocsin.runtime.live import LiveSource, run_live, run_live_sharded
from tocsin.runtime.pipeline import PipelineConfig
from tocsin.runtime.shed import ShedConfig
from tocsin.runtime.workers import WorkerError

IFACE = typer.Option(
    None,
    "--iface",
    "-i",
    help="The interface to watch (a SPAN/TAP port, no IP address).",
    metavar="<name>",
)
DURATION = typer.Option(
    None,
    "--duration",
    help="Stop after this many seconds (default: until Ctrl-C or SIGTERM).",
    metavar="<s>",
)
COUNT = typer.Option(None, "--count", help="Stop after this many packets.", metavar="<n>")
RING_MB = typer.Option(64, "--ring-mb", help="Size of the kernel ring (MB).")
PROMISC = typer.Option(True, "--promisc/--no-promisc", help="Promiscuous mode.")
BPF = typer.Option(
    None,
    "--bpf",
    help="A BPF filter (tcpdump syntax, e.g. 'not port 22'): the kernel "
    "drops what it rejects before the ring.",
    metavar="<expr>",
)
RULES = typer.Option([], "--rules", "-r", help="Suricata rules (repeat).", metavar="<path>")
DETECTORS = typer.Option(True, "--detectors/--no-detectors", help="Run the correlator's detectors.")
SUMMARY_JSON = typer.Option(
    None, "--summary-json", help="Write the run's summary as JSON.", metavar="<path>"
)
QUIET = typer.Option(False, "--quiet", "-q", help="No summary on screen.")
FLOW_CAP = typer.Option(
    1_000_000,
    "--flow-cap",
    help="Most flows held at once, over all workers (memory bound, about 200 bytes "
    "each). Above it the flow table enters emergency mode: shorter timeouts, oldest "
    "flows evicted and logged.",
)
SHED = typer.Option(
    True,
    "--shed/--no-shed",
    help="Under overload (packets more than 1 s behind the wire), stop scanning bulk "
    "payloads with signatures, then (3 s) parsing web, mail and FTP; each shed counted "
    "and raised as a self-alert. Flows and alerts are never shed.",
)
WORKERS = typer.Option(
    max(1, (os.cpu_count() or 2) - 1),
    "--workers",
    "-w",
    help="Worker processes, each with its own ring in one FANOUT group (flow hash); the "
    "correlator and the EVE writer run in the main process. Default: one per core "
    "but one.",
    metavar="<n>",
)
HOME = typer.Option(
    None,
    "--home",
    envvar="TOCSIN_HOME",
    help="Data directory for the outbox (default ~/.tocsin).",
    metavar="<dir>",
)
OUTBOX_MB = typer.Option(
    1024,
    "--outbox-mb",
    help="Most MB of events the outbox holds; past it flows are shed "
    "first, then protocol events, alerts last, each counted and reported to the hub.",
)
HEARTBEAT_S = typer.Option(10.0, "--heartbeat-s", help="Seconds between two heartbeats to the hub.")


def sensor(
    iface: str | None = IFACE,
    eve: Path = typer.Option(Path("eve.json"), "--eve", help="EVE output.", metavar="<path>"),
    duration: float | None = DURATION,
    count: int | None = COUNT,
    ring_mb: int = RING_MB,
    promisc: bool = PROMISC,
    fanout_group: int | None = typer.Option(
        None,
        "--fanout-group",
        help="Join this AF_PACKET FANOUT group (flow hash): several "
        "sensors on one interface each see whole flows.",
        metavar="<id>",
    ),
    bpf: str | None = BPF,
    rules: list[Path] = RULES,
    detectors: bool = DETECTORS,
    summary_json: Path | None = SUMMARY_JSON,
    quiet: bool = QUIET,
    flow_cap: int = FLOW_CAP,
    shed: bool = SHED,
    workers: int = WORKERS,
    read: list[Path] = typer.Option(
        [],
        "--read",
        help="With --hub: analyse these captures (files or directories) and push "
        "the events (backfill); exits once the hub has them all.",
        metavar="<capture>",
    ),
    eve_file: Path | None = typer.Option(
        None,
        "--eve-file",
        help="With --hub: follow this EVE file of a Suricata-based probe "
        "(rotation included) and push it.",
        metavar="<path>",
    ),
    zeek_dir: Path | None = typer.Option(
        None,
        "--zeek-dir",
        help="With --hub: follow the Zeek logs here (conn, dns, http, ssl, "
        "files, notice, weird; JSON or TSV), map them to EVE and push them.",
        metavar="<dir>",
    ),
    hub: str | None = typer.Option(
        None,
        "--hub",
        help="Push to this hub (https://HOST:PORT) through a durable outbox "
        "(HTTPS_PROXY honoured).",
        metavar="<url>",
    ),
    site: str | None = typer.Option(None, "--site", help="This sensor's site (with --hub)."),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        help="This sensor's token (from `tocsin hub sensor add`).",
        metavar="<path>",
    ),
    ca: Path | None = typer.Option(
        None,
        "--ca",
        help="The hub's CA certificate (default: the system's trust store).",
        metavar="<path>",
    ),
    home: Path | None = HOME,
    outbox_mb: int = OUTBOX_MB,
    heartbeat_s: float = HEARTBEAT_S,
) -> None:
    """Watch a live interface (AF_PACKET, TPACKET_V3 ring; needs root) through the whole
    pipeline until Ctrl-C, SIGTERM, --duration or --count; kernel ring drops are counted in
    every stats event (capture.kernel_drops) and in the summary. Recommended set-up: the
    interface carries no IP address (ip addr flush dev IF; ip link set IF up). With --hub,
    push what it sees to the regional hub through a durable outbox (<home>/sensor/), or,
    instead of an interface, captures (--read: backfill, exits once delivered), a Suricata
    probe's EVE file (--eve-file) or Zeek logs (--zeek-dir)."""  # fmt: skip
    sources = [x for x in (iface, read or None, eve_file, zeek_dir) if x]
    if len(sources) != 1:
        _error("give one source: --iface, --read, --eve-file or --zeek-dir")
        raise typer.Exit(2)
    if (read or eve_file or zeek_dir) and hub is None:
        _error("--read, --eve-file and --zeek-dir push to a hub: add --hub, --site, --token-file")
        raise typer.Exit(2)
    if hub is not None:
        if site is None or token_file is None:
            _error("--hub needs --site and --token-file")
            raise typer.Exit(2)
        if iface is None:
            _uplinked(hub, site, token_file, ca, home, outbox_mb, heartbeat_s, read, eve_file,
                      zeek_dir, duration, rules, detectors, flow_cap, quiet)  # fmt: skip
            return
    assert iface is not None
    watch = live_watch(iface, workers, flow_cap, ring_mb, promisc, fanout_group, bpf, rules,
                       detectors, shed, duration, count, quiet)  # fmt: skip
    if hub is not None:
        from tocsin.cli.uplink import HubLink, live

        assert site is not None and token_file is not None
        link = HubLink(hub, site, token_file, ca, home, outbox_mb, heartbeat_s)
        eve = link.dir / "live.eve.json"
        result = live(link, watch, drain_s=30.0)
    else:
        result = watch(eve, None)
    report(result, iface, str(eve), quiet, summary_json)


def report(
    result: AnalysisResult, iface: str, eve: str, quiet: bool, summary_json: Path | None
) -> None:
    """The run's summary on screen (unless `quiet`) and, with `summary_json`, as JSON."""
    if not quiet:
        render_summary(Console(), result, eve)
    if summary_json is not None:
        payload = {
            "iface": iface,
            "packets": result.packets,
            "flows": result.flows,
            "events": result.events,
            "drops": result.drops,
            "counters": result.counters,
            "detector_alerts": result.detector_alerts,
        }
        summary_json.write_text(json.dumps(payload, indent=2) + "\n")


Watch = Callable[[Path, "dict[str, Any] | None"], AnalysisResult]


def live_watch(
    iface: str, workers: int, flow_cap: int, ring_mb: int, promisc: bool,
    fanout_group: int | None, bpf: str | None, rules: list[Path], detectors: bool, shed: bool,
    duration: float | None, count: int | None, quiet: bool,
) -> Watch:  # fmt: skip
    """Check the live options and load rules and detectors (one `tocsin:` line and exit 2 on
    a mistake); returns `watch(eve_path, health)`, which runs the live pipeline on `iface`
    until Ctrl-C, SIGTERM, `duration` or `count` (installs the signal handlers)."""
    err = Console(stderr=True)
    if not 1 <= workers <= 64:
        _error(f"--workers must be between 1 and 64 (got {workers})")
        raise typer.Exit(2)
    if flow_cap < 16 * workers:
        _error(f"--flow-cap must be at least 16 per worker (got {flow_cap} for {workers})")
        raise typer.Exit(2)
    group = fanout_group if fanout_group is not None else os.getpid() & 0xFFFF
    source = LiveSource(iface, ring_mb, promisc, group, bpf)
    try:  # before rules load, or a data directory is set up: the capture would fail
        source.check()
    except (CaptureError, BpfError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    config = PipelineConfig(flow=FlowConfig(cap=flow_cap // workers))
    detect = _load_rules(err, rules, None, None, None, True, quiet) if rules else None
    correlate = _load_correlator(None, "", None) if detectors else None
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)

    def watch(eve_path: Path, health: dict[str, Any] | None) -> AnalysisResult:
        try:
            if workers == 1:
                with LiveCapture(
                    iface, ring_mb=ring_mb, promisc=promisc, fanout_group=fanout_group, bpf=bpf
                ) as cap:
                    if not quiet:
                        err.print(f"watching {iface} (Ctrl-C to stop)", highlight=False)
                    return run_live(
                        cap, eve_path, config, duration_s=duration, max_packets=count,
                        stop=lambda: stopping, detect=detect, correlate=correlate,
                        shed=ShedConfig() if shed else None, health=health,
                    )  # fmt: skip
            else:

                def ready() -> None:
                    if not quiet:
                        msg = f"watching {iface} with {workers} workers (Ctrl-C to stop)"
                        err.print(msg, highlight=False)

                return run_live_sharded(
                    source, eve_path, config, workers, duration_s=duration, max_packets=count,
                    stop=lambda: stopping, detect=detect, correlate=correlate, on_ready=ready,
                    shed=ShedConfig() if shed else None, health=health,
                )  # fmt: skip
        except (CaptureError, EveSinkError, BpfError) as e:
            _error(str(e))
            raise typer.Exit(2) from None
        except WorkerError as e:
            _error(str(e))
            raise typer.Exit(3) from None

    return watch


def _uplinked(
    hub: str, site: str, token_file: Path, ca: Path | None, home: Path | None, outbox_mb: int,
    heartbeat_s: float, read: list[Path], eve_file: Path | None, zeek_dir: Path | None,
    duration: float | None, rules: list[Path], detectors: bool, flow_cap: int, quiet: bool,
) -> None:  # fmt: skip
    from tocsin.cli.uplink import HubLink, backfill, follow_eve, follow_zeek

    link = HubLink(hub, site, token_file, ca, home, outbox_mb, heartbeat_s)
    if eve_file is not None:
        follow_eve(link, eve_file, duration)
    elif zeek_dir is not None:
        follow_zeek(link, zeek_dir, duration)
    else:
        from tocsin.runtime.analyze import analyze as run_analysis

        err = Console(stderr=True)
        detect = _load_rules(err, rules, None, None, None, True, quiet) if rules else None
        correlate = _load_correlator(None, "", None) if detectors else None
        config = PipelineConfig(flow=FlowConfig(cap=flow_cap))

        def analyse(captures: list[Path], eve: Path) -> object:
            try:
                return run_analysis(captures, eve, config, detect=detect, correlate=correlate)
            except (CaptureError, EveSinkError) as e:
                _error(str(e))
                raise typer.Exit(2) from None

        backfill(link, read, analyse)
