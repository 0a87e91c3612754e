"""`leadrelay audit [--since YYYY-MM-DD] [--limit N]`: the newest entries of the audit log,
one a line (tab-separated: the time in dashboard.timezone, who, what, to what, from where,
the details), newest first."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from common import clock
from common.audit import AuditEntry, AuditFilter
from common.config import Settings
from common.days import bounds
from common.store import Store

MOST = 10_000


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = commands.add_parser("audit", help="the newest entries of the audit log")
    audit.add_argument(
        "--since", metavar="YYYY-MM-DD", help="from this day of dashboard.timezone on"
    )
    audit.add_argument("--limit", type=int, default=50, metavar="N", help="at most N (50)")


def where(settings: Settings, args: argparse.Namespace) -> AuditFilter | str:
    """The filter the options ask for, or what is wrong with them."""
    if not 1 <= args.limit <= MOST:
        return f"--limit {args.limit}: give a number from 1 to {MOST}"
    if args.since is None:
        return AuditFilter()
    try:
        day = date.fromisoformat(args.since)
    except ValueError:
        return f"--since {args.since!r} is not a date written YYYY-MM-DD"
    return AuditFilter(since=bounds(day, day, settings.dashboard.zone)[0])


async def show(store: Store, settings: Settings, args: argparse.Namespace) -> int:
    asked = where(settings, args)
    if isinstance(asked, str):
        print(f"audit: {asked}", file=sys.stderr)
        return 2
    entries = await store.read(lambda tx: tx.audit.newest(args.limit, where=asked))
    for entry in entries:
        print(line(entry, settings))
    return 0


def line(entry: AuditEntry, settings: Settings) -> str:
    at = clock.parse(entry.at).astimezone(settings.dashboard.zone).isoformat(timespec="seconds")
    details = json.dumps(dict(entry.details), ensure_ascii=False, sort_keys=True)
    return "\t".join((at, entry.actor, entry.action, entry.target, entry.address, details))
