"""Through the hospital's proxy: a sensor with HTTPS_PROXY set reaches the hub by an HTTP
CONNECT tunnel (a real CONNECT proxy on loopback, counting the tunnels it opens)."""

from __future__ import annotations

import os
import select
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.hubkit import Hub, canonical, sensor_args, tocsin

ROOT = Path(__file__).resolve().parents[2]


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    tunnels: list[str]


class _Connect(socketserver.BaseRequestHandler):
    """Just enough of an HTTP proxy: CONNECT host:port, then bytes both ways."""

    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        self.server.tunnels.append(target)  # type: ignore[attr-defined]
        with socket.create_connection((host, int(port))) as up:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.request, up]
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.request else self.request).sendall(data)


@pytest.fixture
def proxy() -> Iterator[_Proxy]:
    server = _Proxy(("127.0.0.1", 0), _Connect)
    server.tunnels = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_sensor_goes_through_https_proxy(proxy: _Proxy, tmp_path: Path) -> None:
    hub = Hub(tmp_path / "hub")
    token = hub.sensor("chu-a", "probe")
    hub.start()
    try:
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env["HTTPS_PROXY"] = f"http://127.0.0.1:{proxy.server_address[1]}"
        eve = tmp_path / "local.json"
        tocsin("analyze", str(ROOT / "samples" / "web-browsing.pcap"), "--eve", str(eve), "-q")
        tocsin("sensor", "--read", str(ROOT / "samples" / "web-browsing.pcap"),
               *sensor_args(hub, "chu-a", token, tmp_path / "s"), env=env)  # fmt: skip
        held = hub.events("chu-a")
    finally:
        hub.stop()
    assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{hub.port}"}
    assert canonical(held) == canonical(eve.read_bytes().splitlines())
