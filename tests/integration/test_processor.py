"""BackgroundTaskProcessor: bounded concurrency, batches, and a bounded graceful stop."""

import asyncio
from decimal import Decimal

from common.config import DispatcherSettings, Settings
from common.errors import DatabaseBusy
from common.events import PaymentRegistered, YandexConversionSkipped
from common.leads import LeadService
from common.model import NewLead, TaskType
from common.tasks import SendToCrm, SendToYandex
from services.dispatcher.app import create_app
from services.dispatcher.processor import READY_ROUNDS, BackgroundTaskProcessor
from tests.helpers import ago, stored, wait_for_async


def settings(**changes) -> DispatcherSettings:
    return DispatcherSettings(poll_interval=0.02, concurrency=3, **changes)


def task_of(store, task_id):
    return store.read(lambda tx: tx.tasks.get(task_id))


async def fill(store, count: int, payload=SendToCrm(), delay: float = 0.0) -> list[int]:
    return await store.write(lambda tx: [tx.tasks.enqueue(payload, delay) for _ in range(count)])


async def test_runs_at_most_concurrency_at_once_and_completes_all(store):
    ids = await fill(store, 3 * (2 + READY_ROUNDS))  # more than it claims ahead
    running, peak, done = set(), 0, []
    release = asyncio.Event()

    async def handler(batch):
        nonlocal peak
        [task] = batch
        running.add(task.id)
        peak = max(peak, len(running))
        await release.wait()
        await store.write(lambda tx: tx.tasks.complete(task.id, {}))
        running.discard(task.id)
        done.append(task.id)

    # A lease far longer than the test: on a loaded machine a late heartbeat can let the
    # ready tasks' 3 s leases lapse, and then the processor claims them (and the rest) again
    # (seen once: all 30 processing, 3 running). Leases are tested on their own.
    processor = BackgroundTaskProcessor(
        store, {TaskType.SEND_TO_CRM: handler}, settings(lease_seconds=60)
    )
    processor.start()

    async def three_running():
        return len(running) == 3

    try:
        await wait_for_async(three_running)
    except AssertionError as error:  # seen twice in full runs on PostgreSQL: say what was so
        tasks = await store.read(lambda tx: [tx.tasks.get(i) for i in ids])
        states = [(t.id, t.status, t.attempts, t.run_after, t.locked_until) for t in tasks if t]
        raise AssertionError(f"running {running}, in flight {processor.busy}, {states}") from error
    # Claimed no more than it can run and READY_ROUNDS rounds ready beside it.
    counts = await store.read(lambda tx: tx.tasks.counts())
    assert counts["processing"] == 3 + 3 * READY_ROUNDS < len(ids), (counts, processor.busy)
    release.set()

    async def all_done():
        return len(done) == len(ids)

    await wait_for_async(all_done)
    await processor.stop()
    assert peak == 3 and sorted(done) == ids


async def test_batch_types_get_every_claimed_task_at_once(store):
    await fill(store, 3, SendToYandex())
    batches = []

    async def handler(batch):
        batches.append([task.id for task in batch])
        for task in batch:
            await store.write(lambda tx, t=task: tx.tasks.complete(t.id, {}))

    processor = BackgroundTaskProcessor(
        store,
        {TaskType.SEND_TO_YANDEX: handler},
        settings(),
        batch_types=frozenset({"send_to_yandex_direct"}),
    )
    processor.start()

    async def handled():
        return batches

    await wait_for_async(handled)
    await processor.stop()
    assert batches == [[1, 2, 3]]


async def test_a_batch_type_is_taken_while_single_tasks_flow(store):
    """While every claim of single tasks comes back full, the batch types are looked for
    less often (BATCH_LOOK_FLOWING), yet looked for: an upload queued meanwhile runs while
    the deliveries still flow."""
    await fill(store, 5000)
    singles, batches = [], []

    async def single(batch):
        [task] = batch
        singles.append(task.id)
        await store.write(lambda tx: tx.tasks.complete(task.id, {}))

    async def upload(batch):
        batches.append((len(singles), [task.id for task in batch]))
        await store.write(lambda tx: [tx.tasks.complete(task.id, {}) for task in batch])

    processor = BackgroundTaskProcessor(
        store,
        {TaskType.SEND_TO_CRM: single, TaskType.SEND_TO_YANDEX: upload},
        settings(),
        batch_types=frozenset({TaskType.SEND_TO_YANDEX}),
    )
    processor.start()

    async def flowing():
        return len(singles) >= 10

    await wait_for_async(flowing)
    [conversion] = await fill(store, 1, SendToYandex())

    async def uploaded():
        return batches

    await wait_for_async(uploaded)
    await processor.stop()
    [(delivered_before, taken)] = batches
    assert taken == [conversion]
    assert delivered_before < 5000  # taken while the deliveries still flowed


