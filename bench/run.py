"""Tocsin vs peers on the bench captures, in one run, side by side.

    python bench/run.py [--captures mixed,flood] [--slice-packets N] [--tocsin-cmd CMD]
                        [--tools tocsin,tocsin-core,tshark,tshark-fields,dpkt,nfstream]
                        [--full-peers] [--repeat K] [--profile]

For each capture it runs, one after the other: `tocsin analyze` (every parser on) on the whole
capture and on the slice, `tocsin analyze --no-app-layer` (decode + flows) on the whole capture,
then `tshark -q -n -z conv,ip`, `tshark -T fields` (DNS names, HTTP hosts and URIs, TLS SNIs),
the dpkt flow loop and nfstream on the slice (the first N packets, cut into bench/work/), or on
the whole capture with --full-peers. Each run is one
measured child process (see measure.py). Writes bench/results/YYYY-MM-DD-HHMM.{md,json}.
See bench/README.md for what each number means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import make_captures
import measure
import pcapio
import profile_tocsin

BENCH = Path(__file__).resolve().parent
WORK = BENCH / "work"
RESULTS = BENCH / "results"
TOOLS = (
    "tocsin",
    "tocsin-detect",
    "tocsin-rules",
    "tocsin-core",
    "tshark",
    "tshark-fields",
    "dpkt",
    "nfstream",
)
# tocsin: every parser on, no correlator detectors (the baseline); tocsin-detect: every parser,
# every detector and the corpus's maltrail + abuse.ch indicators (--intel);
# tocsin-rules: every parser and every ET Open rule of the corpus;
# tocsin-core: decode + flows + EVE flow output (--no-app-layer)
TARGETS = {
    ("mixed", "tocsin"): {"pps": 1_000_000},
    ("mixed", "tocsin-rules"): {"pps": 600_000},
    ("mixed", "tocsin-core"): {"pps": 2_000_000, "steady_pps": 3_000_000},
    ("flood", "tocsin"): {"pps": 1_000_000, "rss_mb": 1024},
}
# the fields tshark extracts beside Tocsin's app layer (DNS names, HTTP hosts and URIs, SNIs)
TSHARK_FIELDS = (
    "dns.qry.name",
    "http.host",
    "http.request.uri",
    "tls.handshake.extensions_server_name",
)


@dataclass(frozen=True)
class Input:
    capture: str
    label: str  # "whole" or "slice N"
    path: Path
    packets: int
    captured_bytes: int


@dataclass
class Row:
    capture: str
    tool: str
    input: str
    packets: int
    wall_s: float
    pps: float
    mbps: float
    peak_rss_mb: float
    cpu_s: float
    returncode: int
    flows: int | None = None
    startup_s: float | None = None
    steady_pps: float | None = None
    ratio_same: float | None = None  # tocsin pps on the same input / this pps
    ratio_whole: float | None = None  # tocsin pps on the whole capture / this pps
    py_share: float | None = None  # share of packets handed to Python-level parsing
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


def slice_input(capture: str, whole: Input, packets: int) -> Input:
    path = WORK / f"{capture}-slice-{packets}.pcap"
    meta = path.with_name(path.name + ".json")
    try:
        info = json.loads(meta.read_text())
        ok = info["source_sha256"] == _meta(capture)["sha256"] and path.exists()
    except (OSError, ValueError, KeyError):
        ok = False
    if not ok:
        n, captured = pcapio.cut_slice(whole.path, path, packets)
        info = {"source_sha256": _meta(capture)["sha256"], "packets": n, "captured_bytes": captured}
        meta.write_text(json.dumps(info) + "\n")
    return Input(
        capture, f"slice {info['packets']:,}", path, info["packets"], info["captured_bytes"]
    )


def _meta(capture: str) -> dict[str, Any]:
    meta = make_captures.read_meta(make_captures.DATA / f"{capture}.pcap")
    assert meta is not None, capture
    return meta


def tool_command(tool: str, inp: Input, args: argparse.Namespace) -> tuple[list[str], Path]:
    """The command line, and the file holding its machine-readable output."""
    stem = WORK / f"{tool}-{inp.capture}-{inp.packets}"
    if tool.startswith("tocsin"):
        summary = stem.with_suffix(".summary.json")
        summary.unlink(missing_ok=True)
        eve = _eve_dir(args) / f"{stem.name}.eve.json"
        cmd = [*shlex.split(args.tocsin_cmd), "analyze", str(inp.path)]
        if tool == "tocsin-core":
            cmd.append("--no-app-layer")
        if tool == "tocsin":
            cmd.append("--no-detectors")
        if tool == "tocsin-detect":
            for f in intel_sources(args):
                cmd += ["--intel", str(f)]
        if tool == "tocsin-rules":
            for f in rule_files(args):
                cmd += ["--rules", str(f)]
        return [*cmd, "--eve", str(eve), "--summary-json", str(summary), "--no-progress"], summary
    out = stem.with_suffix(".out")
    if tool == "tshark":
        return ["tshark", "-q", "-n", "-z", "conv,ip", "-r", str(inp.path)], out
    if tool == "tshark-fields":
        fields = [a for f in TSHARK_FIELDS for a in ("-e", f)]
        return ["tshark", "-n", "-r", str(inp.path), "-T", "fields", *fields], out
    script = BENCH / "peers" / f"{tool}_flows.py"
    return [sys.executable, str(script), str(inp.path)], out


def intel_sources(args: argparse.Namespace) -> list[Path]:
    """The indicator sources of the tocsin-detect rows: the corpus's maltrail and abuse.ch."""
    rules = Path(args.corpus) / "rules"
    found = [p for p in (rules / "maltrail", rules / "abuse.ch") if p.is_dir()]
    if not found:
        raise SystemExit(f"no maltrail/abuse.ch folders under {rules} (set --corpus)")
    return found


