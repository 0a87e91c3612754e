"""The `leadrelay` command: migrate, verify, rebuild, tasks."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tqdm import tqdm

from common.config import load_settings
from common.db import Database, migrate
from common.events import EventStore
from common.replay import rebuild, verify
from common.tasks import TaskQueue


async def _with_db(action):
    settings = load_settings()
    db = await Database(settings.database, settings.busy_timeout).open()
    try:
        return await action(db)
    finally:
        await db.close()


async def _verify(db: Database) -> int:
    problems = await verify(db)
    for line in problems:
        print(line)
    if problems:
        print(f"verify: projections differ from the events ({len(problems)} shown)")
        return 1
    print(f"verify: ok, {await EventStore(db).count()} events agree with the projections")
    return 0


async def _rebuild(db: Database) -> int:
    total = await EventStore(db).count()
    with tqdm(total=total, unit="event", desc="rebuild", file=sys.stderr) as bar:
        await rebuild(db, bar.update)
    print(f"rebuild: replayed {total} events")
    return 0


async def _tasks(db: Database, retry_failed: bool) -> int:
    queue = TaskQueue(db)
    if retry_failed:
        print(f"requeued {await queue.retry_failed()} failed tasks")
    for status, count in (await queue.counts()).items():
        print(f"{status:<11} {count}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadrelay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or update the database schema")
    commands.add_parser("verify", help="replay the events and compare with the projections")
    commands.add_parser("rebuild", help="rewrite the projections from the events")
    tasks = commands.add_parser("tasks", help="task counts by status")
    tasks.add_argument("action", nargs="?", choices=["retry-failed"])
    args = parser.parse_args(argv)

    if args.command == "migrate":
        settings = load_settings()
        print(f"migrate: {settings.database} at schema {migrate(settings.database)}")
        return 0
    if args.command == "verify":
        return asyncio.run(_with_db(_verify))
    if args.command == "rebuild":
        return asyncio.run(_with_db(_rebuild))
    return asyncio.run(_with_db(lambda db: _tasks(db, args.action == "retry-failed")))


if __name__ == "__main__":
    sys.exit(main())