async def test_stop_waits_within_grace_then_releases_the_rest(store):
    await fill(store, 2)
    started = []

    async def handler(batch):
        [task] = batch
        started.append(task.id)
        if task.id == 1:
            await store.write(lambda tx: tx.tasks.complete(task.id, {}))
            return
        await asyncio.Event().wait()  # a delivery that never ends

    processor = BackgroundTaskProcessor(
        store, {TaskType.SEND_TO_CRM: handler}, settings(shutdown_grace=0.2)
    )
    processor.start()

    async def both_started():
        return len(started) == 2

    await wait_for_async(both_started)
    await processor.stop()
    first, second = (
        await task_of(store, 1),
        await task_of(store, 2),
    )
    assert first.status == "completed"
    assert (second.status, second.attempts, second.locked_until) == ("pending", 0, None)


async def test_a_crashing_handler_keeps_the_task(store):
    await fill(store, 1)

    async def handler(batch):
        raise RuntimeError("bug")

    processor = BackgroundTaskProcessor(store, {TaskType.SEND_TO_CRM: handler}, settings())
    processor.start()

    async def retried():
        task = await task_of(store, 1)
        return task.status == "pending" and task.last_error

    await wait_for_async(retried)
    await processor.stop()
    assert (await task_of(store, 1)).last_error == "internal error: RuntimeError"


async def test_a_busy_database_in_a_handler_retries_soon_not_in_an_hour(store):
    """A held lock or a lost connection is a moment's trouble, not a bug: the task comes
    back after retry_base_delay (2 s), not retry_max_delay (an hour)."""
    await fill(store, 1)
    calls = []

    async def handler(batch):
        calls.append(batch[0].attempts)
        if len(calls) == 1:
            raise DatabaseBusy("the database is busy, retry shortly")
        await store.write(lambda tx: tx.tasks.complete(batch[0].id, {}))

    quick = settings(retry_base_delay=0.05)
    processor = BackgroundTaskProcessor(store, {TaskType.SEND_TO_CRM: handler}, quick)
    processor.start()

    async def completed():
        return (await task_of(store, 1)).status == "completed"

    await wait_for_async(completed)
    await processor.stop()
    assert calls == [1, 2]


async def test_long_work_keeps_its_lease(store):
    await fill(store, 1)
    calls, release = [], asyncio.Event()

    async def handler(batch):
        calls.append(batch[0].id)
        await release.wait()
        await store.write(lambda tx: tx.tasks.complete(batch[0].id, {}))

    # A heartbeat every half second; each renewal is a write that may wait on a loaded
    # machine's fsync: a second of slack before the lease could run out (0.3 s left 0.2 s).
    processor = BackgroundTaskProcessor(
        store, {TaskType.SEND_TO_CRM: handler}, settings(lease_seconds=1.5)
    )
    processor.start()
    leases = []

    async def renewed_twice():
        task = await task_of(store, 1)
        if task.locked_until and task.locked_until not in leases:
            leases.append(task.locked_until)
        return len(leases) >= 3

    await wait_for_async(renewed_twice)
    release.set()

    async def done():
        return (await task_of(store, 1)).status == "completed"

    await wait_for_async(done)
    await processor.stop()
    assert calls == [1]  # never claimed a second time while it ran
    assert (await task_of(store, 1)).attempts == 1


async def test_dispatcher_metrics_show_open_tasks(aiohttp_client, settings, store):
    await fill(store, 2, delay=3600)  # stays pending: not due yet
    client = await aiohttp_client(create_app(settings))
    text = await (await client.get("/metrics")).text()
    assert 'leadrelay_tasks{status="pending"} 2.0' in text
    assert 'leadrelay_tasks{status="failed"} 0.0' in text


async def test_without_metrica_settings_conversions_are_skipped_with_a_reason(
    aiohttp_client, settings, store
):
    lead = NewLead(campaign_id="c", yclid="1")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    paid = PaymentRegistered(Decimal(10), "RUB", stored(ago(days=1)))

    def pay(tx):
        LeadService.record(tx, lead_id, paid)
        tx.tasks.enqueue(SendToYandex(), lead_id=lead_id)

    await store.write(pay)
    await aiohttp_client(create_app(settings))  # no [yandex] token or counter

    async def skipped():
        return [
            e
            for e in await store.read(lambda tx: tx.events.read_stream(lead_id))
            if isinstance(e.payload, YandexConversionSkipped)
        ]

    [event] = await wait_for_async(skipped)
    assert "not configured" in event.payload.reason


