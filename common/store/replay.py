"""Rebuild and verify the projections by replaying the event log."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from common.model import Event, Lead
from common.store.sqlite.connection import connect
from common.store.sqlite.store import SqliteStore
from common.store.tx import Tx

BATCH = 5000
# Each projection table and how a differing row is named in verify's report.
PROJECTIONS = {
    "leads": "id",
    "campaign_stats": "campaign_id",
    "daily_stats": "day || ' ' || campaign_id",
}
Progress = Callable[[int], None]


def _clear(tx: Tx) -> None:
    for table in PROJECTIONS:
        tx.sql.run(f"DELETE FROM {table}")


def _batches(tx: Tx) -> Iterator[list[Event]]:
    after = 0
    while batch := tx.events.read_all(after=after, limit=BATCH):
        yield batch
        after = batch[-1].position


async def rebuild(store: SqliteStore, progress: Progress = lambda n: None) -> None:
    """Rewrite every projection from the events, in one transaction."""

    def unit(tx: Tx) -> None:
        _clear(tx)
        for batch in _batches(tx):
            for event in batch:
                tx.project(event)
            progress(len(batch))

    await store.write(unit)


async def verify(store: SqliteStore, limit: int = 20) -> list[str]:
    """Replay into a scratch database and list where the live projections differ."""
    with tempfile.TemporaryDirectory(prefix="leadrelay-verify-") as folder:
        scratch = await SqliteStore(Path(folder) / "replay.db").open()
        try:
            after = 0
            while batch := await store.read(
                lambda tx, after=after: tx.events.read_all(after=after, limit=BATCH)  # type: ignore[misc]
            ):
                await scratch.write(lambda tx, batch=batch: [tx.project(e) for e in batch])  # type: ignore[misc]
                after = batch[-1].position
        finally:
            await scratch.close()
        return _differences(scratch.path, store.path, limit)


def _differences(scratch: Path, live: Path, limit: int) -> list[str]:
    problems: list[str] = []
    conn = connect(scratch, 5.0)
    try:
        conn.execute("ATTACH DATABASE ? AS live", (str(live),))
        for table, key in PROJECTIONS.items():
            for label, left, right in (
                ("missing or different in live", "main", "live"),
                ("not explained by the events", "live", "main"),
            ):
                rows = conn.execute(
                    f"SELECT {key} FROM (SELECT * FROM {left}.{table}"
                    f" EXCEPT SELECT * FROM {right}.{table}) LIMIT ?",
                    (limit,),
                ).fetchall()
                problems.extend(f"{table} {row[0]}: {label}" for row in rows)
    finally:
        conn.close()
    return problems


class StreamReplayer:
    """Rebuilds one lead's row from its events alone, in a private scratch database."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="leadrelay-replay-")
        self._scratch = SqliteStore(Path(self._folder.name) / "stream.db")

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
