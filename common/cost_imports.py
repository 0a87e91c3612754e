"""Imports of Yandex Direct's costs as tasks: a range of days cut into reports, the window the
schedule keeps fresh, and the schedule's rule.

Direct's "How to get updated statistics" (yandex.ru/dev/direct/doc/en/actual): statistics
are corrected and added to, and "normally stabilize within three days". So the schedule
imports the last three of the business's days, today included, and a person imports older
ones on demand (`leadrelay costs import`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from common import clock
from common.days import today
from common.integrations.direct import DirectReports
from common.model import Task, TaskStatus
from common.tasks import ImportDirectCosts

CHUNK_DAYS = 31  # days in one report: a month's rows come at once, a year in a dozen reports
SETTLING_DAYS = 3  # the days whose figures still change, today included
LOOK_BACK = 100  # import tasks read to find the schedule's last one (a split adds two)


def settling(zone: ZoneInfo) -> tuple[date, date]:
    """The days the schedule imports: today and the two before it."""
    last = today(zone)
    return last - timedelta(days=SETTLING_DAYS - 1), last


def chunks(first: date, last: date, days: int = CHUNK_DAYS) -> list[tuple[date, date]]:
    """`first`..`last` (both included) in consecutive pieces of at most `days` days."""
    pieces = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=days - 1), last)
        pieces.append((start, end))
        start = end + timedelta(days=1)
    return pieces


def imports(
    reports: DirectReports, first: date, last: date, scheduled: bool = False
) -> list[ImportDirectCosts]:
    """The tasks that import `first`..`last`, each report named now (the name it keeps)."""
    return [
        ImportDirectCosts(start, end, reports.request(start, end).name, scheduled)
        for start, end in chunks(first, last)
    ]


def next_import(recent: Sequence[Task], window: tuple[date, date], every: float) -> datetime | None:
    """When the schedule should queue its next import, judged from the latest import tasks
    (newest first): None while one it queued, or any import of `window`, is still pending
    or running (it would only pile up behind it); else `every` seconds after the last one
    it queued (now, if none). Read from the tasks table, so a restarted dispatcher neither
    imports again at once nor skips one."""
    last: Task | None = None
    for task in recent:
        payload = task.payload
        assert isinstance(payload, ImportDirectCosts)
        running = task.status in (TaskStatus.PENDING, TaskStatus.PROCESSING)
        if running and (payload.scheduled or (payload.date_from, payload.date_to) == window):
            return None
        if payload.scheduled and last is None:
            last = task
    if last is None:
        return clock.now()
    return clock.parse(last.created_at) + timedelta(seconds=every)
