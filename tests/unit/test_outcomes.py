"""Writing a task's outcome: only its current holder may."""

from datetime import timedelta

from common import clock
from common.config import DispatcherSettings
from common.events import LeadSentToCrm
from common.leads import LeadService
from common.model import NewLead
from services.dispatcher.outcomes import Done, apply_outcome
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
