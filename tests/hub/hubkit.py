"""A real hub for tests: `tocsin hub init` in a temp home, `tocsin hub serve` as a process
that can be killed (-9) and restarted on the same port, an admin client over HTTPS, and
helpers to run `tocsin sensor`."""

from __future__ import annotations

import base64
import os
import select
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

TOCSIN = str(Path(sys.executable).parent / "tocsin")
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tocsin(
    *args: str, check: bool = True, timeout: float = 300, **kw: Any
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([TOCSIN, *args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"tocsin {' '.join(args)} -> {done.returncode}\n{done.stderr}")
    return done


class Hub:
    """A hub in `home` serving on a free port (`url`)."""

    def __init__(self, home: Path, store: str | None = None, names: tuple[str, ...] = ()) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        pw = home / "admin.pw"
        home.mkdir(parents=True, exist_ok=True)
        pw.write_text(PASSWORD)
        args = [
            "hub",
            "init",
            "--home",
            str(home),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--admin-password-file",
            str(pw),
        ]
        if store:
            args += ["--store", store]
        if names:  # reached from elsewhere too: listen on every address
            args[args.index("--listen") + 1] = f"0.0.0.0:{self.port}"
            for name in ("127.0.0.1", *names):
                args += ["--name", name]
        tocsin(*args)
        self.ca = home / "hub" / "tls" / "ca.pem"
        self.proc: subprocess.Popen[bytes] | None = None
        self.serve_args: list[str] = []

    def another_node(self) -> Hub:
        """A second ingest node of this hub: the same home and store, its own port (start it
        with `--listen 127.0.0.1:<port>`)."""
        node = Hub.__new__(Hub)
        node.__dict__.update(self.__dict__)
        node.port = free_port()
        node.url = f"https://127.0.0.1:{node.port}"
        node.proc = None
        return node

    def sensor(self, site: str, name: str) -> Path:
        """Enrol (the site too if new); returns the token file."""
        if site not in tocsin("hub", "site", "list", "--home", str(self.home)).stdout.split():
            tocsin("hub", "site", "add", site, "--home", str(self.home))
        token = self.home / f"{site}-{name}.token"
        tocsin(
            "hub",
            "sensor",
            "add",
            name,
            "--site",
            site,
            "--home",
            str(self.home),
            "--token-file",
            str(token),
        )
        return token

    def start(self, *extra: str) -> None:
        self.serve_args = list(extra) or self.serve_args
        log = open(self.home / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [TOCSIN, "hub", "serve", "--home", str(self.home), *self.serve_args],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with self.client() as c:  # closed: an open keep-alive would delay shutdown
                    if c.get("/api/v1/health").status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError((self.home / "serve.log").read_text()[-3000:])
            time.sleep(0.1)
        raise AssertionError("hub did not come up")

    def kill(self) -> None:
        """kill -9: no clean shutdown."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, auth: str | None = "admin") -> httpx.Client:
        headers = {}
        if auth == "admin":
            cred = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
            headers["Authorization"] = f"Basic {cred}"
        elif auth:
            headers["Authorization"] = f"Bearer {auth}"
        return httpx.Client(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.ca)),
            headers=headers,
            timeout=30,
        )

    def events(self, site: str | None = None, event_type: str | None = None) -> list[bytes]:
        """Every stored EVE line (of a site / type), in storage order."""
        out: list[bytes] = []
        after = 0
        with self.client() as c:
            while True:
                params: dict[str, Any] = {"after": after, "limit": 10_000}
                if site:
                    params["site"] = site
                if event_type:
                    params["type"] = event_type
                r = c.get("/api/v1/events", params=params)
                r.raise_for_status()
                lines = [ln for ln in r.content.split(b"\n") if ln]
                if not lines:
                    return out
                for ln in lines:
                    rec = msgspec.json.decode(ln)
                    after = rec["id"]
                    out.append(msgspec.json.encode(rec["event"]))

    def stats(self) -> dict[str, Any]:
        with self.client() as c:
            r = c.get("/api/v1/stats")
            r.raise_for_status()
            result: dict[str, Any] = r.json()
            return result


def sensor_args(hub: Hub, site: str, token: Path, home: Path) -> list[str]:
    return [
        "--hub",
        hub.url,
        "--site",
        site,
        "--token-file",
        str(token),
        "--ca",
        str(hub.ca),
        "--home",
        str(home),
    ]


def canonical(lines: list[bytes]) -> list[bytes]:
    """Lines re-encoded with sorted keys, sorted: compare two sets of events."""
    return sorted(msgspec.json.encode(msgspec.json.decode(ln), order="sorted") for ln in lines)


def env_without_proxy() -> dict[str, str]:
    env = dict(os.environ)
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        env.pop(k, None)
    return env


def start_sensor(
    hub: Hub,
    source: list[str],
    site: str,
    token: Path,
    home: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`tocsin sensor SOURCE… --hub …` in the background (stdout/stderr piped, text)."""
    return subprocess.Popen(
        [TOCSIN, "sensor", *source, *extra, *sensor_args(hub, site, token, home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


class Proxy(socketserver.ThreadingTCPServer):
    """A hospital's HTTPS proxy on loopback: HTTP CONNECT tunnels (each target recorded in
    `tunnels`). While `cut` is set the WAN is down as a black hole: new connections are
    accepted and never answered, open tunnels carry nothing; when it is cleared, tunnels
    opened during or before the cut stay dead (their state is gone) and new ones work."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Connect)
        self.tunnels: list[str] = []
        self.cut = threading.Event()
        self.epoch = 0  # bumped when the link comes back: older tunnels are dead
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def restore(self) -> None:
        self.epoch += 1
        self.cut.clear()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Connect(socketserver.BaseRequestHandler):
    """Just enough of an HTTP proxy: CONNECT host:port, then bytes both ways."""

    server: Proxy

    def handle(self) -> None:
        born = self.server.epoch
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        while self.server.cut.is_set():  # black hole: say nothing until the link is back
            time.sleep(0.2)
        if self.server.epoch != born:
            return
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        self.server.tunnels.append(target)
        with socket.create_connection((host, int(port))) as up:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.request, up]
            while self.server.epoch == born:
                ready, _, _ = select.select(ends, [], [], 0.2)
                if self.server.cut.is_set():
                    continue  # bytes wait in the kernel's buffers: nothing gets through
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.request else self.request).sendall(data)


def stop_all(procs: list[subprocess.Popen[str]] | list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then wait for each (30 s, then kill -9)."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
