"""Writing a task's outcome: only its current holder may."""

import asyncio
from dataclasses import replace
from datetime import timedelta

from common import clock
from common.config import DispatcherSettings
from common.errors import LeadNotFound
from common.events import LeadCrmDeliveryFailed, LeadSentToCrm
from common.integrations.base import PermanentFailure
from common.leads import LeadService
from common.model import NewLead
from common.tasks import SendToCrm
from services.dispatcher.outcomes import Done, Failed, Settler, apply_outcome
from tests.helpers import rows

SENT = Done(LeadSentToCrm("amo", crm_lead_id="1"))


async def test_a_stale_holder_changes_nothing(store):
    lead_id, _ = await store.write(lambda tx: LeadService.create_lead(tx, NewLead(campaign_id="c")))
    [slow] = await store.write(lambda tx: tx.tasks.claim_due(limit=1, lease=60))
    past = clock.iso(clock.now() - timedelta(seconds=1))
    await store.write(lambda tx: tx.sql.run("UPDATE tasks SET locked_until = ?", (past,)))
    [fast] = await store.write(
        lambda tx: tx.tasks.claim_due(limit=1, lease=60)
    )  # the lease ran out; another took it
    settings = DispatcherSettings()

    assert await store.write(lambda tx: apply_outcome(tx, fast, lead_id, SENT, settings)) == (
        "completed"
    )
    assert await store.write(lambda tx: apply_outcome(tx, slow, lead_id, SENT, settings)) == (
        "stale"
    )
    sent = rows(store.location, "SELECT * FROM events WHERE type = 'LEAD_SENT_TO_CRM'")
    assert len(sent) == 1
    [stats] = rows(store.location, "SELECT leads_delivered FROM campaign_stats")
    assert stats["leads_delivered"] == 1  # counted once, however many deliveries


def test_the_default_retry_schedule_outlasts_a_night():
    from services.dispatcher.outcomes import backoff, shortest_retry_span

    settings = DispatcherSettings()
    assert shortest_retry_span(settings) >= 24 * 3600
    assert backoff(1, settings, None) <= settings.retry_base_delay
    assert backoff(40, settings, None) >= 0.75 * settings.retry_max_delay
    assert backoff(1, settings, retry_after=90) == 90  # the server's Retry-After wins


async def test_outcomes_finished_together_are_written_together_each_as_alone(store):
    """The Settler writes the outcomes that come together in one unit: each gets the answer
    it would have got alone, a stale one changes nothing, and one that raises (a task whose
    lead is gone) fails alone while the others are written."""
    settings = DispatcherSettings()
    lead_ids = []
    for n in range(3):
        lead = NewLead(campaign_id="c", phone=f"+7916000000{n}")
        lead_ids.append((await store.write(lambda tx, d=lead: LeadService.create_lead(tx, d)))[0])
    orphan = await store.write(lambda tx: tx.tasks.enqueue(SendToCrm(), lead_id="no-such-lead"))
    claimed = {t.lead_id: t for t in await store.write(lambda tx: tx.tasks.claim_due(10, 60))}
    sent, stale, refused = (claimed[lead_id] for lead_id in lead_ids)
    stale = replace(stale, attempts=stale.attempts - 1)  # an earlier claim's view of it
    failed = Failed(PermanentFailure("rejected"), lambda why: LeadCrmDeliveryFailed(why, "amo"))
    settler = Settler(store, settings)

    answers = await asyncio.gather(
        settler.settle(sent, SENT),
        settler.settle(stale, SENT),
        settler.settle(refused, failed),
        settler.settle(claimed["no-such-lead"], SENT),
        return_exceptions=True,
    )
    assert answers[:3] == ["completed", "stale", "failed"]
    assert isinstance(answers[3], LeadNotFound)
    events = rows(store.location, "SELECT stream_id, type FROM events WHERE version = 2")
    assert sorted((e["stream_id"], e["type"]) for e in events) == sorted(
        [(lead_ids[0], "LEAD_SENT_TO_CRM"), (lead_ids[2], "LEAD_CRM_DELIVERY_FAILED")]
    )
    statuses = {r["id"]: r["status"] for r in rows(store.location, "SELECT id, status FROM tasks")}
    assert [statuses[t.id] for t in (sent, stale, refused)] == ["completed", "processing", "failed"]
    assert statuses[orphan] == "processing"  # its unit rolled back: left for its lease
