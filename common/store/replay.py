"""Rebuild and verify the projections by replaying the event log."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from common.model import Event, Lead
from common.store.base import Store
from common.store.projections import ROLLUPS
from common.store.sql import marks
from common.store.sqlite.connection import connect
from common.store.sqlite.sql import SqliteSql
from common.store.sqlite.store import SqliteStore
from common.store.tx import Tx

BATCH = 5000
# Each projection table and its key: the order verify pages it in, and how a differing row
# is named in verify's report.
PROJECTIONS = {
    "leads": ("id",),
    "campaign_stats": ("campaign_id",),
    "daily_stats": ("day", "campaign_id"),
    "source_stats": ("day", "campaign_id", "utm_source", "currency"),
    **ROLLUPS,  # utm_stats and utm_medium_stats
    "direct_costs": ("day", "direct_campaign_id"),
}
Progress = Callable[[int], None]
UTC = ZoneInfo("UTC")


def _clear(tx: Tx) -> None:
    for table in PROJECTIONS:
        tx.sql.run(f"DELETE FROM {table}")


def _batches(tx: Tx) -> Iterator[list[Event]]:
    after = 0
    while batch := tx.events.read_all(after=after, limit=BATCH):
        yield batch
        after = batch[-1].position


async def rebuild(store: Store, progress: Progress = lambda n: None) -> int:
    """Rewrite every projection from the events, in one transaction; return how many events
    were replayed. The days are counted in the store's zone, which is then recorded as the
    zone of the stored days (so a changed dashboard.timezone is accepted from now on).
    `progress` hears that number after the commit: the unit may run twice before it commits
    (see `Store.write`), so it reports nothing itself."""

    def unit(tx: Tx) -> int:
        _clear(tx)
        replayed = 0
        for batch in _batches(tx):
            for event in batch:
                tx.project(event)
            replayed += len(batch)
        tx.recorded_zone.record(tx.zone.key)
        return replayed

    replayed = await store.write(unit)
    progress(replayed)
    return replayed


async def verify(store: Store, limit: int = 20) -> list[str]:
    """Replay the events into a scratch database and list where the live projections differ.
    The replay counts days in the store's zone, so daily_stats counted in another shows.

    Safe while traffic flows: the events and the live projections are read in ONE read
    transaction (one snapshot), so a lead written meanwhile is in neither."""
    with tempfile.TemporaryDirectory(prefix="leadrelay-verify-") as folder:
        scratch = Path(folder) / "replay.db"
        await (await SqliteStore(scratch, zone=store.zone).open()).close()  # the schema
        return await store.read(lambda tx: _replay_and_compare(tx, scratch, limit))


def _replay_and_compare(live: Tx, scratch: Path, limit: int) -> list[str]:
    """On a reader thread, inside the live snapshot: replay, copy, compare."""
    conn = connect(scratch, 5.0)
    try:
        replayed = Tx(SqliteSql(conn), sqlite3.IntegrityError, 1, live.zone)
        conn.execute("BEGIN")
        for batch in _batches(live):
            for event in batch:
                replayed.project(event)
        for table, key in PROJECTIONS.items():
            _copy_live(live, conn, table, key)
        conn.execute("COMMIT")
        return _differences(conn, limit)
    finally:
        conn.close()


def _copy_live(live: Tx, conn: sqlite3.Connection, table: str, key: tuple[str, ...]) -> None:
    """Copy a live table into the scratch database as `live_<table>`, a page at a time in
    the order of its key, each page after the last key seen (so no row is read twice or
    skipped, however the server lays the rows out)."""
    columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
    names, keys = ", ".join(columns), ", ".join(key)
    conn.execute(f"CREATE TABLE live_{table} AS SELECT {names} FROM {table} WHERE 0")
    insert = f"INSERT INTO live_{table} VALUES ({marks(columns)})"
    after: tuple[object, ...] = ()
    while rows := live.sql.all(
        f"SELECT {names} FROM {table}"
        + (f" WHERE ({keys}) > ({marks(key)})" if after else "")
        + f" ORDER BY {keys} LIMIT ?",
        (*after, BATCH),
    ):
        conn.executemany(insert, [tuple(row[c] for c in columns) for row in rows])
        after = tuple(rows[-1][c] for c in key)


def _differences(conn: sqlite3.Connection, limit: int) -> list[str]:
    problems: list[str] = []
    for table, key in PROJECTIONS.items():
        name = " || ' ' || ".join(key)
        for label, left, right in (
            ("missing or different in live", table, f"live_{table}"),
            ("not explained by the events", f"live_{table}", table),
        ):
            rows = conn.execute(
                f"SELECT {name} FROM (SELECT * FROM {left} EXCEPT SELECT * FROM {right}) LIMIT ?",
                (limit,),
            ).fetchall()
            problems.extend(f"{table} {row[0]}: {label}" for row in rows)
    return problems


class StreamReplayer:
    """Rebuilds one lead's row from its events alone, in a private scratch database."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="leadrelay-replay-")
        # One lead's row has no day in it; the scratch's daily_stats are thrown away.
        self._scratch = SqliteStore(Path(self._folder.name) / "stream.db", zone=UTC, scratch=True)

    async def open(self) -> StreamReplayer:
        await self._scratch.open()
        return self

    async def close(self) -> None:
        await self._scratch.close()
        self._folder.cleanup()

    async def lead(self, events: list[Event]) -> Lead | None:
        def unit(tx: Tx) -> Lead | None:
            _clear(tx)
            for event in events:
                tx.project(event)
            found = tx.leads.latest(1)
            return found[0] if found else None

        return await self._scratch.write(unit)
