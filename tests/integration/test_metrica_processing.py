"""After an upload, the dispatcher asks Metrica how it went and records linked, not just sent."""

from decimal import Decimal

from common.config import Settings
from common.events import PaymentRegistered, YandexConversionProcessed
from common.leads import LeadService
from common.model import NewLead
from common.tasks import SendToYandex
from services.dispatcher.app import create_app
from tests.emulators import metrica
from tests.emulators.faults import start
from tests.helpers import wait_for_async


async def pay(store, campaign: str, yclids: list[str]) -> list[str]:
    """Paid leads with these yclids, their conversions due together (one transaction)."""
    ids = []
    for yclid in yclids:
        lead = NewLead(campaign_id=campaign, yclid=yclid)
        lead_id, _ = await store.write(lambda tx, d=lead: LeadService.create_lead(tx, d))
        ids.append(lead_id)

    def paying(tx):
        for lead_id in ids:
            paid_at = tx.leads.get(lead_id).created_at
            LeadService.record(tx, lead_id, PaymentRegistered(Decimal(10), "RUB", paid_at))
            tx.tasks.enqueue(SendToYandex(), lead_id=lead_id)

    await store.write(paying)
    return ids


def with_metrica(settings: Settings, url: str, **dispatcher) -> Settings:
    return Settings(
        database=settings.database,
        busy_timeout=settings.busy_timeout,
        dispatcher={"poll_interval": 0.05, "retry_base_delay": 0.01, **dispatcher},
        yandex={
            "base_url": url,
            "token": "oauth-1",
            "counter_id": 42,
            "check_every": 0.05,
            "rate_limit": 100,
        },
    )


async def settled(store, lead_ids: list[str]) -> dict[str, str]:
    """Each lead's conversion status, once Metrica's verdict is in for all of them."""

    async def verdicts():
        leads = [await store.read(lambda tx, i=i: tx.leads.get(i)) for i in lead_ids]
        statuses = {lead.id: lead.conversion_status for lead in leads}
        done = all(s not in (None, "uploaded") for s in statuses.values())
        return statuses if done else None

    return await wait_for_async(verdicts)


async def test_metrica_verdicts_linked_not_linked_and_partly(aiohttp_client, settings, store):
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.visitors = {"known-1", "known-2", "known-3"}
    emulator.looks_before_processed = 2  # processing: the first two looks find UPLOADED
    runner, url = await start(metrica.create_app(emulator))
    settings = with_metrica(settings, url)
    try:
        await aiohttp_client(create_app(settings))
        # One upload at a time, so each is one file with a known outcome.
        linked = await pay(store, "spring", ["known-1", "known-2"])
        assert set((await settled(store, linked)).values()) == {"linked"}
        missing = await pay(store, "spring", ["stranger-1"])
        assert set((await settled(store, missing)).values()) == {"not_linked"}
        mixed = await pay(store, "autumn", ["known-3", "stranger-2"])
        assert set((await settled(store, mixed)).values()) == {"partly_linked"}
    finally:
        await runner.cleanup()

    # Each upload was looked at until processed: twice still UPLOADED, then the verdict.
    assert sorted(emulator.looks) == [9001, 9002, 9003]
    assert all(looks >= 3 for looks in emulator.looks.values())
    [verdict] = [
        e
        for e in await store.read(lambda tx: tx.events.read_stream(mixed[0]))
        if isinstance(e.payload, YandexConversionProcessed)
    ]
    assert verdict.payload == YandexConversionProcessed(
        upload_id="9003",
        status="PROCESSED",
        linked="some",
        line_quantity=2,
        linked_quantity=1,
        user_not_found_quantity=1,
        goal_not_found_quantity=0,
    )
    stats = {c.campaign_id: c for c in await store.read(lambda tx: tx.stats.campaigns())}
    assert (stats["spring"].conversions_uploaded, stats["spring"].conversions_linked) == (3, 2)
    assert (stats["autumn"].conversions_uploaded, stats["autumn"].conversions_linked) == (2, 0)
    counts = await store.read(lambda tx: tx.tasks.open_counts())
    assert (counts["pending"], counts["processing"]) == (0, 0)  # no check left behind


