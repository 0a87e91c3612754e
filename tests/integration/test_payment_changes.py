"""A CRM changes its mind about a payment: a price typed after the win, a corrected amount, a
deal moved back out of won, a deleted deal; revenue follows the CRM's won total."""

from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import pytest

from common.config import Settings
from common.days import day_of
from common.events import LeadSentToCrm, PaymentRegistered
from common.integrations.registry import build_integrations
from common.leads import LeadService
from common.model import NewLead
from common.store.replay import verify
from services.dispatcher.reconcile import DealReconciliation
from services.webhooks.app import create_app
from tests.emulators import amocrm, bitrix24
from tests.emulators.faults import start
from tests.helpers import ago, crm_connections, moscow, rows, snapshot, stored

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
WON, LOST, WORKING = 142, 143, 1001


@pytest.fixture
async def hooks(aiohttp_client, db_path, b24):
    settings = Settings(database=db_path, crm=crm_connections(b24.url + b24.path))
    return await aiohttp_client(create_app(settings))


async def delivered(store, connection: str, crm_lead_id: str) -> str:
    lead = NewLead(campaign_id="c1", phone="+79161234567")
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    sent = LeadSentToCrm(connection, crm_lead_id=crm_lead_id)
    await store.write(lambda tx: LeadService.record(tx, lead_id, sent))
    return lead_id


async def post_amo(hooks, form: dict[str, str]) -> dict:
    resp = await hooks.post(
        "/api/v1/webhooks/crm/amo?token=hook-secret", data=urlencode(form), headers=FORM
    )
    assert resp.status == 200
    return await resp.json()


async def post_b24(hooks, event: str, deal_id: str) -> dict:
    form = bitrix24.deal_event(event, deal_id, "app-token")
    resp = await hooks.post("/api/v1/webhooks/crm/b24", data=urlencode(form), headers=FORM)
    assert resp.status == 200
    return await resp.json()


def lead_row(store, lead_id: str) -> dict:
    [row] = rows(store.location, "SELECT * FROM leads WHERE id = ?", (lead_id,))
    return row


def revenue(store) -> tuple[int, Decimal]:
    """The campaign's payments and revenue, and the same summed over its days."""
    [stats] = rows(store.location, "SELECT payments, revenue_minor FROM campaign_stats")
    [days] = rows(
        store.location, "SELECT SUM(payments) AS p, SUM(revenue_minor) AS r FROM daily_stats"
    )
    assert (days["p"] or 0, days["r"] or 0) == (stats["payments"], stats["revenue_minor"])
    return stats["payments"], Decimal(stats["revenue_minor"]) / 100


async def test_amocrm_price_typed_after_the_win(hooks, store):
    amo = amocrm.AmoCrm("amo-secret")
    lead_id = await delivered(store, "amo", "30000001")
    amo.set_lead(30000001, WORKING, 0, int(ago(hours=1).timestamp()))

    won = await post_amo(hooks, amocrm.change_lead(amo, 30000001, "status", status_id=WON))
    assert won["status"] == "ok"
    row = lead_row(store, lead_id)
    assert (row["status"], row["payment_amount"], row["payment_pending"]) == ("paid", "0.00", 1)
    assert revenue(store) == (1, 0)  # a sale at once, its amount to come

    typed = amocrm.change_lead(amo, 30000001, "update", price=15000)
    filled = await post_amo(hooks, typed)
    assert (filled["status"], filled["amount"]) == ("amount_set", "15000.00")
    row = lead_row(store, lead_id)
    assert (row["payment_amount"], row["payment_pending"]) == ("15000.00", 0)
    assert revenue(store) == (1, amocrm.won_total(amo)) == (1, 15000)

    before = snapshot(store.location)
    assert (await post_amo(hooks, typed))["status"] == "duplicate"  # the same notice again
    after = snapshot(store.location)
    after.pop("webhook_receipts"), before.pop("webhook_receipts")
    assert after == before
    tasks = rows(store.location, "SELECT * FROM tasks WHERE type = 'send_to_yandex_direct'")
    assert len(tasks) == 2  # the win's (it waits for the amount) and the amount's
    assert await verify(store) == []


