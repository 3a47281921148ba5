"""Hub ingest, in one run (issue 8's benchmark): events/s into one `tocsin hub serve` on
SQLite, on PostgreSQL, and with `--bus` NATS JetStream + 2 `tocsin hub worker`s on
PostgreSQL; and the time from a sensor's alert to the hub answering it. Target: >= 50,000
events/s on one node with PostgreSQL. Run by hand (~5 min), never in CI.

    python bench/hub.py [--configs sqlite,postgres,nats] [--sensors 4] [--events 100000]
                        [--repeat 2] [--direct/--no-direct] [--latency-s 30] [--idle-s 15]
                        [--alert-rate 20] [--bg-rate 2000] [--py-spy S]

Each configuration, each round, gets a fresh hub home, PostgreSQL database and nats-server
(Debian's servers, untuned, started by scripts/services through tests/hub/services.py; one
PostgreSQL server for the whole run). Rounds run the configurations in turn, in reverse
order every other round; the table keeps each one's best round.
1. **sensors**: `--sensors` real `tocsin sensor --eve-file` processes (tail, outbox, zstd
   batches over HTTPS), each following its own pre-written EVE file of `--events` lines, all
   spawned at once. events/s = events stored / (first spawn .. the store holds them all);
   steady = from the first event stored to the last. The store is read directly
   (`SELECT max(id)` every 50 ms, `count(*)` to confirm), not through the API.
2. **direct** (`--direct`, default): as many events again, as pre-built batches (msgpack +
   zstd, 5,000 events: what a sensor's pusher sends), POSTed by one thread per (new) sensor
   token: the hub's own rate, the client costing nearly nothing. Far above (1) means the
   sensors bound (1), not the hub.
3. **latency** (first round only): one more sensor follows an empty EVE file; `--alert-rate`
   alert lines a second, each with a unique `bench_seq`, are appended one write each for
   `--latency-s` s while a background sensor follows a file appended at `--bg-rate` lines/s,
   then for `--idle-s` s without it. A poller asks GET /api/v1/events?type=alert&after=<last
   id> every 20 ms; latency = append .. first answer holding the line (this process's
   monotonic clock), split at the row's `received` (the hub's wall clock at acceptance) into
   "to hub" (sensor: tail, outbox, POST) and "in hub" (store or bus + worker, and the poll).
CPU time per process tree (hub, workers, postgres, nats-server, sensors, this harness) and of
the whole machine over each phase comes from /proc; the sensors' start-up is measured on
its own (one sensor that starts, finds nothing for 1 s and exits) to give their per-event
cost without it. `--py-spy S` samples the hub (and one worker) for S s during phase 1
(`py-spy record --format raw`, py-spy from the venv) into bench/work/hub-<config>-*.folded.

Events: the lines `tocsin analyze samples/ --rules rules/demo.rules` writes (flow, smb, http,
alert, dicom, hl7...; not its stats and sensor lines), replicated with a new timestamp and
`flow_id` each, so every line is distinct (~560 bytes on average). The hub's `silence_s` is
set to 3600 s, so no sensor-blind alert of an idle sensor lands in the counts. Writes a
table to stdout and bench/results/<YYYY-MM-DD-HHMM>-hub.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import psycopg
import zstandard

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))  # tests/hub: real servers and a hub process (not `hub`: this file)

from tests.hub import services  # noqa: E402
from tests.hub.hubkit import TOCSIN, Hub, env_without_proxy, sensor_args  # noqa: E402

from tocsin.hub.rows import Batch  # noqa: E402
from tocsin.hub.secrets import new_token, token_hash  # noqa: E402
from tocsin.hub.store import open_store  # noqa: E402

TARGET = 50_000
BATCH = 5_000  # the pusher's batch_events
BATCH_HEADERS = {"Content-Type": "application/x-tocsin-batch", "Content-Encoding": "zstd"}
POLL_S = 0.05  # store poll during the throughput phases
API_POLL_S = 0.02  # GET /api/v1/events poll during the latency phase
STALL_S = 60.0  # a phase gives up when nothing was stored for this long
CLK = os.sysconf("SC_CLK_TCK")
DAY = 86_400.0
ENV = env_without_proxy()


# -- events


def eve_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def templates(work: Path) -> list[dict[str, Any]]:
    """The EVE lines of the samples (less stats and sensor lines), decoded."""
    eve = work / "samples.eve.json"
    subprocess.run(
        [TOCSIN, "analyze", str(ROOT / "samples"), "--rules", str(ROOT / "rules" / "demo.rules"),
         "--eve", str(eve), "-q"], check=True, env=ENV,
    )  # fmt: skip
    out = [msgspec.json.decode(ln) for ln in eve.read_bytes().splitlines() if ln.strip()]
    return [d for d in out if d["event_type"] not in ("stats", "sensor")]


def lines(tpl: list[dict[str, Any]], stream: int, n: int, start: float) -> list[bytes]:
    """`n` distinct EVE lines: the templates in turn, each with its own time and flow_id."""
    enc = msgspec.json.Encoder()
    out = []
    for i in range(n):
        d = dict(tpl[i % len(tpl)])
        d["timestamp"] = eve_time(start + i * 1e-3)
        d["flow_id"] = (stream << 40) | i
        out.append(enc.encode(d))
    return out


# -- processes and their CPU time


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, CPU seconds) of every live process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as fh:
                f = fh.read().rpartition(") ")[2].split()
        except OSError:
            continue
        table[int(name)] = (int(f[1]), (int(f[11]) + int(f[12])) / CLK)
    return table


def tree_cpu(roots: list[int], table: dict[int, tuple[int, float]] | None = None) -> float:
    """CPU seconds of the live processes `roots` and their descendants."""
    table = table or _proc_table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in table:
            continue
        seen.add(pid)
        total += table[pid][1]
        todo += kids.get(pid, [])
    return total


def stop_all(procs: list[subprocess.Popen[Any]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


# -- the store, read directly


class Counter:
    """Reads the hub's events table without going through the hub."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg = url.startswith("postgres")
        if self.pg:
            self.conn: Any = psycopg.connect(url, autocommit=True)
        else:
            path = url.removeprefix("sqlite:///")
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)

    def one(self, sql: str) -> int:
        return int(self.conn.execute(sql).fetchone()[0] or 0)

    def max_id(self) -> int:
        return self.one("SELECT max(id) FROM events")

    def count(self) -> int:
        return self.one("SELECT count(*) FROM events")

    def wait(
        self, want: int, dead: Callable[[], str] = str, stall: float = STALL_S
    ) -> tuple[float | None, float | None, int]:
        """Poll until `want` more events than now are held, giving up when none has been
        stored for `stall` seconds or `dead()` names a process that exited: (first stored,
        all stored) monotonic times (None if not reached) and how many more are held."""
        base, since = self.count(), self.max_id()
        first = None
        last, moved = since, time.monotonic()
        while time.monotonic() - moved < stall:
            if gone := dead():
                say(f"{gone}: exited; giving up this phase")
                break
            top = self.max_id()
            now = time.monotonic()
            if top != last:
                last, moved = top, now
            if first is None and top > since:
                first = now
            if top - since >= want:  # ids may skip (sequence values of folded repeats)
                n = self.count() - base
                if n >= want:
                    return first, time.monotonic(), n
            time.sleep(POLL_S)
        return first, None, self.count() - base

    def alerts_received(self, after: int) -> dict[int, float]:
        """bench_seq -> the hub's `received` clock, of the marked alerts after id `after`."""
        sql = "SELECT body, received FROM events WHERE event_type = 'alert' AND id > ?"
        got = self.conn.execute(sql.replace("?", "%s") if self.pg else sql, (after,)).fetchall()
        out = {}
        for body, received in got:
            seq = msgspec.json.decode(bytes(body)).get("bench_seq")
            if seq is not None:
                out[int(seq)] = float(received)
        return out

    def close(self) -> None:
        self.conn.close()