def rule_files(args: argparse.Namespace) -> list[Path]:
    """The rule files of the tocsin-rules rows (every ET Open file of the corpus)."""
    files = sorted(Path(args.rules_dir).glob("*.rules"))
    if not files:
        raise SystemExit(f"no .rules files in {args.rules_dir} (set --rules-dir)")
    return files


def measure_tool(tool: str, inp: Input, args: argparse.Namespace) -> Row:
    best: Row | None = None
    for _ in range(args.repeat):
        cmd, result_file = tool_command(tool, inp, args)
        print(f"  {tool:<9} {inp.label:<16} {shlex.join(cmd)}", file=sys.stderr, flush=True)
        err = result_file.with_suffix(".stderr")
        out = result_file if not tool.startswith("tocsin") else result_file.with_suffix(".stdout")
        m = measure.run(cmd, out, err, args.timeout)
        row = _row(tool, inp, m, result_file, args)
        print(
            f"            {row.wall_s:8.2f} s  {row.pps:>12,.0f} pkt/s  {row.peak_rss_mb:8.0f} MB"
            + (f"  [{row.note}]" if row.note else ""),
            file=sys.stderr,
            flush=True,
        )
        if best is None or (row.returncode == 0 and row.wall_s < best.wall_s):
            best = row
    assert best is not None
    return best


