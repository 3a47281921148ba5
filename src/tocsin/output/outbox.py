"""The sensor's durable outbox: EVE lines wait here (SQLite, WAL) until the hub has them.

- `put` appends lines — with, in the same transaction, where the feeder got to in its source
  (`cursor`), so a crash neither loses nor repeats a line between a source and the outbox.
- Each line gets the next sequence number; with the outbox's random `epoch` it is the event's
  id at the hub (`hub.rows.outbox_eid`), so a batch sent twice is stored once.
- `take` gives the next batch, most valuable first (alerts, then protocol events, then flow
  metadata, each oldest first); `ack` forgets it once the hub said it is stored.
- Bounded on disk (`max_bytes` of lines): past it, the least valuable lines are shed, oldest
  first — flow metadata, then protocol events, alerts only when nothing else is left — each
  counted by event type; lines in a batch being sent are never shed.
Counts (`counts()`): sent, shed, queued and rejected (by the hub), by event type, since the
outbox was created. Not thread-safe by itself: one lock guards every call.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

RANK_ALERT, RANK_PROTOCOL, RANK_METADATA = 0, 1, 2
_METADATA = frozenset({"flow", "netflow", "stats"})
_ALERTS = frozenset({"alert", "sensor"})


def rank(event_type: str) -> int:
    """How much an event is worth keeping: 0 (alerts, the sensor's health) to 2 (flows)."""
    if event_type in _ALERTS:
        return RANK_ALERT
    return RANK_METADATA if event_type in _METADATA else RANK_PROTOCOL


class OutboxError(Exception):
    """The outbox cannot be opened or written (names its path)."""


_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " rank INTEGER NOT NULL, event_type TEXT NOT NULL, line BLOB NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_rank ON events (rank, seq)",
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counts (kind TEXT NOT NULL, event_type TEXT NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (kind, event_type))",
]


class Outbox:
    """The outbox in SQLite file `path`, holding at most about `max_bytes` of lines."""

    def __init__(self, path: Path, max_bytes: int = 1 << 30) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._inflight: set[int] = set()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            with self._db:
                for statement in _SCHEMA:
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('epoch', ?)",
                    (secrets.randbits(63),),
                )
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('bytes', 0)")
            self.epoch = int(self._meta("epoch"))
        except (sqlite3.Error, OSError) as err:
            raise OutboxError(f"{path}: cannot open the outbox: {err}") from None

    def _meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _count(self, kind: str, counts: dict[str, int], sign: int = 1) -> None:
        self._db.executemany(
            "INSERT INTO counts VALUES (?, ?, ?) ON CONFLICT (kind, event_type)"
            " DO UPDATE SET n = n + excluded.n",
            [(kind, t, sign * n) for t, n in counts.items() if n],
        )

    def put(
        self, items: Iterable[tuple[str, bytes]], cursor: tuple[str, bytes] | None = None
    ) -> int:
        """Append `(event_type, line)` items, and record `cursor` (name, value) in the same
        transaction; sheds if over the bound. Returns how many were appended."""
        rows = [(rank(t), t, line) for t, line in items]
        added: dict[str, int] = {}
        for _, t, _ in rows:
            added[t] = added.get(t, 0) + 1
        size = sum(len(r[2]) for r in rows)
        with self._lock:
            try:
                with self._db:
                    self._db.executemany(
                        "INSERT INTO events (rank, event_type, line) VALUES (?, ?, ?)", rows
                    )
                    self._db.execute(
                        "UPDATE meta SET value = value + ? WHERE key = 'bytes'", (size,)
                    )
                    self._count("queued", added)
                    if cursor is not None:
                        self._db.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", cursor)
                    if self._meta("bytes") > self.max_bytes:
                        self._shed()
            except sqlite3.Error as err:
                raise OutboxError(f"{self.path}: cannot write the outbox: {err}") from None
        return len(rows)

    def _shed(self) -> None:
        """Drop the least valuable, oldest lines until 90 % of the bound (in a transaction)."""
        excess = self._meta("bytes") - int(self.max_bytes * 0.9)
        for r in (RANK_METADATA, RANK_PROTOCOL, RANK_ALERT):
            if excess <= 0:
                break
            after = 0
            while excess > 0:
                found = self._db.execute(
                    "SELECT seq, event_type, length(line) FROM events WHERE rank = ? AND seq > ?"
                    " ORDER BY seq LIMIT 4096",
                    (r, after),
                ).fetchall()
                if not found:
                    break
                gone: list[int] = []
                shed: dict[str, int] = {}
                for seq, t, n in found:
                    after = seq
                    if seq in self._inflight:
                        continue
                    gone.append(seq)
                    shed[t] = shed.get(t, 0) + 1
                    excess -= n
                    if excess <= 0:
                        break
                freed = self._delete(gone)
                self._db.execute("UPDATE meta SET value = value - ? WHERE key = 'bytes'", (freed,))
                self._count("shed", shed)
                self._count("queued", shed, -1)

    def _delete(self, seqs: list[int]) -> int:
        """Delete these lines; returns their bytes."""
        freed = 0
        for i in range(0, len(seqs), 500):
            chunk = seqs[i : i + 500]
            marks = ",".join("?" * len(chunk))
            freed += int(
                self._db.execute(
                    f"SELECT COALESCE(SUM(length(line)), 0) FROM events WHERE seq IN ({marks})",
                    chunk,
                ).fetchone()[0]
            )
            self._db.execute(f"DELETE FROM events WHERE seq IN ({marks})", chunk)
        return freed

    def take(
        self, max_events: int = 5000, max_bytes: int = 8 << 20
    ) -> list[tuple[int, str, bytes]]:
        """The next batch: `(seq, event_type, line)`, most valuable first, within the limits
        (at least one line). They stay in the outbox until `ack`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_type, line FROM events ORDER BY rank, seq LIMIT ?",
                (max_events,),
            ).fetchall()
            out: list[tuple[int, str, bytes]] = []
            size = 0
            for seq, t, line in rows:
                if out and size + len(line) > max_bytes:
                    break
                out.append((int(seq), str(t), bytes(line)))
                size += len(line)
            self._inflight = {s for s, _, _ in out}
            return out

    def ack(self, batch: list[tuple[int, str, bytes]], rejected: int = 0) -> None:
        """The hub holds `batch` (`rejected` of its lines it refused, counted apart)."""
        sent: dict[str, int] = {}
        for _, t, _ in batch:
            sent[t] = sent.get(t, 0) + 1
        with self._lock, self._db:
            freed = self._delete([s for s, _, _ in batch])
            self._db.execute("UPDATE meta SET value = value - ? WHERE key = 'bytes'", (freed,))
            self._count("sent", sent)
            self._count("queued", sent, -1)
            if rejected:
                self._count("rejected", {"any": rejected})
            self._inflight = set()

    def cursor(self, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM cursors WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def counts(self) -> dict[str, dict[str, int]]:
        """{"sent"|"shed"|"queued"|"rejected": {event_type: n}}."""
        out: dict[str, dict[str, int]] = {"sent": {}, "shed": {}, "queued": {}, "rejected": {}}
        with self._lock:
            for kind, t, n in self._db.execute("SELECT kind, event_type, n FROM counts"):
                if n:
                    out.setdefault(kind, {})[t] = int(n)
        return out

    def depth(self) -> tuple[int, int]:
        """(lines queued, their bytes)."""
        with self._lock:
            n = self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            return int(n), self._meta("bytes")

    def close(self) -> None:
        with self._lock:
            self._db.close()