# -- one configuration


@dataclass
class Phase:
    events: int
    wall: float | None  # spawn .. all stored
    steady: float | None  # first stored .. all stored
    held: int
    cpu: dict[str, float] = field(default_factory=dict)
    sensors_steady: float | None = None  # sensors' CPU µs per event, less their start-up

    @property
    def rate(self) -> float:
        return self.events / self.wall if self.wall else 0.0

    @property
    def steady_rate(self) -> float:
        return self.events / self.steady if self.steady else 0.0


@dataclass
class Result:
    config: str
    round: int
    sensors: Phase | None = None
    direct: Phase | None = None
    latency: dict[str, list[float]] = field(default_factory=dict)
    to_hub: dict[str, list[float]] = field(default_factory=dict)  # append .. hub accepted
    in_hub: dict[str, list[float]] = field(default_factory=dict)  # accepted .. answered
    lost: dict[str, int] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    logs: str = ""  # where the logs of a failed run were kept


class Rig:
    """A hub home (+ its workers) for one configuration, and its sensors' tokens."""

    def __init__(self, work: Path, config: str, store_url: str | None, bus: str | None) -> None:
        self.work, self.config, self.bus = work, config, bus
        self.hub = Hub(work / "home", store=store_url)
        settings = json.loads((self.hub.home / "hub" / "hub.json").read_text())
        settings["silence_s"] = 3600.0
        (self.hub.home / "hub" / "hub.json").write_text(json.dumps(settings))
        self.store_url: str = settings["store"]
        self.workers: list[subprocess.Popen[bytes]] = []
        self.tokens: dict[str, str] = {}

    def enrol(self, names: list[str]) -> None:
        store = open_store(self.store_url)
        try:
            for name in names:
                store.add_site(name)
                self.tokens[name] = new_token()
                store.add_sensor(name, "probe", token_hash(self.tokens[name]))
        finally:
            store.close()

    def token_file(self, name: str) -> Path:
        path = self.work / f"{name}.token"
        path.write_text(self.tokens[name] + "\n")
        return path

    def start(self) -> None:
        self.hub.start(*(["--bus", self.bus] if self.bus else []))
        for i in range(2 if self.bus else 0):
            log = open(self.work / f"worker-{i}.log", "wb")  # noqa: SIM115
            self.workers.append(subprocess.Popen(
                [TOCSIN, "hub", "worker", "--home", str(self.hub.home), "--bus", str(self.bus)],
                stdout=log, stderr=log, env=ENV,
            ))  # fmt: skip

    def sensor(self, name: str, eve: Path, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.work / f"sensor-{name}.log", "wb")  # noqa: SIM115
        args = sensor_args(self.hub, name, self.token_file(name), self.work / f"s-{name}")
        return subprocess.Popen([TOCSIN, "sensor", "--eve-file", str(eve), *args, *extra],
                                stdout=log, stderr=log, env=ENV)  # fmt: skip

    def startup_cpu(self) -> float:
        """CPU seconds of a `tocsin sensor --eve-file` that starts, finds nothing for 1 s
        and exits: the start-up (imports, outbox, TLS, a heartbeat) each sensor pays."""
        empty = self.work / "empty.eve.json"
        empty.touch()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = self.sensor("probe0", empty, "--duration", "1")
        proc.wait(60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    def roots(
        self, pg: services.PostgresServer | None, nats: services.NatsServer | None
    ) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {"hub": [self.hub.proc.pid] if self.hub.proc else []}
        if self.workers:
            out["workers"] = [w.pid for w in self.workers]
        if pg is not None and pg.pid and self.store_url.startswith("postgres"):
            out["postgres"] = [pg.pid]
        if nats is not None and nats.pid and self.bus:
            out["nats"] = [nats.pid]
        return out

    def dead(self) -> str:
        """The hub or workers that exited (\"\" when all run)."""
        procs = [
            ("hub serve", self.hub.proc),
            *((f"worker {i}", w) for i, w in enumerate(self.workers)),
        ]
        return ", ".join(name for name, p in procs if p is not None and p.poll() is not None)

    def stop(self) -> None:
        stop_all(self.workers)
        self.hub.stop()


def machine() -> tuple[float, float]:
    """CPU seconds of the whole machine so far: (busy, of which stolen by the hypervisor)."""
    with open("/proc/stat") as fh:
        f = [int(x) for x in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    return sum(f[:8]) / CLK - (f[3] + f[4]) / CLK, f[7] / CLK


def cpu_of(roots: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds per process tree, and `machine` / `steal` for the whole machine."""
    table = _proc_table()
    out = {k: tree_cpu(v, table) for k, v in roots.items()}
    out["machine"], out["steal"] = machine()
    return out


def profile(rig: Rig, seconds: int, out: list[str]) -> list[subprocess.Popen[bytes]]:
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        sys.exit("--py-spy: py-spy not found (pip install py-spy)")
    targets = [("serve", rig.hub.proc.pid)] if rig.hub.proc else []
    targets += [("worker", w.pid) for w in rig.workers[:1]]
    procs = []
    for what, pid in targets:
        folded = BENCH / "work" / f"hub-{rig.config}-{what}.folded"
        folded.parent.mkdir(exist_ok=True)
        out.append(str(folded.relative_to(ROOT)))
        procs.append(subprocess.Popen(
            [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
             "--nonblocking", "--format", "raw", "--output", str(folded)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
    return procs


def sensors_phase(rig: Rig, files: dict[str, Path], counter: Counter,
                  roots: dict[str, list[int]], spy_s: int, res: Result) -> Phase:  # fmt: skip
    startup = rig.startup_cpu()
    want = sum(len(f.read_bytes().splitlines()) for f in files.values())
    cpu0, me0 = cpu_of(roots), time.process_time()
    t0 = time.monotonic()
    procs = [rig.sensor(name, path) for name, path in files.items()]
    spies = profile(rig, spy_s, res.profiles) if spy_s else []
    try:
        first, done, held = counter.wait(want, rig.dead)
        cpu1 = cpu_of({**roots, "sensors": [p.pid for p in procs]})
        cpu1["harness"] = time.process_time() - me0
    finally:
        stop_all(procs)
        for s in spies:
            s.wait(120)
    cpu = {k: cpu1[k] - cpu0.get(k, 0.0) for k in cpu1}
    phase = Phase(want, done - t0 if done else None, done - first if done and first else None,
                  held, cpu)  # fmt: skip
    if held:
        phase.sensors_steady = (cpu1["sensors"] - len(procs) * startup) * 1e6 / held
    return phase


def direct_phase(rig: Rig, files: dict[str, Path], counter: Counter,
                 roots: dict[str, list[int]]) -> Phase:  # fmt: skip
    """Pre-built batches, one posting thread per (newly enrolled) sensor token."""
    zc = zstandard.ZstdCompressor(level=3)
    enc = msgspec.msgpack.Encoder()
    bodies: dict[str, list[bytes]] = {}
    for i, (name, path) in enumerate(files.items()):
        ls = path.read_bytes().splitlines()
        epoch = 1_000 + i
        bodies[name] = [
            zc.compress(enc.encode(Batch(name, epoch, list(enumerate(ls))[k : k + BATCH])))
            for k in range(0, len(ls), BATCH)
        ]
    want = sum(len(f.read_bytes().splitlines()) for f in files.values())

    def post(name: str) -> None:
        with rig.hub.client(auth=rig.tokens[name]) as c:
            for body in bodies[name]:
                r = c.post("/api/v1/batches", content=body, headers=BATCH_HEADERS)
                r.raise_for_status()

    cpu0, me0 = cpu_of(roots), time.process_time()
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(bodies)) as pool:
        futures = [pool.submit(post, name) for name in bodies]
        first, done, held = counter.wait(want, rig.dead)
        for f in futures:
            f.result()
    cpu = cpu_of(roots)
    cpu = {k: cpu[k] - cpu0.get(k, 0.0) for k in cpu}
    cpu["harness"] = time.process_time() - me0
    return Phase(want, done - t0 if done else None, done - first if done and first else None,
                 held, cpu)  # fmt: skip


def latency_phase(rig: Rig, work: Path, tpl: list[dict[str, Any]], counter: Counter,
                  args: argparse.Namespace, res: Result) -> None:  # fmt: skip
    alert = next(d for d in tpl if d["event_type"] == "alert")
    lat_eve, bg_eve = work / "latency.eve.json", work / "bg.eve.json"
    lat_eve.touch()
    bg_eve.touch()
    bg_lines = lines(tpl, 99, int(args.bg_rate * (args.latency_s + 2)), time.time())
    procs = [rig.sensor("lat", lat_eve), rig.sensor("bg", bg_eve)]
    appended: dict[int, float] = {}
    wall: dict[int, float] = {}
    seen: dict[int, float] = {}
    halt = threading.Event()
    after = since = counter.max_id()

    def poll() -> None:
        nonlocal after
        with rig.hub.client() as c:
            while not halt.is_set():
                try:
                    r = c.get(
                        "/api/v1/events", params={"type": "alert", "after": after, "limit": 10_000}
                    )
                    r.raise_for_status()
                except httpx.HTTPError as err:
                    say(f"latency poll: {err}")
                    time.sleep(0.5)
                    continue
                now = time.monotonic()
                for ln in r.content.splitlines():
                    rec = msgspec.json.decode(ln)
                    after = max(after, rec["id"])
                    seq = rec["event"].get("bench_seq")
                    if seq is not None and seq not in seen:
                        seen[seq] = now
                time.sleep(API_POLL_S)

    def append(seq: int, fd: int) -> None:
        d = dict(alert, timestamp=eve_time(time.time()), bench_seq=seq, flow_id=seq)
        os.write(fd, msgspec.json.encode(d) + b"\n")
        appended[seq] = time.monotonic()
        wall[seq] = time.time()

    def background(stop: threading.Event) -> None:
        fd = os.open(bg_eve, os.O_WRONLY | os.O_APPEND)
        t0, i, tick = time.monotonic(), 0, 0.05
        while not stop.is_set() and i < len(bg_lines):
            due = int((time.monotonic() - t0) * args.bg_rate)
            if due > i:
                os.write(fd, b"".join(ln + b"\n" for ln in bg_lines[i:due]))
                i = due
            stop.wait(tick)
        os.close(fd)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    fd = os.open(lat_eve, os.O_WRONLY | os.O_APPEND)
    try:
        append(-1, fd)  # warm-up: the sensor is up and the path is open
        deadline = time.monotonic() + 60
        while -1 not in seen and time.monotonic() < deadline:
            time.sleep(0.05)
        seq = 0
        for label, secs, bg in (("loaded", args.latency_s, True), ("idle", args.idle_s, False)):
            if not secs:
                continue
            bg_stop = threading.Event()
            bgt = threading.Thread(target=background, args=(bg_stop,), daemon=True)
            if bg and args.bg_rate:
                bgt.start()
            first = seq
            t0 = time.monotonic()
            n = int(secs * args.alert_rate)
            for k in range(n):
                delay = t0 + k / args.alert_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                append(seq, fd)
                seq += 1
            bg_stop.set()
            if bgt.is_alive():
                bgt.join()
            wait_until = time.monotonic() + 15
            while any(s not in seen for s in range(first, seq)) and time.monotonic() < wait_until:
                time.sleep(0.05)
            res.latency[label] = [seen[s] - appended[s] for s in range(first, seq) if s in seen]
            res.lost[label] = sum(1 for s in range(first, seq) if s not in seen)
            got = counter.alerts_received(since)
            both = [s for s in range(first, seq) if s in got and s in seen]
            res.to_hub[label] = [got[s] - wall[s] for s in both]
            res.in_hub[label] = [seen[s] - appended[s] - (got[s] - wall[s]) for s in both]
            time.sleep(1.0)  # the background drains before the idle part
    finally:
        os.close(fd)
        halt.set()
        poller.join()
        stop_all(procs)


@contextlib.contextmanager
def rig_for(
    config: str, work: Path, pg: services.PostgresServer | None, db: int
) -> Iterator[tuple[Rig, services.NatsServer | None]]:
    store_url = None
    name = f"bench_{config}_{db}"
    if config != "sqlite":
        assert pg is not None
        store_url = pg.create_database(name)
    nats_cm = services.nats() if config == "nats" else contextlib.nullcontext()
    try:
        with nats_cm as nats_server:
            rig = Rig(work, config, store_url, nats_server.url if nats_server else None)
            try:
                yield rig, nats_server
            finally:
                rig.stop()
    finally:
        if pg is not None and store_url:
            pg.drop_database(name)


def run_config(config: str, round_: int, tmp: Path, tpl: list[dict[str, Any]],
               files: dict[str, Path], pg: services.PostgresServer | None,
               args: argparse.Namespace) -> Result:  # fmt: skip
    """One configuration on a fresh hub: sensors, then direct, then (round 0) latency."""
    work = tmp / f"{config}-{round_}"
    work.mkdir()
    res = Result(config, round_)
    ok = False
    try:
        with rig_for(config, work, pg, round_) as (rig, nats_server):
            direct_names = {f"d{n}": p for n, p in files.items()} if args.direct else {}
            rig.enrol([*files, *direct_names, "lat", "bg", "probe0"])
            rig.start()
            counter = Counter(rig.store_url)
            roots = rig.roots(pg, nats_server)
            try:
                res.sensors = sensors_phase(rig, files, counter, roots, args.py_spy, res)
                say(f"{config} #{round_}: sensors {res.sensors.rate:,.0f} events/s")
                if args.direct:
                    res.direct = direct_phase(rig, direct_names, counter, roots)
                    say(f"{config} #{round_}: direct {res.direct.rate:,.0f} events/s")
                if round_ == 0 and (args.latency_s or args.idle_s):
                    latency_phase(rig, work, tpl, counter, args, res)
                    p50 = ", ".join(
                        f"{k} p50 {pct(v, 50) * 1e3:.0f} ms" for k, v in res.latency.items()
                    )
                    say(f"{config}: latency {p50}")
                ok = all(p.held == p.events for p in (res.sensors, res.direct) if p)
            finally:
                counter.close()
    finally:
        if not ok:  # keep the processes' logs
            keep = BENCH / "work" / f"hub-logs-{config}-{round_}"
            shutil.rmtree(keep, ignore_errors=True)
            keep.mkdir(parents=True)
            for log in [*work.glob("*.log"), *work.glob("home/*.log")]:
                shutil.copy(log, keep / log.name)
            res.logs = str(keep.relative_to(ROOT))
            say(f"{config} #{round_}: not every event was stored; logs in {res.logs}")
        shutil.rmtree(work, ignore_errors=True)
    return res


# -- report

NAMES = {
    "sqlite": "serve, SQLite",
    "postgres": "serve, PostgreSQL",
    "nats": "serve --bus NATS + 2 workers, PostgreSQL",
}
TREES = ("hub", "workers", "postgres", "nats", "sensors", "harness")


def pct(xs: list[float], p: float) -> float:
    """The `p`th percentile (nearest rank)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    rank = -(-len(s) * p // 100)  # ceil(n p / 100)
    return s[min(len(s), max(1, int(rank))) - 1]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def best(results: list[Result], config: str, phase: str) -> Phase | None:
    got = [getattr(r, phase) for r in results if r.config == config and getattr(r, phase)]
    return max(got, key=lambda p: p.rate) if got else None


def _cpu_row(r: Result, label: str, ph: Phase) -> str:
    c, wall = ph.cpu, ph.wall or float("nan")
    ours = sum(c.get(k, 0.0) for k in TREES)
    per_event = [f"{c[k] * 1e6 / ph.events:.1f}" if k in c else "-" for k in TREES]
    if ph.sensors_steady is not None:
        per_event[TREES.index("sensors")] += f" ({ph.sensors_steady:.1f})"
    return (
        f"| {NAMES[r.config]} | {r.round} | {label} | {ph.rate:,.0f} | {wall:.1f} | "
        + " | ".join(per_event)
        + f" | {ours / wall:.2f} | {c['machine'] / wall:.2f} | {c['steal'] / wall:.2f} |"
    )


def _machine_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def report(results: list[Result], args: argparse.Namespace, load0: tuple[float, ...],
           started: float, stamp: str, sizes: tuple[int, int]) -> str:  # fmt: skip
    total = args.sensors * args.events
    rows, cpu_rows, lat_rows = [], [], []
    for config in args.configs:
        s, d = best(results, config, "sensors"), best(results, config, "direct")
        if s is None:
            continue
        cells = [NAMES[config], f"{s.rate:,.0f}", f"{s.rate / TARGET:.2f}",
                 f"{s.steady_rate:,.0f}"]  # fmt: skip
        if d is not None:
            cells += [f"{d.rate:,.0f}", f"{d.rate / TARGET:.2f}"]
        mine = [r for r in results if r.config == config]
        phases = [p for r in mine for p in (r.sensors, r.direct) if p is not None]
        bad = [p.held for p in phases if p.held != p.events]
        rows.append("| " + " | ".join([*cells, "yes" if not bad else f"NO: {bad}"]) + " |")
        for r in mine:
            for label, xs in r.latency.items():
                to, in_ = r.to_hub.get(label, []), r.in_hub.get(label, [])
                ms = (pct(xs, 50), pct(xs, 99), max(xs, default=0), pct(to, 50), pct(to, 99),
                      pct(in_, 50), pct(in_, 99))  # fmt: skip
                lat_rows.append(
                    f"| {NAMES[config]} | {label} | {len(xs)} | "
                    + " | ".join(f"{v * 1e3:.0f}" for v in ms)
                    + f" | {r.lost.get(label, 0)} |"
                )
    for r in sorted(results, key=lambda r: (args.configs.index(r.config), r.round)):
        for label, ph in (("sensors", r.sensors), ("direct", r.direct)):
            if ph is not None and ph.wall:
                cpu_rows.append(_cpu_row(r, label, ph))
    load1 = os.getloadavg()
    profiles = sorted({p for r in results for p in r.profiles})
    failed = [f"{NAMES[r.config]} round {r.round}: `{r.logs}`" for r in results if r.logs]
    d_head = " direct events/s | direct / 50k |" if args.direct else ""
    out = [
        f"# Hub ingest ({stamp})",
        "",
        f"Machine: {_machine_name()}, {os.cpu_count()} CPUs, shared and noisy (other sessions "
        "run tests on it: see `machine` against `ours` below; compare ratios within this run, "
        f"not absolutes); load {load0[0]:.2f} at start, {load1[0]:.2f} at end; "
        f"{time.monotonic() - started:.0f} s in all. Everything on this one machine: hub, "
        "sensors, PostgreSQL 15 and nats-server (Debian's, untuned: fsync on), this harness.",
        "",
        f"Load: {args.sensors} `tocsin sensor --eve-file` processes, {args.events:,} distinct EVE "
        f"lines each ({total:,} events, {sizes[0] / 1e6:.0f} MB, {sizes[0] / sizes[1]:.0f} bytes "
        "a line on average; the sample captures' mix: flow, smb, http, alert, dicom, hl7...). "
        "**events/s** = events / (first sensor spawned .. the store holds them all, start-up "
        "included); **steady** = from the first event stored to the last; **direct** = the "
        f"same number of events as pre-built 5,000-event zstd batches POSTed by {args.sensors} "
        "threads of this harness (a client that costs nearly nothing: the hub's own rate). "
        f"Fresh hub, database and nats-server per configuration and round; best of "
        f"{args.repeat} rounds, the order of configurations reversed every other round.",
        "",
        f"| configuration | sensors events/s | / 50k target | steady events/s |{d_head} "
        "all stored once |",
        "|---|---|---|---|" + ("---|---|" if args.direct else "") + "---|",
        *rows,
        "",
        "Every round, with the CPU time of each process tree over the phase in µs per event "
        "(sensors: all of them together; in brackets less their start-up, measured as the CPU "
        "time of one sensor that starts, finds nothing for 1 s and exits), and cores busy: "
        "`ours` = those trees + this harness, "
        "`machine` = the whole VM (/proc/stat; the difference is other tenants), `steal` = taken "
        "by the hypervisor. 2.00 is both cores.",
        "",
        "| configuration | round | phase | events/s | wall s | "
        + " | ".join(f"{k} µs/ev" for k in TREES)
        + " | ours | machine | steal |",
        "|---|---|---|---|---|" + "---|" * len(TREES) + "---|---|---|",
        *cpu_rows,
        "",
        "Latency: a sensor's alert appended to its EVE file .. returned by GET /api/v1/events"
        f"?type=alert (polled every {API_POLL_S * 1e3:.0f} ms, so ~{API_POLL_S * 500:.0f} ms of "
        f"each figure is the poll). {args.alert_rate:g} alerts/s, one write each; `loaded`: "
        f"{args.latency_s:g} s while a background sensor follows a file appended at "
        f"{args.bg_rate:,} lines/s; `idle`: {args.idle_s:g} s without it. The sensor's feeder "
        "looks at its file every 50 ms when idle and wakes the pusher when it queues lines "
        "(runtime/uplink.py, output/push.py). Split per alert: **to hub** = append .. the "
        "hub's `received` clock (the sensor's tail, outbox and POST), **in hub** = the rest "
        "(parse, store or bus + worker, and the poll).",
        "",
        "| configuration | load | alerts | p50 ms | p99 ms | max ms | to hub p50 | to hub p99 "
        "| in hub p50 | in hub p99 | not seen |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *lat_rows,
    ]
    if failed:
        out += ["", "Not every event stored (a hub process exited, or nothing stored for "
                f"{STALL_S:.0f} s); logs kept: " + "; ".join(failed)]  # fmt: skip
    if profiles:
        out += [
            "",
            "py-spy samples (collapsed stacks, for flamegraph.pl or speedscope): "
            + ", ".join(f"`{p}`" for p in profiles),
        ]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--configs", default="sqlite,postgres,nats")
    ap.add_argument("--sensors", type=int, default=4)
    ap.add_argument("--events", type=int, default=100_000, help="EVE lines per sensor")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of the throughput phases")
    ap.add_argument("--direct", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--latency-s", type=float, default=30.0)
    ap.add_argument("--idle-s", type=float, default=15.0)
    ap.add_argument("--alert-rate", type=float, default=20.0)
    ap.add_argument("--bg-rate", type=int, default=2_000)
    ap.add_argument("--py-spy", type=int, default=0, metavar="S")
    args = ap.parse_args()
    args.configs = args.configs.split(",")
    for c in args.configs:
        if c not in NAMES:
            sys.exit(f"--configs: unknown {c!r} ({', '.join(NAMES)})")
    need = {"postgres"} if set(args.configs) - {"sqlite"} else set()
    need |= {"nats"} if "nats" in args.configs else set()
    for kind in sorted(need):
        if not services.installed(kind):
            sys.exit(services.MISSING[kind])
    started, load0 = time.monotonic(), os.getloadavg()
    stamp = time.strftime("%Y-%m-%d-%H%M")
    tmp = Path(tempfile.mkdtemp(prefix="tocsin-hubbench-"))
    results: list[Result] = []
    try:
        tpl = templates(tmp)
        files: dict[str, Path] = {}
        size = 0
        for k in range(args.sensors):
            data = b"".join(ln + b"\n" for ln in lines(tpl, k, args.events, time.time() - DAY))
            files[f"site-{k + 1}"] = tmp / f"site-{k + 1}.eve.json"
            files[f"site-{k + 1}"].write_bytes(data)
            size += len(data)
        say(f"{args.sensors} EVE files, {size / 1e6:.0f} MB, in {tmp}")
        pg_cm = services.postgres() if need else contextlib.nullcontext()
        with pg_cm as pg:
            for r in range(args.repeat):
                for config in args.configs if r % 2 == 0 else args.configs[::-1]:
                    results.append(run_config(config, r, tmp, tpl, files, pg, args))
        text = report(results, args, load0, started, stamp, (size, args.sensors * args.events))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{stamp}-hub.md"
    out.write_text(text)
    print(text)
    say(f"written: {out}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
