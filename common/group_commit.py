"""Group commit: the units of concurrent requests share one transaction and one fsync.

Each unit still stands alone: it runs inside its own SAVEPOINT, so a unit that
fails is rolled back by itself while the others commit. A caller's answer
comes only after the COMMIT that made its unit durable.

Units must only run SQL on the connection they are given: they run one after
another inside the shared transaction, so a unit that waited on something
else would hold every other writer up.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

from common.errors import DatabaseBusy

Unit = Callable[[aiosqlite.Connection], Awaitable[Any]]


def is_busy(error: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another process holds the write lock."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def busy_or(error: BaseException) -> BaseException:
    """The error a caller should see: DatabaseBusy (a 503) for a held lock."""
    if is_busy(error):
        busy = DatabaseBusy("the database is busy, retry shortly")
        busy.__cause__ = error
        return busy
    return error


class GroupCommit:
    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn
        self._waiting: list[tuple[Unit, asyncio.Future]] = []
        self._committer: asyncio.Task | None = None
        self.batches = 0  # how many commits served how many units: see bench/ingest_load.py
        self.units = 0

    async def run(self, unit: Unit) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((unit, future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)

    async def _drain(self) -> None:
        # While one batch commits, the next one gathers: that is the whole trick.
        while self._waiting:
            batch, self._waiting = self._waiting, []
            batch = [(unit, future) for unit, future in batch if not future.done()]
            if batch:
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Unit, asyncio.Future]]) -> None:
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            _fail(batch, busy_or(error))
            return
        outcomes: list[tuple[asyncio.Future, BaseException | None, Any]] = []
        try:
            for unit, future in batch:
                outcomes.append((future, *await self._one(unit)))
                if not self.conn.in_transaction:  # an error that ended the whole transaction
                    raise sqlite3.OperationalError("the shared transaction was rolled back")
            await self.conn.execute("COMMIT")
        except BaseException as error:
            if self.conn.in_transaction:
                await self.conn.execute("ROLLBACK")
            _fail(batch, busy_or(error))
            if isinstance(error, asyncio.CancelledError):
                raise
            return
        self.batches += 1
        self.units += len(batch)
        for future, error, result in outcomes:
            if future.done():
                continue
            if error is not None:
                future.set_exception(busy_or(error))
            else:
                future.set_result(result)

    async def _one(self, unit: Unit) -> tuple[BaseException | None, Any]:
        await self.conn.execute("SAVEPOINT unit")
        try:
            result = await unit(self.conn)
        except Exception as error:
            if self.conn.in_transaction:
                await self.conn.execute("ROLLBACK TO unit")
                await self.conn.execute("RELEASE unit")
            return error, None
        await self.conn.execute("RELEASE unit")
        return None, result


def _fail(batch: list[tuple[Unit, asyncio.Future]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