async def test_amocrm_correction_reopening_and_loss_after_the_win(hooks, store):
    amo = amocrm.AmoCrm("amo-secret")
    lead_id = await delivered(store, "amo", "30000002")
    amo.set_lead(30000002, WORKING, 15000, int(ago(hours=1).timestamp()))
    assert (await post_amo(hooks, amocrm.change_lead(amo, 30000002, "status", status_id=WON)))[
        "status"
    ] == "ok"

    corrected = await post_amo(hooks, amocrm.change_lead(amo, 30000002, "update", price=12000))
    assert corrected["status"] == "corrected"
    assert revenue(store) == (1, amocrm.won_total(amo)) == (1, 12000)

    reopened = await post_amo(hooks, amocrm.change_lead(amo, 30000002, "status", status_id=WORKING))
    assert (reopened["status"], reopened["reason"]) == ("reversed", "reopened")
    row = lead_row(store, lead_id)
    assert (row["status"], row["payment_amount"], row["paid_at"]) == ("sent_to_crm", None, None)
    assert revenue(store) == (0, amocrm.won_total(amo)) == (0, 0)

    assert (await post_amo(hooks, amocrm.change_lead(amo, 30000002, "status", status_id=WON)))[
        "status"
    ] == "ok"
    assert revenue(store) == (1, 12000)
    lost = await post_amo(hooks, amocrm.change_lead(amo, 30000002, "status", status_id=LOST))
    assert (lost["status"], lost["lead_status"], lost["reason"]) == ("reversed", "lost", "lost")
    assert lead_row(store, lead_id)["status"] == "lost"
    [stats] = rows(store.location, "SELECT lost FROM campaign_stats")
    assert stats["lost"] == 1
    assert revenue(store) == (0, amocrm.won_total(amo)) == (0, 0)
    assert await verify(store) == []


async def test_amocrm_deleted_lead_reverses_its_payment(hooks, store):
    amo = amocrm.AmoCrm("amo-secret")
    lead_id = await delivered(store, "amo", "30000003")
    amo.set_lead(30000003, WORKING, 700, int(ago(hours=1).timestamp()))
    await post_amo(hooks, amocrm.change_lead(amo, 30000003, "status", status_id=WON))
    deleted = amocrm.delete_lead(amo, 30000003)
    answer = await post_amo(hooks, deleted)
    assert (answer["status"], answer["reason"], answer["lead_id"]) == (
        "reversed",
        "deleted",
        lead_id,
    )
    assert revenue(store) == (0, amocrm.won_total(amo)) == (0, 0)
    assert (await post_amo(hooks, deleted))["status"] == "ignored"  # nothing left to undo
    unknown = {"leads[delete][0][id]": "404404", "leads[delete][0][status_id]": "142"}
    assert (await post_amo(hooks, unknown))["status"] == "ignored"
    events = rows(store.location, "SELECT type FROM events WHERE type = 'PAYMENT_REVERSED'")
    assert len(events) == 1
    assert await verify(store) == []


async def test_amocrm_lead_won_and_deleted_in_one_webhook_ends_unpaid(hooks, store):
    """amoCRM posts the events of a moment in one body. Its entries were applied by section
    name, leads[delete] before leads[status]: a lead won and then deleted was paid and
    stayed paid, whatever order the body gave."""
    amo = amocrm.AmoCrm("amo-secret")
    lead_id = await delivered(store, "amo", "30000004")
    amo.set_lead(30000004, WORKING, 700, int(ago(hours=1).timestamp()))
    won = amocrm.change_lead(amo, 30000004, "status", status_id=WON)
    answer = await post_amo(hooks, won | amocrm.delete_lead(amo, 30000004))
    assert [result["status"] for result in answer["results"]] == ["ok", "reversed"]
    assert lead_row(store, lead_id)["status"] == "sent_to_crm"
    assert revenue(store) == (0, amocrm.won_total(amo)) == (0, 0)
    assert await verify(store) == []


