"""Retention run by the real dispatcher, on both backends: with `privacy.erase_after_days`
set, its schedule queues `erase_expired_leads`, which erases the old leads alone (actor
`system`, reason `retention`), once a period, and verify still agrees."""

from __future__ import annotations

from common.config import Settings
from common.events import LeadErased
from common.leads import LeadService
from common.model import NewLead, TaskStatus, TaskType
from common.store.replay import rebuild, verify
from services.dispatcher.app import create_app
from services.dispatcher.keys import RETENTION_SCHEDULE
from tests.helpers import ago, execute, rows, stored, wait_for_async


def with_retention(settings: Settings, days: int) -> Settings:
    return Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        dispatcher={"poll_interval": 0.05},
        privacy={"erase_after_days": days},
    )


async def lead(store, phone: str) -> str:
    new = NewLead(campaign_id="spring", name="Анна", phone=phone, email=f"{phone[1:]}@x.ru")
    return (await store.write(lambda tx: LeadService.create_lead(tx, new)))[0]


async def made_old(store, lead_id: str, days: int) -> None:
    """The lead as if it had come `days` days ago: its events dated so, and the projections
    rebuilt from them."""
    when = stored(ago(days))
    execute(store.location, "UPDATE events SET created_at = ? WHERE stream_id = ?", (when, lead_id))
    await rebuild(store)


async def test_retention_erases_the_old_leads_alone_once_a_period(aiohttp_client, settings, store):
    old, young = await lead(store, "+79161234567"), await lead(store, "+79035550011")
    execute(store.location, "UPDATE tasks SET status = 'completed'")  # no CRM here
    await made_old(store, old, 400)
    client = await aiohttp_client(create_app(with_retention(settings, 365)))

    async def run_done():
        [*runs] = await store.read(lambda tx: tx.tasks.newest(TaskType.ERASE_EXPIRED, 5))
        return runs if runs and runs[0].status == TaskStatus.COMPLETED else None

    [run] = await wait_for_async(run_done)
    assert run.payload.days == 365
    phones = {r["id"]: r["phone"] for r in rows(store.location, "SELECT id, phone FROM leads")}
    assert phones == {old: None, young: "+79035550011"}
    events = await store.read(lambda tx: tx.events.read_stream(old))
    assert events[-1].payload == LeadErased("system", "retention")
    assert "+79161234567" not in str(rows(store.location, "SELECT data FROM events"))
    assert await verify(store) == []
    # not again within the period, however often the schedule looks
    assert await client.app[RETENTION_SCHEDULE].once() is None
    assert len(await store.read(lambda tx: tx.tasks.newest(TaskType.ERASE_EXPIRED, 5))) == 1


async def test_no_schedule_when_retention_is_off(aiohttp_client, settings):
    client = await aiohttp_client(create_app(with_retention(settings, 0)))
    assert RETENTION_SCHEDULE not in client.app