# (visit, payment) of each lead, before now. Metrica links a conversion when at most 21 days
# pass from the visit to when it PROCESSES the file (up to 2 hours after the upload).
WINDOW_CASES = {
    "paid a day after the visit, uploaded three weeks later": (ago(days=22), ago(days=21)),
    "21 days minus an hour: over the window once Metrica processes it": (
        ago(days=21, hours=-1),
        ago(days=20),
    ),
    "a recent visit": (ago(days=2), ago(hours=1)),
}


async def _window_outcomes(aiohttp_client, settings, store, url, cases, **yandex):
    """Pay one lead per (visit, paid_at) case, run the dispatcher against the emulator at
    `url`, and return each lead's conversion status with its skip reason (or None)."""
    settings = Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        yandex={"base_url": url, "token": "oauth-1", "counter_id": 42, **yandex},
    )
    lead_ids = []
    for visit, paid_at in cases:
        lead = NewLead(campaign_id="c", yclid="1")
        lead_id, _ = await store.write(lambda tx, d=lead: LeadService.create_lead(tx, d))
        lead_ids.append(lead_id)
        paid = PaymentRegistered(Decimal(10), "RUB", stored(paid_at))

        def pay(tx, i=lead_id, p=paid, v=stored(visit)):
            tx.sql.run("UPDATE leads SET created_at = ? WHERE id = ?", (v, i))  # the visit
            LeadService.record(tx, i, p)
            tx.tasks.enqueue(SendToYandex(), lead_id=i)

        await store.write(pay)
    await aiohttp_client(create_app(settings))

    async def all_settled():
        leads = [await store.read(lambda tx, i=i: tx.leads.get(i)) for i in lead_ids]
        return all(lead.conversion_status for lead in leads) and leads

    outcomes = []
    for lead in await wait_for_async(all_settled):
        events = await store.read(lambda tx, i=lead.id: tx.events.read_stream(i))
        skips = [e.payload.reason for e in events if isinstance(e.payload, YandexConversionSkipped)]
        outcomes.append((lead.conversion_status, skips[0] if skips else None))
    return outcomes


async def test_a_payment_outside_metricas_visit_window_is_skipped_not_uploaded(
    aiohttp_client, settings, store
):
    from tests.emulators import metrica
    from tests.emulators.faults import start

    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await start(metrica.create_app(emulator))
    try:
        outcomes = await _window_outcomes(
            aiohttp_client, settings, store, url, WINDOW_CASES.values()
        )
    finally:
        await runner.cleanup()
    assert [status for status, _ in outcomes] == ["skipped", "skipped", "uploaded"]
    for _, reason in outcomes[:2]:
        assert "within 21 days (Metrica's maximum)" in reason
    assert len(emulator.received) == 1  # only the payment Metrica can still link


# A visit 5 days ago, paid an hour ago; a visit a day ago, paid an hour ago.
THRESHOLD_CASES = [(ago(days=5), ago(hours=1)), (ago(days=1), ago(hours=1))]


async def test_the_counters_own_visit_join_threshold_narrows_the_window(
    aiohttp_client, settings, store
):
    """A counter that only just enabled offline conversions links visits of the last 3 days
    alone: the 5-day-old visit is skipped, naming the counter's threshold, not uploaded."""
    from tests.emulators import metrica
    from tests.emulators.faults import start

    emulator = metrica.Metrica("oauth-1", 42)
    emulator.threshold_days = 3
    runner, url = await start(metrica.create_app(emulator))
    try:
        outcomes = await _window_outcomes(aiohttp_client, settings, store, url, THRESHOLD_CASES)
    finally:
        await runner.cleanup()
    assert [status for status, _ in outcomes] == ["skipped", "uploaded"]
    assert "within 3.1 days (the counter's visit_join_threshold)" in outcomes[0][1]
    assert len(emulator.received) == 1
    assert emulator.threshold_reads == 1  # read once for the batch, then cached


async def test_an_unreadable_threshold_keeps_the_configured_window_and_uploads(
    aiohttp_client, settings, store
):
    """visit_join_threshold refused (403, as Metrica answers a token without access): the
    configured yandex.visit_join_days holds, and the upload is not held back."""
    from tests.emulators import metrica
    from tests.emulators.faults import start

    emulator = metrica.Metrica("oauth-1", 42)
    emulator.threshold_days = 21
    emulator.threshold_refusal = 403
    runner, url = await start(metrica.create_app(emulator))
    try:
        outcomes = await _window_outcomes(
            aiohttp_client, settings, store, url, THRESHOLD_CASES, visit_join_days=4
        )
    finally:
        await runner.cleanup()
    assert [status for status, _ in outcomes] == ["skipped", "uploaded"]
    assert "within 4 days (yandex.visit_join_days)" in outcomes[0][1]
    assert emulator.threshold_reads == 1 and len(emulator.received) == 1
