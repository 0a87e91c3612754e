"""SQLite connections with the settings every one of them needs, and its errors mapped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common.errors import DatabaseBusy, DatabaseUnavailable

DEFAULT_BUSY_TIMEOUT = 5.0


def pragmas(busy_timeout: float) -> tuple[str, ...]:
    return (
        f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}",
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        # What a write frees (a rewritten row's old cell, a page let go) is zeroed, so an
        # erased person leaves no copy in the file's free space (common.erasure).
        "PRAGMA secure_delete = ON",
    )


def connect(path: Path, busy_timeout: float, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), usable from any thread
    that the owner hands it to. WAL is a property of the file, set once by migrate(), which
    alone creates it: here a missing file is an error (SQLITE_CANTOPEN), not a new empty
    database at the path (a reader opened after the file was moved away made one, which the
    next process to start would have migrated and run on)."""
    conn = sqlite3.connect(
        f"{Path(path).resolve().as_uri()}?mode=rw",
        uri=True,
        isolation_level=None,
        timeout=busy_timeout,
        check_same_thread=False,
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
