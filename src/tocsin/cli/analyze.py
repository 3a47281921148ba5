"""`tocsin analyze`: run captures through the sensor pipeline, write EVE, print a summary."""

from __future__ import annotations

import ipaddress
import json
import sys
from dataclasses import replace
from pathlib import Path

import typer
from rich.console import Console

from tocsin.applayer.protos import ALPROTO_NAMES
from tocsin.applayer.registry import builtin
from tocsin.capture import CaptureError
from tocsin.cli.progress import make_progress
from tocsin.cli.summary import render_summary
from tocsin.detect.cache import load_engine
from tocsin.detect.correlate.config import (
    ConfigError,
    CorrelateConfig,
    build_correlator,
    load_config,
)
from tocsin.detect.correlate.correlator import Correlator
from tocsin.detect.correlate.registry import RegistryError
from tocsin.detect.engine import DetectConfig, DetectEngine
from tocsin.detect.intel import FILE_HASH_KINDS, IntelError, intel_summary
from tocsin.detect.intel._cache import load_intel_cached
from tocsin.detect.rules.loader import RuleFileError
from tocsin.detect.thresholdfile import ThresholdFileError, read_threshold_config
from tocsin.detect.varsfile import VarsFileError, read_vars_file
from tocsin.flow.table import FlowConfig
from tocsin.output.sink import EveSinkError
from tocsin.runtime.analyze import analyze as run_analysis
from tocsin.runtime.applayer import AppConfig
from tocsin.runtime.pipeline import PipelineConfig
from tocsin.runtime.workers import WorkerError, analyze_sharded

_PARSED = [n for n in ALPROTO_NAMES if n and n != "failed"]


def _error(message: str) -> None:
    """One plain line on stderr (never wrapped or styled: people grep these)."""
    sys.stderr.write(f"tocsin: {message}\n")
    sys.stderr.flush()


