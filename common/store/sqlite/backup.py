"""A consistent copy of the live database, taken while the processes keep writing.

The database is THREE files: leadrelay.db, leadrelay.db-wal and leadrelay.db-shm. The -wal
file holds every commit not yet checkpointed into the .db: copying only the .db, or
deleting the -wal of a stopped database, loses acknowledged leads. SQLite's online backup
API copies the database as one committed state (whatever is in the WAL included) into a
single self-contained file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common.store.sqlite.connection import connect
from common.store.sqlite.sql import SqliteSql

PAGES_PER_STEP = 1024  # copy in steps, so writers wait for a step, not for the whole copy


def backup(source: Path, target: Path, busy_timeout: float) -> int:
    """Copy `source` into a new file `target`; return the number of events it holds."""
    if target.exists():
        raise FileExistsError(f"{target} exists; a backup never overwrites a file")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    live = connect(source, busy_timeout, read_only=True)
    copy = sqlite3.connect(partial)
    try:
        live.backup(copy, pages=PAGES_PER_STEP)
        copy.execute("PRAGMA journal_mode = DELETE")  # one file, nothing beside it
        problem = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise RuntimeError(f"the copy failed its integrity check: {problem}")
        events = SqliteSql(copy).event_count()
    finally:
        copy.close()
        live.close()
    partial.rename(target)
    return events
