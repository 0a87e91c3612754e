"""`leadrelay costs import`: the imports it queues, and the ranges it refuses (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest

from common import clock
from common.config import Settings
from common.model import TaskStatus, TaskType
from common.tasks import ImportDirectCosts


def today():
    return clock.now().astimezone(Settings().dashboard.zone).date()


def days(back: int | str) -> str:
    """A day `back` days before today, or a text given as it is."""
    return back if isinstance(back, str) else str(today() - timedelta(days=back))


def run(database: str, *args: str, token: str | None = "direct-token"):
    env = os.environ | {"LEADRELAY_DATABASE": database}
    if token is not None:
        env["LEADRELAY_DIRECT__TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "common.cli", "costs", "import", *args],
        env=env,
        capture_output=True,
        text=True,
    )


async def test_a_range_is_queued_in_reports_of_at_most_31_days(store):
    first, last = today() - timedelta(days=39), today()
    done = run(store.location, "--from", str(first), "--to", str(last))
    assert done.returncode == 0, done.stderr
    tasks = await store.read(lambda tx: tx.tasks.newest(TaskType.IMPORT_DIRECT_COSTS, 10))
    tasks.reverse()
    assert [t.status for t in tasks] == [TaskStatus.PENDING] * 2
    payloads = [t.payload for t in tasks]
    assert all(isinstance(p, ImportDirectCosts) and not p.scheduled for p in payloads)
    split = first + timedelta(days=30)
    assert [(p.date_from, p.date_to) for p in payloads] == [
        (first, split),
        (split + timedelta(days=1), last),
    ]
    assert len({p.report_name for p in payloads}) == 2
    lines = done.stdout.splitlines()
    assert "2 import task(s) queued" in lines[0]
    assert lines[1:] == [
        f"{t.id}\t{p.date_from}..{p.date_to}" for t, p in zip(tasks, payloads, strict=True)
    ]


@pytest.mark.parametrize(
    ("first", "last", "said"),
    [
        ("2026-02-30", 0, "--from '2026-02-30' is not a day"),
        ("yesterday", 0, "is not a date written YYYY-MM-DD"),
        (0, 1, "is after --to"),
        (0, -1, "is after today"),
        (3000, 0, "split it"),
    ],
)
@pytest.mark.sqlite_only
def test_a_range_that_is_no_range_of_past_days_is_refused(tmp_path, first, last, said):
    database = str(tmp_path / "leadrelay.db")
    refused = run(database, "--from", days(first), "--to", days(last))
    assert refused.returncode == 2
    assert said in refused.stderr and refused.stdout == ""
    assert not os.path.exists(database)  # refused before the database was opened


@pytest.mark.sqlite_only
def test_without_a_direct_token_nothing_is_queued(tmp_path):
    database = str(tmp_path / "leadrelay.db")
    refused = run(database, "--from", days(1), "--to", days(0), token=None)
    assert refused.returncode == 2
    assert "direct.token" in refused.stderr
    assert not os.path.exists(database)


async def test_days_is_the_last_days_of_the_zone_with_today(store):
    done = run(store.location, "--days", "30")
    assert done.returncode == 0, done.stderr
    [task] = await store.read(lambda tx: tx.tasks.newest(TaskType.IMPORT_DIRECT_COSTS, 10))
    assert isinstance(task.payload, ImportDirectCosts)
    assert (task.payload.date_from, task.payload.date_to) == (
        today() - timedelta(days=29),
        today(),
    )


@pytest.mark.parametrize(
    "args", [("--days", "0"), ("--days", "5", "--from", days(1)), ("--from", days(1)), ()]
)
@pytest.mark.sqlite_only
def test_days_and_dates_are_one_or_the_other(tmp_path, args):
    database = str(tmp_path / "leadrelay.db")
    refused = run(database, *args)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--days" in refused.stderr
    assert not os.path.exists(database)