def _row(
    tool: str, inp: Input, m: measure.Measured, result_file: Path, args: argparse.Namespace
) -> Row:
    row = Row(
        capture=inp.capture,
        tool=tool,
        input=inp.label,
        packets=inp.packets,
        wall_s=m.wall_s,
        pps=inp.packets / m.wall_s,
        mbps=inp.captured_bytes * 8 / m.wall_s / 1e6,
        peak_rss_mb=m.peak_rss_mb,
        cpu_s=m.user_s + m.sys_s,
        returncode=m.returncode,
        detail={"cmd": m.cmd, "maxrss_mb": m.maxrss_mb, "tree_pss_mb": m.tree_pss_mb},
    )
    if m.timed_out:
        row.note = f"timed out after {args.timeout:.0f} s"
    elif m.returncode != 0:
        tail = m.stderr.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        row.note = f"exit {m.returncode}: {tail[0][:120]}"
    parsed = _parse_output(tool, result_file)
    row.detail["output"] = parsed
    flows = parsed.get("flows")
    row.flows = int(flows) if isinstance(flows, int | float) else None
    reported = parsed.get("packets")
    if isinstance(reported, int) and reported != inp.packets and m.returncode == 0:
        row.note = (row.note + "; " if row.note else "") + f"tool counted {reported:,} packets"
    if tool.startswith("tocsin"):
        counters = parsed.get("counters") or {}
        py = counters.get("app_layer.packets_python")
        if isinstance(py, int) and inp.packets:
            row.py_share = py / inp.packets
            row.detail["packets_python"] = py
            row.detail["packets_parsed"] = counters.get("app_layer.packets_parsed")
        if tool == "tocsin-detect":
            errf = result_file.with_suffix(".stderr")
            text = errf.read_text() if errf.exists() else ""
            intel = [x for x in text.splitlines() if x.startswith("intel: ")]
            row.detail["intel"] = intel[0] if intel else None
            row.detail["detector_alerts"] = parsed.get("detector_alerts")
        if tool == "tocsin-rules":
            row.detail["detect"] = {
                "rules": counters.get("detect.rules"),
                "candidates": counters.get("detect.candidates"),
                "candidates_per_packet": (counters.get("detect.candidates") or 0) / inp.packets,
                "scanned_packets": counters.get("detect.scanned_packets"),
                "scanned_bytes": counters.get("detect.scanned_bytes"),
                "tx_rounds": counters.get("detect.tx_rounds"),
                "alerts": counters.get("detect.alert"),
                **(parsed.get("detect_timings_s") or {}),
            }
        row.startup_s = _num(parsed.get("startup_s"))
        row.steady_pps = _num(parsed.get("steady_pps"))
        row.detail["tool_wall_s"] = _num(parsed.get("wall_s"))
        eve = _eve_dir(args) / result_file.name.replace(".summary.json", ".eve.json")
        if eve.exists():
            row.detail["eve_bytes"] = eve.stat().st_size
            if not args.keep_eve:
                eve.unlink()
    return row


def _eve_dir(args: argparse.Namespace) -> Path:
    """Where Tocsin writes its EVE during the benchmark (default: memory, see --eve-dir)."""
    path = Path(args.eve_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) else None


