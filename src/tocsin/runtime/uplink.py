"""The sensor's uplink: sources of EVE lines → the outbox → the hub.

A feeder moves lines from one source into the outbox, recording where it got to in the same
transaction (so a restart goes on from there, losing and repeating nothing):
- `SpoolFeed`: a finished EVE file of `tocsin sensor --read` (deleted once fed);
- `TailFeed`: an EVE file another program appends to (a Suricata probe's eve.json, or the
  live sensor's own), followed across rotation; or, with a `mapper`, a Zeek log mapped to EVE.
`Uplink` runs the feeders and the `Pusher` in threads until stopped or, for a backfill,
until every source is done and the outbox is empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import msgspec

from tocsin.capture.tail import Follower, Position
from tocsin.output.outbox import Outbox
from tocsin.output.push import Pusher, PushError


class _Type(msgspec.Struct):
    event_type: str = "unknown"


_type = msgspec.json.Decoder(_Type)
_encode = msgspec.json.Encoder()


def typed(lines: list[bytes]) -> tuple[list[tuple[str, bytes]], int]:
    """(event type, line) of each EVE line, and how many lines were not JSON objects
    (those are kept, typed "unknown": the hub names what is wrong with them)."""
    out, bad = [], 0
    for line in lines:
        try:
            out.append((_type.decode(line).event_type, line))
        except (msgspec.DecodeError, msgspec.ValidationError):
            out.append(("unknown", line))
            bad += 1
    return out, bad


class Feed(Protocol):
    name: str

    def poll(self) -> int:
        """Move what is there into the outbox; returns the lines moved."""

    @property
    def done(self) -> bool:
        """No line will come from this source any more."""


class SpoolFeed:
    """A finished EVE file, fed in chunks from the byte offset recorded in the outbox."""

    def __init__(self, outbox: Outbox, path: Path, chunk: int = 20_000) -> None:
        self.outbox, self.path, self.chunk = outbox, path, chunk
        self.name = f"spool:{path.name}"
        got = outbox.cursor(self.name)
        self.offset = int(got) if got else 0
        self.bad = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def poll(self) -> int:
        if self._done:
            return 0
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            lines, offset = [], self.offset
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # a torn last line: the analysis died there; not sent
                offset += len(raw)
                if raw.strip():
                    lines.append(raw.rstrip(b"\r\n"))
                if len(lines) >= self.chunk:
                    break
        if lines or offset != self.offset:
            items, bad = typed(lines)
            self.bad += bad
            self.outbox.put(items, (self.name, str(offset).encode()))
            self.offset = offset
            return len(lines)
        self.path.unlink(missing_ok=True)
        self._done = True
        return 0


class TailFeed:
    """Lines appended to `path`, followed across rotation. With `mapper`, each line is a
    record of another format (a Zeek log) turned into an EVE event (None: not mapped,
    counted in `unmapped`)."""

    def __init__(
        self,
        outbox: Outbox,
        path: Path,
        mapper: Callable[[bytes], dict[str, Any] | None] | None = None,
        chunk: int = 20_000,
    ) -> None:
        self.outbox, self.path, self.mapper, self.chunk = outbox, path, mapper, chunk
        self.name = f"tail:{path}"
        got = outbox.cursor(self.name)
        self.follower = Follower(path, Position.from_json(got) if got else None)
        self.bad = 0
        self.unmapped = 0
        self.final = False  # set once the writer is gone: done at the next empty poll
        self._idle = False

    @property
    def done(self) -> bool:
        return self.final and self._idle

    def poll(self) -> int:
        final = self.final  # read first: lines written before it was set are still read
        lines, pos = self.follower.read(self.chunk)
        if not lines:
            self._idle = final
            return 0
        if self.mapper is not None:
            mapped = []
            for line in lines:
                eve = self.mapper(line)
                if eve is None:
                    self.unmapped += 1
                else:
                    mapped.append(_encode.encode(eve))
            lines = mapped
        items, bad = typed(lines)
        self.bad += bad
        self.outbox.put(items, (self.name, pos.to_json()))
        return len(items)


class Uplink:
    """Feeders and a pusher, each in its thread. `run()` returns when `stop` is set or,
    with `until_done`, when every feed is done and the outbox is empty. Raises `PushError`
    when the hub refuses the sensor."""

    def __init__(self, outbox: Outbox, pusher: Pusher, feeds: list[Feed]) -> None:
        self.outbox, self.pusher, self.feeds = outbox, pusher, feeds
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self._fed = threading.Event()
        self._wake = threading.Event()

    def _feed(self) -> None:
        try:
            while not self.stop.is_set():
                moved = sum(f.poll() for f in self.feeds)
                if moved:
                    self._wake.set()  # the courier sends them now, not at its next look
                if self.feeds and all(f.done for f in self.feeds):
                    self._fed.set()
                    self._wake.set()
                    return
                if not moved:
                    self.stop.wait(0.05)  # a look at the sources: an fstat and a read
        except BaseException as err:  # surfaced by run()
            self.error = err
            self.stop.set()

    def run(self, until_done: bool = False) -> None:
        feeder = threading.Thread(target=self._feed, name="uplink-feed", daemon=True)
        feeder.start()
        try:
            self.pusher.run(
                self.stop, (lambda: self._fed.is_set()) if until_done else _never, self._wake
            )
        finally:
            self.stop.set()
            feeder.join()
            self.pusher.close()
        if self.error is not None:
            raise self.error


def _never() -> bool:
    return False


def spool_files(spool: Path) -> list[Path]:
    """Finished spool files waiting to be fed, oldest first."""
    if not spool.is_dir():
        return []
    files = [p for p in spool.iterdir() if p.suffix == ".json" and p.name.endswith(".eve.json")]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


__all__ = ["PushError", "SpoolFeed", "TailFeed", "Uplink", "spool_files", "typed"]
