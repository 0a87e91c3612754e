"""Duplicates a CRM can make of one lead: a Bitrix24 add whose answer was lost, and
amoCRM's duplicate control joining a repeat client's lead to the CRM lead they have.

The dispatcher's real delivery (CrmDelivery) runs against the emulators on real sockets.
"""

from decimal import Decimal

import aiohttp

from common.config import Settings
from common.health import Health
from common.integrations.registry import build_integrations
from common.leads import LeadService
from common.model import NewLead, Notice, TaskType
from common.payments import PaymentService
from services.dispatcher.crm import CrmDelivery
from tests.helpers import ago, crm_connections, execute, rows, stored


async def deliver_due(
    settings: Settings, store, timeout: float = 5.0, newest_first: bool = False
) -> None:
    """Claim every due send_to_crm task and deliver it as the dispatcher does."""
    execute(store.location, "UPDATE tasks SET run_after = ?", (stored(ago(days=1)),))
    tasks = await store.write(
        lambda tx: tx.tasks.claim_due(10, 30.0, (TaskType.SEND_TO_CRM,), with_leads=True)
    )
    http_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=http_timeout) as http:
        integrations = build_integrations(settings)
        delivery = CrmDelivery(settings, store, integrations, http, lambda *_: None, Health())
        for task in sorted(tasks, key=lambda t: t.id, reverse=newest_first):
            await delivery([task])


async def new_lead(store, campaign: str, phone: str = "+79161234567") -> str:
    lead = NewLead(campaign_id=campaign, phone=phone)
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, lead))
    return lead_id


async def test_a_bitrix24_add_whose_answer_was_lost_is_found_not_added_again(settings, store, b24):
    """The portal took crm.lead.add but the answer never came (a timeout): the retry finds
    the lead by ORIGIN_ID (crm.lead.list) and takes its id instead of adding a second."""
    config = Settings(
        database=settings.database,
        crm=crm_connections(b24.url + b24.path),
        routing={"default_crm": "b24"},
    )
    lead_id = await new_lead(store, "spring")
    b24.lose_add_answers = 1
    await deliver_due(config, store, timeout=0.5)
    [task] = rows(store.location, "SELECT status, attempts FROM tasks")
    assert task["status"] == "pending" and len(b24.leads) == 1  # the portal has it already
    await deliver_due(config, store)
    assert len(b24.leads) == 1 and len(b24.received) == 1  # no second add
    [lead] = rows(store.location, "SELECT status, crm_lead_id FROM leads")
    assert (lead["status"], lead["crm_lead_id"]) == ("sent_to_crm", "501")
    assert b24.leads["501"]["ORIGIN_ID"] == lead_id


async def test_amocrm_merged_leads_are_shown_merged_and_the_payment_finds_the_crm_leads_own(
    settings, store, amo
):
    """amoCRM's duplicate control answers `merged: true` and the existing lead's id. The
    lead created first is delivered last here (as when its first try failed), so the CRM
    lead is the second lead's: the first is merged into it, and a payment for the CRM lead
    pays the second (the first by creation time was paid before)."""
    amo.duplicate_control = True
    config = Settings(
        database=settings.database,
        crm=crm_connections(base_url=amo.url),
        routing={"default_crm": "amo"},
    )
    first = await new_lead(store, "spring")
    second = await new_lead(store, "autumn")  # another campaign: not a repeat for us
    await deliver_due(config, store, newest_first=True)
    status = {
        r["id"]: (r["status"], r["crm_lead_id"])
        for r in rows(store.location, "SELECT * FROM leads")
    }
    crm_id = status[second][1]
    assert status == {second: ("sent_to_crm", crm_id), first: ("merged", crm_id)}
    [merged] = rows(store.location, "SELECT data FROM events WHERE type = 'LEAD_MERGED_IN_CRM'")
    assert second in merged["data"]  # "merged into" the second lead, on the timeline

    won = Notice(
        "paid", crm_id, amount=Decimal("5000"), currency="RUB", paid_at=stored(ago(days=1))
    )
    answer = await store.write(lambda tx: PaymentService.apply(tx, "amo", won, {}))
    assert answer["lead_id"] == second
