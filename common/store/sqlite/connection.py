"""SQLite connections with the settings every one of them needs, and its errors mapped."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from common import clock
from common.errors import DatabaseBusy, DatabaseUnavailable
from common.store.sql import Params, Row

DEFAULT_BUSY_TIMEOUT = 5.0


def pragmas(busy_timeout: float) -> tuple[str, ...]:
    return (
        f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
    )


def connect(path: Path, busy_timeout: float, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), usable from any thread
    that the owner hands it to. WAL is a property of the file, set once by migrate()."""
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    for pragma in pragmas(busy_timeout):
        conn.execute(pragma)
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


def is_busy(error: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another process holds the write lock."""
    text = str(error).lower()
    return isinstance(error, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


# SQLite result codes that say the database cannot take writes now, through no fault of
# the unit of work: the disk is full, a write failed, the file went away or turned read-only.
UNAVAILABLE = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_NOMEM")


def is_unavailable(error: BaseException) -> bool:
    name = getattr(error, "sqlite_errorname", "") or ""
    return isinstance(error, sqlite3.Error) and name.startswith(UNAVAILABLE)


def busy_or(error: BaseException) -> BaseException:
    """The error a caller should see: DatabaseBusy (a 503) for a held lock, and
    DatabaseUnavailable (a 503 too) when the disk or the file fails."""
    mapped: DatabaseBusy
    if is_busy(error):
        mapped = DatabaseBusy("the database is busy, retry shortly")
    elif is_unavailable(error):
        mapped = DatabaseUnavailable(f"the database cannot take writes now: {error}")
    else:
        return error
    mapped.__cause__ = error
    return mapped


class SqliteSql:
    """The Sql protocol over one sqlite3 connection."""

    __slots__ = ("conn",)
    name = "sqlite"

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def now(self) -> str:
        return clock.now_iso()

    def lock_event_order(self) -> None:
        pass  # one writer thread per process, and BEGIN IMMEDIATE: commits are in order

    def event_count(self) -> int:
        # Positions are dense here: events are never deleted, and AUTOINCREMENT's counter
        # rolls back with its transaction or savepoint. So max() (an index lookup) counts.
        return int(self.value("SELECT coalesce(max(position), 0) FROM events"))

    def run(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Params]) -> None:
        self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def insert(self, sql: str, params: Params = (), key: str = "id") -> int:
        # lastrowid, not RETURNING: a RETURNING row costs sqlite3 one more step, and every
        # step hands the GIL to the event loop and back.
        rowid = self.conn.execute(sql, params).lastrowid
        assert rowid is not None
        return rowid

    def value(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]
