"""Direct cost imports run by the real dispatcher against the emulated Reports service, on
both backends: each answer of Direct's and what the import task makes of it, and the
schedule that keeps the last three days fresh."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from common import clock
from common.config import Settings
from common.cost_commands import planned
from common.events import DirectCostReported
from common.model import Task, TaskStatus, TaskType
from common.store import open_store
from common.store.replay import verify
from common.tasks import ImportDirectCosts
from services.dispatcher.app import create_app
from services.dispatcher.cost_schedule import ImportSchedule
from services.dispatcher.costs import direct_reports
from services.dispatcher.keys import IMPORT_SCHEDULE
from tests.contract.kit import age, backend
from tests.helpers import rows, wait_for_async

TOKEN = "direct-token"
IMPORTS = TaskType.IMPORT_DIRECT_COSTS


def day(back: int) -> date:
    """The business's day `back` days before today (Moscow, the default zone)."""
    return clock.now().astimezone(Settings().dashboard.zone).date() - timedelta(days=back)


@pytest.fixture(autouse=True)
def one_day(move_clock):
    """A test reads day(n) again and again, and the import the business's today: started in
    the last two minutes before Moscow's midnight (the moved-clock pass did, at 20:59:38 UTC:
    the costs of 29 December were imported and those of the 30th read), the clock moves past
    that midnight first, so every reading is of one day."""
    now = clock.now().astimezone(Settings().dashboard.zone)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), now.tzinfo)
    if midnight - now < timedelta(minutes=2):
        move_clock(seconds=(midnight - now).total_seconds() + 1)


def with_direct(settings: Settings, url: str, import_every: float = 0) -> Settings:
    return Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        dispatcher={"poll_interval": 0.05, "retry_base_delay": 0.01, "retry_max_delay": 0.05},
        direct={"base_url": url, "token": TOKEN, "rate_limit": 100, "import_every": import_every},
    )


async def queue(store, settings: Settings, first: date, last: date) -> list[int]:
    """Imports of first..last as `leadrelay costs import` queues them."""
    tasks = planned(settings, str(first), str(last))
    return await store.write(lambda tx: [tx.tasks.enqueue(task) for task in tasks])


async def settled(store, task_id: int) -> Task:
    """The task once it is completed or failed."""

    async def done():
        task = await store.read(lambda tx: tx.tasks.get(task_id))
        return task if task.status in (TaskStatus.COMPLETED, TaskStatus.FAILED) else None

    return await wait_for_async(done)


async def costs(store, first: date, last: date) -> dict[tuple[date, str], tuple[int, Decimal]]:
    rows = await store.read(lambda tx: tx.costs.between(first, last))
    return {(row.day, row.direct_campaign_id): (row.clicks, row.cost) for row in rows}


async def test_an_offline_report_is_asked_for_by_the_same_name_until_it_comes(
    aiohttp_client, settings, store, account, database
):
    """201, then 202, then 200: the same ReportName each time, the waits not counted as
    failed attempts, the costs recorded once the report came."""
    account.online = False  # everything goes through the offline queue
    account.building_looks = 1  # 201, one 202, then the report
    account.set_cost(day(3), "701", "spring-sale", 1200, 34, "1234.56")
    account.set_cost(day(2), "702", "retargeting", 80, 1, "0.01")
    settings = with_direct(settings, account.url)
    await aiohttp_client(create_app(settings))
    [task_id] = await queue(store, settings, day(3), day(2))

    task = await settled(store, task_id)
    assert task.status == TaskStatus.COMPLETED
    assert task.attempts == 1  # two waits, one attempt
    assert task.result is not None and (task.result["rows"], task.result["changed"]) == (2, 2)
    names = [sent["params"]["ReportName"] for sent in account.received]
    assert len(names) == 3 and len(set(names)) == 1
    assert isinstance(task.payload, ImportDirectCosts) and names[0] == task.payload.report_name
    assert await costs(store, day(3), day(2)) == {
        (day(3), "701"): (34, Decimal("1234.56")),
        (day(2), "702"): (1, Decimal("0.01")),
    }
    if backend(database) == "postgresql":  # the requests were spaced by the shared bucket
        assert [r["name"] for r in rows(database, "SELECT name FROM rate_buckets")] == ["direct"]


