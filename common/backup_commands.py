"""`leadrelay backup [PATH] [--keep N]` and `leadrelay restore PATH`, for a SQLite database.

A backup is taken while the services run, verified (every event replayed against the
copy's projections) before it is named, and recorded in the live database's audit log.
A restore refuses while any service has the database open, verifies the copy before it
replaces anything, keeps the replaced file, and is recorded in the restored database.
PostgreSQL has its own tools (pg_dump, base backups): see README "Backup and restore".
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from pathlib import Path

from common import clock
from common.audit import Action, AuditEntry, cli_entry
from common.config import Settings
from common.store import Store, ZoneChanged, open_store
from common.store.migrations import SchemaTooNew
from common.store.replay import verify
from common.store.sqlite.backup import (
    CopyFailed,
    copy_into,
    partial_of,
    publish,
    remove_with_side_files,
    seal,
)
from common.store.sqlite.restore import stage, staging_of, swap
from common.store.sqlite.service_lock import DatabaseInUse, held_for_restore

STAMP = "%Y%m%dT%H%M%SZ"
ON_POSTGRES = (
    "{command}: leadrelay {command} is for a SQLite database; this one is PostgreSQL:"
    " use its own tools (pg_dump -Fc / pg_restore, or pg_basebackup), as README"
    ' "Backup and restore" shows'
)


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = commands.add_parser(
        "backup", help="a verified copy of the live SQLite database into one new file"
    )
    backup.add_argument(
        "target",
        nargs="?",
        help="a new file, or a folder for a dated file (default: backups/ beside the database)",
    )
    backup.add_argument(
        "--keep",
        type=int,
        metavar="N",
        help="then keep only the newest N dated backups in that folder",
    )
    restore = commands.add_parser(
        "restore", help="put a backup in place of the database (services stopped)"
    )
    restore.add_argument("backup", type=Path, help="a file `leadrelay backup` wrote")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.on_postgres:
        print(ON_POSTGRES.format(command=args.command), file=sys.stderr)
        return 2
    database = Path(settings.database).resolve()
    try:
        if args.command == "restore":
            return asyncio.run(_restore(settings, database, args.backup.resolve()))
        target, dated = _target(database, args.target, args.keep)
        asyncio.run(_backup(settings, database, target))
    except (CopyFailed, DatabaseInUse, Refused) as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 2 if isinstance(error, DatabaseInUse | Refused) else 1
    if dated and args.keep is not None:
        for path in rotate(target.parent, database, args.keep):
            print(f"backup: removed {path} (older than the newest {args.keep})")
    return 0


class Refused(Exception):
    """The command was asked for something it does not do; nothing was changed."""


def dated_name(database: Path) -> str:
    return f"{database.stem}-{clock.now().strftime(STAMP)}.db"


def is_dated(name: str, database: Path) -> bool:
    """A name `dated_name` gives: the only files rotation ever removes."""
    return re.fullmatch(rf"{re.escape(database.stem)}-\d{{8}}T\d{{6}}Z\.db", name) is not None


def rotate(folder: Path, database: Path, keep: int) -> list[Path]:
    """Remove all but the newest `keep` dated backups of `database` in `folder`."""
    dated = sorted(p for p in folder.iterdir() if p.is_file() and is_dated(p.name, database))
    old = dated[:-keep]  # the stamp sorts as the time does
    for path in old:
        path.unlink()
    return old


def _target(database: Path, given: str | None, keep: int | None) -> tuple[Path, bool]:
    """The file to write, and whether it is a dated name in a folder (which rotation needs)."""
    if keep is not None and keep < 1:
        raise Refused("--keep must be 1 or more (the backup just made is one)")
    if not database.is_file():
        raise Refused(f"{database} does not exist")
    if given is None or given.endswith("/") or _folder(Path(given), keep):
        folder = Path(given).resolve() if given else database.parent / "backups"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / dated_name(database), True
    if keep is not None:
        raise Refused(f"--keep rotates dated backups in a folder; {given} is a file name")
    target = Path(given).resolve()
    if target.exists():
        raise Refused(f"{target} exists; a backup never overwrites a file")
    return target, False


def _folder(path: Path, keep: int | None) -> bool:
    """A folder is meant: one that exists, or a new one for --keep (so a first cron run
    makes it), unless named like a database file."""
    if path.is_dir():
        return True
    return keep is not None and not path.exists() and path.suffix != ".db"


async def _backup(settings: Settings, database: Path, target: Path) -> None:
    started = time.monotonic()
    partial = partial_of(target)
    try:
        await asyncio.to_thread(copy_into, database, partial, settings.busy_timeout)
        copied = time.monotonic() - started
        await _verified(settings, partial)
        events = await asyncio.to_thread(seal, partial)
        publish(partial, target)
    finally:
        remove_with_side_files(partial)
    took = time.monotonic() - started
    entry = _entry(Action.BACKUP, str(target), events=str(events), seconds=f"{took:.1f}")
    store = await _open(settings, database)
    try:
        await store.write(lambda tx: tx.audit.add(entry))
    finally:
        await store.close()
    print(
        f"backup: {database} copied to {target} ({events} events) in {copied:.1f} s,"
        f" verified in {took - copied:.1f} s"
    )


async def _restore(settings: Settings, database: Path, backup: Path) -> int:
    staging = staging_of(database)
    kept = database.with_name(f"{database.name}.replaced-{clock.now().strftime(STAMP)}")
    with held_for_restore(database):
        try:
            await asyncio.to_thread(stage, backup, staging)
            entry = _entry(Action.RESTORE, str(database), backup=str(backup), kept=kept.name)
            events = await _verified(settings, staging, entry)
            await asyncio.to_thread(seal, staging)
            replaced = swap(database, staging, kept)
        finally:
            remove_with_side_files(staging)
    print(f"restore: {backup} verified ({events} events) and put in place of {database}")
    if replaced:
        print(f"restore: the replaced database is kept as {kept}")
    print("restore: start the services again")
    return 0


def _entry(action: Action, target: str, **details: str) -> AuditEntry:
    return cli_entry(action, target, details)


async def _open(settings: Settings, database: Path) -> Store:
    try:
        return await open_store(database, settings.busy_timeout, zone=settings.dashboard.zone)
    except (ZoneChanged, SchemaTooNew) as error:
        raise CopyFailed(f"{database}: {error}") from error


async def _verified(settings: Settings, copy: Path, record: AuditEntry | None = None) -> int:
    """Replay the copy's events against its projections (CopyFailed on a difference); write
    `record` into its audit log; return its number of events."""
    store = await _open(settings, copy)
    try:
        problems = await verify(store)
        if problems:
            shown = "; ".join(problems[:3])
            raise CopyFailed(f"verify found the copy's projections differ from its events: {shown}")
        if record is not None:
            await store.write(lambda tx: tx.audit.add(record))
        return await store.read(lambda tx: tx.events.count())
    finally:
        await store.close()
