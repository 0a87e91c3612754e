"""Rebuild and verify the projections by replaying the event log."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite

from common.db import Database, connect
from common.events import Event, EventStore
from common.projections import project

BATCH = 5000
# Each projection table and how a differing row is named in verify's report.
PROJECTIONS = {
    "leads": "id",
    "campaign_stats": "campaign_id",
    "daily_stats": "day || ' ' || campaign_id",
}
Progress = Callable[[int], None]


async def _events(source: Database) -> AsyncIterator[list[Event]]:
    store, after = EventStore(source), 0
    while batch := await store.read_all(after=after, limit=BATCH):
        yield batch
        after = batch[-1].position


async def _replay_into(tx: aiosqlite.Connection, source: Database, progress: Progress) -> None:
    for table in PROJECTIONS:
        await tx.execute(f"DELETE FROM {table}")
    async for batch in _events(source):
        for event in batch:
            await project(tx, event)
        progress(len(batch))


async def rebuild(db: Database, progress: Progress = lambda n: None) -> None:
    """Rewrite every projection from the events, in one transaction."""
    await db.transaction(lambda tx: _replay_into(tx, db, progress))


async def verify(db: Database, limit: int = 20) -> list[str]:
    """Replay into a scratch database and list where the live projections differ."""
    with tempfile.TemporaryDirectory(prefix="leadrelay-verify-") as folder:
        scratch = await Database(Path(folder) / "replay.db").open()
        try:
            await scratch.transaction(lambda tx: _replay_into(tx, db, lambda n: None))
        finally:
            await scratch.close()
        return await _differences(scratch, db.path, limit)


async def _differences(scratch: Database, live: Path, limit: int) -> list[str]:
    problems: list[str] = []
    conn = await connect(scratch.path)
    try:
        await conn.execute("ATTACH DATABASE ? AS live", (str(live),))
        for table, key in PROJECTIONS.items():
            for label, left, right in (
                ("missing or different in live", "main", "live"),
                ("not explained by the events", "live", "main"),
            ):
                async with conn.execute(
                    f"SELECT {key} FROM (SELECT * FROM {left}.{table}"
                    f" EXCEPT SELECT * FROM {right}.{table}) LIMIT ?",
                    (limit,),
                ) as cursor:
                    problems.extend(f"{table} {row[0]}: {label}" for row in await cursor.fetchall())
    finally:
        await conn.close()
    return problems


class StreamReplayer:
    """Rebuilds one lead's row from its events alone, in a private scratch database."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="leadrelay-replay-")
        self._scratch = Database(Path(self._folder.name) / "stream.db")

    async def open(self) -> StreamReplayer:
        await self._scratch.open()
        return self

    async def close(self) -> None:
        await self._scratch.close()
        self._folder.cleanup()

    async def lead(self, events: list[Event]) -> dict | None:
        async def unit(tx: aiosqlite.Connection) -> dict | None:
            for table in PROJECTIONS:
                await tx.execute(f"DELETE FROM {table}")
            for event in events:
                await project(tx, event)
            async with tx.execute("SELECT * FROM leads") as cursor:
                row = await cursor.fetchone()
            return dict(row) if row else None

        return await self._scratch.transaction(unit)
