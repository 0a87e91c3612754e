"""BackgroundTaskProcessor: bounded concurrency, batches, and a bounded graceful stop."""

import asyncio

from common.config import DispatcherSettings
from common.events import EventStore, EventType
from common.leads import LeadService
from common.tasks import SEND_TO_YANDEX, TaskQueue
from services.dispatcher.app import create_app
from services.dispatcher.processor import BackgroundTaskProcessor
from tests.helpers import wait_for_async


def settings(**changes) -> DispatcherSettings:
    return DispatcherSettings(poll_interval=0.02, concurrency=3, **changes)


async def fill(db, count: int, type: str = "send_to_crm") -> list[int]:
    queue = TaskQueue(db)
    return await db.transaction(
        lambda tx: asyncio.gather(*(queue.enqueue(tx, type, {"n": n}) for n in range(count)))
    )


async def test_runs_at_most_concurrency_at_once_and_completes_all(db):
    queue = TaskQueue(db)
    ids = await fill(db, 10)
    running, peak, done = set(), 0, []
    release = asyncio.Event()

    async def handler(batch):
        nonlocal peak
        [task] = batch
        running.add(task.id)
        peak = max(peak, len(running))
        await release.wait()
        await db.transaction(lambda tx: queue.complete(tx, task.id, {}))
        running.discard(task.id)
        done.append(task.id)

    processor = BackgroundTaskProcessor(db, queue, {"send_to_crm": handler}, settings())
    processor.start()

    async def three_running():
        return len(running) == 3

    await wait_for_async(three_running)
    assert (await queue.counts())["processing"] == 3  # claimed no more than it can run
    release.set()

    async def all_done():
        return len(done) == 10

    await wait_for_async(all_done)
    await processor.stop()
    assert peak == 3 and sorted(done) == ids


async def test_batch_types_get_every_claimed_task_at_once(db):
    queue = TaskQueue(db)
    await fill(db, 3, "send_to_yandex_direct")
    batches = []

    async def handler(batch):
        batches.append([task.id for task in batch])
        for task in batch:
            await db.transaction(lambda tx, t=task: queue.complete(tx, t.id, {}))

    processor = BackgroundTaskProcessor(
        db,
        queue,
        {"send_to_yandex_direct": handler},
        settings(),
        batch_types=frozenset({"send_to_yandex_direct"}),
    )
    processor.start()

    async def handled():
        return batches

    await wait_for_async(handled)
    await processor.stop()
    assert batches == [[1, 2, 3]]


async def test_stop_waits_within_grace_then_releases_the_rest(db):
    queue = TaskQueue(db)
    await fill(db, 2)
    started = []

    async def handler(batch):
        [task] = batch
        started.append(task.id)
        if task.id == 1:
            await db.transaction(lambda tx: queue.complete(tx, task.id, {}))
            return
        await asyncio.Event().wait()  # a delivery that never ends

    processor = BackgroundTaskProcessor(
        db, queue, {"send_to_crm": handler}, settings(shutdown_grace=0.2)
    )
    processor.start()

    async def both_started():
        return len(started) == 2

    await wait_for_async(both_started)
    await processor.stop()
    first, second = await queue.get(1), await queue.get(2)
    assert first.status == "completed"
    assert (second.status, second.attempts, second.locked_until) == ("pending", 0, None)


async def test_a_crashing_handler_keeps_the_task(db):
    queue = TaskQueue(db)
    await fill(db, 1)

    async def handler(batch):
        raise RuntimeError("bug")

    processor = BackgroundTaskProcessor(db, queue, {"send_to_crm": handler}, settings())
    processor.start()

    async def retried():
        task = await queue.get(1)
        return task.status == "pending" and task.last_error

    await wait_for_async(retried)
    await processor.stop()
    assert (await queue.get(1)).last_error == "internal error: RuntimeError"


async def test_long_work_keeps_its_lease(db):
    queue = TaskQueue(db)
    await fill(db, 1)
    calls, release = [], asyncio.Event()

    async def handler(batch):
        calls.append(batch[0].id)
        await release.wait()
        await db.transaction(lambda tx: queue.complete(tx, batch[0].id, {}))

    processor = BackgroundTaskProcessor(
        db, queue, {"send_to_crm": handler}, settings(lease_seconds=0.3)
    )
    processor.start()
    leases = []

    async def renewed_twice():
        task = await queue.get(1)
        if task.locked_until and task.locked_until not in leases:
            leases.append(task.locked_until)
        return len(leases) >= 3

    await wait_for_async(renewed_twice)
    release.set()

    async def done():
        return (await queue.get(1)).status == "completed"

    await wait_for_async(done)
    await processor.stop()
    assert calls == [1]  # never claimed a second time while it ran
    assert (await queue.get(1)).attempts == 1


async def test_dispatcher_metrics_show_open_tasks(aiohttp_client, settings, db):
    await fill(db, 2, "no_handler_for_this")  # stays pending: nobody claims it
    client = await aiohttp_client(create_app(settings))
    text = await (await client.get("/metrics")).text()
    assert 'leadrelay_tasks{status="pending"} 2.0' in text
    assert 'leadrelay_tasks{status="failed"} 0.0' in text


async def test_without_metrica_settings_conversions_are_skipped_with_a_reason(
    aiohttp_client, settings, db
):
    leads = LeadService(db, TaskQueue(db))
    data = {"campaign_id": "c", "yclid": "1"}
    lead_id, _ = await db.transaction(lambda tx: leads.create_lead(tx, data, {}))
    paid = {"amount": "10", "currency": "RUB", "paid_at": "2026-11-01T00:00:00.000000Z"}

    async def pay(tx):
        await leads.record(tx, lead_id, EventType.PAYMENT_REGISTERED, paid)
        await TaskQueue(db).enqueue(tx, SEND_TO_YANDEX, {"lead_id": lead_id})

    await db.transaction(pay)
    await aiohttp_client(create_app(settings))  # no [yandex] token or counter

    async def skipped():
        return [
            e
            for e in await EventStore(db).read_stream(lead_id)
            if e.type == EventType.YANDEX_CONVERSION_SKIPPED
        ]

    [event] = await wait_for_async(skipped)
    assert "not configured" in event.data["reason"]
