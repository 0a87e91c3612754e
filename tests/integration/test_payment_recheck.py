"""Reconciliation asks the CRM again about the payments it holds: a paid deal reopened,
deleted or repriced while its webhook was lost is corrected or reversed, a batch a round."""

import json
from decimal import Decimal

import aiohttp

from common.config import Settings
from common.events import PaymentRegistered
from common.integrations.registry import build_integrations
from common.leads import LeadService
from common.store.replay import verify
from services.dispatcher.recheck import RECHECK_BATCH
from services.dispatcher.reconcile import DealReconciliation
from tests.emulators import amocrm, bitrix24
from tests.emulators.faults import start
from tests.helpers import ago, crm_connections, moscow, rows, stored
from tests.integration.test_payment_changes import revenue
from tests.integration.test_reconcile import delivered

WON, LOST, WORKING = 142, 143, 1001


async def paid_lead(store, connection: str, crm_lead_id: str, amount: int, deal: str | None):
    lead_id = await delivered(store, crm_lead_id, connection=connection)
    payment = PaymentRegistered(
        Decimal(amount), "RUB", stored(ago(days=2)), source=connection, deal_id=deal
    )
    await store.write(lambda tx: LeadService.record(tx, lead_id, payment))
    return lead_id


async def test_amocrm_paid_leads_are_asked_about_again_a_batch_a_round(store):
    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    long_ago, now = int(ago(days=2).timestamp()), int(ago(seconds=0).timestamp())
    count = RECHECK_BATCH + 5
    for n in range(1, count + 1):  # won two days ago: outside the window reconciliation reads
        await paid_lead(store, "amo", str(n), 100, None)
        amo.set_lead(n, WON, 100, long_ago, closed_at=long_ago)
    # The webhooks of these changes were lost; all of them are too recent for the window.
    amo.state[1] |= {"status_id": WORKING, "updated_at": now}  # reopened
    del amo.state[2]  # deleted
    amo.state[3] |= {"price": 150, "updated_at": now}  # repriced
    amo.state[4] |= {"status_id": LOST, "updated_at": now}  # lost after the win
    try:
        crms = build_integrations(Settings(crm=crm_connections(base_url=url)))
        async with aiohttp.ClientSession() as http:
            reconcile = DealReconciliation(store, crms["amo"], http)
            first = await reconcile.once()
            assert len(rows(store.location, "SELECT * FROM payment_checks")) == RECHECK_BATCH
            second = await reconcile.once()
            assert len(rows(store.location, "SELECT * FROM payment_checks")) == count
            assert await reconcile.once() == []  # the CRM says what we hold: nothing changes
    finally:
        await runner.cleanup()
    assert sorted(first + second) == ["corrected", "reversed", "reversed", "reversed"]
    assert revenue(store) == (count - 3, amocrm.won_total(amo)) == (count - 3, 100 * count - 250)
    reversed_ = rows(store.location, "SELECT data FROM events WHERE type = 'PAYMENT_REVERSED'")
    reasons = sorted(json.loads(row["data"])["reason"] for row in reversed_)
    assert reasons == ["deleted", "lost", "reopened"]
    assert await verify(store) == []


async def test_bitrix24_deals_read_again_by_id_an_unreadable_one_is_skipped(store, b24):
    moved = moscow(ago(days=2))
    for n in range(1, 6):
        await paid_lead(store, "b24", str(500 + n), 100, deal=str(n))
        b24.add_deal(
            str(n),
            STAGE_SEMANTIC_ID="S",
            OPPORTUNITY="100.00",
            CURRENCY_ID="RUB",
            LEAD_ID=str(500 + n),
            MOVED_TIME=moved,
            DATE_MODIFY=moved,
        )
    bitrix24.change_deal(b24, "1", STAGE_SEMANTIC_ID="P")  # reopened
    bitrix24.delete_deal(b24, "2")
    bitrix24.change_deal(b24, "3", OPPORTUNITY="80.00")  # repriced
    b24.shown["4"] = {"OPPORTUNITY": "1e999999"}  # an amount that cannot be read
    crms = build_integrations(Settings(crm=crm_connections(f"{b24.url}{b24.path}")))
    async with aiohttp.ClientSession() as http:
        answers = await DealReconciliation(store, crms["b24"], http).once()
    assert sorted(answers) == ["corrected", "reversed", "reversed"]
    reading = await store.read(lambda tx: tx.cursors.get("b24"))
    assert reading.skipped == 1  # deal 4: skipped and shown, its payment kept
    assert revenue(store) == (3, Decimal("280"))
    assert bitrix24.won_total(b24) == Decimal("280")  # deal 4's stored amount is 100.00
    assert await verify(store) == []