async def test_waits_count_as_attempts_once_direct_would_have_dropped_the_report(
    aiohttp_client, settings, store, account, database
):
    """Direct keeps an offline report 5 hours: a task older than that spends an attempt on
    each wait, so a report that never comes ends the task."""
    account.online = False
    account.set_cost(day(3), "701", "spring-sale", 10, 1, "10.00")
    settings = with_direct(settings, account.url)
    [task_id] = await queue(store, settings, day(3), day(3))
    age(database, "tasks", "created_at", 6 * 3600, f"id = {task_id}")
    await aiohttp_client(create_app(settings))

    task = await settled(store, task_id)
    assert (task.status, task.attempts) == (TaskStatus.COMPLETED, 3)  # 201, 202, 200
    assert len({sent["params"]["ReportName"] for sent in account.received}) == 1


async def test_a_reimport_replaces_the_range_and_a_campaign_gone_from_it_costs_nothing(
    aiohttp_client, settings, store, account
):
    account.set_cost(day(4), "701", "spring-sale", 100, 10, "100.00")
    account.set_cost(day(3), "701", "spring-sale", 100, 10, "100.00")
    account.set_cost(day(3), "702", "retargeting", 50, 5, "50.00")
    account.set_cost(day(6), "703", "brand", 10, 1, "5.00")  # outside the range imported
    settings = with_direct(settings, account.url)
    await aiohttp_client(create_app(settings))
    earlier = [
        *await queue(store, settings, day(6), day(6)),
        *await queue(store, settings, day(4), day(3)),
    ]
    for task_id in earlier:
        assert (await settled(store, task_id)).status == TaskStatus.COMPLETED

    account.set_cost(day(3), "701", "spring-sale", 120, 12, "130.50")  # changed
    del account.figures[(day(3), "702")]  # no activity any more: Direct leaves the row out
    del account.figures[(day(6), "703")]  # outside the next import: stays as recorded
    [again] = await queue(store, settings, day(4), day(3))
    task = await settled(store, again)

    assert task.result is not None and (task.result["rows"], task.result["changed"]) == (2, 2)
    assert await costs(store, day(6), day(3)) == {
        (day(6), "703"): (1, Decimal("5.00")),
        (day(4), "701"): (10, Decimal("100.00")),  # unchanged: no event
        (day(3), "701"): (12, Decimal("130.50")),
        (day(3), "702"): (0, Decimal(0)),
    }
    gone = await store.read(lambda tx: tx.events.read_stream("direct:702"))
    assert [event.payload for event in gone][-1] == DirectCostReported(
        day(3), "702", "retargeting", 0, 0, Decimal(0), "RUB"
    )
    assert len(await store.read(lambda tx: tx.events.read_stream("direct:701"))) == 3
    assert await verify(store) == []  # the projection replays from the events


async def test_a_range_that_times_out_is_split_and_both_halves_land(
    aiohttp_client, settings, store, account
):
    account.split_above_days = 2  # a longer range: 502, the server timed out
    for back in range(3, 7):
        account.set_cost(day(back), "701", "spring-sale", 10, back, f"{back}0.00")
    settings = with_direct(settings, account.url)
    await aiohttp_client(create_app(settings))
    [task_id] = await queue(store, settings, day(6), day(3))

    task = await settled(store, task_id)
    assert task.status == TaskStatus.COMPLETED and task.result is not None
    halves = task.result["split"]
    assert isinstance(halves, list) and len(halves) == 2
    done = [await settled(store, int(half)) for half in halves]
    assert [t.status for t in done] == [TaskStatus.COMPLETED] * 2
    spans = [(t.payload.date_from, t.payload.date_to) for t in done]
    assert spans == [(day(6), day(5)), (day(4), day(3))]
    assert await costs(store, day(6), day(3)) == {
        (day(back), "701"): (back, Decimal(f"{back}0.00")) for back in range(3, 7)
    }
    asked = [sent["params"]["SelectionCriteria"] for sent in account.received]
    assert asked[0] == {"DateFrom": str(day(6)), "DateTo": str(day(3))}
    assert sorted(map(str, asked[1:])) == sorted(
        str({"DateFrom": str(first), "DateTo": str(last)}) for first, last in spans
    )


