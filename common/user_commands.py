"""`leadrelay users add|remove|list` and `leadrelay dashboard`: who logs in to the
dashboard, and where it is. A password is read from a prompt or stdin and only its hash is
stored; it is never printed or logged."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time

import aiohttp

from common.audit import Action, cli_entry
from common.config import Settings
from common.errors import LeadrelayError
from common.model import Role
from common.store import Store, Tx
from common.users import add_user, check_name, check_password, hash_password, remove_user
from common.welcome import local_url, welcome


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dashboard = commands.add_parser("dashboard", help="the dashboard's address and how to log in")
    dashboard.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="first wait (at most this long) until the dashboard answers, as make run does",
    )
    users = commands.add_parser("users", help="named dashboard users (admin, staff)")
    actions = users.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="a new user; the password is asked for")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    remove = actions.add_parser("remove", help="remove a user and close their sessions")
    remove.add_argument("name")
    actions.add_parser("list", help="the users, their roles and since when")


async def run(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.command == "dashboard":
            if args.wait and not await dashboard_answers(settings, args.wait):
                return 1
            print(welcome(settings, await store.read(lambda tx: tx.users.count())), flush=True)
            return 0
        if args.action == "add":
            return await _add(store, args.name, Role(args.role), args.password_stdin)
        if args.action == "remove":
            await store.write(lambda tx: _remove(tx, args.name))
            print(f"users: {args.name} removed; their sessions are closed")
            return 0
        return await _list(store, settings)
    except LeadrelayError as error:
        print(f"users {args.action}: {error.message}", file=sys.stderr)
        return 1 if error.status in (404, 409) else 2


async def dashboard_answers(settings: Settings, seconds: float) -> bool:
    """Poll the dashboard's /healthz until it answers 200, for at most `seconds`. Gives up
    quietly if whoever started this command has gone (Ctrl-C ended `make run` first)."""
    url = f"{local_url(settings.dashboard.host, settings.dashboard.port)}/healthz"
    parent, deadline = os.getppid(), time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as http:
        while time.monotonic() < deadline and os.getppid() == parent:
            try:
                async with http.get(url) as resp:
                    if resp.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    if os.getppid() == parent:
        print(f"dashboard: no answer at {url} within {seconds:g} s", file=sys.stderr)
    return False


async def _add(store: Store, name: str, role: Role, from_stdin: bool) -> int:
    check_name(name)
    password = _password(from_stdin)
    check_password(password)
    hashed = hash_password(password)
    first = await store.write(lambda tx: _add_recorded(tx, name, role, hashed))
    print(f"users: {name} added ({role.value})")
    if first:
        print(
            "users: the configured dashboard.username / dashboard.password no longer logs in"
            " (its sessions are closed): named users do, while any exists"
        )
    return 0


def _add_recorded(tx: Tx, name: str, role: Role, hashed: str) -> bool:
    first = add_user(tx, name, role, hashed)
    tx.audit.add(cli_entry(Action.USER_ADDED, name, {"role": role.value}))
    return first


def _remove(tx: Tx, name: str) -> None:
    remove_user(tx, name)
    tx.audit.add(cli_entry(Action.USER_REMOVED, name))


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print(
            "users add: no terminal to ask on: pipe the password with --password-stdin",
            file=sys.stderr,
        )
        raise SystemExit(2)
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        print("users add: the two passwords differ; nothing changed", file=sys.stderr)
        raise SystemExit(2)
    return password


async def _list(store: Store, settings: Settings) -> int:
    users = await store.read(lambda tx: tx.users.all())
    if not users:
        print(
            f"no named users: the configured login ({settings.dashboard.username}) is the one"
            " admin until `leadrelay users add NAME --role admin` makes the first"
        )
    for user in users:
        print(f"{user.name:<20} {user.role.value:<6} since {user.created_at}")
    return 0
