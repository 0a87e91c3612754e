"""The `leadrelay` command: migrate, verify, rebuild, tasks, backup, restore, copy-to-postgres,
amocrm, users, dashboard, costs, audit, erase. Each names the database it works on, on stderr (a
URL without its password)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from tqdm import tqdm

from common import audit_commands, backup_commands, cost_commands, erase_command, user_commands
from common.audit import Action, cli_entry
from common.config import AmoCrmConnection, Settings, load_settings
from common.integrations.amocrm import AmoCrmIntegration
from common.integrations.base import DeliveryFailure
from common.store import Store, Tx, ZoneChanged, open_store
from common.store.copy import TargetNotEmpty, copy_to_postgres
from common.store.postgres.migrate import migrate as migrate_postgres
from common.store.postgres.store import shown
from common.store.replay import rebuild, verify
from common.store.sqlite.migrate import migrate


async def _with_store(
    action: Callable[[Store], Awaitable[int]], database: str = "", rebuilding: bool = False
) -> int:
    settings = load_settings()
    try:
        store = await open_store(
            database or settings.database,
            settings.busy_timeout,
            zone=settings.dashboard.zone,
            rebuilding=rebuilding,
        )
    except ZoneChanged as error:
        print(f"leadrelay: {error}", file=sys.stderr)
        return 2
    try:
        return await action(store)
    finally:
        await store.close()


async def _verify(store: Store) -> int:
    problems = await verify(store)
    for line in problems:
        print(line)
    if problems:
        print(f"verify: projections differ from the events ({len(problems)} shown)")
        return 1
    count = await store.read(lambda tx: tx.events.count())
    print(f"verify: ok, {count} events agree with the projections")
    return 0


async def _rebuild(store: Store) -> int:
    total = await store.read(lambda tx: tx.events.count())
    with tqdm(total=total, unit="event", desc="rebuild", file=sys.stderr) as bar:
        replayed = await rebuild(store, bar.update)  # told once, after the commit
    # Its own write: rebuild's one transaction is the replayer's.
    entry = cli_entry(Action.REBUILD, details={"events": str(replayed)})
    await store.write(lambda tx: tx.audit.add(entry))
    print(f"rebuild: replayed {replayed} events; days counted in {store.zone.key}")
    return 0


async def _tasks(store: Store, retry_failed: bool) -> int:
    if retry_failed:

        def unit(tx: Tx) -> int:
            count = tx.tasks.retry_failed()
            tx.audit.add(cli_entry(Action.RETRY_ALL, details={"tasks": str(count)}))
            return count

        count = await store.write(unit)
        print(f"requeued {count} failed tasks")
    for status, count in (await store.read(lambda tx: tx.tasks.counts())).items():
        print(f"{status:<11} {count}")
    return 0


def _copy_to_postgres(url: str) -> int:
    settings = load_settings()
    if settings.on_postgres or not url.startswith(("postgresql://", "postgres://")):
        print(
            "copy-to-postgres: the configured database must be SQLite and the target a"
            " postgresql:// URL",
            file=sys.stderr,
        )
        return 2
    try:
        copied = copy_to_postgres(Path(settings.database), url)
    except TargetNotEmpty as error:
        print(f"copy-to-postgres: {error}; give an empty database", file=sys.stderr)
        return 2
    for table, count in copied.items():
        print(f"copy-to-postgres: {table}: {count} rows")
    code = asyncio.run(_with_store(_verify, url))
    if code == 0:
        print(f'copy-to-postgres: done; set database = "{shown(url)}" (with its password)')
    return code


async def _authorize(name: str, code: str) -> int:
    """Exchange an amoCRM authorization code for the first token pair and store it."""
    if not code.strip():
        print("amocrm authorize: --code is empty: copy the code amoCRM showed", file=sys.stderr)
        return 2
    settings = load_settings()
    connection = settings.crm.get(name)
    if not isinstance(connection, AmoCrmConnection) or not connection.oauth:
        print(
            f"amocrm authorize: [crm.{name}] is not an amocrm connection with client_id,"
            " client_secret and redirect_uri",
            file=sys.stderr,
        )
        return 2
    amo = AmoCrmIntegration(name, connection)
    timeout = aiohttp.ClientTimeout(total=settings.dispatcher.request_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        try:
            tokens = await amo.exchange(http, "authorization_code", code)
        except DeliveryFailure as failure:
            print(f"amocrm authorize: {failure.message}", file=sys.stderr)
            return 1

    def unit(tx: Tx) -> None:
        tx.credentials.put(name, tokens)
        tx.audit.add(cli_entry(Action.AUTHORIZE, name))

    async def keep(store: Store) -> int:
        await store.write(unit)
        stored = await store.read(lambda tx: tx.credentials.get(name))
        expires = stored.expires_at if stored else "?"
        print(f"amocrm authorize: tokens of {name!r} stored; the access token expires {expires}")
        return 0

    return await _with_store(keep)


def _costs(settings: Settings, args: argparse.Namespace) -> int:
    """`costs import`: the range is checked before the database is opened."""
    try:
        if (args.days is None) == (args.date_from is None or args.date_to is None):
            raise cost_commands.Refused("give either --from and --to, or --days")
        if args.days is not None:
            if args.date_from or args.date_to:
                raise cost_commands.Refused("give either --from and --to, or --days")
            args.date_from, args.date_to = cost_commands.last_days(settings, args.days)
        tasks = cost_commands.planned(settings, args.date_from, args.date_to)
    except cost_commands.Refused as refused:
        print(f"costs import: {refused}", file=sys.stderr)
        return 2
    return asyncio.run(_with_store(lambda store: cost_commands.queue(store, tasks)))


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    """`erase`: what to erase is read before the database is opened."""
    try:
        phone, email = erase_command.checked(settings, args)
    except ValueError as error:
        print(f"erase: {error}", file=sys.stderr)
        return 2
    return asyncio.run(
        _with_store(lambda store: erase_command.run(store, settings, args, phone, email))
    )


def say_database(settings: Settings) -> None:
    """Which database this command reads and writes: stderr, so output stays parseable."""
    if settings.on_postgres:
        print(f"leadrelay: database {shown(settings.database)} (PostgreSQL)", file=sys.stderr)
    else:
        where = Path(settings.database).resolve()
        print(f"leadrelay: database {where} (SQLite)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leadrelay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or update the database schema")
    commands.add_parser("verify", help="replay the events and compare with the projections")
    commands.add_parser("rebuild", help="rewrite the projections from the events")
    tasks = commands.add_parser("tasks", help="task counts by status")
    tasks.add_argument("action", nargs="?", choices=["retry-failed"])
    backup_commands.add_parsers(commands)
    move = commands.add_parser(
        "copy-to-postgres",
        help="copy this SQLite database into an empty PostgreSQL database, then verify it",
    )
    move.add_argument("url", help="postgresql://user:password@host/dbname")
    amocrm = commands.add_parser("amocrm", help="amoCRM OAuth integrations")
    amocrm_actions = amocrm.add_subparsers(dest="action", required=True)
    authorize = amocrm_actions.add_parser(
        "authorize", help="exchange an authorization code for the first tokens and store them"
    )
    authorize.add_argument("connection", help="the [crm.<name>] of kind amocrm")
    authorize.add_argument("--code", required=True, help="the authorization code (20 minutes)")
    user_commands.add_parsers(commands)
    cost_commands.add_parsers(commands)
    audit_commands.add_parsers(commands)
    erase_command.add_parsers(commands)
    args = parser.parse_args(argv)
    say_database(settings := load_settings())

    if args.command in ("users", "dashboard"):
        return asyncio.run(_with_store(lambda store: user_commands.run(store, settings, args)))
    if args.command == "migrate":
        if settings.on_postgres:
            version = migrate_postgres(settings.database)
        else:
            version = migrate(Path(settings.database))
        print(f"migrate: {shown(settings.database)} at schema {version}")
        return 0
    if args.command == "costs":
        return _costs(settings, args)
    if args.command == "audit":
        return asyncio.run(_with_store(lambda store: audit_commands.show(store, settings, args)))
    if args.command == "erase":
        return _erase(settings, args)
    if args.command == "amocrm":
        return asyncio.run(_authorize(args.connection, args.code))
    if args.command == "copy-to-postgres":
        return _copy_to_postgres(args.url)
    if args.command in ("backup", "restore"):
        return backup_commands.run(settings, args)
    if args.command == "verify":
        return asyncio.run(_with_store(_verify))
    if args.command == "rebuild":
        return asyncio.run(_with_store(_rebuild, rebuilding=True))
    return asyncio.run(_with_store(lambda store: _tasks(store, args.action == "retry-failed")))


if __name__ == "__main__":
    sys.exit(main())