async def test_bitrix24_price_typed_then_reopened_won_again_and_deleted(hooks, store, b24):
    lead_id = await delivered(store, "b24", "501")
    won_at = ago(days=3)
    b24.add_deal(
        "77",
        STAGE_SEMANTIC_ID="S",
        OPPORTUNITY="",  # won before its price was typed
        CURRENCY_ID="RUB",
        LEAD_ID="501",
        MOVED_TIME=moscow(won_at),
    )
    assert (await post_b24(hooks, "ONCRMDEALUPDATE", "77"))["status"] == "ok"
    assert lead_row(store, lead_id)["payment_pending"] == 1
    assert revenue(store) == (1, 0)

    bitrix24.change_deal(b24, "77", OPPORTUNITY="2500.00")
    assert (await post_b24(hooks, "ONCRMDEALUPDATE", "77"))["status"] == "amount_set"
    assert revenue(store) == (1, bitrix24.won_total(b24)) == (1, 2500)
    # The sale and its amount count on the day the deal was won, not the day the price came:
    # the business's day (dashboard.timezone), not UTC's (they differ three hours a day).
    [day] = rows(
        store.location, "SELECT day, payments, revenue_minor FROM daily_stats WHERE payments > 0"
    )
    assert (day["day"], day["payments"], day["revenue_minor"]) == (
        str(day_of(stored(won_at), store.zone)),
        1,
        250000,
    )

    # Another deal of the same lead, still in progress, does not undo this one's payment.
    b24.add_deal("78", STAGE_SEMANTIC_ID="P", LEAD_ID="501")
    assert (await post_b24(hooks, "ONCRMDEALUPDATE", "78"))["status"] == "duplicate"
    assert revenue(store) == (1, 2500)

    bitrix24.change_deal(b24, "77", STAGE_SEMANTIC_ID="P")
    assert (await post_b24(hooks, "ONCRMDEALUPDATE", "77"))["status"] == "reversed"
    assert revenue(store) == (0, bitrix24.won_total(b24)) == (0, 0)

    bitrix24.change_deal(b24, "77", STAGE_SEMANTIC_ID="S")
    assert (await post_b24(hooks, "ONCRMDEALUPDATE", "77"))["status"] == "ok"
    assert revenue(store) == (1, 2500)

    bitrix24.delete_deal(b24, "77")
    deleted = await post_b24(hooks, "ONCRMDEALDELETE", "77")
    assert (deleted["status"], deleted["lead_id"]) == ("reversed", lead_id)
    assert revenue(store) == (0, bitrix24.won_total(b24)) == (0, 0)
    assert (await post_b24(hooks, "ONCRMDEALDELETE", "77"))["status"] == "ignored"
    assert lead_row(store, lead_id)["status"] == "sent_to_crm"
    assert await verify(store) == []


async def test_a_correction_lands_on_the_day_of_the_payment(hooks, store):
    amo = amocrm.AmoCrm("amo-secret")
    lead_id = await delivered(store, "amo", "30000004")
    paid_at = stored(ago(days=5))
    payment = PaymentRegistered(Decimal(1000), "RUB", paid_at, source="amo")
    await store.write(lambda tx: LeadService.record(tx, lead_id, payment))
    amo.set_lead(30000004, WON, 1000, int(ago(hours=1).timestamp()))
    answer = await post_amo(hooks, amocrm.change_lead(amo, 30000004, "update", price=1500))
    assert answer["status"] == "corrected"
    days = rows(store.location, "SELECT day, payments, revenue_minor FROM daily_stats")
    assert [(d["day"], d["payments"], d["revenue_minor"]) for d in days if d["payments"]] == [
        (str(day_of(paid_at, store.zone)), 1, 150000)
    ]
    assert await verify(store) == []


async def test_reconciliation_fills_in_a_price_whose_webhook_was_lost(store, move_clock):
    amo = amocrm.AmoCrm("amo-secret")
    runner, url = await start(amocrm.create_app(amo))
    try:
        lead_id = await delivered(store, "amo", "30000005")
        amo.set_lead(30000005, WON, 0, int(ago(minutes=30).timestamp()))
        settings = Settings(crm=crm_connections(base_url=url))
        integration = build_integrations(settings)["amo"]
        async with aiohttp.ClientSession() as http:
            reconcile = DealReconciliation(store, integration, http)
            assert await reconcile.once() == ["ok"]
            assert lead_row(store, lead_id)["payment_pending"] == 1
            amocrm.change_lead(amo, 30000005, "update", price=4200)  # its webhook never came
            move_clock(minutes=3)  # reconciliation reads up to two minutes before now
            assert await reconcile.once() == ["amount_set"]
            assert await reconcile.once() in ([], ["duplicate"])
    finally:
        await runner.cleanup()
    assert revenue(store) == (1, amocrm.won_total(amo)) == (1, 4200)
    assert await verify(store) == []