async def test_a_refusal_fails_the_task_and_shows_on_healthz_until_an_import_succeeds(
    aiohttp_client, settings, store, account
):
    account.token = "another-token"  # ours is refused: error 53
    account.set_cost(day(2), "701", "spring-sale", 10, 1, "10.00")
    settings = with_direct(settings, account.url)
    client = await aiohttp_client(create_app(settings))
    [refused] = await queue(store, settings, day(2), day(2))

    task = await settled(store, refused)
    assert task.status == TaskStatus.FAILED and task.attempts == 1
    assert "53" in task.last_error and "Invalid OAuth token" in task.last_error
    health = await client.get("/healthz")
    assert health.status == 503
    [problem] = (await health.json())["problems"]
    assert "Yandex Direct costs" in problem and "Invalid OAuth token" in problem
    assert TOKEN not in problem

    account.token = TOKEN  # a person fixed the token
    [fixed] = await queue(store, settings, day(2), day(2))
    assert (await settled(store, fixed)).status == TaskStatus.COMPLETED

    async def healthy() -> bool:
        return (await client.get("/healthz")).status == 200

    # The task reads as completed once its commit is visible; the dispatcher clears the
    # problem once that commit is durable, an fsync later: /healthz turns within moments.
    await wait_for_async(healthy)


async def test_a_server_error_is_retried_until_the_report_comes(
    aiohttp_client, settings, store, account
):
    account.answers = [500, 500]
    account.set_cost(day(2), "701", "spring-sale", 10, 1, "10.00")
    settings = with_direct(settings, account.url)
    await aiohttp_client(create_app(settings))
    [task_id] = await queue(store, settings, day(2), day(2))

    task = await settled(store, task_id)
    assert (task.status, task.attempts) == (TaskStatus.COMPLETED, 3)
    assert "HTTP 500" in task.last_error  # the last failure, kept
    assert await costs(store, day(2), day(2)) == {(day(2), "701"): (1, Decimal("10.00"))}


async def imports_queued(store) -> list[Task]:
    return await store.read(lambda tx: tx.tasks.newest(IMPORTS, 100))


def let_the_period_pass(database: str, seconds: float) -> None:
    """As if `seconds` had passed since the imports were queued (the store's clock, and on
    PostgreSQL the shared bucket's, do not move with this process's)."""
    age(database, "tasks", "created_at", seconds)
    if backend(database) == "postgresql":
        age(database, "rate_buckets", "updated_at", seconds)


async def test_the_schedule_imports_the_last_three_days_once_a_period_across_restarts(
    aiohttp_client, settings, store, account, database
):
    account.set_cost(day(0), "701", "spring-sale", 10, 1, "10.00")
    settings = with_direct(settings, account.url, import_every=3600)
    first = await aiohttp_client(create_app(settings))

    [queued] = await wait_for_async(lambda: imports_queued(store))
    assert isinstance(queued.payload, ImportDirectCosts) and queued.payload.scheduled
    assert (queued.payload.date_from, queued.payload.date_to) == (day(2), day(0))
    assert (await settled(store, queued.id)).status == TaskStatus.COMPLETED
    assert await costs(store, day(2), day(0)) == {(day(0), "701"): (1, Decimal("10.00"))}
    await first.close()

    restarted = await aiohttp_client(create_app(settings))
    schedule = restarted.app[IMPORT_SCHEDULE]

    async def looked() -> bool:
        return schedule.looks > 0

    await wait_for_async(looked)
    assert [task.id for task in await imports_queued(store)] == [queued.id]  # not again

    let_the_period_pass(database, 3601)
    again, wait = await schedule.once()
    assert again is not None and 0 < wait <= 3600
    assert await schedule.once() == (None, pytest.approx(wait, abs=5))
    assert [task.id for task in await imports_queued(store)] == [again, queued.id]


async def test_dispatchers_looking_at_once_queue_one_import(settings, store, account):
    settings = with_direct(settings, account.url, import_every=3600)
    other = await open_store(
        settings.database, settings.busy_timeout * 10, zone=settings.dashboard.zone
    )
    try:
        schedules = [
            ImportSchedule(settings, s, direct_reports(settings, s)) for s in (store, other)
        ]
        looks = await asyncio.gather(*(schedule.once() for schedule in schedules))
    finally:
        await other.close()
    assert sorted(queued is None for queued, _ in looks) == [False, True]
    assert len(await imports_queued(store)) == 1
