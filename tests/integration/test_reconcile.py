"""Bitrix24 reconciliation finds the won and lost deals whose webhooks never came."""

from datetime import UTC, datetime, timedelta

import aiohttp

from common import clock
from common.config import Settings
from common.events import LeadSentToCrm
from common.integrations.registry import build_integrations
from common.leads import LeadService
from common.model import NewLead
from common.reconciling import Reading
from services.dispatcher.reconcile import SETTLE, DealReconciliation
from tests.emulators.faults import start
from tests.helpers import ago, crm_connections, moscow, rows


async def delivered(store, crm_lead_id: str, connection: str = "b24") -> str:
    lead = NewLead(campaign_id="c", phone="+79161234567")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    sent = LeadSentToCrm(connection, crm_lead_id=crm_lead_id)
    await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
    return lead_id


async def test_a_missed_won_deal_is_paid_once_and_the_cursor_moves(store, b24):
    now = moscow(ago(minutes=5))  # inside the first look back (a day)
    lead_id = await delivered(store, "501")
    b24.add_deal(
        "10",
        STAGE_SEMANTIC_ID="S",
        OPPORTUNITY="3000.00",
        CURRENCY_ID="RUB",
        LEAD_ID="501",
        MOVED_TIME=now,
        DATE_MODIFY=now,
    )
    b24.add_deal(
        "11", STAGE_SEMANTIC_ID="S", OPPORTUNITY="50.00", CURRENCY_ID="RUB", DATE_MODIFY=now
    )  # made by hand in the CRM: no lead of ours
    b24.add_deal("12", STAGE_SEMANTIC_ID="P", LEAD_ID="501", DATE_MODIFY=now)  # in progress
    integration = build_integrations(Settings(crm=crm_connections(f"{b24.url}{b24.path}")))["b24"]
    async with aiohttp.ClientSession() as http:
        reconcile = DealReconciliation(store, integration, http)
        assert sorted(await reconcile.once()) == ["ok", "unmatched"]
        assert await reconcile.once() == []  # the window read is not read again
    [lead] = rows(
        store.location, "SELECT status, payment_amount FROM leads WHERE id = ?", (lead_id,)
    )
    assert (lead["status"], lead["payment_amount"]) == ("paid", "3000.00")
    assert len(rows(store.location, "SELECT * FROM events WHERE type = 'PAYMENT_REGISTERED'")) == 1
    assert len(rows(store.location, "SELECT * FROM unmatched_payments")) == 1
    await read_to_the_end(store, "b24")


async def test_every_page_of_the_deal_list_is_read(store, b24):
    first = ago(hours=1)
    for n in range(120):
        b24.add_deal(
            str(100 + n),
            STAGE_SEMANTIC_ID="F",
            LEAD_ID=str(9000 + n),
            DATE_MODIFY=moscow(first + timedelta(seconds=n)),
        )
    integration = build_integrations(Settings(crm=crm_connections(f"{b24.url}{b24.path}")))["b24"]
    async with aiohttp.ClientSession() as http:
        answers = await DealReconciliation(store, integration, http).once()
    assert len(answers) == 120 and set(answers) == {"ignored"}  # lost deals of no lead of ours
    await read_to_the_end(store, "b24")


async def test_amocrm_leads_won_without_a_webhook_are_paid_once(store):
    from tests.emulators import amocrm

    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    try:
        lead_id = await delivered(store, "30000001", connection="amo")
        now = int(ago(minutes=5).timestamp())
        amo.set_lead(30000001, status_id=142, price=7000, updated_at=now)
        amo.set_lead(30000002, status_id=143, price=0, updated_at=now)  # lost, not ours
        amo.set_lead(30000003, status_id=20, price=0, updated_at=now)  # still in progress
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            reconcile = DealReconciliation(store, crms["amo"], http)
            assert sorted(await reconcile.once()) == ["ignored", "ok"]
            again = Reading(since=datetime.fromtimestamp(now, UTC))  # read the same leads
            await store.write(lambda tx: tx.cursors.set("amo", again))
            assert sorted(await reconcile.once()) == ["duplicate", "ignored"]
    finally:
        await runner.cleanup()
    [lead] = rows(
        store.location, "SELECT status, payment_amount FROM leads WHERE id = ?", (lead_id,)
    )
    assert (lead["status"], lead["payment_amount"]) == ("paid", "7000.00")
    await read_to_the_end(store, "amo")


async def read_to_the_end(store, connection: str) -> None:
    """The cursor holds no open window, and the next starts where this one ended: at most
    SETTLE before now."""
    reading = await store.read(lambda tx: tx.cursors.get(connection))
    assert reading.until is None and reading.place is None
    assert ago(minutes=3) < reading.since <= clock.now() - SETTLE
