"""`leadrelay costs import --from YYYY-MM-DD --to YYYY-MM-DD` (or `--days N`, the last N days
with today): queue imports of Yandex Direct's costs of a range of the business's days; the
dispatcher runs them."""

from __future__ import annotations

import argparse
import re
from datetime import date, timedelta

from common.audit import Action, cli_entry
from common.config import Settings
from common.cost_imports import imports
from common.days import today
from common.integrations.direct import DirectReports
from common.store import Store, Tx
from common.tasks import ImportDirectCosts

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Our bound, not Direct's: a mistyped year would otherwise queue hundreds of reports.
LONGEST_DAYS = 3 * 366


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    costs = commands.add_parser("costs", help="Yandex Direct costs")
    actions = costs.add_subparsers(dest="action", required=True)
    queue = actions.add_parser(
        "import",
        help="queue imports of the costs of these days, both included (the dispatcher runs"
        " them, a report per 31 days at most)",
    )
    queue.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD")
    queue.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    queue.add_argument(
        "--days",
        type=int,
        metavar="N",
        help="instead of --from/--to: the last N days of dashboard.timezone, today included",
    )


class Refused(ValueError):
    """What is wrong with the command, in a sentence for the person who typed it."""


def _day(option: str, text: str) -> date:
    if not DATE.fullmatch(text.strip()):
        raise Refused(f"{option} {text!r} is not a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refused(f"{option} {text!r} is not a day of the calendar") from None


def last_days(settings: Settings, days: int) -> tuple[str, str]:
    """`--days N` as the --from/--to it stands for: N days of the business's zone to today."""
    if not 1 <= days <= LONGEST_DAYS:
        raise Refused(f"--days {days}: give a number of days from 1 to {LONGEST_DAYS}")
    now = today(settings.dashboard.zone)
    return (now - timedelta(days=days - 1)).isoformat(), now.isoformat()


def planned(settings: Settings, date_from: str, date_to: str) -> list[ImportDirectCosts]:
    """The import tasks of the range; Refused when Direct is not configured or the range
    is not one to import."""
    if not settings.direct.enabled:
        raise Refused(
            "[direct] has no token: set direct.token (or LEADRELAY_DIRECT__TOKEN) to an OAuth"
            " token with the direct:api scope"
        )
    first, last = _day("--from", date_from), _day("--to", date_to)
    zone = settings.dashboard.zone
    now = today(zone)
    if first > last:
        raise Refused(f"--from {first} is after --to {last}")
    if last > now:
        raise Refused(f"--to {last} is after today ({now} in {zone.key}): no costs yet")
    if (days := (last - first).days + 1) > LONGEST_DAYS:
        raise Refused(f"{days} days is more than {LONGEST_DAYS} in one command; split it")
    reports = DirectReports(settings.direct, zone, settings.dispatcher.request_timeout)
    return imports(reports, first, last)


async def queue(store: Store, tasks: list[ImportDirectCosts]) -> int:
    """Queue them in one write and say which tasks they are."""
    first, last = tasks[0].date_from, tasks[-1].date_to

    def unit(tx: Tx) -> list[int]:
        ids = [tx.tasks.enqueue(task) for task in tasks]
        details = {"from": str(first), "to": str(last), "tasks": str(len(ids))}
        tx.audit.add(cli_entry(Action.COSTS_IMPORT, details=details))
        return ids

    ids = await store.write(unit)
    print(f"costs import: {len(ids)} import task(s) queued for {first}..{last}")
    for task_id, task in zip(ids, tasks, strict=True):
        print(f"{task_id}\t{task.date_from}..{task.date_to}")
    return 0
