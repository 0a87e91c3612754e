"""common.cost_imports: how a range is cut into reports, and when the schedule's next import
is due, judged from the import tasks alone."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from common import clock
from common.cost_imports import chunks, next_import, settling
from common.days import today
from common.model import Task, TaskStatus
from common.tasks import ImportDirectCosts
from tests.helpers import ZONE, ago, stored

EVERY = 3600.0


def test_a_range_is_cut_into_consecutive_pieces_of_at_most_31_days():
    first = today(ZONE) - timedelta(days=400)
    pieces = chunks(first, first + timedelta(days=69))
    assert [(b - a).days + 1 for a, b in pieces] == [31, 31, 8]
    assert pieces[0][0] == first and pieces[-1][1] == first + timedelta(days=69)
    assert all(b + timedelta(days=1) == a for (_, b), (a, _) in itertools.pairwise(pieces))
    assert chunks(first, first) == [(first, first)]
    assert chunks(first, first - timedelta(days=1)) == []


def task(
    task_id: int,
    span: tuple[date, date],
    status: TaskStatus,
    created: float,
    scheduled: bool = True,
) -> Task:
    """An import task queued `created` seconds ago."""
    when = stored(ago(seconds=created))
    return Task(
        id=task_id,
        payload=ImportDirectCosts(span[0], span[1], f"report-{task_id}", scheduled),
        status=status,
        attempts=1,
        max_attempts=10,
        run_after=when,
        locked_until=None,
        last_error=None,
        result=None,
        created_at=when,
        updated_at=when,
    )


def test_the_next_import_is_a_period_after_the_last_the_schedule_queued():
    window = settling(ZONE)  # the business's last three days, as the schedule's
    last = window[1]  # today
    older = (last - timedelta(days=40), last - timedelta(days=10))
    before = clock.now()
    assert before <= next_import([], window, EVERY) <= clock.now()  # never queued: now

    recent = [
        task(3, older, TaskStatus.COMPLETED, created=60, scheduled=False),  # a person's
        task(2, window, TaskStatus.COMPLETED, created=600),
        task(1, window, TaskStatus.COMPLETED, created=4200),
    ]
    due = next_import(recent, window, EVERY)
    assert due == clock.parse(recent[1].created_at) + timedelta(seconds=EVERY)

    failed = [task(2, window, TaskStatus.FAILED, created=4000)]
    assert next_import(failed, window, EVERY) <= clock.now()  # a failed one is tried again


def test_no_import_is_due_while_one_of_the_schedule_or_of_the_window_is_still_open():
    window = settling(ZONE)  # the business's last three days, as the schedule's
    last = window[1]  # today
    yesterdays = (last - timedelta(days=3), last - timedelta(days=1))
    for status in (TaskStatus.PENDING, TaskStatus.PROCESSING):
        waiting = [task(1, yesterdays, status, created=90_000)]
        assert next_import(waiting, window, EVERY) is None
        by_hand = [
            task(2, window, status, created=9000, scheduled=False),
            task(1, window, TaskStatus.COMPLETED, created=9000),
        ]
        assert next_import(by_hand, window, EVERY) is None
    other_range = [
        task(2, yesterdays, TaskStatus.PENDING, created=10, scheduled=False),
        task(1, window, TaskStatus.COMPLETED, created=9000),
    ]
    assert next_import(other_range, window, EVERY) <= clock.now()
