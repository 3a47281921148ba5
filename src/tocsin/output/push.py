"""The outbox's courier: batches to the hub over HTTPS, heartbeats, back-off when it is away.

`Pusher.run(stop, drained)` loops until `stop` is set or, once `drained()` says no more lines
will come, the outbox is empty. Each batch (msgpack, zstd) is forgotten only after the hub
answered 200 — at-least-once; the hub folds repeats by event id. Network errors and 5xx answers
are retried with exponential back-off and full jitter (0.5 s doubling to 60 s); HTTPS_PROXY /
NO_PROXY from the environment are honoured. 401/403 (a revoked token, another site) and 400
stop the courier with `PushError`: retrying cannot help, and the lines stay in the outbox.
The courier talks to the hub through a `Transport`: `HttpTransport` over HTTPS, or the hub's
own code in-process (`tocsin.hub.local.LocalHub`, for `tocsin run`), so both take the same path.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import msgspec
import zstandard

from tocsin import __version__
from tocsin.hub.rows import Batch, Heartbeat
from tocsin.output.outbox import Outbox


class PushError(Exception):
    """The hub refused the sensor for good (names the hub's reason)."""


class LinkDown(Exception):
    """The hub cannot take it now (retried with back-off)."""


class Transport(Protocol):
    # how batch bodies are sent: "zstd" over a network, "" in-process (nothing to save)
    encoding: str

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float | None = None
    ) -> dict[str, Any]:
        """Deliver one request to the hub's API at `path`; returns the hub's JSON answer.
        Raises `PushError` (final), `LinkDown`, `httpx.HTTPError` or `OSError` (transient)."""

    def close(self) -> None: ...


def tls_context(ca: Path | None) -> ssl.SSLContext:
    """Verify the hub against `ca` (the hub's own CA file) or the system's trust store."""
    ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
    return ctx


class HttpTransport:
    """The hub at `url`, over HTTPS with the sensor's bearer `token`, verified against `ca`."""

    encoding = "zstd"

    def __init__(self, url: str, token: str, ca: Path | None = None) -> None:
        self._client = httpx.Client(
            base_url=url.rstrip("/"),
            verify=tls_context(ca),
            trust_env=True,
            timeout=httpx.Timeout(60.0, connect=10.0),
            headers={"Authorization": f"Bearer {token.strip()}"},
        )

    def post(
        self, path: str, body: bytes, headers: dict[str, str], timeout: float | None = None
    ) -> dict[str, Any]:
        """POST; a 5xx is raised as `httpx.HTTPStatusError` (transient)."""
        r = self._client.post(
            path,
            content=body,
            headers=headers,
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
        )
        if r.status_code in (400, 401, 403, 404, 413, 415):
            try:
                why = r.json().get("detail", r.text)
            except ValueError:
                why = r.text
            raise PushError(f"hub refused {path} ({r.status_code}): {why}")
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer

    def close(self) -> None:
        self._client.close()


