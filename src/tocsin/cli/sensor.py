"""`tocsin sensor --iface IF`: watch a network interface live."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from tocsin.capture import CaptureError
from tocsin.capture.bpf import BpfError
from tocsin.capture.live import LiveCapture
from tocsin.cli.analyze import _error, _load_correlator, _load_rules
from tocsin.cli.summary import render_summary
from tocsin.flow.table import FlowConfig
from tocsin.output.sink import EveSinkError
from tocsin.runtime.live import LiveSource, run_live, run_live_sharded
from tocsin.runtime.pipeline import PipelineConfig
from tocsin.runtime.shed import ShedConfig
from tocsin.runtime.workers import WorkerError


def sensor(
    iface: str = typer.Option(
        ...,
        "--iface",
        "-i",
        help="The interface to watch (a SPAN/TAP port, no IP address).",
        metavar="<name>",
    ),
    eve: Path = typer.Option(Path("eve.json"), "--eve", help="EVE output.", metavar="<path>"),
    duration: float | None = typer.Option(
        None,
        "--duration",
        help="Stop after this many seconds (default: until Ctrl-C or SIGTERM).",
        metavar="<s>",
    ),
    count: int | None = typer.Option(
        None, "--count", help="Stop after this many packets.", metavar="<n>"
    ),
    ring_mb: int = typer.Option(64, "--ring-mb", help="Size of the kernel ring (MB)."),
    promisc: bool = typer.Option(True, "--promisc/--no-promisc", help="Promiscuous mode."),
    fanout_group: int | None = typer.Option(
        None,
        "--fanout-group",
        help="Join this AF_PACKET FANOUT group (flow hash): several "
        "sensors on one interface each see whole flows.",
        metavar="<id>",
    ),
    bpf: str | None = typer.Option(
        None,
        "--bpf",
        help="A BPF filter (tcpdump syntax, e.g. 'not port 22'): the kernel "
        "drops what it rejects before the ring.",
        metavar="<expr>",
    ),
    rules: list[Path] = typer.Option(
        [], "--rules", "-r", help="Suricata rules (repeat).", metavar="<path>"
    ),
    detectors: bool = typer.Option(
        True, "--detectors/--no-detectors", help="Run the correlator's detectors."
    ),
    summary_json: Path | None = typer.Option(
        None, "--summary-json", help="Write the run's summary as JSON.", metavar="<path>"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary on screen."),
    flow_cap: int = typer.Option(
        1_000_000,
        "--flow-cap",
        help="Most flows held at once, over all workers (memory bound, about 200 bytes "
        "each). Above it the flow table enters emergency mode: shorter timeouts, oldest "
        "flows evicted and logged.",
    ),
    shed: bool = typer.Option(
        True,
        "--shed/--no-shed",
        help="Under overload (packets more than 1 s behind the wire), stop scanning bulk "
        "payloads with signatures, then (3 s) parsing web, mail and FTP; each shed counted "
        "and raised as a self-alert. Flows and alerts are never shed.",
    ),
    workers: int = typer.Option(
        max(1, (os.cpu_count() or 2) - 1),
        "--workers",
        "-w",
        help="Worker processes, each with its own ring in one FANOUT group (flow hash); the "
        "correlator and the EVE writer run in the main process. Default: one per core "
        "but one.",
        metavar="<n>",
    ),
) -> None:
    """Watch a live interface (AF_PACKET, TPACKET_V3 ring; needs root) through the whole
    pipeline until Ctrl-C, SIGTERM, --duration or --count; kernel ring drops are counted in
    every stats event (capture.kernel_drops) and in the summary. Recommended set-up: the
    interface carries no IP address (ip addr flush dev IF; ip link set IF up)."""  # fmt: skip
    err = Console(stderr=True)
    if not 1 <= workers <= 64:
        _error(f"--workers must be between 1 and 64 (got {workers})")
        raise typer.Exit(2)
    if flow_cap < 16 * workers:
        _error(f"--flow-cap must be at least 16 per worker (got {flow_cap} for {workers})")
        raise typer.Exit(2)
    config = PipelineConfig(flow=FlowConfig(cap=flow_cap // workers))
    detect = _load_rules(err, rules, None, None, None, True, quiet) if rules else None
    correlate = _load_correlator(None, "", None) if detectors else None
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        if workers == 1:
            with LiveCapture(
                iface, ring_mb=ring_mb, promisc=promisc, fanout_group=fanout_group, bpf=bpf
            ) as cap:
                if not quiet:
                    err.print(f"watching {iface} (Ctrl-C to stop)", highlight=False)
                result = run_live(
                    cap, eve, config, duration_s=duration, max_packets=count,
                    stop=lambda: stopping, detect=detect, correlate=correlate,
                    shed=ShedConfig() if shed else None,
                )  # fmt: skip
        else:
            group = fanout_group if fanout_group is not None else os.getpid() & 0xFFFF
            source = LiveSource(iface, ring_mb, promisc, group, bpf)

            def ready() -> None:
                if not quiet:
                    msg = f"watching {iface} with {workers} workers (Ctrl-C to stop)"
                    err.print(msg, highlight=False)

            result = run_live_sharded(
                source, eve, config, workers, duration_s=duration, max_packets=count,
                stop=lambda: stopping, detect=detect, correlate=correlate, on_ready=ready,
                shed=ShedConfig() if shed else None,
            )  # fmt: skip
    except (CaptureError, EveSinkError, BpfError) as e:
        _error(str(e))
        raise typer.Exit(2) from None
    except WorkerError as e:
        _error(str(e))
        raise typer.Exit(3) from None
    if not quiet:
        render_summary(Console(), result, str(eve))
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
