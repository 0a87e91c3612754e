"""A CRM that takes the connection and never answers holds each call until the time-out.
It must not hold every slot of the dispatcher meanwhile: the leads of other connections go."""

from common.config import Settings
from services.dispatcher.app import create_app
from tests.emulators import generic
from tests.emulators.faults import Faults, start
from tests.helpers import SECRET, crm_connections, rows, wait_for_async
from tests.integration.test_crm_duplicates import new_lead


async def test_a_crm_that_never_answers_takes_one_slot_and_the_others_deliver(
    aiohttp_client, settings, store, b24
):
    """24 leads for a CRM that hangs, queued before 3 for Bitrix24, 4 slots, 1 s time-out.
    Before: every one of the 24 held a slot for its second first, the Bitrix24 leads waited
    for all of them (with the defaults, 16 slots and 20 s: 1,000 leads, 21 minutes)."""
    receiver = generic.Receiver(SECRET)
    receiver.faults = Faults(hang=True)
    runner, url = await start(generic.create_app(receiver))
    connections = crm_connections(b24.url + b24.path)
    connections["shop"]["url"] = f"{url}/leads"
    config = Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        crm=connections,
        routing={"default_crm": "shop", "campaigns": {"autumn": "b24"}},
        dispatcher={"poll_interval": 0.05, "concurrency": 4, "request_timeout": 1.0},
    )
    for n in range(24):
        await new_lead(store, "spring", phone=f"+791600000{n:02d}")
    for n in range(3):
        await new_lead(store, "autumn", phone=f"+791700000{n:02d}")
    try:
        client = await aiohttp_client(create_app(config))

        async def bitrix24_has_them():
            sent = rows(store.location, "SELECT id FROM leads WHERE status = 'sent_to_crm'")
            return len(sent) == 3

        await wait_for_async(bitrix24_has_them, timeout=60)
        calls_meanwhile = receiver.calls
        await client.close()  # the dispatcher stops: what it claimed and did not call, back
        tasks = rows(
            store.location,
            "SELECT tasks.attempts, tasks.last_error FROM tasks"
            " JOIN leads ON leads.id = tasks.lead_id WHERE leads.campaign_id = 'spring'",
        )
        calls = receiver.calls
    finally:
        await runner.cleanup()
    assert len(b24.leads) == 3
    assert calls_meanwhile < 12  # the first 4, then one at a time: not all 24
    # A lead that waits makes no call and spends no attempt; the reason is on its task.
    assert sum(t["attempts"] for t in tasks) <= calls
    assert any("one call at a time" in (t["last_error"] or "") for t in tasks)