async def test_an_upload_metrica_never_finishes_ends_unconfirmed(aiohttp_client, settings, store):
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.looks_before_processed = 10**6
    runner, url = await start(metrica.create_app(emulator))
    settings = with_metrica(settings, url, max_attempts=3)
    try:
        await aiohttp_client(create_app(settings))
        [lead_id] = await pay(store, "spring", ["known-1"])
        assert await settled(store, [lead_id]) == {lead_id: "unconfirmed"}
    finally:
        await runner.cleanup()
    [verdict] = [
        e
        for e in await store.read(lambda tx: tx.events.read_stream(lead_id))
        if isinstance(e.payload, YandexConversionProcessed)
    ]
    assert verdict.payload.linked == "unknown"
    assert "still processing upload 9001 (status UPLOADED)" in verdict.payload.reason
    assert emulator.looks[9001] == 3  # max_attempts looks, then it gives up


async def test_one_row_metrica_refuses_fails_alone(aiohttp_client, settings, store):
    """A payment stored before times were checked (1969) makes Metrica refuse the whole
    file; the file is split until the bad row is alone, and the five others go."""
    emulator = metrica.Metrica("oauth-1", 42)
    runner, url = await start(metrica.create_app(emulator))
    ids = []
    for n in range(6):
        lead = NewLead(campaign_id="c", yclid=f"{n + 1}")
        lead_id, _ = await store.write(lambda tx, d=lead: LeadService.create_lead(tx, d))
        ids.append(lead_id)
    bad = ids[3]

    def paying(tx):
        for lead_id in ids:
            when = (
                "1969-12-31T00:00:00.000000Z"
                if lead_id == bad
                else tx.leads.get(lead_id).created_at
            )
            LeadService.record(tx, lead_id, PaymentRegistered(Decimal(10), "RUB", when))
            tx.tasks.enqueue(SendToYandex(), lead_id=lead_id)

    await store.write(paying)
    try:
        await aiohttp_client(create_app(with_metrica(settings, url)))

        async def all_settled():
            leads = [await store.read(lambda tx, i=i: tx.leads.get(i)) for i in ids]
            statuses = {lead.id: lead.conversion_status for lead in leads}
            return statuses if all(s not in (None, "uploaded") for s in statuses.values()) else None

        # check_every is short here: "linked" once processed.
        statuses = await wait_for_async(all_settled)
    finally:
        await runner.cleanup()
    assert statuses.pop(bad) == "failed"
    assert set(statuses.values()) == {"linked"}
    assert sorted(r["Yclid"] for r in emulator.received) == ["1", "2", "3", "5", "6"]
    lead = await store.read(lambda tx: tx.leads.get(bad))
    assert "DateTime must be Unix seconds in the past" in lead.last_error


async def test_an_upload_whose_answer_was_lost_is_not_sent_twice(aiohttp_client, settings, store):
    """Metrica stored the file but the connection broke before its answer: the retry finds
    the upload by its comment instead of sending the 20 rows again."""
    emulator = metrica.Metrica("oauth-1", 42)
    emulator.lose_answers = 1
    runner, url = await start(metrica.create_app(emulator))
    try:
        await aiohttp_client(create_app(with_metrica(settings, url)))
        ids = await pay(store, "spring", [f"{n}" for n in range(1, 21)])
        statuses = await settled(store, ids)
    finally:
        await runner.cleanup()
    assert set(statuses.values()) == {"linked"}
    assert len(emulator.uploads) == 1 and len(emulator.received) == 20  # no duplicate rows
    [uploading] = emulator.uploadings.values()
    assert uploading["comment"].startswith("leadrelay")
