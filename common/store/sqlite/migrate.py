"""The schema's migrations on SQLite: tracked with PRAGMA user_version, applied under an
exclusive lock."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from common.contacts import fold
from common.days import day_of
from common.store.migrations import Migration, SchemaTooNew, pending
from common.store.migrations import migrations as all_migrations
from common.store.sqlite.connection import DEFAULT_BUSY_TIMEOUT, is_busy, pragmas

__all__ = ["SchemaTooNew", "migrate", "migrations"]

log = logging.getLogger(__name__)

WAL = "PRAGMA journal_mode = WAL"


def migrations() -> list[Migration]:
    """Every migration, in order, as SQLite runs it."""
    return all_migrations("sqlite")


def split_statements(script: str) -> Iterable[str]:
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


def migrate(
    path: Path,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    upto: int | None = None,
    *,
    level: int = logging.INFO,
) -> int:
    """Bring the schema up to date (or to version `upto`) under an exclusive lock; return
    the version. What it did is logged at `level` (a private scratch database's making is
    no news: DEBUG).

    Four processes may start at once: the first takes the lock and migrates,
    the others wait on busy_timeout, then find nothing left to do.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout)
    try:
        for pragma in pragmas(busy_timeout):
            conn.execute(pragma)
        _enable_wal(conn, busy_timeout)
        # The day of a stored time in a zone, for data a migration counts by day (0018).
        conn.create_function("local_day", 2, _local_day, deterministic=True)
        # Python's fold for data a migration keeps folded (0019): SQLite's lower() folds
        # ASCII letters alone, and the projection folds with this same function.
        conn.create_function("fold_case", 1, fold, deterministic=True)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            version = first = conn.execute("PRAGMA user_version").fetchone()[0]
            for migration in pending("sqlite", version, upto):
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                version = migration.number
                conn.execute(f"PRAGMA user_version = {version}")
                log.debug("applied migration %s", migration.name)
            conn.execute("COMMIT")
            if version != first:
                log.log(level, "migrated %s from version %s to %s", path, first, version)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(version)
    finally:
        conn.close()


def _local_day(moment: str | None, zone: str) -> str | None:
    return None if moment is None else day_of(moment, ZoneInfo(zone)).isoformat()


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
        time.sleep(min(0.001 * 2**attempt, 0.05))  # backoff between tries, bounded by deadline
        attempt += 1