def _parse_output(tool: str, path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return {}
    if tool == "tshark":
        return {"flows": sum(1 for line in text.splitlines() if "<->" in line)}
    if tool == "tshark-fields":
        return {"lines_with_fields": sum(1 for line in text.splitlines() if line.strip())}
    candidates = [text] if tool.startswith("tocsin") else text.strip().splitlines()[-1:]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def add_ratios(rows: list[Row]) -> None:
    tocsin = {(r.capture, r.input): r for r in rows if r.tool == "tocsin" and r.returncode == 0}
    for r in rows:
        same = tocsin.get((r.capture, r.input))
        whole = tocsin.get((r.capture, "whole"))
        if r.tool == "tocsin-detect" and same is not None and r.returncode == 0:
            r.detail["detect_vs_plain"] = round(r.pps / same.pps, 3)  # target >= 0.80
            r.note = (r.note + "; " if r.note else "") + f"detect/plain {r.pps / same.pps:.2f}"
        if r.tool.startswith("tocsin") or r.returncode != 0:
            continue
        r.ratio_same = same.pps / r.pps if same else None
        r.ratio_whole = whole.pps / r.pps if whole else None


def _fmt(v: float | int | None, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def table(rows: list[Row]) -> str:
    head = (
        "| capture | tool | input | packets | wall s | start-up s | pkt/s | steady pkt/s | Mbit/s "
        "| peak RSS MB | CPU s | flows | to Python % | Tocsin × (same input) | Tocsin × (whole) "
        "| note |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        ok = r.returncode == 0
        lines.append(
            f"| {r.capture} | {r.tool} | {r.input} | {r.packets:,} | {r.wall_s:.2f} "
            f"| {_fmt(r.startup_s, '.2f')} | {_fmt(r.pps if ok else None, ',.0f')} "
            f"| {_fmt(r.steady_pps, ',.0f')} | {_fmt(r.mbps if ok else None, ',.0f')} "
            f"| {r.peak_rss_mb:,.0f} | {r.cpu_s:.1f} | {_fmt(r.flows, ',')} "
            f"| {_fmt(None if r.py_share is None else 100 * r.py_share, '.2f')} "
            f"| {_fmt(r.ratio_same, ',.1f')} | {_fmt(r.ratio_whole, ',.1f')} | {r.note} |"
        )
    return "\n".join(lines)


def target_lines(rows: list[Row]) -> list[str]:
    out = []
    for r in rows:
        t = TARGETS.get((r.capture, r.tool))
        if t is None or r.input != "whole":
            continue
        checks = [("pkt/s (whole process)", r.pps, t["pps"], True)]
        if "steady_pps" in t:
            checks.append(("steady pkt/s", r.steady_pps, t["steady_pps"], True))
        if "rss_mb" in t:
            checks.append(("peak RSS MB", r.peak_rss_mb, t["rss_mb"], False))
        for name, value, goal, higher in checks:
            if value is None or r.returncode != 0:
                verdict = "n/a"
            else:
                verdict = "PASS" if (value >= goal if higher else value <= goal) else "FAIL"
            sign = "≥" if higher else "≤"
            out.append(
                f"- {r.capture}, {r.tool}: {name} {_fmt(value, ',.0f')} "
                f"(target {sign} {goal:,}): {verdict}"
            )
    return out


def machine_info() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    versions: dict[str, str | None] = {}
    for pkg in ("tocsin", "numpy", "numba", "dpkt", "nfstream", "msgspec"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "mem_gb": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "tshark": (_first_line(["tshark", "--version"]) or "").rstrip("."),
        "git_head": _first_line(["git", "-C", str(BENCH), "rev-parse", "--short", "HEAD"]),
        "loadavg_start": os.getloadavg(),
    }


def _first_line(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0] if out else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--captures", default="mixed,flood")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--slice-packets", type=int, default=1_000_000)
    ap.add_argument("--full-peers", action="store_true", help="peers on the whole capture too")
    ap.add_argument("--tocsin-cmd", default="tocsin", help="command run as `CMD analyze ...`")
    ap.add_argument(
        "--rules-dir",
        default=str(BENCH.parent.parent / "shared" / "corpus" / "rules" / "et-open"),
        help="rule files (*.rules) loaded by the tocsin-rules rows (default: the corpus's ET Open)",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per row, keep the fastest")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--keep-eve", action="store_true", help="keep Tocsin's EVE files")
    ap.add_argument(
        "--eve-dir",
        default="/dev/shm/tocsin-bench" if Path("/dev/shm").is_dir() else str(WORK),
        help=(
            "where Tocsin writes EVE (default /dev/shm: the flood's 1.9 GB of flow events "
            "would otherwise measure this machine's disk, ~400 MB/s, not Tocsin; "
            "use --eve-dir bench/work to include the disk)"
        ),
    )
    ap.add_argument("--profile", action="store_true", help="cProfile tocsin on mixed as well")
    ap.add_argument("--corpus", type=Path, default=make_captures.DEFAULT_CORPUS)
    args = ap.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t]
    if unknown := set(tools) - set(TOOLS):
        ap.error(f"unknown tools {sorted(unknown)}")
    WORK.mkdir(exist_ok=True)
    RESULTS.mkdir(exist_ok=True)
    started = dt.datetime.now()
    info = machine_info()
    rows: list[Row] = []
    for capture in args.captures.split(","):
        meta = make_captures.build(capture, args.corpus)
        whole = Input(
            capture,
            "whole",
            make_captures.DATA / f"{capture}.pcap",
            meta["packets"],
            meta["captured_bytes"],
        )
        part = slice_input(capture, whole, args.slice_packets)
        print(f"{capture}: {whole.packets:,} packets; slice {part.packets:,}", file=sys.stderr)
        if "tocsin" in tools:
            rows.append(measure_tool("tocsin", whole, args))
            if part.packets < whole.packets:
                rows.append(measure_tool("tocsin", part, args))
        if "tocsin-detect" in tools:
            rows.append(measure_tool("tocsin-detect", whole, args))
            if part.packets < whole.packets:
                rows.append(measure_tool("tocsin-detect", part, args))
        if "tocsin-rules" in tools and capture == "mixed":
            rows.append(measure_tool("tocsin-rules", whole, args))
        if "tocsin-core" in tools:
            rows.append(measure_tool("tocsin-core", whole, args))
        for tool in (t for t in TOOLS if t in tools and not t.startswith("tocsin")):
            rows.append(measure_tool(tool, whole if args.full_peers else part, args))
    add_ratios(rows)
    profile = profile_tocsin.run(args, WORK) if args.profile else None
    info["loadavg_end"] = os.getloadavg()
    report = render(started, info, rows, profile, args)
    print(report)
    stem = RESULTS / started.strftime("%Y-%m-%d-%H%M")
    stem.with_suffix(".md").write_text(report)
    payload = {
        "started": started.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "machine": info,
        "captures": {c: _meta(c) for c in args.captures.split(",")},
        "rows": [asdict(r) for r in rows],
        "targets": {f"{c}/{t}": v for (c, t), v in TARGETS.items()},
        "profile": profile,
    }
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {stem}.md and .json", file=sys.stderr)
    return 0


def render(
    started: dt.datetime,
    info: dict[str, Any],
    rows: list[Row],
    profile: str | None,
    args: argparse.Namespace,
) -> str:
    pk = info["packages"]
    parts = [
        f"# Tocsin bench, {started:%Y-%m-%d %H:%M}",
        "",
        f"Machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['mem_gb']} GB, "
        f"Linux {info['kernel']}; load average {info['loadavg_start'][0]:.2f} at start, "
        f"{info['loadavg_end'][0]:.2f} at end. Python {info['python']}, numpy {pk['numpy']}, "
        f"numba {pk['numba']}, dpkt {pk['dpkt']}, nfstream {pk['nfstream']}, tocsin "
        f"{pk['tocsin']}; {info['tshark']}. Git HEAD {info['git_head']}. "
        f"Tocsin command: `{args.tocsin_cmd}`.",
        "",
        "Whole-process wall time per run (start-up included); pkt/s = packets / wall; "
        "Mbit/s = captured bytes × 8 / wall; peak RSS = max(largest process high-water, "
        "sampled PSS sum of the process tree). Tocsin × = Tocsin's pkt/s divided by the "
        "row's pkt/s, on the same input and on the whole capture. Rows of one capture ran "
        "one after the other in this run.",
        "",
        table(rows),
        "",
        "Targets:",
        "",
        *(target_lines(rows) or ["- (no Tocsin whole-capture row)"]),
        "",
    ]
    sig = [r for r in rows if r.tool == "tocsin-rules" and "detect" in r.detail]
    if sig:
        parts += ["## Signature engine (tocsin-rules)", ""]
        parts += [
            "| capture | rules | alerts | candidates / packet | payloads scanned | "
            "MB scanned | tx rounds | prefilter s | confirmation s | wall s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sig:
            d = r.detail["detect"]
            parts.append(
                f"| {r.capture} | {d.get('rules')} | {d.get('alerts')} | "
                f"{d.get('candidates_per_packet', 0):.4f} | {d.get('scanned_packets')} | "
                f"{(d.get('scanned_bytes') or 0) / 1e6:.0f} | {d.get('tx_rounds')} | "
                f"{d.get('prefilter_s', 0):.1f} | {d.get('confirm_s', 0):.1f} | {r.wall_s:.1f} |"
            )
        parts.append("")
    if profile:
        parts += ["## Profile: tocsin analyze on mixed (top 30 by cumulative time)", "", "```"]
        parts += [profile.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
