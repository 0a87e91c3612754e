"""SQLite access: connection settings, the one serialised write path, and migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from common.group_commit import GroupCommit, is_busy

log = logging.getLogger(__name__)

T = TypeVar("T")
Unit = Callable[[aiosqlite.Connection], Awaitable[T]]

DEFAULT_BUSY_TIMEOUT = 5.0


WAL = "PRAGMA journal_mode = WAL"


def pragmas(busy_timeout: float) -> tuple[str, ...]:
    return (
        f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    )


def retry_delay(attempt: int) -> float:
    return min(0.001 * 2**attempt, 0.05)


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer leadrelay than this one."""


def migrations() -> list[tuple[int, str]]:
    """(number, sql) of every migration file, in order."""
    folder = resources.files("common") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


def split_statements(script: str) -> Iterable[str]:
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


def migrate(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> int:
    """Bring the schema up to date under an exclusive lock; return the version.

    Four processes may start at once: the first takes the lock and migrates,
    the others wait on busy_timeout, then find nothing left to do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
    try:
        for pragma in pragmas(busy_timeout):
            conn.execute(pragma)
        _enable_wal(conn, busy_timeout)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            known = migrations()
            latest = known[-1][0]
            if current > latest:
                raise SchemaTooNew(f"database schema {current} is newer than this code ({latest})")
            for number, script in known:
                if number > current:
                    for statement in split_statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                    log.info("applied migration %04d", number)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return max(current, latest)
    finally:
        conn.close()


def _enable_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL, waiting out other processes doing the same.

    Changing the journal mode of a new file fails with "database is locked"
    at once, without calling the busy handler, while another connection
    holds it; so the wait is done here.
    """
    deadline = time.monotonic() + busy_timeout
    attempt = 0
    while True:
        try:
            conn.execute(WAL)
            return
        except sqlite3.OperationalError as error:
            if not is_busy(error) or time.monotonic() > deadline:
                raise
        time.sleep(retry_delay(attempt))
        attempt += 1


async def connect(path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    # WAL is a property of the file, set once by migrate(), which open() runs first.
    for pragma in pragmas(busy_timeout):
        await conn.execute(pragma)
    return conn


class Database:
    """One write connection (writes grouped into shared commits) and one read connection."""

    def __init__(self, path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT):
        self.path = path
        self.busy_timeout = busy_timeout
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._commits: GroupCommit | None = None

    async def open(self) -> Database:
        await asyncio.to_thread(migrate, self.path, self.busy_timeout)
        self._writer = await connect(self.path, self.busy_timeout)
        self._reader = await connect(self.path, self.busy_timeout)
        self._commits = GroupCommit(self._writer)
        return self

    async def close(self) -> None:
        if self._commits is not None:
            await self._commits.close()
        for conn in (self._writer, self._reader):
            if conn is not None:
                await conn.close()
        self._writer = self._reader = None

    async def transaction(self, unit: Unit[T]) -> T:
        """Run one unit of work all-or-nothing, durably committed before this returns.

        The only write path. Units of concurrent callers share one BEGIN
        IMMEDIATE … COMMIT (group commit), each in its own savepoint.
        """
        assert self._commits is not None, "database is not open"
        return await self._commits.run(unit)

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        assert self._reader is not None, "database is not open"
        async with self._reader.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Iterable[Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
