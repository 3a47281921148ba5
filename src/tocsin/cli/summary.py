"""The end-of-run summary a person reads: traffic, flows, talkers, protocols, anomalies, drops."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tocsin.output.timefmt import eve_timestamp
from tocsin.runtime.analyze import AnalysisResult


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} TB"


def render_summary(console: Console, r: AnalysisResult, eve: str) -> None:
    span = ""
    if r.first_ts is not None and r.last_ts is not None:
        span = (
            f" from {eve_timestamp(r.first_ts)[:19]} to {eve_timestamp(r.last_ts)[:19]} UTC "
            f"({(r.last_ts - r.first_ts) / 1e6:,.1f} s of traffic)"
        )
    ifaces = [f[6:] for f in r.files if f.startswith("iface:")]
    if ifaces and len(ifaces) == len(r.files):
        what = f"Watched {', '.join(ifaces)}"
    else:
        what = f"Analysed {len(r.files)} file" + ("s" if len(r.files) != 1 else "")
    console.print(
        f"{what}: {r.packets:,} packets, {_size(r.bytes)}{span}.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    rate = r.packets / r.wall_s if r.wall_s > 0 else 0.0
    console.print(
        f"{r.flows:,} flows. Took {r.wall_s:,.2f} s ({rate:,.0f} packets/s, start-up "
        f"{r.startup_s:,.2f} s).",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    events = ", ".join(f"{n:,} {t}" for t, n in sorted(r.events.items()))
    console.print(f"EVE events written to {eve}: {events or 'none'}.", markup=False, soft_wrap=True)

    if r.top_talkers:
        t = Table(title="Top talkers", title_justify="left")
        t.add_column("address")
        t.add_column("bytes in its flows", justify="right")
        t.add_column("flows", justify="right")
        for ip, nbytes, nflows in r.top_talkers:
            t.add_row(ip, _size(nbytes), f"{nflows:,}")
        console.print(t)
    if r.flows_by_proto:
        t = Table(title="Protocols", title_justify="left")
        t.add_column("protocol")
        t.add_column("flows", justify="right")
        t.add_column("bytes", justify="right")
        for proto, n in sorted(r.flows_by_proto.items(), key=lambda kv: -kv[1]):
            t.add_row(proto, f"{n:,}", _size(r.bytes_by_proto.get(proto, 0)))
        console.print(t)
    if r.flows_by_app:
        t = Table(title="Application protocols", title_justify="left")
        t.add_column("app_proto")
        t.add_column("flows", justify="right")
        t.add_column("events", justify="right")
        for app, n in sorted(r.flows_by_app.items(), key=lambda kv: (kv[0] == "failed", -kv[1])):
            n_ev = sum(v for k, v in r.events.items() if k == app or k.startswith(app + "_"))
            t.add_row(app, f"{n:,}", f"{n_ev:,}" if app != "failed" else "–")
        console.print(t)
    if r.rules_loaded is not None:
        n_alerts = r.counters.get("detect.alert", 0)
        if not r.top_alerts:
            console.print(f"Rules: {r.rules_loaded:,} loaded, no alert.", markup=False)
        else:
            t = Table(
                title=f"Alerts: {n_alerts:,} ({r.rules_loaded:,} rules loaded), by signature",
                title_justify="left",
            )
            t.add_column("sid", justify="right")
            t.add_column("signature")
            t.add_column("severity", justify="right")
            t.add_column("alerts", justify="right")
            for gid, sid, msg, sev, n in r.top_alerts:
                t.add_row(f"{sid}" if gid == 1 else f"{gid}:{sid}", msg, str(sev), f"{n:,}")
            console.print(t)
    if r.detectors_loaded is not None:
        n_det = sum(r.detector_alerts.values())
        if not n_det:
            console.print(f"Detectors: {r.detectors_loaded} running, no alert.", markup=False)
        else:
            t = Table(
                title=f"Detections: {n_det:,} ({r.detectors_loaded} detectors running), "
                "by detector",
                title_justify="left",
            )
            t.add_column("detector")
            t.add_column("alerts", justify="right")
            for name, n in sorted(r.detector_alerts.items(), key=lambda kv: (-kv[1], kv[0])):
                t.add_row(name, f"{n:,}")
            console.print(t)
    if r.anomalies:
        t = Table(title="Anomalies", title_justify="left")
        t.add_column("decoder event (malformed packets)")
        t.add_column("count", justify="right")
        for name, n in sorted(r.anomalies.items(), key=lambda kv: -kv[1]):
            t.add_row(name, f"{n:,}")
        console.print(t)
    if r.drops:
        t = Table(title="Not seen or cut short", title_justify="left")
        t.add_column("what, and why")
        t.add_column("count", justify="right")
        for what, n in r.drops.items():
            t.add_row(what, f"{n:,}")
        console.print(t)
    else:
        console.print("Nothing dropped: every packet was decoded and every flow logged.")