def _load_rules(
    err: Console,
    rules: list[Path],
    rule_vars: Path | None,
    classification: Path | None,
    threshold_file: Path | None,
    use_cache: bool,
    quiet: bool,
) -> DetectEngine:
    """Rules for --rules, or a clear error and exit status 2."""
    try:
        vars_ = read_vars_file(rule_vars) if rule_vars is not None else None
        site = read_threshold_config(threshold_file, vars_) if threshold_file else None
        loaded = load_engine(
            rules, vars_, classification, DetectConfig(thresholds=site), use_cache=use_cache
        )
    except (RuleFileError, VarsFileError, ThresholdFileError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    if site is not None:
        for problem in site.problems + site.ignored:
            _error(problem)
    rs = loaded.ruleset
    if not quiet:
        how = " (from cache)" if loaded.from_cache else ""
        skipped = (
            f", {len(rs.skipped)} skipped: 'tocsin rules check' says why" if rs.skipped else ""
        )
        err.print(f"rules: {len(rs.rules)} loaded{skipped}{how}", highlight=False)
    return loaded.engine


def _load_correlator(
    path: Path | None,
    only: str,
    rule_vars: Path | None,
    intel: tuple[list[Path], list[Path], bool] = ([], [], True),
    err: Console | None = None,
    use_cache: bool = True,
) -> Correlator:
    """The correlator for --detect-config / --only-detectors / --intel, or a clear error and
    exit 2. `intel`: (--intel paths, --allowlist paths, warning lists on); `err` (unless
    quiet) gets the one-line summary of the indicators loaded."""
    try:
        cfg = load_config(path) if path is not None else CorrelateConfig()
        if only:
            names = tuple(x.strip() for x in only.split(",") if x.strip())
            cfg = replace(cfg, enable=names, source="--only-detectors")
        if rule_vars is not None and (path is None or cfg.home_net == CorrelateConfig().home_net):
            home = read_vars_file(rule_vars).address_groups.get("HOME_NET")
            if home:
                nets = [x.strip() for x in home.strip("[]").split(",")]
                nets = [x for x in nets if x and x[0] not in "!$"]
                for net in nets:
                    try:
                        ipaddress.ip_network(net, strict=False)
                    except ValueError:
                        raise ConfigError(
                            f"{rule_vars}: HOME_NET: {net!r} is not a network"
                        ) from None
                cfg = replace(cfg, home_net=tuple(nets))
        paths, allow, warn = intel
        cfg = replace(
            cfg,
            intel=(*cfg.intel, *map(str, paths)),
            allowlists=(*cfg.allowlists, *map(str, allow)),
            warninglists=cfg.warninglists and warn,
        )
        indicators = None
        if cfg.intel:
            indicators = load_intel_cached(
                cfg.intel, cfg.allowlists, cfg.warninglists, use_cache=use_cache
            )
            if err is not None:
                err.print(
                    f"intel: {intel_summary(indicators.stats)}", highlight=False, soft_wrap=True
                )
        return build_correlator(cfg, intel=indicators)
    except (ConfigError, RegistryError, VarsFileError, ValueError, IntelError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None


def _hash_indicators(correlate: Correlator | None) -> int:
    """File-hash indicators (MD5, SHA-1, SHA-256) the running intel detectors hold."""
    if correlate is None:
        return 0
    for d in correlate.detectors:
        if d.info.name == "intel.file_hash":
            return int(d.intel.count(*FILE_HASH_KINDS))  # type: ignore[attr-defined]
    return 0


def analyze(
    captures: list[Path] = typer.Argument(
        ...,
        help=(
            "Capture files or directories: pcap or pcapng, optionally gzip-compressed. "
            "Several files (or a directory, searched recursively) are merged in time order: "
            "rotated files follow each other, files that overlap interleave."
        ),
        show_default=False,
    ),
    eve: str = typer.Option(
        "eve.json", "--eve", "-e", help="Where to write EVE JSON events ('-' for standard output)."
    ),
    summary_json: Path | None = typer.Option(
        None, "--summary-json", help="Also write the run summary (and timings) as JSON here."
    ),
    flow_cap: int = typer.Option(
        1_000_000,
        "--flow-cap",
        help=(
            "Most flows held at once (memory bound, about 200 bytes each). Above it the flow "
            "table enters emergency mode: shorter timeouts, oldest flows evicted and logged."
        ),
    ),
    stats_interval: int = typer.Option(
        60, "--stats-interval", help="Seconds of packet time between two 'stats' events."
    ),
    progress: bool = typer.Option(
        True,
        "--progress/--no-progress",
        help="Progress bar on a terminal (plain lines every few seconds otherwise).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    app_layer: bool = typer.Option(
        True,
        "--app-layer/--no-app-layer",
        help="Detect application protocols and parse them (dns, http, tls, smb...).",
    ),
    app_protos: str = typer.Option(
        "all",
        "--app-protos",
        help=f"Comma-separated protocols to parse ({', '.join(_PARSED)}), or 'all'.",
    ),
    midstream: bool = typer.Option(
        True,
        "--midstream/--no-midstream",
        help=(
            "Parse TCP connections whose handshake was not seen (capture started mid-"
            "connection). Suricata's default is --no-midstream."
        ),
    ),
    rules: list[Path] = typer.Option(
        [],
        "--rules",
        "-r",
        help=(
            "Suricata rule file to load (repeat for several). Rules Tocsin cannot run are "
            "skipped and counted; 'tocsin rules check FILE' says which and why."
        ),
        show_default=False,
    ),
    rule_vars: Path | None = typer.Option(
        None,
        "--vars",
        help=(
            "A suricata.yaml (or any YAML with a 'vars:' section) giving HOME_NET, "
            "EXTERNAL_NET, HTTP_PORTS... for the rules. Default: Suricata's defaults."
        ),
    ),
    classification: Path | None = typer.Option(
        None,
        "--classification",
        help="classification.config for the rules' classtypes (default: Suricata's).",
    ),
    threshold_file: Path | None = typer.Option(
        None,
        "--threshold-file",
        help=(
            "A threshold.config: thresholds, suppressions (by rule, and by address) and "
            "rate filters applied to the rules' alerts."
        ),
    ),
    rule_cache: bool = typer.Option(
        True,
        "--rule-cache/--no-rule-cache",
        help=(
            "Keep compiled rules and parsed indicator sets (--intel) on disk, keyed by their "
            "files' content ($TOCSIN_CACHE_DIR)."
        ),
    ),
    detectors: bool = typer.Option(
        True,
        "--detectors/--no-detectors",
        help=(
            "Run the behavioural, intel and medical detectors over flows and protocol events "
            "(scans, floods, brute force, beacons, lateral movement...). "
            "'tocsin detectors list' shows them."
        ),
    ),
    only_detectors: str = typer.Option(
        "",
        "--only-detectors",
        help="Comma-separated detector names or families to run (e.g. 'behaviour,medical').",
    ),
    intel: list[Path] = typer.Option(
        [],
        "--intel",
        help=(
            "Threat-intelligence indicators for the intel detectors (repeat for several): a "
            "plain list, CSV, maltrail trail file, MISP JSON or STIX 2.1 bundle, or a "
            "directory of them (format by extension and content)."
        ),
        show_default=False,
    ),
    allowlist: list[Path] = typer.Option(
        [],
        "--allowlist",
        help="The site's allow-list (plain list or CSV): values that never raise intel alerts.",
        show_default=False,
    ),
    warninglists: bool = typer.Option(
        True,
        "--warninglists/--no-warninglists",
        help="Use MISP warning lists (CDNs, public resolvers, top sites) as allow-lists.",
    ),
    file_hashes: bool = typer.Option(
        False,
        "--file-hashes",
        help=(
            "Hash files seen in HTTP transfers (response bodies, PUT uploads; MD5, SHA-1, "
            "SHA-256 of the decoded content) and write 'fileinfo' events. On by itself when "
            "the --intel indicators include file hashes."
        ),
    ),
    detect_config: Path | None = typer.Option(
        None,
        "--detect-config",
        help=(
            "YAML with the detectors' settings: home_net, thresholds per detector, which to "
            "disable, the re-alert window. See docs/detectors.md."
        ),
    ),
    workers: int = typer.Option(
        1,
        "--workers",
        "-w",
        help=(
            "Worker processes sharing the packets by flow hash (each gets --flow-cap / N "
            "flows); the correlator and the EVE writer run in the main process. Same events "
            "as one process."
        ),
        metavar="<n>",
    ),
) -> None:
    """Analyse packet captures: decode, track flows, parse application protocols, run
    Suricata rules (--rules), write EVE JSON and print a summary.

    Exit status: 0 when everything was read, 1 when a capture was truncated or corrupt
    mid-file (what came before was analysed and reported), 2 when nothing could be analysed
    (unreadable file, not a capture, unsupported link type, bad option), 3 when a worker
    process failed (its error is printed: please report it).
    """
    err = Console(stderr=True)
    out = Console(stderr=eve == "-")
    if flow_cap < 16:
        _error(f"--flow-cap must be at least 16 (got {flow_cap})")
        raise typer.Exit(2)
    if stats_interval < 1:
        _error("--stats-interval must be at least 1 second")
        raise typer.Exit(2)
    if not 1 <= workers <= 64:
        _error(f"--workers must be between 1 and 64 (got {workers})")
        raise typer.Exit(2)
    if summary_json is not None:  # find out now, not after hours of analysis
        try:
            summary_json.touch()
        except OSError as exc:
            _error(f"{summary_json}: cannot write summary: {exc.strerror}")
            raise typer.Exit(2) from None
    protos = {p.strip() for p in app_protos.split(",") if p.strip()}
    unknown = protos - set(_PARSED) - {"all"}
    if unknown:
        _error(
            f"--app-protos: unknown protocol {', '.join(sorted(unknown))} "
            f"(known: {', '.join(_PARSED)})"
        )
        raise typer.Exit(2)
    registry = builtin()
    if "all" not in protos:
        registry = registry.only(protos)
    detect = None
    if rules:
        detect = _load_rules(
            err, rules, rule_vars, classification, threshold_file, rule_cache, quiet
        )
    elif threshold_file is not None:
        _error("--threshold-file needs rules (--rules FILE)")
        raise typer.Exit(2)
    correlate = None
    if detectors:
        correlate = _load_correlator(
            detect_config,
            only_detectors,
            rule_vars,
            (intel, allowlist, warninglists),
            None if quiet else err,
            rule_cache,
        )
    elif intel:
        _error("--intel needs the detectors (drop --no-detectors)")
        raise typer.Exit(2)
    hashes = _hash_indicators(correlate)
    if hashes and not file_hashes:
        file_hashes = True
        if not quiet:
            err.print(
                f"file hashing enabled: {hashes} file-hash indicators were loaded "
                "(HTTP files are hashed for intel.file_hash)",
                highlight=False,
                soft_wrap=True,
            )
    config = PipelineConfig(
        flow=FlowConfig(cap=flow_cap),
        stats_interval_s=stats_interval,
        app=AppConfig(enabled=app_layer, midstream=midstream, file_hashes=file_hashes),
    )
    show = progress and not quiet
    try:
        with make_progress(err, enabled=show, tty=err.is_terminal) as report:
            if workers == 1:
                result = run_analysis(
                    captures,
                    eve,
                    config,
                    progress=report,
                    registry=registry,
                    detect=detect,
                    correlate=correlate,
                )
            else:
                per_worker = replace(config.flow, cap=max(16, flow_cap // workers))
                result = analyze_sharded(
                    captures,
                    eve,
                    replace(config, flow=per_worker),
                    workers,
                    progress=report,
                    registry=registry,
                    detect=detect,
                    correlate=correlate,
                )
    except (CaptureError, EveSinkError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    except WorkerError as exc:
        _error(str(exc))
        raise typer.Exit(3) from None
    except KeyboardInterrupt:
        _error(f"interrupted: the EVE output in {eve} is incomplete")
        raise typer.Exit(130) from None
    if not quiet:
        render_summary(out, result, eve)
    for message in result.errors:
        _error(message)
    if summary_json is not None:
        payload = {
            "files": result.files,
            "packets": result.packets,
            "bytes": result.bytes,
            "flows": result.flows,
            "events": result.events,
            "flows_by_proto": result.flows_by_proto,
            "flows_by_app_proto": result.flows_by_app,
            "top_talkers": [{"ip": ip, "bytes": b, "flows": f} for ip, b, f in result.top_talkers],
            "anomalies": result.anomalies,
            "drops": result.drops,
            "errors": result.errors,
            "wall_s": round(result.wall_s, 4),
            "startup_s": round(result.startup_s, 4),
            "steady_pps": round(result.steady_pps, 1),
            "workers": [{"packets": n, "cpu_s": round(c, 2)} for n, c in result.workers],
            "main_cpu_s": round(result.main_cpu_s, 2),
            "counters": result.counters,
            "detect_timings_s": {k: round(v, 4) for k, v in result.detect_timings.items()},
            "rules_loaded": result.rules_loaded,
            "detectors_loaded": result.detectors_loaded,
            "detector_alerts": result.detector_alerts,
            "top_alerts": [
                {"gid": g, "signature_id": sid, "signature": m, "severity": sev, "alerts": n}
                for g, sid, m, sev, n in result.top_alerts
            ],
        }
        try:
            summary_json.write_text(json.dumps(payload, indent=2) + "\n")
        except OSError as exc:
            _error(f"{summary_json}: cannot write summary: {exc.strerror}")
            raise typer.Exit(2) from None
    if result.errors:
        raise typer.Exit(1)
    sys.stdout.flush()
