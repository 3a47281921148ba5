"""The metadata archive: flows and protocol events leave the store for Parquet files,
partitioned by site and day, queried with DuckDB; alerts stay in the store.

`archive(store, root, older_than_s)` moves metadata events (every type but `alert`) the hub
received more than `older_than_s` ago into `root/site=<name>/day=<YYYY-MM-DD>/part-<id>.parquet`
(the day of the event's own time, UTC; `id` the partition's first event id in this run), then
deletes them from the store. A run that dies between the two steps leaves the rows in the
store, and the next run writes the same files again under the same names (overwriting): the
archive never holds an event twice. The store folds a re-sent event only while it still
holds it, so `older_than_s` must outlast the sensors' retries (default two days).
`expire(root, retention_days, today)` deletes day partitions older than the retention.
`query(root, sql)` runs SQL over the view `metadata` (site, day, sensor_id, event_type, ts,
src_ip, dest_ip, event: the EVE line as JSON text).
"""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tocsin.hub.store.base import Store

SCHEMA = pa.schema(
    [
        ("sensor_id", pa.int64()),
        ("event_type", pa.string()),
        ("ts", pa.float64()),
        ("src_ip", pa.string()),
        ("dest_ip", pa.string()),
        ("event", pa.string()),
    ]
)


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def archive(
    store: Store, root: Path, older_than_s: float = 2 * 86_400.0, chunk: int = 200_000,
    now: float | None = None,
) -> int:  # fmt: skip
    """Move eligible metadata events into the archive; returns how many moved."""
    cutoff = (time.time() if now is None else now) - older_than_s
    sites = {s.id: s.name for s in store.sites()}
    moved = 0
    while True:
        rows = store.metadata_before(cutoff, chunk)
        if not rows:
            return moved
        parts: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
        for r in rows:
            parts.setdefault((r[1], _day(r[4])), []).append(r)
        for (site_id, day), group in parts.items():
            where = root / f"site={sites.get(site_id, str(site_id))}" / f"day={day}"
            where.mkdir(parents=True, exist_ok=True)
            table = pa.table(
                {
                    "sensor_id": [r[2] for r in group],
                    "event_type": [r[3] for r in group],
                    "ts": [r[4] for r in group],
                    "src_ip": [r[5] for r in group],
                    "dest_ip": [r[6] for r in group],
                    "event": [bytes(r[7]).decode("utf-8", "replace") for r in group],
                },
                schema=SCHEMA,
            )
            final = where / f"part-{group[0][0]:012d}.parquet"
            partial = final.with_suffix(".tmp")
            pq.write_table(table, partial, compression="zstd")
            with open(partial, "rb") as fh:
                os.fsync(fh.fileno())
            partial.replace(final)
        store.delete_events([r[0] for r in rows])
        moved += len(rows)


def expire(root: Path, retention_days: int, today: date | None = None) -> int:
    """Delete day partitions older than `retention_days`; returns how many."""
    limit = (today or datetime.now(UTC).date()) - timedelta(days=retention_days)
    gone = 0
    for day_dir in root.glob("site=*/day=*"):
        try:
            day = date.fromisoformat(day_dir.name.removeprefix("day="))
        except ValueError:
            continue
        if day < limit:
            shutil.rmtree(day_dir)
            gone += 1
    return gone


def query(root: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run `sql` over the view `metadata`; returns column names and rows. `duckdb.Error`
    for SQL the user got wrong."""
    import duckdb

    con = duckdb.connect()
    files = list(root.glob("site=*/day=*/*.parquet"))
    if files:
        pattern = str(root / "site=*" / "day=*" / "*.parquet").replace("'", "''")
        con.execute(
            "CREATE VIEW metadata AS SELECT site, CAST(day AS VARCHAR) AS day, sensor_id,"
            " event_type, ts, src_ip, dest_ip, event"
            f" FROM read_parquet('{pattern}', hive_partitioning = true)"
        )
    else:  # an empty archive: the same columns, no rows
        con.execute(
            "CREATE VIEW metadata AS SELECT * FROM (SELECT ''::VARCHAR AS site, ''::VARCHAR AS"
            " day, 0::BIGINT AS sensor_id, ''::VARCHAR AS event_type, 0.0::DOUBLE AS ts,"
            " ''::VARCHAR AS src_ip, ''::VARCHAR AS dest_ip, ''::VARCHAR AS event) WHERE false"
        )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description or []]
    return names, [tuple(r) for r in cur.fetchall()]