class Pusher:
    """Sends `outbox` through `transport` as a sensor of `site`. `health()` gives the
    heartbeat's sensor fields (packets, drops, live, emergency...)."""

    def __init__(
        self,
        outbox: Outbox,
        transport: Transport,
        site: str,
        *,
        source: str = "pcap",
        health: Callable[[], dict[str, Any]] | None = None,
        heartbeat_s: float = 10.0,
        batch_events: int = 5000,
        log: Callable[[str], None] = lambda msg: None,
    ) -> None:
        self.outbox = outbox
        self.site = site
        self.source = source
        self.health = health or dict
        self.heartbeat_s = heartbeat_s
        self.batch_events = batch_events
        self.log = log
        self.failures = 0
        self.delivered = 0
        self.transport = transport
        self._zstd = zstandard.ZstdCompressor(level=3)
        self._encode = msgspec.msgpack.Encoder()
        self._next_beat = 0.0
        self._rejected = 0
        self._last = (0, 0)  # packets and drops at the last heartbeat
        self._last_at: float | None = None  # and when it was sent (monotonic)

    def beat(self, timeout: float | None = None) -> None:
        depth, size = self.outbox.depth()
        counts = self.outbox.counts()
        fields = dict(self.health())
        packets, drops = int(fields.get("packets", 0)), int(fields.get("drops", 0))
        fields["interval_packets"] = packets - self._last[0]
        fields["interval_drops"] = drops - self._last[1]
        now = time.monotonic()
        fields["interval_s"] = 0.0 if self._last_at is None else now - self._last_at
        self._last = (packets, drops)
        self._last_at = now
        hb = Heartbeat(
            site=self.site,
            at=time.time(),
            version=__version__,
            source=self.source,
            outbox_events=depth,
            outbox_bytes=size,
            sent=counts["sent"],
            shed=counts["shed"],
            queued=counts["queued"],
            rejected=sum(counts["rejected"].values()),
            **fields,
        )
        self.transport.post(
            "/api/v1/heartbeat",
            msgspec.json.encode(hb),
            {"Content-Type": "application/json"},
            timeout,
        )

    def send_one(self) -> int:
        """Send the next batch; returns its size (0: the outbox is empty)."""
        batch = self.outbox.take(self.batch_events)
        if not batch:
            return 0
        body = self._encode.encode(
            Batch(self.site, self.outbox.epoch, [(s, line) for s, _, line in batch])
        )
        encoding = self.transport.encoding
        if encoding == "zstd":
            body = self._zstd.compress(body)
        answer = self.transport.post(
            "/api/v1/batches",
            body,
            {"Content-Type": "application/x-tocsin-batch", "Content-Encoding": encoding},
        )
        rejected = int(answer.get("rejected", 0))
        if rejected:
            self.log(f"hub rejected {rejected} lines: {answer.get('reasons', [])[:1]}")
        self.outbox.ack(batch, rejected)
        self.delivered += len(batch)
        return len(batch)

    def run(
        self,
        stop: threading.Event,
        drained: Callable[[], bool] = lambda: False,
        wake: threading.Event | None = None,
    ) -> None:
        """Push until `stop`, or until `drained()` and the outbox is empty (then one last
        heartbeat). An idle courier sleeps until `wake` is set (lines were queued) or 0.2 s
        pass. Stopped, it says goodbye with a last heartbeat (5 s at most: the link may be
        down), so the hub's counts of what was sent are current. Raises `PushError` when the
        hub refuses the sensor."""
        while not stop.is_set():
            try:
                if time.monotonic() >= self._next_beat:
                    self.beat()
                    self._next_beat = time.monotonic() + self.heartbeat_s
                done = drained()  # read before taking: lines fed meanwhile are still sent
                if self.send_one() == 0:
                    if done:
                        self.beat()
                        return
                    if wake is None:
                        stop.wait(0.2)
                    else:
                        wake.wait(0.2)
                        wake.clear()
                if self.failures:
                    self.log(f"hub reachable again after {self.failures} failed attempts")
                    self.failures = 0
            except (httpx.HTTPError, OSError, ValueError, LinkDown) as err:
                self.failures += 1
                delay = random.uniform(0, min(60.0, 0.5 * 2 ** min(self.failures, 10)))
                if self.failures in (1, 5) or self.failures % 20 == 0:
                    depth, _ = self.outbox.depth()
                    self.log(
                        f"hub unreachable ({_reason(err)}); {depth} events kept in the outbox,"
                        f" retrying (attempt {self.failures})"
                    )
                stop.wait(delay)
        if not self.failures:
            # the next run's heartbeats will say it if this one cannot
            with contextlib.suppress(httpx.HTTPError, OSError, ValueError, LinkDown, PushError):
                self.beat(timeout=5.0)

    def close(self) -> None:
        self.transport.close()


def _reason(err: Exception) -> str:
    if isinstance(err, httpx.HTTPStatusError):
        return f"HTTP {err.response.status_code}"
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:200]
