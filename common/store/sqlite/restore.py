"""Putting a backup in place of the live database file, keeping the file it replaces.

The backup is first copied beside the database (`stage`), so the backup itself is never
changed and the swap is a rename on one file system. The replaced database is kept as
`<database>.replaced-<stamp>` together with its -wal and -shm: a -wal belongs to the file
it was written for, and one left beside the restored file would be replayed into it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from common.store.sqlite.backup import CopyFailed, check_pages, remove_with_side_files

__all__ = ["CopyFailed", "stage", "staging_of", "swap"]


def staging_of(database: Path) -> Path:
    return database.with_name(database.name + ".restoring")


def stage(backup: Path, staging: Path) -> None:
    """Copy `backup` into the new file `staging`; CopyFailed if it is not a database."""
    remove_with_side_files(staging)
    if not backup.is_file():
        raise CopyFailed(f"{backup} is not a file")
    source = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    copy = sqlite3.connect(staging)
    try:
        source.backup(copy)  # in one step: nothing writes the backup file
        check_pages(copy, backup)  # before anything else reads it
    except sqlite3.DatabaseError as error:
        raise CopyFailed(f"{backup} cannot be read as a SQLite database: {error}") from error
    finally:
        copy.close()
        source.close()


def swap(database: Path, staging: Path, kept: Path) -> bool:
    """Rename `staging` (sealed: no -wal of its own) to `database`, moving the database
    and its side files to `kept` first; False when there was no database to keep."""
    for suffix in ("-wal", "-journal"):
        if staging.with_name(staging.name + suffix).exists():
            raise CopyFailed(f"{staging} still has a {suffix} file; it is not sealed")
    if kept.exists():
        raise CopyFailed(f"{kept} exists; a replaced database is never overwritten")
    existed = database.exists()
    if existed:
        _checkpoint(database)
        # The -wal and -shm first: the database without them (were we stopped here) is
        # still whole after the checkpoint; a -wal without its database never is.
        for suffix in ("-wal", "-shm", "-journal", ""):
            side = database.with_name(database.name + suffix)
            if side.exists():
                side.rename(kept.with_name(kept.name + suffix))
    staging.rename(database)
    return existed


def _checkpoint(database: Path) -> None:
    """Fold the WAL into the database file, so the kept file is whole on its own."""
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
