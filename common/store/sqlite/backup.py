"""A consistent copy of the live database, taken while the processes keep writing.

The database is THREE files: leadrelay.db, leadrelay.db-wal and leadrelay.db-shm. The -wal
file holds every commit not yet checkpointed into the .db: copying only the .db, or
deleting the -wal of a stopped database, loses acknowledged leads.

The copy is made with `VACUUM INTO`, which reads the live database inside ONE read
transaction and writes what that snapshot holds (the WAL's commits included) into a new
file. In WAL mode a reader never blocks writers and writers never disturb a reader's
snapshot, so the copy finishes in time proportional to the database, however busy it is.
The online backup API in steps, used before, restarts from the first page whenever another
connection writes between two steps: under 20-80 leads/s it never finished. `VACUUM INTO`
also leaves out free pages, so rows deleted (or erased) before the copy are not in it.
SQLite does not fsync what VACUUM INTO writes: `seal` does, before the file is named.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from common.files import fsync_path
from common.store.sqlite.connection import connect
from common.store.sqlite.sql import SqliteSql

SIDE_FILES = ("-wal", "-shm", "-journal")


class CopyFailed(Exception):
    """The copy cannot be trusted (or cannot be made); the message says why."""


def partial_of(target: Path) -> Path:
    return target.with_name(target.name + ".partial")


def remove_with_side_files(path: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def copy_into(source: Path, partial: Path, busy_timeout: float) -> None:
    """Write one committed state of `source` into the new file `partial`."""
    remove_with_side_files(partial)  # a copy cut short earlier (a crash, Ctrl-C)
    live = connect(source, busy_timeout)  # not query_only: SQLite counts VACUUM INTO a write
    try:
        live.execute("VACUUM INTO ?", (str(partial),))
    except sqlite3.Error as error:
        remove_with_side_files(partial)
        raise CopyFailed(f"copying {source} failed: {error}") from error
    finally:
        live.close()


def seal(copy: Path) -> int:
    """Make `copy` one self-contained file (rollback journal, nothing beside it), check every
    page, and put it on the disk; return the number of events it holds."""
    conn = sqlite3.connect(copy, isolation_level=None)
    try:
        events = check_pages(conn, copy)
        conn.execute("PRAGMA journal_mode = DELETE")  # folds and removes a -wal, if any
    finally:
        conn.close()
    fsync_path(copy)
    return events


def check_pages(conn: sqlite3.Connection, path: Path) -> int:
    """PRAGMA integrity_check on every page (CopyFailed naming the first problem); return
    the number of events."""
    try:
        problem = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise CopyFailed(f"{path} failed its integrity check: {problem}")
        return SqliteSql(conn).event_count()
    except sqlite3.DatabaseError as error:  # not a database, or damaged past reading
        raise CopyFailed(f"{path} cannot be read as a SQLite database: {error}") from error


def publish(partial: Path, target: Path) -> None:
    """Give the sealed copy its name; a file already there is never overwritten."""
    try:
        os.link(partial, target)  # fails if `target` exists, where rename would replace it
    except FileExistsError:
        raise CopyFailed(f"{target} exists; a backup never overwrites a file") from None
    finally:
        partial.unlink(missing_ok=True)
    fsync_path(target.parent)
